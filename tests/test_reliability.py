"""
Nothing lost or silently wrong: concurrency, killed builders, corrupt caches,
changed sources, descriptors, fork, unwritable or full workdirs.
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
from _workers import window_targets
from conftest import direct_read

LOSSLESS = ['npy', {'type': 'cog', 'config': {'compress': 'ZSTD'}}]
LOSSLESS_IDS = ['npy', 'cog-zstd']


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


def _first_touch_worker(payload, targets, barrier, queue):
    sampler = pickle.loads(payload)
    barrier.wait()
    try:
        queue.put([sampler.load_sample(t, with_annots=False)['im'] for t in targets])
    except Exception as ex:  # report, never hang the parent
        queue.put(repr(ex))


@pytest.mark.parametrize('backend', LOSSLESS, ids=LOSSLESS_IDS)
def test_eight_spawned_processes_first_touching_get_source_pixels(dset, tmp_path, backend):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    targets = window_targets(6, seed=11, gids=(1, 2))
    ctx = multiprocessing.get_context('spawn')
    barrier, queue = ctx.Barrier(8), ctx.Queue()
    procs = [ctx.Process(target=_first_touch_worker, args=(pickle.dumps(sampler), targets, barrier, queue))
             for _ in range(8)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    for result in results:
        assert not isinstance(result, str), result
        for window, target in zip(result, targets):
            np.testing.assert_array_equal(window, expected_window(dset, target))
    assert litter(sampler) == []
    assert sorted(n for n in os.listdir(sampler.frames.cache_dpath) if not n.endswith('.ok')) == \
        sorted(os.path.basename(sampler.frames.backend.prepare(dset.get_image_fpath(g))) for g in (1, 2))


def _build_then_report(payload, started):
    sampler = pickle.loads(payload)
    started.set()
    sampler.frames.prepare(gids=[1])


@pytest.fixture(scope='module')
def big_dset(tmp_path_factory):
    """One 1500 x 1500 PNG, slow enough to build that a kill lands mid-build."""
    dpath = tmp_path_factory.mktemp('big')
    rng = np.random.default_rng(0)
    kwimage.imwrite(dpath / 'big.png', rng.integers(0, 256, (1500, 1500, 3), dtype=np.uint8))
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(dpath / 'big.png'), id=1, width=1500, height=1500)
    return dset


@pytest.mark.parametrize('backend', LOSSLESS, ids=LOSSLESS_IDS)
def test_a_builder_killed_at_random_points_breaks_nothing(big_dset, tmp_path, backend):
    rng = np.random.default_rng(0)
    ctx = multiprocessing.get_context('fork')
    target = {'gid': 1, 'cx': 1490, 'cy': 700, 'width': 64, 'height': 48}
    expected = expected_window(big_dset, target)
    timer = ndsampler.CocoSampler(big_dset, workdir=tmp_path / 'timing', backend=backend)
    start = time.perf_counter()
    timer.frames.prepare(gids=[1])
    build_s = time.perf_counter() - start
    interrupted = 0
    for trial in range(6):
        workdir = tmp_path / 'trial{}'.format(trial)
        sampler = ndsampler.CocoSampler(big_dset, workdir=workdir, backend=backend)
        started = ctx.Event()
        proc = ctx.Process(target=_build_then_report, args=(pickle.dumps(sampler), started))
        proc.start()
        assert started.wait(60)
        time.sleep(rng.uniform(0, 1.2 * build_s))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        cache = sampler.frames.cache_dpath
        interrupted += not any(n.endswith('.ok') for n in os.listdir(cache)) if os.path.exists(cache) else 1
        fresh = ndsampler.CocoSampler(big_dset, workdir=workdir, backend=backend)
        np.testing.assert_array_equal(fresh.load_sample(target)['im'], expected)
        assert litter(fresh) == []
    assert interrupted >= 1, 'no kill landed before the cache was published'


@pytest.mark.parametrize('damage', ['truncated', 'overwritten'])
@pytest.mark.parametrize('backend', LOSSLESS + ['cog'], ids=LOSSLESS_IDS + ['cog-auto'])
def test_a_corrupt_cache_is_rebuilt_not_served(dset, tmp_path, backend, damage):
    target = {'gid': 1, 'cx': 200, 'cy': 150, 'width': 300, 'height': 200}
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    expected = sampler.load_sample(target)['im']
    cache = sampler.frames.backend.prepare(dset.get_image_fpath(1))
    size = os.path.getsize(cache)
    with open(cache, 'r+b') as file:
        if damage == 'truncated':
            file.truncate(size // 2)
        else:
            file.seek(size // 2)
            file.write(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    fresh = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    np.testing.assert_array_equal(fresh.load_sample(target)['im'], expected)
    assert os.path.getsize(cache) == size


@pytest.mark.parametrize('restore_mtime', [False, True], ids=['new-mtime', 'old-mtime'])
def test_a_rewritten_source_of_the_same_size_gives_new_pixels(dset, backend, tmp_path, restore_mtime):
    import cv2
    src = tmp_path / 'src.png'
    first = np.random.default_rng(1).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    cv2.imwrite(os.fspath(src), first, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    dset.imgs[1]['file_name'] = os.fspath(src)
    target = {'gid': 1, 'slices': (slice(0, 60), slice(0, 80))}
    before = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend).load_sample(target)
    st = os.stat(src)
    cv2.imwrite(os.fspath(src), 255 - first, [cv2.IMWRITE_PNG_COMPRESSION, 0])
    assert os.stat(src).st_size == st.st_size
    if restore_mtime:
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = ndsampler.CocoSampler(dset, workdir=tmp_path / 'w', backend=backend).load_sample(target)
    np.testing.assert_array_equal(after['im'], kwimage.imread(src))
    assert not np.array_equal(before['im'], after['im'])


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
    assert max(counts) - baseline <= 8, counts  # at most one handle per image, plus slack


def _child_loads(sampler, targets, expected, queue):
    try:
        for target, want in zip(targets, expected):
            np.testing.assert_array_equal(sampler.load_sample(target, with_annots=False)['im'], want)
        queue.put('ok')
    except BaseException as ex:
        queue.put(repr(ex))


def test_forked_children_reuse_a_used_sampler_safely(six_image_dset, backend, tmp_path):
    sampler = ndsampler.CocoSampler(six_image_dset, workdir=tmp_path, backend=backend)
    rng = np.random.default_rng(4)
    targets = [{'gid': int(rng.integers(1, 7)), 'cx': int(rng.integers(0, 160)),
                'cy': int(rng.integers(0, 120)), 'width': 24, 'height': 24} for _ in range(500)]
    expected = [sampler.load_sample(t, with_annots=False)['im'] for t in targets]  # parent has handles
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_child_loads, args=(sampler, targets, expected, queue)) for _ in range(2)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0
    assert results == ['ok', 'ok']


def test_a_pickled_sampler_works_in_a_spawned_process(six_image_dset, backend, tmp_path):
    from _workers import load_windows
    sampler = ndsampler.CocoSampler(six_image_dset, workdir=tmp_path, backend=backend)
    targets = [{'gid': g, 'cx': 50, 'cy': 40, 'width': 16, 'height': 16} for g in range(1, 7)]
    expected = [sampler.load_sample(t, with_annots=False)['im'] for t in targets]
    payload = pickle.dumps(sampler)
    print('pickled sampler: {} bytes'.format(len(payload)))
    assert len(payload) < 200_000
    with multiprocessing.get_context('spawn').Pool(1) as pool:
        (got,) = pool.starmap(load_windows, [(payload, targets)])
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('how', ['workdir under a file', 'permission denied'])
@pytest.mark.parametrize('backend', ['npy', 'cog'])
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


@pytest.mark.parametrize('backend', ['npy', 'cog'])
def test_a_full_disk_leaves_no_partial_cache(dset, tmp_path, backend, monkeypatch):
    sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=backend)
    real_build = type(sampler.frames.backend).build

    def build_until_full(self, src, tmp):
        real_build(self, src, tmp)
        with open(tmp, 'r+b') as file:  # the disk filled up halfway through
            file.truncate(os.path.getsize(tmp) // 2)
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
