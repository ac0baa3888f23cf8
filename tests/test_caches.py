"""
Cache files: built once under concurrency, atomic, keyed to the source's
content, lossless where the source is, tiled with overviews for 'cog'.
"""
import multiprocessing
import os
import pickle

import kwimage
import numpy as np
import pytest

import ndsampler
from _workers import load_windows, window_targets
from conftest import direct_read


def all_cache_files(sampler):
    dpath = sampler.frames.cache_dpath
    return sorted(os.listdir(dpath)) if dpath and os.path.exists(dpath) else []


def cache_files(sampler):
    """The cache files proper, each checked to have its checksum stamp."""
    names = all_cache_files(sampler)
    data = [n for n in names if not n.endswith('.ok')]
    assert sorted(n + '.ok' for n in data if '.tmp-' not in n and not n.endswith('.lock')) == \
        sorted(n for n in names if n.endswith('.ok'))
    return data


def test_processes_first_touching_uncached_images_agree(sampler):
    targets = window_targets(12, seed=3)
    payload = pickle.dumps(sampler)
    ctx = multiprocessing.get_context('spawn')
    with ctx.Pool(4) as pool:
        results = pool.starmap(load_windows, [(payload, targets)] * 4)
    serial = [sampler.load_sample(t, with_annots=False)['im'] for t in targets]
    for result in results:
        for got, want in zip(result, serial):
            np.testing.assert_array_equal(got, want)
    lossless = [t for t in targets if t['gid'] in (1, 2)]
    for target, window in zip(targets, serial):
        if target in lossless:
            y0 = int(np.floor(target['cy'] - target['height'] / 2))
            x0 = int(np.floor(target['cx'] - target['width'] / 2))
            expected = direct_read(sampler.dset.get_image_fpath(target['gid']), y0,
                                   y0 + target['height'], x0, x0 + target['width'])
            np.testing.assert_array_equal(window, expected)
    names = cache_files(sampler)
    assert not [n for n in all_cache_files(sampler) if '.tmp-' in n or n.endswith('.lock')], names
    if sampler.frames.cache_dpath is not None:
        assert len(names) == 3, names


def test_changed_source_is_never_served_from_a_stale_cache(dset, backend, tmp_path):
    import shutil
    src = tmp_path / 'moving.png'
    shutil.copy(dset.get_image_fpath(1), src)
    dset.imgs[1]['file_name'] = os.fspath(src)
    target = {'gid': 1, 'slices': (slice(0, 30), slice(0, 30))}
    first = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend).load_sample(target)
    st = os.stat(src)
    new_pixels = 255 - kwimage.imread(src)
    kwimage.imwrite(src, new_pixels)
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))  # restore the old mtime
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    second = sampler.load_sample(target)
    np.testing.assert_array_equal(second['im'], new_pixels[0:30, 0:30])
    assert not np.array_equal(first['im'], second['im'])
    names = cache_files(sampler)
    if sampler.frames.cache_dpath is not None:
        assert len(names) == 1, 'the stale sibling should be removed: {}'.format(names)


def test_truncated_npy_cache_is_detected_and_rebuilt(dset, tmp_path):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    target = {'gid': 1, 'slices': (slice(100, 140), slice(200, 260))}
    expected = sampler.load_sample(target)['im']
    (name,) = [n for n in cache_files(sampler) if n.startswith('rgb')]
    fpath = os.path.join(sampler.frames.cache_dpath, name)
    with open(fpath, 'r+b') as file:
        file.truncate(os.path.getsize(fpath) // 2)
    fresh = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    np.testing.assert_array_equal(fresh.load_sample(target)['im'], expected)


def test_cog_cache_is_tiled_with_overviews_and_lossless_for_png(dset, tmp_path):
    from osgeo import gdal
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='cog')
    sampler.frames.prepare()
    infos = {}
    for name in cache_files(sampler):
        ds = gdal.Open(os.path.join(sampler.frames.cache_dpath, name))
        band = ds.GetRasterBand(1)
        infos[name.split('_')[0]] = (ds.GetMetadata('IMAGE_STRUCTURE').get('COMPRESSION'),
                                     band.GetBlockSize(), band.GetOverviewCount())
    assert infos['rgb'] == ('ZSTD', [256, 256], 1)
    assert infos['gray'][0] == 'ZSTD'
    assert infos['photo'][0] in ('JPEG', 'YCbCr JPEG')
    image = sampler.load_image(1)
    np.testing.assert_array_equal(image, direct_read(dset.get_image_fpath(1), 0, 300, 0, 400))


@pytest.mark.parametrize('compress', ['LZW', 'DEFLATE', 'ZSTD', 'NONE', 'RAW'])
def test_cog_lossless_compressions_return_exact_pixels(dset, tmp_path, compress):
    sampler = ndsampler.CocoSampler(
        dset, workdir=tmp_path, backend={'type': 'cog', 'config': {'compress': compress}})
    im = sampler.load_sample({'gid': 1, 'slices': (slice(250, 310), slice(-4, 50))})['im']
    np.testing.assert_array_equal(im, direct_read(dset.get_image_fpath(1), 250, 310, -4, 50))


def test_cog_jpeg_compression_is_lossy_but_close(dset, tmp_path):
    sampler = ndsampler.CocoSampler(
        dset, workdir=tmp_path, backend={'type': 'cog', 'config': {'compress': 'JPEG'}})
    im = sampler.load_sample({'gid': 3, 'slices': (slice(0, 100), slice(0, 130))})['im']
    ref = direct_read(dset.get_image_fpath(3), 0, 100, 0, 130)
    assert np.abs(im.astype(int) - ref.astype(int)).mean() < 3


def test_cache_paths_follow_the_original_layout(dset, tmp_path):
    npy = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    cog = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='cog')
    none = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    assert npy.frames.cache_dpath == os.path.join(tmp_path, '_cache', 'frames', 'npy')
    assert os.path.dirname(cog.frames.cache_dpath) == os.path.join(tmp_path, '_cache', 'frames', 'cog')
    assert none.frames.cache_dpath is None
    assert npy.frames._backend == {'type': 'npy', 'config': {}}
    assert cog.frames._backend['config']['compress'] == 'auto'


def test_npy_load_image_is_a_read_only_memmap(dset, tmp_path):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    image = sampler.load_image(1)
    assert isinstance(image, np.memmap) and not image.flags['WRITEABLE']


def test_none_backend_reads_tiled_tiff_by_window(dset, tmp_path):
    from osgeo import gdal
    from ndsampler._backends.readers import GdalReader
    tif = tmp_path / 'tiled.tif'
    gdal.Translate(os.fspath(tif), os.fspath(dset.get_image_fpath(1)), options=gdal.TranslateOptions(
        format='GTiff', creationOptions=['TILED=YES', 'BLOCKXSIZE=64', 'BLOCKYSIZE=64']))
    dset.imgs[1]['file_name'] = os.fspath(tif)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    im = sampler.load_sample({'gid': 1, 'slices': (slice(-3, 70), slice(390, 410))})['im']
    np.testing.assert_array_equal(im, direct_read(dset.get_image_fpath(1), -3, 70, 390, 410))
    assert isinstance(sampler.frames.backend.reader(os.fspath(tif)), GdalReader)
    assert sampler.frames.backend.decoded.nbytes == 0


def test_none_backend_decodes_each_image_once_within_its_budget(dset, tmp_path):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend={'type': None, 'config': {'lru_bytes': 400_000}})
    for gid in (1, 2, 3, 1):
        sampler.load_sample({'gid': gid, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    decoded = sampler.frames.backend.decoded
    assert decoded.nbytes <= 400_000
    assert decoded.get(os.fspath(dset.get_image_fpath(1))) is not None  # 360 000 bytes, most recent
