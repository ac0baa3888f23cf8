"""
What each backend does that the others do not: the 'cog' files (tiles,
overviews, compression), the 'npy' memory map, the cache layout, and the
``None`` backend's windowed TIFF reads and its decoded-image LRU.  Behaviours
every backend shares are in ``test_backend_conformance.py``.
"""
import os
import threading

import numpy as np
import pytest

import ndsampler
from conftest import direct_read, requires_gdal


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


@requires_gdal
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


@requires_gdal
def test_cog_cache_of_a_grayscale_jpeg_has_one_band_and_overviews(tmp_path):
    import cv2
    import kwcoco
    from osgeo import gdal
    yy, xx = np.mgrid[0:600, 0:700]
    cv2.imwrite(os.fspath(tmp_path / 'g.jpg'), ((xx + yy) % 256).astype(np.uint8))
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(tmp_path / 'g.jpg'), id=1, width=700, height=600)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='cog')
    sampler.frames.prepare()
    (name,) = cache_files(sampler)
    ds = gdal.Open(os.path.join(sampler.frames.cache_dpath, name))
    assert ds.RasterCount == 1 and ds.GetRasterBand(1).GetOverviewCount() == 2
    assert ds.GetRasterBand(1).GetOverview(1).XSize == 175


@requires_gdal
@pytest.mark.parametrize('compress', ['LZW', 'DEFLATE', 'ZSTD', 'NONE', 'RAW'])
def test_cog_lossless_compressions_return_exact_pixels(dset, tmp_path, compress):
    sampler = ndsampler.CocoSampler(
        dset, workdir=tmp_path, backend={'type': 'cog', 'config': {'compress': compress}})
    im = sampler.load_sample({'gid': 1, 'slices': (slice(250, 310), slice(-4, 50))})['im']
    np.testing.assert_array_equal(im, direct_read(dset.get_image_fpath(1), 250, 310, -4, 50))


@requires_gdal
def test_cog_jpeg_compression_is_lossy_but_close(dset, tmp_path):
    sampler = ndsampler.CocoSampler(
        dset, workdir=tmp_path, backend={'type': 'cog', 'config': {'compress': 'JPEG'}})
    im = sampler.load_sample({'gid': 3, 'slices': (slice(0, 100), slice(0, 130))})['im']
    ref = direct_read(dset.get_image_fpath(3), 0, 100, 0, 130)
    assert np.abs(im.astype(int) - ref.astype(int)).mean() < 3


@requires_gdal
def test_cache_paths_follow_the_original_layout(dset, tmp_path):
    npy = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    cog = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='cog')
    none = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    assert npy.frames.cache_dpath == os.path.join(tmp_path, '_cache', 'frames', 'npy')
    assert os.path.dirname(cog.frames.cache_dpath) == os.path.join(tmp_path, '_cache', 'frames', 'cog')
    assert none.frames.cache_dpath is None
    assert npy.frames._backend == {'type': 'npy', 'config': {}}
    assert cog.frames._backend['config']['compress'] == 'auto'


def test_npy_cache_path_and_config_need_no_gdal(dset, tmp_path):
    npy = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    none = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    assert npy.frames.cache_dpath == os.path.join(tmp_path, '_cache', 'frames', 'npy')
    assert none.frames.cache_dpath is None
    assert npy.frames._backend == {'type': 'npy', 'config': {}}


def test_npy_load_image_is_a_read_only_memmap(dset, tmp_path):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    image = sampler.load_image(1)
    assert isinstance(image, np.memmap) and not image.flags['WRITEABLE']


@requires_gdal
def test_none_backend_reads_a_tiled_tiff_by_window_without_decoding_it(dset, tmp_path, monkeypatch):
    from osgeo import gdal
    tif = tmp_path / 'tiled.tif'
    gdal.Translate(os.fspath(tif), os.fspath(dset.get_image_fpath(1)), options=gdal.TranslateOptions(
        format='GTiff', creationOptions=['TILED=YES', 'BLOCKXSIZE=64', 'BLOCKYSIZE=64']))
    dset.imgs[1]['file_name'] = os.fspath(tif)
    decodes = count_decodes(monkeypatch)
    reads = []
    real_read = gdal.Dataset.ReadAsArray

    def read(self, xoff=0, yoff=0, xsize=None, ysize=None, *args, **kwargs):
        if os.path.abspath(self.GetDescription()) == os.path.abspath(tif):  # not other threads' reads
            reads.append((xsize or self.RasterXSize) * (ysize or self.RasterYSize))
        return real_read(self, xoff, yoff, xsize, ysize, *args, **kwargs)
    monkeypatch.setattr(gdal.Dataset, 'ReadAsArray', read)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    im = sampler.load_sample({'gid': 1, 'slices': (slice(-3, 70), slice(390, 410))})['im']
    np.testing.assert_array_equal(im, direct_read(dset.get_image_fpath(1), -3, 70, 390, 410))
    assert reads and max(reads) <= 70 * 10, reads  # only the part of the window inside
    assert sum(decodes.values()) == 0


def count_decodes(monkeypatch):
    """Count whole-image decodes by OpenCV (what the ``None`` backend uses for
    PNG and JPEG, docs/backends.rst), keyed by the decoded ``(h, w)``."""
    import collections
    import cv2
    counts = collections.Counter()
    for name in ('imread', 'imdecode'):
        real = getattr(cv2, name)

        def counted(*args, _real=real, **kwargs):
            result = _real(*args, **kwargs)
            if result is not None:
                counts[result.shape[0:2]] += 1
            return result
        monkeypatch.setattr(cv2, name, counted)
    return counts


def test_the_none_backend_decodes_each_image_once_while_they_fit(dset, tmp_path, monkeypatch):
    decodes = count_decodes(monkeypatch)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
    rng = np.random.default_rng(0)
    for _ in range(60):
        sampler.load_sample({'gid': int(rng.integers(1, 4)), 'cx': int(rng.integers(0, 300)),
                             'cy': int(rng.integers(0, 200)), 'width': 16, 'height': 16})
    assert dict(decodes) == {(300, 400): 1, (50, 70): 1, (100, 130): 1}


def test_the_none_backend_evicts_the_least_recent_image_beyond_its_budget(dset, tmp_path, monkeypatch):
    # decoded sizes: rgb 360 000 bytes, gray 3 500, photo 39 000: all three exceed 400 000
    decodes = count_decodes(monkeypatch)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend={'type': None, 'config': {'lru_bytes': 400_000}})
    for gid in (1, 1, 2, 3, 3, 1, 1):  # rgb is the least recent when photo arrives
        sampler.load_sample({'gid': gid, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    assert dict(decodes) == {(300, 400): 2, (50, 70): 1, (100, 130): 1}
    decoded = sampler.frames.backend.decoded
    assert decoded.nbytes <= 400_000
    assert decoded.get(os.fspath(dset.get_image_fpath(1))) is not None  # 360 000 bytes, most recent


def run_in_threads(target, count):
    """Run ``target(seed)`` in ``count`` threads at once and wait for all of them."""
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def test_the_none_backend_serves_many_threads_within_its_budget(dset, tmp_path):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend={'type': None, 'config': {'lru_bytes': 400_000}})
    expected = {gid: direct_read(dset.get_image_fpath(gid), 0, 8, 0, 8) for gid in (1, 2, 3)}
    errors = []

    def hammer(seed):
        rng = np.random.default_rng(seed)
        try:
            for _ in range(150):
                gid = int(rng.integers(1, 4))
                im = sampler.load_sample({'gid': gid, 'slices': (slice(0, 8), slice(0, 8))},
                                         with_annots=False)['im']
                if not np.array_equal(im, expected[gid]):
                    errors.append('wrong pixels for gid {}'.format(gid))
        except Exception as ex:
            errors.append(repr(ex))
    run_in_threads(hammer, 6)
    assert errors == []
    assert sampler.frames.backend.decoded.nbytes <= 400_000


def test_the_decoded_image_lru_is_thread_safe():
    from ndsampler._handles import ByteLRU
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
    run_in_threads(hammer, 8)
    assert errors == [] and lru.nbytes <= 40
