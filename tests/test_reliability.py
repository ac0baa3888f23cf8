"""
Nothing lost or silently wrong when things go wrong around a cache: killed
builders, caches superseded by another process, unwritable or full workdirs.
(Concurrent first touch, corrupt caches, changed sources, descriptors and
fork are shared by every backend: see ``test_backend_conformance.py``.)
"""
import errno
import multiprocessing
import os
import pickle
import signal
import time
import warnings

import kwcoco
import kwimage
import numpy as np
import pytest

import ndsampler
from _conformance import damage_cache
from conftest import CACHED_BACKEND_PARAMS, backend_param, direct_read

LOSSLESS = [backend_param('npy'), backend_param({'type': 'cog', 'config': {'compress': 'ZSTD'}},
                                                id='cog-zstd')]
CACHED = CACHED_BACKEND_PARAMS


def litter(sampler):
    """Temporary, partial or lock files in the cache directory."""
    dpath = sampler.frames.cache_dpath
    names = os.listdir(dpath) if dpath and os.path.exists(dpath) else []
    return [n for n in names if '.tmp-' in n or n.endswith('.lock')]


def expected_window(dset, target):
    y0 = int(np.floor(target['cy'] - target['height'] / 2))
    x0 = int(np.floor(target['cx'] - target['width'] / 2))
    return direct_read(dset.get_image_fpath(target['gid']), y0, y0 + target['height'],
                       x0, x0 + target['width'])


@pytest.fixture(scope='module')
def big_dset(tmp_path_factory):
    """One 2000 x 2000 PNG: its build takes long enough to be stopped mid-way."""
    dpath = tmp_path_factory.mktemp('big')
    rng = np.random.default_rng(0)
    kwimage.imwrite(dpath / 'big.png', rng.integers(0, 256, (2000, 2000, 3), dtype=np.uint8))
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(dpath / 'big.png'), id=1, width=2000, height=2000)
    return dset


def _build(payload):
    pickle.loads(payload).frames.prepare(gids=[1])


#: Where a builder is killed: as soon as this file shows in the cache directory.
KILL_POINTS = {
    'holding the lock': lambda name: name.endswith('.lock'),
    'writing the temporary': lambda name: '.tmp-' in name and '.ok' not in name,
}


def stop_when(proc, dpath, seen, timeout=60):
    """Poll ``dpath`` until a file name satisfies ``seen``, then SIGSTOP ``proc``
    and return the directory listing at that moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if any(seen(n) for n in os.listdir(dpath)):
                os.kill(proc.pid, signal.SIGSTOP)
                os.waitpid(proc.pid, os.WUNTRACED)  # it is stopped from here on
                return sorted(os.listdir(dpath))
        except FileNotFoundError:
            pass
        assert proc.is_alive(), 'the builder finished before it was seen at work'
    raise AssertionError('no file matching the kill point appeared in {}'.format(dpath))


@pytest.mark.parametrize('kill_point', list(KILL_POINTS))
@pytest.mark.parametrize('backend', LOSSLESS)
def test_a_builder_killed_mid_build_breaks_nothing(big_dset, tmp_path, backend, kill_point):
    target = {'gid': 1, 'cx': 1990, 'cy': 700, 'width': 64, 'height': 48}
    expected = expected_window(big_dset, target)
    sampler = ndsampler.CocoSampler(big_dset, workdir=tmp_path, backend=backend)
    proc = multiprocessing.get_context('fork').Process(target=_build, args=(pickle.dumps(sampler),))
    proc.start()
    try:
        at_kill = stop_when(proc, sampler.frames.cache_dpath, KILL_POINTS[kill_point])
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
    assert proc.exitcode == -signal.SIGKILL
    # the kill landed before publication: no stamped cache file existed
    assert not [n for n in at_kill if n.endswith('.ok')], at_kill
    assert [n for n in at_kill if KILL_POINTS[kill_point](n)], at_kill
    fresh = ndsampler.CocoSampler(big_dset, workdir=tmp_path, backend=backend)
    np.testing.assert_array_equal(fresh.load_sample(target)['im'], expected)
    assert litter(fresh) == []
    names = sorted(os.listdir(fresh.frames.cache_dpath))
    assert len(names) == 2 and names[1] == names[0] + '.ok', names


@pytest.mark.parametrize('backend', CACHED)
def test_a_sampler_whose_cache_another_process_superseded_rekeys_instead_of_failing(
        dset, backend, tmp_path):
    import shutil
    from ndsampler._handles import HANDLES
    src = tmp_path / 'moving.png'
    shutil.copy(dset.get_image_fpath(1), src)
    dset.imgs[1]['file_name'] = os.fspath(src)
    a = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    a.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    os.utime(src)  # the source key changes (mtime and ctime)
    b = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend)
    b.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})  # deletes a's file
    for key in HANDLES.keys():
        HANDLES.discard(key)  # as if a's handle had been evicted
    im = a.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})['im']
    np.testing.assert_array_equal(im, kwimage.imread(src)[3:7, 3:7])


@pytest.mark.parametrize('how', ['workdir under a file', 'permission denied'])
@pytest.mark.parametrize('backend', CACHED)
def test_an_unwritable_workdir_falls_back_to_the_source_with_one_warning(dset, tmp_path, backend, how, monkeypatch):
    if how == 'workdir under a file':
        (tmp_path / 'file').write_text('not a directory')
        workdir = tmp_path / 'file' / 'work'
    else:
        workdir = tmp_path / 'work'
        from ndsampler import _cachefile

        def denied(*args, **kwargs):
            raise PermissionError(errno.EACCES, 'Permission denied')
        monkeypatch.setattr(_cachefile, 'file_lock', denied)
    sampler = ndsampler.CocoSampler(dset, workdir=workdir, backend=backend)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for gid in (1, 2, 1):
            sample = sampler.load_sample({'gid': gid, 'cx': 10, 'cy': 10, 'width': 30, 'height': 20})
    assert len([w for w in caught if 'reading source images directly' in str(w.message)]) == 1
    np.testing.assert_array_equal(sample['im'], direct_read(dset.get_image_fpath(1), 0, 20, -5, 25))


@pytest.mark.parametrize('backend', CACHED)
def test_a_full_disk_leaves_no_partial_cache(dset, tmp_path, backend, monkeypatch):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    real_build = type(sampler.frames.backend).build

    def build_until_full(self, src, tmp):
        real_build(self, src, tmp)
        damage_cache(tmp, 'truncated')  # the disk filled up halfway through
        raise OSError(errno.ENOSPC, 'No space left on device')
    monkeypatch.setattr(type(sampler.frames.backend), 'build', build_until_full)
    with pytest.warns(RuntimeWarning, match='No space left'):
        im = sampler.load_sample({'gid': 1, 'cx': 50, 'cy': 50, 'width': 10, 'height': 10})['im']
    np.testing.assert_array_equal(im, direct_read(dset.get_image_fpath(1), 45, 55, 45, 55))
    assert os.listdir(sampler.frames.cache_dpath) == []
    monkeypatch.undo()
    with pytest.raises(ndsampler.errors.CacheError):
        monkeypatch.setattr(type(sampler.frames.backend), 'build', build_until_full)
        sampler.frames.prepare(gids=[2])
