"""
Shared fixtures: a small kwcoco dataset with known pixels and annotations,
and a sampler per backend (``None``, ``'npy'``, ``'cog'``, ``'zarr'``, ``'hdf5'``).

Optional dependencies:

* GDAL. Tests that need it carry the ``gdal`` marker (or use a ``'cog'``
  parameter from :data:`BACKEND_PARAMS`, which carries it) and are skipped
  when ``osgeo`` does not import.  ``NDSAMPLER_TEST_BLOCK_GDAL=1`` hides an
  installed GDAL from the whole run, spawned workers included
  (see ``tests/_optional_deps.py``)::

      NDSAMPLER_TEST_BLOCK_GDAL=1 .venv/bin/python -m pytest tests -q -p no:randomly

* torch. Tests that need it call ``pytest.importorskip('torch')``;
  ``NDSAMPLER_TEST_BLOCK_TORCH=1`` hides an installed torch.

* zarr (v3) and h5py, for the ``'zarr'`` and ``'hdf5'`` backends: markers
  ``zarr`` and ``h5py``, hidden by ``NDSAMPLER_TEST_BLOCK_ZARR=1`` and
  ``NDSAMPLER_TEST_BLOCK_H5PY=1``.
"""
import _optional_deps

HIDDEN = _optional_deps.apply()  # before anything imports ndsampler, osgeo or torch

import os  # NOQA: E402

import kwcoco  # NOQA: E402
import kwimage  # NOQA: E402
import numpy as np  # NOQA: E402
import pytest  # NOQA: E402

HAVE_GDAL = _optional_deps.gdal_importable()
HAVE_ZARR = _optional_deps.zarr_v3_importable()
HAVE_H5PY = _optional_deps.importable('h5py')

#: Skip a test (or a parameter) unless GDAL's Python bindings import.
requires_gdal = pytest.mark.gdal
#: ... unless zarr (version 3 or later) imports.
requires_zarr = pytest.mark.zarr
#: ... unless h5py imports.
requires_h5py = pytest.mark.h5py
#: Each marker of an optional dependency: (is it here, why a test is skipped).
OPTIONAL_MARKERS = {
    'gdal': (HAVE_GDAL, 'needs GDAL (osgeo) which does not import here'),
    'zarr': (HAVE_ZARR, 'needs zarr>=3 which does not import here'),
    'h5py': (HAVE_H5PY, 'needs h5py which does not import here'),
}

#: Every backend; the ``backend`` fixtures here and in
#: ``test_backend_conformance.py`` run over this one list, so a new backend
#: joins every shared test by being appended here.
BACKENDS = [None, 'npy', 'cog', 'zarr', 'hdf5']
#: Marks of backends that need an optional dependency.
BACKEND_MARKS = {'cog': [requires_gdal], 'zarr': [requires_zarr], 'hdf5': [requires_h5py]}
BACKEND_IDS = [str(b).lower() for b in BACKENDS]


def backend_param(backend, id=None):
    """A ``pytest.param`` for a backend spec (a type or ``{'type': ..., 'config': ...}``),
    carrying the marks of its type."""
    type_ = backend.get('type') if isinstance(backend, dict) else backend
    return pytest.param(backend, id=id or str(type_).lower(), marks=BACKEND_MARKS.get(type_, []))


BACKEND_PARAMS = [backend_param(b) for b in BACKENDS]
#: The backends that keep a cache on disk (for tests of caches only).
CACHED_BACKEND_PARAMS = [backend_param(b) for b in BACKENDS if b is not None]


def backend_available(param):
    """True unless a ``backend_param`` carries the marker of a missing dependency."""
    return all(OPTIONAL_MARKERS.get(mark.name, (True,))[0] for mark in param.marks)


def pytest_configure(config):
    for name in OPTIONAL_MARKERS:
        config.addinivalue_line('markers', '{}: {}; skipped otherwise'.format(
            name, OPTIONAL_MARKERS[name][1].replace(' which does not import here', '')))


def pytest_report_header(config):
    have = ', '.join('{}: {}'.format(name, 'available' if here else 'not importable')
                     for name, (here, _) in OPTIONAL_MARKERS.items())
    return '{}; hidden by the environment: {}'.format(have, HIDDEN or 'nothing')


def pytest_collection_modifyitems(config, items):
    for name, (here, reason) in OPTIONAL_MARKERS.items():
        if here:
            continue
        skip = pytest.mark.skip(reason=reason)
        for item in items:
            if item.get_closest_marker(name) is not None:
                item.add_marker(skip)


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


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request):
    return request.param


@pytest.fixture
def sampler(dset, backend, tmp_path):
    import ndsampler
    return ndsampler.CocoSampler(dset, workdir=tmp_path / 'work', backend=backend)
