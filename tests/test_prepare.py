"""
``frames.prepare(executor=...)`` on a process pool and on a dask cluster
(each cache built exactly once, even by two pools at once, and a second
``prepare`` is a no-op), and the build lock of :mod:`ndsampler._locks` in
isolation, including where ``flock`` does not exclude (network file systems).
"""
import _optional_deps

_optional_deps.apply()  # spawned workers import this module: they hide what the parent hid

import concurrent.futures  # NOQA: E402
import json  # NOQA: E402
import multiprocessing  # NOQA: E402
import os  # NOQA: E402
import socket  # NOQA: E402
import subprocess  # NOQA: E402
import sys  # NOQA: E402
import threading  # NOQA: E402
import time  # NOQA: E402

import kwcoco  # NOQA: E402
import kwimage  # NOQA: E402
import numpy as np  # NOQA: E402
import pytest  # NOQA: E402

import ndsampler  # NOQA: E402
from ndsampler import _locks  # NOQA: E402
from ndsampler._backends.npy import NpyBackend  # NOQA: E402
from _remote_servers import RangeServer, dask_client  # NOQA: E402,F401 (a fixture)

N_IMAGES = 6


class CountingNpyBackend(NpyBackend):
    """The ``'npy'`` backend, appending one line per build to ``<workdir>/builds.log``
    (importable by spawned workers: only its configuration is pickled)."""

    def build(self, src_fpath, tmp_fpath):
        time.sleep(0.05)  # widen the window in which another builder could collide
        super().build(src_fpath, tmp_fpath)
        with open(os.path.join(self.workdir, 'builds.log'), 'a') as file:
            file.write('{} {}\n'.format(os.getpid(), os.path.basename(src_fpath)))


def make_frames(dpath, workdir, extra_urls=()):
    dset = kwcoco.CocoDataset()
    rng = np.random.default_rng(0)
    for gid in range(1, N_IMAGES + 1):
        fpath = dpath / 'img{}.png'.format(gid)
        if not fpath.exists():
            kwimage.imwrite(fpath, rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
        dset.add_image(file_name=os.fspath(fpath), id=gid, height=96, width=128)
    for offset, url in enumerate(extra_urls, start=N_IMAGES + 1):
        dset.add_image(file_name=url, id=offset)
    frames = ndsampler.CocoSampler(dset, workdir=workdir, backend='npy').frames
    frames.backend = CountingNpyBackend({}, workdir)
    return frames


def builds(workdir):
    try:
        with open(os.path.join(workdir, 'builds.log')) as file:
            return [line.split()[1] for line in file]
    except FileNotFoundError:
        return []


def leftovers(workdir):
    cache = os.path.join(workdir, '_cache')
    return sorted(name for _, _, names in os.walk(cache) for name in names
                  if '.tmp-' in name or name.endswith(('.lock', '.owner')))


def spawn_pool(workers=2):
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context('spawn'))


def test_prepare_on_a_process_pool_builds_each_cache_once(tmp_path):
    frames = make_frames(tmp_path, tmp_path / 'work')
    with spawn_pool() as pool:
        report = frames.prepare(executor=pool)
    assert [r['built'] for r in report] == [True] * N_IMAGES
    assert all(r['bytes'] == os.path.getsize(r['cache']) > 96 * 128 * 3 for r in report)
    assert sorted(builds(tmp_path / 'work')) == sorted('img{}.png'.format(i)
                                                       for i in range(1, N_IMAGES + 1))
    mtimes = [os.stat(r['cache']).st_mtime_ns for r in report]
    with spawn_pool() as pool:
        again = frames.prepare(executor=pool)
    assert [r['built'] for r in again] == [False] * N_IMAGES
    assert [os.stat(r['cache']).st_mtime_ns for r in again] == mtimes
    assert len(builds(tmp_path / 'work')) == N_IMAGES
    assert leftovers(tmp_path / 'work') == []


def test_prepare_returns_a_summary_and_keeps_the_progress_bar(tmp_path, capsys):
    frames = make_frames(tmp_path, tmp_path / 'work')
    report = frames.prepare(gids=[1, 2])
    assert [os.path.basename(r['source']) for r in report] == ['img1.png', 'img2.png']
    assert 'prepare frames cache' in capsys.readouterr().out
    none_frames = ndsampler.CocoSampler(frames.dset, backend=None).frames
    assert none_frames.prepare() == []


@pytest.mark.gdal  # the remote sources are read through GDAL
def test_prepare_on_dask_and_a_process_pool_at_once(tmp_path, dask_client):
    """Two pools build the same workdir at the same time: every cache once."""
    served = tmp_path / 'served'
    served.mkdir()
    for name in ('r1.png', 'r2.png'):
        kwimage.imwrite(served / name, np.full((40, 50, 3), len(name), np.uint8))
    with RangeServer(served) as server:
        urls = [server.url('r1.png'), server.url('r2.png')]
        frames = make_frames(tmp_path, tmp_path / 'work', urls)
        reports = {}
        with spawn_pool() as pool:
            runs = [threading.Thread(target=lambda k=k, e=e: reports.__setitem__(
                        k, frames.prepare(executor=e)))
                    for k, e in (('dask', dask_client.get_executor()), ('pool', pool))]
            for run in runs:
                run.start()
            for run in runs:
                run.join()
        total = N_IMAGES + len(urls)
        assert len(reports['dask']) == len(reports['pool']) == total
        done = builds(tmp_path / 'work')
        assert len(done) == total and len(set(done)) == total  # each cache exactly once
        assert [a['cache'] for a in reports['dask']] == [b['cache'] for b in reports['pool']]
        assert leftovers(tmp_path / 'work') == []
        for gid in (N_IMAGES + 1, N_IMAGES + 2):
            window = frames.load_region(gid, (slice(0, 5), slice(0, 5)))
            assert (window == 6).all()
        again = frames.prepare(executor=dask_client.get_executor())
        assert not any(r['built'] for r in again)
        assert len(builds(tmp_path / 'work')) == total
        assert len(server.gets('r1.png')) == 1  # fetched once, by its one builder


# -- the lock, in isolation ----------------------------------------------------

def _count_under_lock(lock_fpath, counter_fpath, rounds, weak_flock):
    """Increment a counter file ``rounds`` times under the lock (read, pause, write)."""
    import contextlib
    from ndsampler import _locks as locks
    locks.HEARTBEAT = 0.05
    if weak_flock:  # a file system where flock does not exclude
        locks._flock = lambda path: contextlib.nullcontext()
    for _ in range(rounds):
        with locks.file_lock(lock_fpath, stale_after=5):
            with open(counter_fpath) as file:
                value = int(file.read())
            time.sleep(0.002)
            with open(counter_fpath, 'w') as file:
                file.write(str(value + 1))


@pytest.mark.parametrize('weak_flock', [False, True], ids=['flock', 'weak-flock'])
def test_lock_excludes_across_processes(tmp_path, weak_flock):
    counter = tmp_path / 'counter'
    counter.write_text('0')
    with spawn_pool(3) as pool:
        jobs = [pool.submit(_count_under_lock, os.fspath(tmp_path / 'x.lock'),
                            os.fspath(counter), 15, weak_flock) for _ in range(3)]
        for job in jobs:
            job.result()
    assert counter.read_text() == '45'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['counter']


def _owner_record(fpath, **record):
    with open(fpath, 'w') as file:
        json.dump(record, file)


def test_lock_of_a_dead_local_process_is_taken_at_once(tmp_path):
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True).stdout.strip()
    owner = tmp_path / ('x.lock' + _locks.OWNER_SUFFIX)
    _owner_record(owner, host=socket.gethostname(), pid=int(dead), token='old')
    start = time.monotonic()
    with _locks.file_lock(tmp_path / 'x.lock', stale_after=30):
        assert _locks.read_owner(owner)['pid'] == os.getpid()
    assert time.monotonic() - start < 5
    assert not owner.exists()


def test_lock_of_a_silent_remote_host_is_taken_after_stale_after(tmp_path):
    owner = tmp_path / ('x.lock' + _locks.OWNER_SUFFIX)
    _owner_record(owner, host='another-host', pid=1, token='old')
    start = time.monotonic()
    with _locks.file_lock(tmp_path / 'x.lock', stale_after=0.4):
        waited = time.monotonic() - start
    assert 0.4 <= waited < 5


def test_heartbeat_keeps_a_lock_held(tmp_path, monkeypatch):
    monkeypatch.setattr(_locks, 'HEARTBEAT', 0.05)
    monkeypatch.setattr(_locks, '_flock', lambda path: __import__('contextlib').nullcontext())
    order = []

    def holder():
        with _locks.file_lock(tmp_path / 'x.lock', stale_after=0.3):
            order.append('held')
            time.sleep(1.0)  # longer than stale_after: only the heartbeat keeps it
            order.append('released')

    thread = threading.Thread(target=holder)
    thread.start()
    while not order:
        time.sleep(0.01)
    with _locks.file_lock(tmp_path / 'x.lock', stale_after=0.3):
        order.append('second')
    thread.join()
    assert order == ['held', 'released', 'second']


def test_remote_sources_without_gdal_name_the_missing_dependency(tmp_path):
    from conftest import HAVE_GDAL
    if HAVE_GDAL:
        pytest.skip('runs when GDAL is hidden (NDSAMPLER_TEST_BLOCK_GDAL=1)')
    from ndsampler.errors import BackendUnavailableError
    url = 'https://user:secret@127.0.0.1:9/a.png'
    frames = make_frames(tmp_path, tmp_path / 'work', [url])
    with pytest.raises(BackendUnavailableError, match='https://127.0.0.1:9/a.png') as info:
        frames.prepare(gids=[N_IMAGES + 1])
    assert isinstance(info.value, ImportError) and 'secret' not in str(info.value)


def test_lock_removes_what_killed_processes_left_beside_it(tmp_path):
    owner = tmp_path / ('x.lock' + _locks.OWNER_SUFFIX)
    for leftover in ('.some-host.0123abcd', '.stale-4567ef'):
        (tmp_path / (owner.name + leftover)).write_text('{}')
    with _locks.file_lock(tmp_path / 'x.lock'):
        assert sorted(p.name for p in tmp_path.iterdir()) == ['x.lock', owner.name]
    assert list(tmp_path.iterdir()) == []
