"""
The ``'zarr'`` and ``'hdf5'`` backends beyond the shared conformance suite
(which runs on them too: see ``conftest.BACKENDS``): cache directories in
``_cachefile``, killed builds, damaged chunks, ``cache_status``, fork and
pickle safety of HDF5 handles, missing dependencies, and zarr / HDF5 sources
read in place (``ndsampler._backends.array_sources``).
"""
import inspect
import json
import multiprocessing
import os
import pickle
import signal
import sys
import time

import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from _conformance import data_file_of, published_caches, reference_window
from conftest import backend_param, requires_h5py, requires_zarr
from ndsampler import _cachefile
from ndsampler.errors import BackendConfigError, BackendUnavailableError, CacheError

FORMATS = [backend_param('zarr'), backend_param('hdf5')]


def ramp(h, w, c, dtype=np.uint16):
    """Pixel ``(y, x, b)`` is ``(y * w + x) * c + b``: every value says where it is."""
    return np.arange(h * w * c, dtype=np.int64).reshape(h, w, c).astype(dtype)


@pytest.fixture
def ramp_dset(tmp_path):
    """One 600 x 700 3-band uint16 TIFF (lossless) whose pixels are :func:`ramp`."""
    image = ramp(600, 700, 3)
    fpath = tmp_path / 'src' / 'ramp.tif'
    fpath.parent.mkdir()
    kwimage.imwrite(fpath, image, backend='skimage')
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(fpath), id=1, width=700, height=600)
    return dset, image


# -- _cachefile with a directory ---------------------------------------------

def write_tree(tmp, files):
    for rel, data in files.items():
        os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
        with open(os.path.join(tmp, rel), 'wb') as file:
            file.write(data)


def test_a_directory_cache_is_published_whole_with_a_manifest(tmp_path):
    files = {'zarr.json': b'{}', '0/c/0/0/0': b'abcdef', '1/c/0/0/0': b'xy'}
    dst = _cachefile.build_once(tmp_path / 'a.zarr', lambda tmp: write_tree(tmp, files))
    assert sorted(os.listdir(tmp_path)) == ['a.zarr', 'a.zarr.ok']
    manifest = json.loads((tmp_path / 'a.zarr.ok').read_text())['files']
    assert sorted(manifest) == sorted(files)
    assert manifest['0/c/0/0/0']['stat'][1] == 6
    assert (dst / '0/c/0/0/0').read_bytes() == b'abcdef'
    assert _cachefile.is_intact(dst)


def test_only_files_whose_stat_changed_are_checksummed_again(tmp_path, monkeypatch):
    files = {'a': b'1' * 100, 'b': b'2' * 100, 'c': b'3' * 100}
    dst = _cachefile.build_once(tmp_path / 'd.zarr', lambda tmp: write_tree(tmp, files))
    summed = []
    real = _cachefile.file_crc32
    monkeypatch.setattr(_cachefile, 'file_crc32', lambda p, *a: summed.append(os.path.basename(p)) or real(p, *a))
    assert _cachefile.is_intact(dst) and summed == []
    os.utime(dst / 'b')  # same bytes, new stat
    assert _cachefile.is_intact(dst) and summed == ['b']
    (dst / 'c').write_bytes(b'4' * 100)  # same size, other bytes
    assert not _cachefile.is_intact(dst)
    (dst / 'c').write_bytes(b'3' * 100)
    (dst / 'a').unlink()
    assert not _cachefile.is_intact(dst)


def test_a_corrupt_directory_is_replaced_and_stale_siblings_and_temporaries_removed(tmp_path):
    (tmp_path / 'x_1.zarr' / 'c').mkdir(parents=True)  # a stale sibling, stamped
    (tmp_path / 'x_1.zarr.ok').write_text('{}')
    (tmp_path / 'x_2.zarr.tmp-99-dead' / 'c').mkdir(parents=True)  # left by a killed builder
    write_tree(tmp_path / 'x_2.zarr', {'old': b'corrupt'})  # published without a stamp
    dst = _cachefile.build_once(tmp_path / 'x_2.zarr', lambda tmp: write_tree(tmp, {'new': b'ok'}),
                                family_glob=os.fspath(tmp_path / 'x_*.zarr'))
    assert sorted(os.listdir(tmp_path)) == ['x_2.zarr', 'x_2.zarr.ok']
    assert os.listdir(dst) == ['new'] and (dst / 'new').read_bytes() == b'ok'


def test_a_single_file_cache_keeps_its_stamp_format(tmp_path):
    dst = _cachefile.build_once(tmp_path / 'a.npy', lambda tmp: open(tmp, 'wb').write(b'12345'))
    stamp = json.loads((tmp_path / 'a.npy.ok').read_text())
    assert sorted(stamp) == ['crc32', 'stat'] and stamp['stat'][1] == 5
    assert _cachefile.is_intact(dst)


# -- builds, damage, staleness ---------------------------------------------------

def _prepare(payload):
    pickle.loads(payload).frames.prepare(gids=[1])


@pytest.mark.parametrize('backend', FORMATS)
def test_a_build_killed_mid_way_leaves_no_visible_cache_and_the_next_open_rebuilds(
        tmp_path, backend):
    image = np.random.default_rng(0).integers(0, 256, (2000, 2000, 3), dtype=np.uint8)
    image[5, 7] = [1, 2, 3]
    kwimage.imwrite(tmp_path / 'big.png', image)
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(tmp_path / 'big.png'), id=1, width=2000, height=2000)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    dpath = sampler.frames.cache_dpath
    proc = multiprocessing.get_context('fork').Process(target=_prepare, args=(pickle.dumps(sampler),))
    proc.start()
    deadline, seen = time.monotonic() + 60, []
    while not seen and time.monotonic() < deadline:
        seen = [n for n in (os.listdir(dpath) if os.path.isdir(dpath) else []) if '.tmp-' in n]
        time.sleep(0.001)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    names = os.listdir(dpath)
    assert seen and not [n for n in names if n.endswith('.ok')], names
    assert [n for n in names if '.tmp-' in n], names  # the partial build, under its temporary name
    assert sampler.frames.backend.cache_status(dset.get_image_fpath(1)) == 'missing'
    again = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    im = again.load_sample({'gid': 1, 'slices': (slice(4, 7), slice(6, 9))})['im']
    np.testing.assert_array_equal(im[1, 1], [1, 2, 3])
    np.testing.assert_array_equal(im, image[4:7, 6:9])
    (cache,) = published_caches(again.frames.workdir)
    assert sorted(os.listdir(dpath)) == [os.path.basename(cache), os.path.basename(cache) + '.ok']


@pytest.mark.parametrize('backend', FORMATS)
def test_cache_status_goes_missing_ok_corrupt_ok_stale_ok(ramp_dset, tmp_path, backend):
    dset, image = ramp_dset
    src = dset.get_image_fpath(1)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    status = sampler.frames.backend.cache_status
    assert status(src) == 'missing'
    sampler.frames.prepare()
    assert status(src) == 'ok'
    (cache,) = published_caches(sampler.frames.workdir)
    with open(data_file_of(cache), 'r+b') as file:
        file.truncate(100)
    assert status(src) == 'corrupt'
    target = {'gid': 1, 'slices': (slice(598, 602), slice(-1, 2))}
    fresh = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    im = fresh.load_sample(target)['im']
    assert status(src) == 'ok'
    assert im[:, 0].tolist() == [[0, 0, 0]] * 4 and im[2:].tolist() == [[[0] * 3] * 3] * 2
    assert im[0, 1].tolist() == [10616, 10617, 10618]  # (598 * 700 + 0) * 3 mod 2**16
    assert im[1, 2].tolist() == [(599 * 700 + 1) * 3 % 65536 + b for b in range(3)]
    kwimage.imwrite(src, image[::-1].copy(), backend='skimage')  # rewritten: stale
    assert status(src) == 'stale'
    again = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    np.testing.assert_array_equal(again.load_sample(target)['im'],
                                  reference_window(image[::-1], 598, 602, -1, 2))
    assert status(src) == 'ok' and len(published_caches(again.frames.workdir)) == 1


@requires_zarr
def test_a_zarr_shard_deleted_under_an_open_reader_is_an_error_not_zeros(ramp_dset, tmp_path):
    dset, image = ramp_dset
    # the zarr reader itself, not the shared tile file that would serve the decoded pixels
    unshared = {'type': 'zarr', 'config': {'shared_tiles': False}}
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=unshared)
    target = {'gid': 1, 'slices': (slice(10, 12), slice(20, 22))}
    assert sampler.load_sample(target)['im'][0, 0].tolist() == [(10 * 700 + 20) * 3 + b for b in range(3)]
    (cache,) = published_caches(sampler.frames.workdir)
    os.unlink(os.path.join(cache, '0', 'c', '0', '0', '0'))  # the shard of pixels [0:2048]
    with pytest.raises(CacheError, match='missing zarr chunk'):
        sampler.load_sample(target)
    assert sampler.frames.backend.cache_status(dset.get_image_fpath(1)) == 'corrupt'
    again = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=unshared)
    np.testing.assert_array_equal(again.load_sample(target)['im'], image[10:12, 20:22])


@requires_h5py
def test_a_damaged_hdf5_chunk_fails_its_checksum_when_read(tmp_path):
    from ndsampler._backends.hdf5 import DEFAULTS, Hdf5Reader, write_hdf5_pyramid
    fpath = tmp_path / 'a.h5'
    write_hdf5_pyramid(fpath, ramp(512, 512, 1, np.uint32), dict(DEFAULTS, compress='none'))
    assert Hdf5Reader(fpath).read(300, 301, 300, 302)[..., 0].tolist() == [[153900, 153901]]
    with open(fpath, 'r+b') as file:
        file.seek(os.path.getsize(fpath) // 3)
        file.write(b'\xff' * 64)
    with pytest.raises(CacheError, match='a.h5'):
        Hdf5Reader(fpath).read(0, 512, 0, 512)


# -- scaled reads use the levels -------------------------------------------------

@pytest.mark.parametrize('backend', FORMATS)
def test_scaled_reads_come_from_the_box_averaged_levels(tmp_path, backend):
    blocks = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64)
    image = np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)[:, :, None]  # 1024 px, 16 px blocks
    kwimage.imwrite(tmp_path / 'b.tif', image[..., 0], backend='skimage')
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(tmp_path / 'b.tif'), id=1, width=1024, height=1024)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    im = sampler.load_sample({'gid': 1, 'slices': (slice(256, 512), slice(0, 256)),
                              'scale': 1 / 16})['im']
    np.testing.assert_array_equal(im[..., 0], blocks[16:32, 0:16])
    reader = sampler.frames.open(1).reads[0][0].inner  # under the shared tiles
    assert [level.shape for level in reader.levels] == [
        (1024 >> k, 1024 >> k, 1) for k in range(3)]  # until one 256 px chunk holds it


def test_a_scaled_read_takes_the_coarsest_exact_level():
    from ndsampler._backends.array_sources import AxesView, LevelsReader
    full = np.zeros((8, 8, 1), np.uint8)
    levels = [AxesView(full), AxesView(np.full((4, 4, 1), 7, np.uint8)),
              AxesView(np.full((2, 2, 1), 9, np.uint8))]
    reader = LevelsReader(levels)
    out = np.zeros((2, 2, 1), np.uint8)
    reader.read_resized_into(out, 0, 8, 0, 8)
    assert out[..., 0].tolist() == [[9, 9], [9, 9]]  # level 2 (4x smaller)
    out = np.zeros((2, 2, 1), np.uint8)
    reader.read_resized_into(out, 2, 6, 2, 6)
    assert out[..., 0].tolist() == [[7, 7], [7, 7]]  # edges on level 1's grid only
    out = np.zeros((2, 2, 1), np.uint8)
    reader.read_resized_into(out, 1, 5, 2, 6)
    assert out[..., 0].tolist() == [[0, 0], [0, 0]]  # odd edge: full resolution


# -- processes and pickles ---------------------------------------------------------

def _read_in_child(reader, queue):
    try:
        queue.put((reader.file is None, reader.read(299, 300, 10, 12)[..., 0].tolist()))
    except BaseException as ex:
        queue.put(repr(ex))


@requires_h5py
def test_no_hdf5_file_is_open_across_a_fork(tmp_path):
    from ndsampler._backends.hdf5 import DEFAULTS, Hdf5Reader, write_hdf5_pyramid
    fpath = tmp_path / 'a.h5'
    write_hdf5_pyramid(fpath, ramp(300, 400, 1, np.int32), DEFAULTS)
    reader = Hdf5Reader(fpath)
    assert reader.read(0, 1, 0, 2)[..., 0].tolist() == [[0, 1]]
    parent_file = reader.file
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    proc = ctx.Process(target=_read_in_child, args=(reader, queue))
    proc.start()
    result = queue.get(timeout=60)
    proc.join(timeout=30)
    assert result == (True, [[299 * 400 + 10, 299 * 400 + 11]])
    assert not parent_file  # closed in the parent before the fork
    assert reader.read(1, 2, 0, 2)[..., 0].tolist() == [[400, 401]]  # reopened here
    assert reader.file and reader.file is not parent_file


@pytest.mark.parametrize('backend', FORMATS)
def test_a_pickled_backend_carries_its_configuration_only(ramp_dset, tmp_path, backend):
    dset, image = ramp_dset
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    payload = pickle.dumps(sampler.frames.backend)
    assert b'h5py' not in payload and b'zarr.core' not in payload and len(payload) < 1000
    clone = pickle.loads(payload)
    assert clone.config == sampler.frames.backend.config
    assert clone.load_full(dset.get_image_fpath(1))[599, 699].tolist() == [
        (599 * 700 + 699) * 3 % 65536 + b for b in range(3)]


# -- configuration and missing dependencies -------------------------------------

@pytest.mark.parametrize('backend, bad, match', [
    ({'type': 'zarr', 'config': {'compress': 'lz4'}}, 'lz4', 'zarr compress'),
    ({'type': 'zarr', 'config': {'chunksize': 300, 'shardsize': 1000}}, '300', 'shard size'),
    ({'type': 'hdf5', 'config': {'compress': 'szip'}}, 'szip', 'hdf5 compress'),
    ({'type': 'hdf5', 'config': {'chunksize': 0}}, '0', 'positive')])
def test_a_bad_format_config_names_the_value(backend, bad, match):
    from ndsampler._backends import coerce_backend_config
    with pytest.raises(BackendConfigError, match=match) as info:
        coerce_backend_config(backend)
    assert bad in str(info.value)


@pytest.mark.parametrize('backend, module, hint', [
    ('zarr', 'zarr', "pip install 'zarr>=3'"), ('hdf5', 'h5py', 'pip install h5py')])
def test_a_missing_library_makes_the_backend_unavailable_and_nothing_else(
        dset, tmp_path, monkeypatch, backend, module, hint):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(BackendUnavailableError, match=hint.replace('>', '.')):
        ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend='npy')
    assert sampler.load_sample({'gid': 2, 'slices': (slice(0, 2), slice(0, 3))})['im'].shape == (2, 3, 1)
    from ndsampler._backends import coerce_backend_config
    from ndsampler.utils.util_gdal import have_gdal
    assert coerce_backend_config('auto')['type'] == ('cog' if have_gdal() else 'npy')


# -- zarr and HDF5 sources read in place ---------------------------------------------

def write_array_sources(dpath):
    """The same 3-band uint16 image (twice :func:`ramp`, so 2x2 means are
    whole numbers) as a zarr array, an OME-NGFF (c, y, x) multiscale zarr
    group, an HDF5 file of one dataset, and a dataset deep in an HDF5 file;
    returns ``{name: file_name}`` and the image."""
    import h5py
    import zarr
    image = ramp(90, 110, 3) * 2
    half = image.reshape(45, 2, 55, 2, 3).mean(axis=(1, 3)).astype(np.uint16)
    zarr.create_array(os.path.join(dpath, 'plain.zarr'), data=image, chunks=(32, 32, 3))
    group = zarr.open_group(os.path.join(dpath, 'ngff.zarr'), mode='w', attributes={'ome': {
        'version': '0.5', 'multiscales': [{'axes': [{'name': n} for n in 'cyx'],
                                           'datasets': [{'path': 's0'}, {'path': 's1'}]}]}})
    group.create_array('s0', data=np.ascontiguousarray(image.transpose(2, 0, 1)), chunks=(3, 32, 32))
    group.create_array('s1', data=np.ascontiguousarray(half.transpose(2, 0, 1)))
    with h5py.File(os.path.join(dpath, 'one.h5'), 'w') as file:
        file.create_dataset('pixels', data=image, chunks=(32, 32, 3), compression='gzip')
    with h5py.File(os.path.join(dpath, 'deep.h5'), 'w') as file:
        file.create_dataset('scenes/a/rgb', data=image)
        file.create_dataset('scenes/a/other', data=np.zeros((5, 5), np.uint8))
    names = {'plain': 'plain.zarr', 'ngff': 'ngff.zarr', 'one': 'one.h5', 'deep': 'deep.h5::/scenes/a/rgb'}
    return names, image


@pytest.fixture(scope='module')
def array_sources(tmp_path_factory):
    pytest.importorskip('zarr')
    pytest.importorskip('h5py')
    dpath = tmp_path_factory.mktemp('array_sources')
    names, image = write_array_sources(os.fspath(dpath))
    dset = kwcoco.CocoDataset()
    dset.fpath = os.fspath(dpath / 'arrays.kwcoco.json')
    for gid, name in enumerate(names.values(), start=1):
        dset.add_image(file_name=name, id=gid, width=110, height=90)
    return dset, image


def test_array_sources_open_in_place_with_their_pixels(array_sources):
    from ndsampler._backends.array_sources import is_array_source, load_array_source, open_array_source
    dset, image = array_sources
    for gid in dset.imgs:
        fpath = dset.get_image_fpath(gid)
        assert is_array_source(fpath)
        reader = open_array_source(fpath)
        assert reader.describe() == (90, 110, 3, np.dtype(np.uint16))
        assert reader.read(89, 90, 109, 110).tolist() == [[[59394, 59396, 59398]]]
        np.testing.assert_array_equal(load_array_source(fpath), image)
    assert open_array_source(dset.get_image_fpath(2)).levels[1].shape == (45, 55, 3)


def test_an_ambiguous_or_missing_array_source_is_an_error_naming_it(array_sources, tmp_path):
    from ndsampler._backends.array_sources import open_array_source
    from ndsampler.errors import SourceReadError
    deep = os.fspath(array_sources[0].get_image_fpath(4)).split('::')[0]
    with pytest.raises(SourceReadError, match='found.*other.*rgb') as info:
        open_array_source(deep + '::/scenes/a')
    assert info.value.filename.endswith('deep.h5::/scenes/a')
    with pytest.raises(SourceReadError, match='does not exist'):
        open_array_source(tmp_path / 'nothing.zarr')


def dispatch_wired():
    """True once ``DirectBackend.open`` and ``source.decode_image`` hand
    array sources to :mod:`ndsampler._backends.array_sources`."""
    from ndsampler._backends import direct, source
    return all('array_source' in inspect.getsource(module) for module in (direct, source))


@pytest.mark.parametrize('backend', [
    pytest.param(None, id='none', marks=pytest.mark.xfail(
        not dispatch_wired(), strict=True, reason='DirectBackend.open does not dispatch yet')),
    pytest.param('npy', id='npy', marks=pytest.mark.xfail(
        not dispatch_wired(), strict=True, reason='source.decode_image does not dispatch yet')),
    'zarr', 'hdf5'])
def test_a_sampler_reads_zarr_and_hdf5_sources(array_sources, tmp_path, backend):
    dset, image = array_sources
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    for gid in dset.imgs:
        sample = sampler.load_sample({'gid': gid, 'slices': (slice(-2, 3), slice(108, 112))})
        np.testing.assert_array_equal(sample['im'], reference_window(image, -2, 3, 108, 112))
        assert sample['im'][2, 0].tolist() == [648, 650, 652]  # pixel (0, 108)
        half = sampler.load_sample({'gid': gid, 'slices': (slice(0, 4), slice(0, 4)), 'scale': 0.5})['im']
        assert half[..., 0].tolist() == [[333, 345], [1653, 1665]]  # 2x2 means
