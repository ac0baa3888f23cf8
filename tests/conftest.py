"""
Shared fixtures: a small kwcoco dataset with known pixels and annotations,
and a sampler per backend (``None``, ``'npy'``, ``'cog'``).
"""
import os

import kwcoco
import kwimage
import numpy as np
import pytest

BACKENDS = [None, 'npy', 'cog']
BACKEND_IDS = ['none', 'npy', 'cog']

RGB_SHAPE = (300, 400)      # image 1: lossless PNG, channels r|g|b
GRAY_SHAPE = (50, 70)       # image 2: single-band PNG
JPEG_SHAPE = (100, 130)     # image 3: JPEG (lossy source)


def direct_read(fpath, y0, y1, x0, x1, fill=0):
    """The reference: decode the source and zero-pad the window by hand."""
    image = kwimage.imread(fpath)
    if image.ndim == 2:
        image = image[:, :, None]
    h, w = image.shape[0:2]
    out = np.full((y1 - y0, x1 - x0, image.shape[2]), fill, image.dtype)
    ya, yb, xa, xb = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if ya < yb and xa < xb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = image[ya:yb, xa:xb]
    return out


def make_dataset(dpath):
    """Write the images and return a kwcoco dataset that refers to them."""
    rng = np.random.default_rng(0)
    os.makedirs(dpath, exist_ok=True)
    rgb = rng.integers(0, 256, size=RGB_SHAPE + (3,), dtype=np.uint8)
    gray = rng.integers(0, 256, size=GRAY_SHAPE, dtype=np.uint8)
    yy, xx = np.mgrid[0:JPEG_SHAPE[0], 0:JPEG_SHAPE[1]]
    photo = np.stack([xx * 2, yy * 2, (xx + yy)], axis=2).astype(np.uint8)
    kwimage.imwrite(os.path.join(dpath, 'rgb.png'), rgb)
    kwimage.imwrite(os.path.join(dpath, 'gray.png'), gray)
    kwimage.imwrite(os.path.join(dpath, 'photo.jpg'), photo)
    dset = kwcoco.CocoDataset()
    dset.fpath = os.path.join(dpath, 'data.kwcoco.json')
    dset.add_category('cat', id=1)
    dset.add_category('dog', id=2)
    dset.dataset['keypoint_categories'] = [{'id': 1, 'name': 'center'}]
    dset.add_image(file_name='rgb.png', id=1, height=RGB_SHAPE[0], width=RGB_SHAPE[1],
                   channels='r|g|b')
    dset.add_image(file_name='gray.png', id=2, height=GRAY_SHAPE[0], width=GRAY_SHAPE[1])
    dset.add_image(file_name='photo.jpg', id=3, height=JPEG_SHAPE[0], width=JPEG_SHAPE[1])
    dset.add_annotation(image_id=1, category_id=1, bbox=[10, 20, 30, 40], id=1,
                        segmentation=[[10, 20, 40, 20, 40, 60, 10, 60]],
                        keypoints=[{'xy': [25, 40], 'keypoint_category_id': 1}])
    dset.add_annotation(image_id=1, category_id=2, bbox=[100, 80, 20, 10], id=2)
    dset.add_annotation(image_id=1, category_id=1, bbox=[390, 0, 10, 10], id=3)
    dset.add_annotation(image_id=3, category_id=2, bbox=[0, 0, 5, 5], id=4)
    dset.rebuild_index()
    return dset


@pytest.fixture(scope='session')
def dataset_dpath(tmp_path_factory):
    dpath = tmp_path_factory.mktemp('toy_dataset')
    make_dataset(dpath).dump()
    return dpath


@pytest.fixture
def dset(dataset_dpath):
    return kwcoco.CocoDataset(os.path.join(dataset_dpath, 'data.kwcoco.json'))


@pytest.fixture(params=BACKENDS, ids=BACKEND_IDS)
def backend(request):
    return request.param


@pytest.fixture
def sampler(dset, backend, tmp_path):
    import ndsampler
    return ndsampler.CocoSampler(dset, workdir=tmp_path / 'work', backend=backend)
