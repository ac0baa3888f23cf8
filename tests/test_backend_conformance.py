"""
The backend conformance suite: every behaviour below runs on every backend
of the one list ``BACKENDS = [None, 'npy', 'cog', 'zarr', 'hdf5']`` in
``tests/conftest.py`` (which every other backend-parametrised test uses too).
A new backend joins by being appended to that list, plus a mark in
``conftest.BACKEND_MARKS`` if it needs an optional dependency ('cog' is marked
``gdal``, 'zarr' ``zarr`` and 'hdf5' ``h5py``: skipped without them).  A cache
may be a file or a directory (a zarr store): ``_conformance`` damages and
measures either.

Only the public API is used (``CocoSampler(...).load_sample``,
``sampler.frames.load_image / load_region / prepare``, ``frames.cache_dpath``
and the cache layout of docs/backends.rst and docs/reliability.rst), except in
``_conformance.count_builds``, the one hook that counts cache builds.

The sources are written by the tests (``_conformance.write_sources``): a
lossless RGB PNG, a single-band PNG, a 3-band uint16 TIFF, a float32 TIFF, an
int32 TIFF, a JPEG, a smooth 2048 px PNG for scaled reads and a two-asset
image (``r|g|b`` + ``disparity``); with GDAL also a tiled GeoTIFF.
"""
import multiprocessing
import os
import pickle
import shutil
import time

import cv2
import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from _conformance import (F32, GRAY, I32, LOSSLESS, MULTI, PHOTO, RGB, SMOOTH, SMOOTH_SIZE, U16,
                          Sources, cache_listing, cache_nbytes, count_builds, damage_cache,
                          decoded_source, lock_inodes_with_a_waiter, one_image_dset,
                          published_caches, random_targets, reference_window, window_of,
                          write_sources)
from conftest import BACKEND_PARAMS, requires_gdal


@pytest.fixture(scope='module')
def sources(tmp_path_factory):
    dpath = tmp_path_factory.mktemp('conformance_sources')
    dset, written = write_sources(os.fspath(dpath))
    return Sources(dset, {gid: decoded_source(dset, gid) for gid in dset.imgs}, written)


def needs_a_cache(sampler):
    if sampler.frames.cache_dpath is None:
        pytest.skip('backend {!r} keeps no cache'.format(sampler.backend))


@pytest.fixture(scope='module', params=BACKEND_PARAMS)
def backend(request):
    return request.param


@pytest.fixture(scope='module')
def shared(sources, backend, tmp_path_factory):
    """One sampler per backend for the read-only behaviours (caches built on first touch)."""
    workdir = tmp_path_factory.mktemp('conformance_work')
    return ndsampler.CocoSampler(sources.dset, workdir=workdir, backend=backend)


@pytest.fixture
def fresh(sources, backend, tmp_path):
    """A sampler over a copy of the sources (the large one, never changed,
    linked), with its own workdir."""
    dpath = tmp_path / 'src'
    big = os.path.basename(sources.dset.get_image_fpath(SMOOTH))
    shutil.copytree(sources.dset.bundle_dpath, dpath, ignore=shutil.ignore_patterns(big))
    os.symlink(sources.dset.get_image_fpath(SMOOTH), dpath / big)
    dset = kwcoco.CocoDataset(sources.dset.copy().dataset, bundle_dpath=os.fspath(dpath))
    return ndsampler.CocoSampler(dset, workdir=tmp_path / 'work', backend=backend)


# -- pixels ------------------------------------------------------------------

def test_the_lossless_sources_decode_to_the_arrays_written(sources):
    for gid in LOSSLESS:
        np.testing.assert_array_equal(sources.arrays[gid], sources.written[gid])
    assert [sources.arrays[g].dtype for g in (U16, F32, I32)] == [np.uint16, np.float32, np.int32]


@pytest.mark.parametrize('gid', LOSSLESS)
def test_random_windows_equal_the_source_exactly(shared, sources, gid):
    source = sources.arrays[gid]
    rng = np.random.default_rng(gid)
    for target in random_targets(rng, gid, source.shape, 30):
        im = shared.load_sample(target, with_annots=False)['im']
        assert im.shape == (target['height'], target['width'], source.shape[2])
        assert im.dtype == source.dtype
        np.testing.assert_array_equal(im, reference_window(source, *window_of(target)))


def test_windows_of_all_sizes_around_an_rgb_image_equal_a_direct_read(shared, sources):
    source = sources.arrays[RGB]
    rng = np.random.default_rng(1)
    for _ in range(40):
        h, w = rng.integers(1, 120, size=2)
        cy, cx = rng.integers(-60, 300 + 60), rng.integers(-60, 400 + 60)
        sample = shared.load_sample({'gid': RGB, 'cx': cx, 'cy': cy, 'width': w, 'height': h},
                                    with_annots=False)
        y0, x0 = int(np.floor(cy - h / 2)), int(np.floor(cx - w / 2))
        assert sample['im'].shape == (h, w, 3)
        np.testing.assert_array_equal(sample['im'], reference_window(source, y0, y0 + h, x0, x0 + w))


@pytest.mark.parametrize('gid', [RGB, U16, F32])
def test_overhanging_windows_are_zero_outside_and_exact_inside(shared, sources, gid):
    source = sources.arrays[gid]
    h, w = source.shape[0:2]
    for y0, x0 in [(-7, -9), (-7, w - 5), (h - 4, -9), (h - 4, w - 5), (-7, w // 2), (h // 2, -9)]:
        im = shared.load_sample({'gid': gid, 'slices': (slice(y0, y0 + 16), slice(x0, x0 + 20))})['im']
        assert im.shape == (16, 20, source.shape[2]) and im.dtype == source.dtype
        np.testing.assert_array_equal(im, reference_window(source, y0, y0 + 16, x0, x0 + 20))
        inside = np.zeros((16, 20), bool)
        inside[max(0, -y0):min(16, h - y0), max(0, -x0):min(20, w - x0)] = True
        assert (im[~inside] == 0).all() and inside.any() and not inside.all()


@pytest.mark.parametrize('gid', [RGB, U16, F32, MULTI])
@pytest.mark.parametrize('dtype', ['float32', None])
def test_windows_read_straight_into_a_channels_first_batch_equal_the_windows(shared, sources,
                                                                              gid, dtype):
    """``ndsampler.torch`` reads a batch's windows straight into their rows,
    channels first; the rows equal the windows ``load_sample`` gives."""
    pytest.importorskip('torch')
    from ndsampler.torch import SamplerDataset, collate
    h, w = sources.arrays[gid].shape[0:2] if gid in sources.arrays else (300, 400)
    rng = np.random.default_rng(gid)
    targets = [{'gid': gid, 'cx': int(cx), 'cy': int(cy), 'width': 64, 'height': 48}
               for cx, cy in zip(rng.integers(-40, w + 40, 6), rng.integers(-30, h + 30, 6))]
    targets.append({'gid': gid, 'slices': (slice(-10, 86), slice(w - 100, w + 28)), 'scale': 0.5})
    batch = collate(SamplerDataset(shared, targets, with_annots=False, dtype=dtype)
                    .__getitems__(list(range(len(targets)))))
    assert tuple(batch['im'].shape[2:]) == (48, 64)
    for row, target in zip(batch['im'].numpy(), targets):
        want = shared.load_sample(target, with_annots=False)['im'].transpose(2, 0, 1)
        np.testing.assert_array_equal(row, want.astype(row.dtype))
        assert row.dtype == (np.float32 if dtype else want.dtype)


def test_out_of_bounds_slices_are_zero_padded_and_aligned(shared, sources):
    sample = shared.load_sample({'gid': RGB, 'slices': (slice(-5, 5), slice(395, 405))})
    im = sample['im']
    assert im.shape == (10, 10, 3)
    assert not im[0:5].any() and not im[:, 5:].any()
    np.testing.assert_array_equal(im[5:10, 0:5], sources.arrays[RGB][0:5, 395:400])
    assert sample['params']['offset'].tolist() == [-395, 5]
    assert sample['params']['st_dims'] == [(-5, 5), (395, 405)]
    assert sample['params']['sample_tlbr'].data.tolist() == [395, -5, 405, 5]


@pytest.mark.parametrize('gid', [RGB, U16])
def test_a_window_entirely_outside_the_image_is_all_padding(shared, gid):
    for target in [{'gid': gid, 'cx': -500, 'cy': 900, 'width': 16, 'height': 8},
                   {'gid': gid, 'cx': 5000, 'cy': -5000, 'width': 12, 'height': 7}]:
        im = shared.load_sample(target)['im']
        assert im.shape == (target['height'], target['width'], 3)
        assert not im.any()


def test_a_single_band_image_comes_back_with_one_channel(shared, sources):
    im = shared.load_sample({'gid': GRAY, 'slices': (slice(-3, 10), slice(60, 75))})['im']
    assert im.shape == (13, 15, 1)
    np.testing.assert_array_equal(im, reference_window(sources.arrays[GRAY], -3, 10, 60, 75))


def test_a_jpeg_source_is_close_to_a_direct_read(shared, sources):
    im = shared.load_sample({'gid': PHOTO, 'slices': (slice(0, 100), slice(0, 130))})['im']
    diff = np.abs(im.astype(int) - sources.arrays[PHOTO].astype(int))
    assert im.shape == (100, 130, 3) and diff.mean() < 1.5, 'JPEG caching should be near lossless'


def test_windows_are_writable_contiguous_copies(shared):
    target = {'gid': RGB, 'cx': 50, 'cy': 50, 'width': 20, 'height': 20}
    first = shared.load_sample(target)['im']
    assert first.flags['C_CONTIGUOUS'] and first.flags['WRITEABLE']
    expected = first.copy()
    first[...] = 0
    np.testing.assert_array_equal(shared.load_sample(target)['im'], expected)


# -- whole images and regions ------------------------------------------------

@pytest.mark.parametrize('gid', LOSSLESS)
def test_load_image_and_load_region_equal_the_source(shared, sources, gid):
    source = sources.arrays[gid]
    image = np.asarray(shared.frames.load_image(gid))
    assert image.dtype == source.dtype
    np.testing.assert_array_equal(image, source)
    region = shared.frames.load_region(gid, (slice(-20), slice(-10)))
    np.testing.assert_array_equal(region, source[:-20, :-10])


def test_load_image_with_annots_returns_the_image_and_its_annotations(shared, sources):
    np.testing.assert_array_equal(np.asarray(shared.load_image(RGB)), sources.arrays[RGB])
    img, anns = shared.load_image_with_annots(RGB)
    assert img['imdata'].shape == (300, 400, 3)
    assert [ann['id'] for ann in anns] == [1, 2, 3]


@requires_gdal
def test_a_tiled_geotiff_source_reads_equal_the_source(backend, sources, tmp_path):
    """A COG source (tiled, with overviews), which a backend may read in place."""
    source = sources.written[U16]
    fpath = tmp_path / 'tiled.tif'
    kwimage.imwrite(fpath, source, backend='gdal', blocksize=64, overviews=2)
    dset = one_image_dset(fpath, source.shape[1], source.shape[0])
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    rng = np.random.default_rng(3)
    for target in random_targets(rng, 1, source.shape, 20):
        im = sampler.load_sample(target, with_annots=False)['im']
        np.testing.assert_array_equal(im, reference_window(source, *window_of(target)))
    np.testing.assert_array_equal(np.asarray(sampler.frames.load_image(1)), source)
    half = sampler.load_sample({'gid': 1, 'slices': (slice(0, 128), slice(0, 168)), 'scale': 0.5})['im']
    assert half.shape == (64, 84, 3) and half.dtype == np.uint16


def test_prepare_builds_one_cache_per_source_file_and_reads_match(fresh, sources):
    fresh.frames.prepare()
    if fresh.frames.cache_dpath is None:
        assert cache_listing(fresh.frames.workdir) == []
    else:
        assert len(published_caches(fresh.frames.workdir)) == 9  # 7 single-file images + 2 assets
    for gid in LOSSLESS:
        np.testing.assert_array_equal(np.asarray(fresh.frames.load_image(gid)), sources.arrays[gid])


# -- dtype and channels ------------------------------------------------------

@pytest.mark.parametrize('gid', [RGB, GRAY, U16, F32, I32, MULTI])
def test_the_source_dtype_is_kept_inside_padded_and_scaled(shared, sources, gid):
    want = sources.arrays[gid].dtype
    for target in [{'gid': gid, 'slices': (slice(2, 12), slice(3, 9))},
                   {'gid': gid, 'slices': (slice(-4, 12), slice(3, 9))},
                   {'gid': gid, 'slices': (slice(0, 40), slice(0, 40)), 'scale': 0.5}]:
        assert shared.load_sample(target)['im'].dtype == want, target


def test_int32_data_resizes_with_its_dtype(shared):
    im = shared.load_sample({'gid': I32, 'slices': (slice(0, 300), slice(0, 400)), 'scale': 0.5})['im']
    assert im.dtype == np.int32 and im.shape == (150, 200, 1)


def test_channels_select_and_order_bands(shared, sources):
    target = {'gid': RGB, 'slices': (slice(10, 20), slice(30, 45))}
    full = shared.load_sample(target)['im']
    picked = shared.load_sample(dict(target, channels='b|r'))['im']
    np.testing.assert_array_equal(picked, full[:, :, [2, 0]])
    np.testing.assert_array_equal(full, sources.arrays[RGB][10:20, 30:45])
    xr_sample = shared.load_sample(dict(target, channels='g', as_xarray=True))
    assert xr_sample['im'].dims == ('y', 'x', 'c')
    assert xr_sample['im'].coords['c'].values.tolist() == ['g']


def test_a_band_selection_is_contiguous(shared):
    im = shared.load_sample({'gid': RGB, 'slices': (slice(0, 4), slice(0, 4)), 'channels': 'b|r'})['im']
    assert im.flags['C_CONTIGUOUS']


@pytest.mark.parametrize('channels, bands', [
    ('disparity|r', [3, 0]), ('r|g|b|disparity', [0, 1, 2, 3]), ('disparity', [3]),
    ('g|disparity|b', [1, 3, 2]), (None, [0, 1, 2, 3])])
def test_channels_of_a_multi_asset_image_come_in_the_requested_order(shared, sources, channels, bands):
    source = sources.arrays[MULTI][:, :, bands]
    for slices in [(slice(10, 50), slice(20, 70)), (slice(-6, 30), slice(140, 175))]:
        target = {'gid': MULTI, 'slices': slices}
        if channels is not None:
            target['channels'] = channels
        im = shared.load_sample(target)['im']
        assert im.flags['C_CONTIGUOUS'] and im.dtype == np.uint8
        ys, xs = slices
        np.testing.assert_array_equal(im, reference_window(source, ys.start, ys.stop, xs.start, xs.stop))


def test_an_unknown_channel_is_a_key_error_naming_it(shared):
    with pytest.raises(KeyError, match='nir'):
        shared.load_sample({'gid': MULTI, 'slices': (slice(0, 4), slice(0, 4)), 'channels': 'nir|r'})


# -- padding and nodata ------------------------------------------------------

@pytest.mark.parametrize('gid', [RGB, U16, F32])
def test_nodata_float_is_float32_with_nan_exactly_outside(shared, sources, gid):
    source = sources.arrays[gid]
    h, w = source.shape[0:2]
    for y0, x0 in [(-5, -3), (h - 6, w - 7), (2, 3)]:
        im = shared.load_sample({'gid': gid, 'slices': (slice(y0, y0 + 12), slice(x0, x0 + 10)),
                                 'nodata': 'float'})['im']
        assert im.dtype == np.float32 and im.shape == (12, 10, source.shape[2])
        expected = reference_window(source.astype(np.float32), y0, y0 + 12, x0, x0 + 10, fill=np.nan)
        np.testing.assert_array_equal(np.isnan(im), np.isnan(expected))
        np.testing.assert_array_equal(im[~np.isnan(im)], expected[~np.isnan(expected)])
    inside = shared.load_sample({'gid': gid, 'slices': (slice(0, 10), slice(0, 10)), 'nodata': 'float'})['im']
    assert inside.dtype == np.float32 and not np.isnan(inside).any()


@pytest.mark.parametrize('gid', [RGB, U16, F32])
def test_padkw_constant_fills_exactly_outside(shared, sources, gid):
    source = sources.arrays[gid]
    h, w = source.shape[0:2]
    padkw = {'mode': 'constant', 'constant_values': 7}
    for y0, x0 in [(-5, -3), (h - 6, w - 7), (-40, 10)]:
        im = shared.load_sample({'gid': gid, 'slices': (slice(y0, y0 + 12), slice(x0, x0 + 10)),
                                 'padkw': padkw})['im']
        assert im.dtype == source.dtype
        np.testing.assert_array_equal(im, reference_window(source, y0, y0 + 12, x0, x0 + 10, fill=7))


def test_pad_adds_context_and_padkw_sets_the_fill(shared, sources):
    target = {'gid': RGB, 'cx': 2, 'cy': 2, 'width': 10, 'height': 20, 'pad': (2, 4),
              'padkw': {'mode': 'constant', 'constant_values': 7}}
    sample = shared.load_sample(target)
    im = sample['im']
    # window x: floor(2 - 5) - 4 = -7 .. 11, y: floor(2 - 10) - 2 = -10 .. 14
    assert im.shape == (24, 18, 3)
    assert sample['params']['st_dims'] == [(-10, 14), (-7, 11)]
    assert sample['params']['pad'] == (2, 4)
    assert (im[0:10] == 7).all() and (im[:, 0:7] == 7).all()
    np.testing.assert_array_equal(im[10:, 7:], sources.arrays[RGB][0:14, 0:11])


# -- scaled reads ------------------------------------------------------------

def assert_half_scale_reads_match_an_area_resize(sampler, source, windows):
    for y0, x0, h, w in windows:
        target = {'gid': SMOOTH, 'slices': (slice(y0, y0 + h), slice(x0, x0 + w)), 'scale': 0.5}
        got = sampler.load_sample(target, with_annots=False)['im']
        full = sampler.load_sample(dict(target, scale=1.0), with_annots=False)['im']
        np.testing.assert_array_equal(full, source[y0:y0 + h, x0:x0 + w])
        out_h, out_w = round(h * 0.5), round(w * 0.5)
        expected = cv2.resize(full, (out_w, out_h), interpolation=cv2.INTER_AREA)
        assert got.shape == (out_h, out_w, 3)
        diff = np.abs(got.astype(int) - expected.astype(int))
        assert diff.mean() < 1.0 and diff.max() <= 4, (target, diff.mean(), diff.max())


def random_smooth_windows(seed, odd_offset=False, odd_size=False, n=10):
    rng = np.random.default_rng(seed)
    windows = []
    for _ in range(n):
        h, w = (int(v) * 2 + odd_size for v in rng.integers(8, 300, size=2))
        y0, x0 = (int(v) * 2 + odd_offset for v in rng.integers(0, SMOOTH_SIZE // 2 - 320, size=2))
        windows.append((y0, x0, h, w))
    return windows


def test_half_scale_windows_on_the_even_grid_match_an_area_resize(shared, sources):
    assert_half_scale_reads_match_an_area_resize(
        shared, sources.arrays[SMOOTH], random_smooth_windows(7))


def test_half_scale_windows_at_odd_offsets_match_an_area_resize(shared, sources):
    assert_half_scale_reads_match_an_area_resize(
        shared, sources.arrays[SMOOTH], random_smooth_windows(8, odd_offset=True))


def test_half_scale_windows_of_odd_size_match_an_area_resize(shared, sources):
    assert_half_scale_reads_match_an_area_resize(
        shared, sources.arrays[SMOOTH], random_smooth_windows(9, odd_size=True))


def test_odd_sized_windows_scale_to_the_rounded_shape(shared):
    for h, w, scale in [(33, 47, 0.5), (101, 15, 0.25), (9, 9, 1 / 3), (10, 7, 2.0), (64, 64, (0.5, 0.25))]:
        target = {'gid': SMOOTH, 'slices': (slice(100, 100 + h), slice(50, 50 + w)), 'scale': scale}
        sx, sy = scale if isinstance(scale, tuple) else (scale, scale)
        assert shared.load_sample(target)['im'].shape == (max(1, round(h * sy)), max(1, round(w * sx)), 3)


def test_a_large_region_scaled_to_a_sixteenth_matches_a_full_read_and_area_resize(shared, sources):
    image = sources.arrays[SMOOTH]
    target = {'gid': SMOOTH, 'slices': (slice(0, SMOOTH_SIZE), slice(0, SMOOTH_SIZE)), 'scale': 1 / 16}
    got = shared.load_sample(target)['im']
    expected = cv2.resize(image, (128, 128), interpolation=cv2.INTER_AREA)
    assert got.shape == (128, 128, 3)
    # tolerance: overviews are 2x2 box averages rounded to uint8 at each level
    assert np.abs(got.astype(int) - expected.astype(int)).mean() < 1.0
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 4


def test_a_scaled_window_leaving_the_image_is_padded_in_place(shared):
    im = shared.load_sample({'gid': RGB, 'slices': (slice(-100, 100), slice(300, 500)), 'scale': 0.5})['im']
    assert im.shape == (100, 100, 3)
    assert not im[0:50].any() and not im[:, 50:].any()
    assert im[50:, :50].any()


def test_a_grayscale_jpeg_scales_like_an_area_resize(backend, tmp_path):
    yy, xx = np.mgrid[0:600, 0:700]
    cv2.imwrite(os.fspath(tmp_path / 'g.jpg'), ((xx + yy) % 256).astype(np.uint8))
    sampler = ndsampler.CocoSampler(one_image_dset(tmp_path / 'g.jpg', 700, 600),
                                    workdir=tmp_path, backend=backend)
    im = sampler.load_sample({'gid': 1, 'slices': (slice(0, 600), slice(0, 700)), 'scale': 0.25})['im']
    assert im.shape == (150, 175, 1)
    expected = cv2.resize(kwimage.imread(tmp_path / 'g.jpg'), (175, 150), interpolation=cv2.INTER_AREA)
    assert np.abs(im[..., 0].astype(int) - expected).mean() < 3


def test_an_exif_rotated_jpeg_keeps_its_stored_orientation_when_scaled(backend, tmp_path):
    from PIL import Image
    image = np.zeros((600, 1000, 3), np.uint8)
    image[:, :500] = 255  # left half white in the stored pixel grid
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90" orientation tag
    Image.fromarray(image).save(tmp_path / 'r.jpg', exif=exif.tobytes(), quality=95)
    sampler = ndsampler.CocoSampler(one_image_dset(tmp_path / 'r.jpg', 1000, 600),
                                    workdir=tmp_path / 'w', backend=backend)
    im = sampler.load_sample({'gid': 1, 'slices': (slice(0, 600), slice(0, 1000)), 'scale': 0.25})['im']
    assert im.shape == (150, 250, 3)
    assert im[:, :120].mean() > 240 and im[:, 130:].mean() < 15
    full = sampler.load_sample({'gid': 1, 'slices': (slice(0, 600), slice(0, 1000))})['im']
    assert full.shape == (600, 1000, 3) and full[:, :490].mean() > 240 and full[:, 510:].mean() < 15


# -- a changed or damaged source or cache --------------------------------------

def test_a_changed_source_is_never_served_from_a_stale_cache(fresh):
    dset = fresh.dset
    src = dset.get_image_fpath(RGB)
    target = {'gid': RGB, 'slices': (slice(0, 30), slice(0, 30))}
    first = fresh.load_sample(target)['im']
    st = os.stat(src)
    new_pixels = 255 - kwimage.imread(src)
    kwimage.imwrite(src, new_pixels)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # restore the old mtime
    sampler = ndsampler.CocoSampler(dset, workdir=fresh.frames.workdir, backend=fresh.backend)
    second = sampler.load_sample(target)['im']
    np.testing.assert_array_equal(second, new_pixels[0:30, 0:30])
    assert not np.array_equal(first, second)
    if sampler.frames.cache_dpath is not None:
        caches = published_caches(sampler.frames.workdir)
        assert len(caches) == 1, 'the stale sibling should be removed: {}'.format(caches)


@pytest.mark.parametrize('restore_mtime', [False, True], ids=['new-mtime', 'old-mtime'])
def test_a_rewritten_source_of_the_same_size_gives_new_pixels(fresh, restore_mtime):
    dset = fresh.dset
    src = dset.get_image_fpath(RGB)
    first = np.random.default_rng(1).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    cv2.imwrite(os.fspath(src), first, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    target = {'gid': RGB, 'slices': (slice(-3, 60), slice(350, 410))}
    before = fresh.load_sample(target)['im']
    st = os.stat(src)
    cv2.imwrite(os.fspath(src), 255 - first, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    assert os.stat(src).st_size == st.st_size
    if restore_mtime:
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = ndsampler.CocoSampler(dset, workdir=fresh.frames.workdir, backend=fresh.backend)
    got = after.load_sample(target)['im']
    np.testing.assert_array_equal(got, reference_window(kwimage.imread(src), -3, 60, 350, 410))
    assert not np.array_equal(before, got)
    np.testing.assert_array_equal(np.asarray(after.frames.load_image(RGB)), kwimage.imread(src))


@pytest.mark.parametrize('damage', ['truncated', 'overwritten', 'emptied'])
@pytest.mark.parametrize('gid', [RGB, U16, PHOTO])
def test_a_corrupt_cache_is_rebuilt_not_served(fresh, gid, damage):
    needs_a_cache(fresh)
    workdir = fresh.frames.workdir
    target = {'gid': gid, 'cx': 60, 'cy': 50, 'width': 300, 'height': 200}
    expected = fresh.load_sample(target)['im']
    stem = os.path.splitext(os.path.basename(fresh.dset.get_image_fpath(gid)))[0] + '_'
    (cache,) = [p for p in published_caches(workdir) if os.path.basename(p).startswith(stem)]
    size = cache_nbytes(cache)
    damage_cache(cache, damage)
    again = ndsampler.CocoSampler(fresh.dset, workdir=workdir, backend=fresh.backend)
    np.testing.assert_array_equal(again.load_sample(target)['im'], expected)
    assert cache_nbytes(cache) == size
    published_caches(workdir)


def test_a_cache_without_its_stamp_is_not_trusted(fresh, sources):
    needs_a_cache(fresh)
    target = {'gid': RGB, 'slices': (slice(0, 50), slice(0, 60))}
    fresh.load_sample(target)
    (cache,) = published_caches(fresh.frames.workdir)
    os.unlink(cache + '.ok')
    damage_cache(cache, 'tail-zeroed')  # damage that keeps size and (coarse) stat
    again = ndsampler.CocoSampler(fresh.dset, workdir=fresh.frames.workdir, backend=fresh.backend)
    np.testing.assert_array_equal(np.asarray(again.frames.load_image(RGB)), sources.arrays[RGB])
    assert len(published_caches(fresh.frames.workdir)) == 1


# -- processes ---------------------------------------------------------------

def test_a_pickled_sampler_reads_the_same_windows_and_annotations(shared):
    target = {'gid': RGB, 'cx': 110, 'cy': 90, 'width': 32, 'height': 16}
    expected = shared.load_sample(target)
    clone = pickle.loads(pickle.dumps(shared))
    got = clone.load_sample(target)
    np.testing.assert_array_equal(got['im'], expected['im'])
    assert got['annots']['aids'].tolist() == expected['annots']['aids'].tolist() == [2]


def test_a_pickled_sampler_works_in_a_spawned_process(shared, sources):
    from _workers import load_windows
    rng = np.random.default_rng(5)
    targets = [t for gid in LOSSLESS + [PHOTO]
               for t in random_targets(rng, gid, sources.arrays[gid].shape, 3)]
    expected = [shared.load_sample(t, with_annots=False)['im'] for t in targets]
    payload = pickle.dumps(shared)
    print('pickled sampler: {} bytes'.format(len(payload)))
    assert len(payload) < 200_000
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        (got,) = pool.starmap(load_windows, [(payload, targets)])
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


def _child_loads(sampler, targets, expected, queue):
    try:
        for target, want in zip(targets, expected):
            np.testing.assert_array_equal(sampler.load_sample(target, with_annots=False)['im'], want)
        queue.put('ok')
    except BaseException as ex:
        queue.put(repr(ex))


def test_forked_children_read_the_same_windows_through_a_used_sampler(shared, sources):
    rng = np.random.default_rng(4)
    targets = [t for gid in LOSSLESS + [PHOTO]
               for t in random_targets(rng, gid, sources.arrays[gid].shape, 60, max_side=32)]
    expected = [shared.load_sample(t, with_annots=False)['im'] for t in targets]  # handles open
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child_loads, args=(shared, targets, expected, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert results == ['ok', 'ok']
    for target, window in zip(targets, expected):
        if target['gid'] != PHOTO:
            np.testing.assert_array_equal(window, reference_window(sources.arrays[target['gid']],
                                                                   *window_of(target)))


def _first_touch(sampler, targets, barrier, queue):
    try:
        barrier.wait(timeout=60)
        queue.put([sampler.load_sample(t, with_annots=False)['im'] for t in targets])
    except BaseException as ex:  # report, never hang the parent
        queue.put(repr(ex))


def test_processes_first_touching_the_same_images_build_each_cache_once(
        fresh, sources, tmp_path, monkeypatch):
    """Eight forked processes load the same uncached windows at once.  Each
    cache file is built once: the builder waits, before building, until
    another process is seen blocked on its lock (so the lock is contended)."""
    if not os.path.exists('/proc/locks'):
        pytest.skip('needs /proc/locks')
    log = tmp_path / 'builds.log'
    log.write_text('')
    cached = fresh.frames.cache_dpath is not None
    if cached:
        def wait_for_a_waiter():
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if lock_inodes_with_a_waiter(fresh.frames.cache_dpath):
                    return 'contended'
                time.sleep(0.002)
            return 'alone'
        count_builds(monkeypatch, fresh, log, during_build=wait_for_a_waiter)
    rng = np.random.default_rng(11)
    targets = [t for gid in (RGB, U16) for t in random_targets(rng, gid, sources.arrays[gid].shape, 4)]
    ctx = multiprocessing.get_context('fork')
    barrier, queue = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_first_touch, args=(fresh, targets, barrier, queue)) for _ in range(8)]
    for proc in procs:
        proc.start()
    try:
        results = [queue.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    for result in results:
        assert not isinstance(result, str), result
        for window, target in zip(result, targets):
            np.testing.assert_array_equal(window, reference_window(sources.arrays[target['gid']],
                                                                   *window_of(target)))
    builds = log.read_text().splitlines()
    if cached:
        assert len(builds) == 2, builds  # one per image, by one of the eight
        assert all(line.endswith('contended') for line in builds), builds
        names = [os.path.basename(p) for p in published_caches(fresh.frames.workdir)]
        assert sorted(n.split('_')[0] for n in names) == ['rgb', 'u16'], names
    else:
        assert builds == [] and cache_listing(fresh.frames.workdir) == []


@pytest.fixture(scope='module')
def six_image_dset(tmp_path_factory):
    dpath = tmp_path_factory.mktemp('six')
    rng = np.random.default_rng(2)
    dset = kwcoco.CocoDataset()
    for gid in range(1, 7):
        fpath = os.fspath(dpath / 'im{}.png'.format(gid))
        kwimage.imwrite(fpath, rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
        dset.add_image(file_name=fpath, id=gid, width=160, height=120)
    return dset


def test_open_descriptors_stay_bounded_over_5000_windows(six_image_dset, backend, tmp_path):
    sampler = ndsampler.CocoSampler(six_image_dset, workdir=tmp_path, backend=backend)
    rng = np.random.default_rng(3)
    sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    baseline = len(os.listdir('/proc/self/fd'))
    counts = []
    for i in range(5000):
        sampler.load_sample({'gid': int(rng.integers(1, 7)), 'cx': int(rng.integers(-20, 180)),
                             'cy': int(rng.integers(-20, 140)), 'width': 32, 'height': 32},
                            with_annots=False)
        if i % 250 == 0:
            counts.append(len(os.listdir('/proc/self/fd')))
    # at most two descriptors per image (the cache, and the map of its shared
    # decoded tiles for the compressed caches), never growing with the reads
    assert max(counts) - baseline <= 2 * 6, counts
    assert counts[-1] == max(counts), counts
