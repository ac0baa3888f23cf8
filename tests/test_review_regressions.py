"""Regression tests for defects found in review."""
import os
import threading

import cv2
import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from ndsampler._backends.readers import ArrayReader, read_window
from ndsampler._handles import ByteLRU


def one_image_dset(fpath, width, height):
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(fpath), id=1, width=width, height=height)
    return dset


def test_grayscale_jpeg_builds_a_cog_cache_with_overviews(tmp_path):
    yy, xx = np.mgrid[0:600, 0:700]
    gray = ((xx + yy) % 256).astype(np.uint8)
    cv2.imwrite(os.fspath(tmp_path / 'g.jpg'), gray)
    sampler = ndsampler.CocoSampler(one_image_dset(tmp_path / 'g.jpg', 700, 600), workdir=tmp_path, backend='cog')
    im = sampler.load_sample({'gid': 1, 'slices': (slice(0, 600), slice(0, 700)), 'scale': 0.25})['im']
    assert im.shape == (150, 175, 1)
    expected = cv2.resize(kwimage.imread(tmp_path / 'g.jpg'), (175, 150), interpolation=cv2.INTER_AREA)
    assert np.abs(im[..., 0].astype(int) - expected).mean() < 3


def test_exif_rotated_jpeg_overviews_keep_the_stored_orientation(tmp_path):
    from PIL import Image
    image = np.zeros((600, 1000, 3), np.uint8)
    image[:, :500] = 255  # left half white in the stored pixel grid
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90" orientation tag
    Image.fromarray(image).save(tmp_path / 'r.jpg', exif=exif.tobytes(), quality=95)
    dset = one_image_dset(tmp_path / 'r.jpg', 1000, 600)
    for backend in ['cog', 'npy']:
        sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / backend, backend=backend)
        im = sampler.load_sample({'gid': 1, 'slices': (slice(0, 600), slice(0, 1000)), 'scale': 0.25})['im']
        assert im.shape == (150, 250, 3)
        assert im[:, :120].mean() > 240 and im[:, 130:].mean() < 15, backend


def test_int32_and_float16_data_resize_and_cache_as_cog(tmp_path):
    data = (np.arange(300 * 400, dtype=np.int32).reshape(300, 400) % 1000) - 500
    kwimage.imwrite(tmp_path / 'i.tif', data, backend='gdal')
    sampler = ndsampler.CocoSampler(one_image_dset(tmp_path / 'i.tif', 400, 300), workdir=tmp_path, backend='cog')
    im = sampler.load_sample({'gid': 1, 'slices': (slice(0, 300), slice(0, 400)), 'scale': 0.5})['im']
    assert im.dtype == np.int32 and im.shape == (150, 200, 1)
    half = read_window(ArrayReader(np.ones((8, 8, 1), np.float16)), 0, 8, 0, 8, scale=(0.5, 0.5))
    assert half.dtype == np.float16 and half.shape == (4, 4, 1) and (half == 1).all()


def test_nodata_float_makes_inside_and_padded_windows_float(sampler):
    inside = sampler.load_sample({'gid': 1, 'slices': (slice(0, 10), slice(0, 10)), 'nodata': 'float'})['im']
    padded = sampler.load_sample({'gid': 1, 'slices': (slice(-5, 5), slice(0, 10)), 'nodata': 'float'})['im']
    assert inside.dtype == padded.dtype == np.float32
    assert np.isnan(padded[0:5]).all() and not np.isnan(inside).any()


def test_band_selection_inside_the_image_is_contiguous(sampler):
    im = sampler.load_sample({'gid': 1, 'slices': (slice(0, 4), slice(0, 4)), 'channels': 'b|r'})['im']
    assert im.flags['C_CONTIGUOUS']


def test_a_fill_the_dtype_cannot_hold_is_a_clear_error(sampler):
    with pytest.raises(ndsampler.errors.InvalidTargetError, match='padkw'):
        sampler.load_sample({'gid': 1, 'slices': (slice(-5, 5), slice(0, 10)),
                             'padkw': {'mode': 'constant', 'constant_values': -1}})


def test_a_video_sample_target_loads_again_to_the_same_window(tmp_path):
    dset = kwcoco.CocoDataset.demo('vidshapes2', num_frames=2)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    first = sampler.load_sample({'vidid': 1, 'cx': 100, 'cy': 100, 'width': 32, 'height': 32})
    again = sampler.load_sample(first['target'])
    np.testing.assert_array_equal(again['im'], first['im'])
    only_slices = sampler.load_sample({'vidid': 1, 'slices': first['target']['slices']})
    np.testing.assert_array_equal(only_slices['im'], first['im'])


def test_the_decoded_image_lru_is_thread_safe():
    lru = ByteLRU(max_bytes=5 * 8)
    errors = []

    def hammer(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(3000):
                key = int(rng.integers(0, 12))
                if lru.get(key) is None:
                    lru.put(key, np.zeros(1, np.int64))
        except Exception as ex:
            errors.append(repr(ex))
    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and lru.nbytes <= 40


def test_a_process_whose_cache_was_superseded_rekeys_instead_of_failing(dset, tmp_path):
    import shutil
    from ndsampler._handles import HANDLES
    src = tmp_path / 'moving.png'
    shutil.copy(dset.get_image_fpath(1), src)
    dset.imgs[1]['file_name'] = os.fspath(src)
    a = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend='npy')
    a.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    os.utime(src)  # the source key changes (mtime and ctime)
    b = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend='npy')
    b.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})  # deletes a's file
    for key in HANDLES.keys():
        HANDLES.discard(key)  # as if a's handle had been evicted
    im = a.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})['im']
    np.testing.assert_array_equal(im, kwimage.imread(src)[3:7, 3:7])
