"""
Multi-process scaling of the compressed caches with and without shared
decoded tiles (``config['shared_tiles']``).

For each backend (``cog``, ``zarr``, ``hdf5``) and each setting, random
224 px windows are read by one process, then by two at once (the sampler
forked into them, or pickled to spawned ones; timing starts when both are
ready), over the same window list split in two.  "cold": the tile files and
GDAL's caches start empty, as in a first epoch; "warm": the same windows
again, as in later epochs.  Printed per row: windows/s of one process and
of two, their ratio, and windows per CPU-second in each process (the cost of
a window).

Offline; writes only to a temporary directory::

    .venv/bin/python benchmarks/bench_shared_tiles.py --backends cog zarr hdf5
"""
import argparse
import multiprocessing
import os
import pickle
import shutil
import tempfile
import time

import numpy as np

_STATE = {}


def make_dataset(dpath, num_images, size):
    """``num_images`` noisy RGB PNGs of ``size`` px (slow to compress, like photos)."""
    import kwcoco
    import kwimage
    rng = np.random.default_rng(0)
    images = []
    for index in range(num_images):
        base = rng.integers(0, 255, (size // 8, size // 8, 3)).astype(np.uint8)
        image = kwimage.imresize(base, dsize=(size, size), interpolation='linear')
        image = np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype(np.uint8)
        fpath = os.path.join(dpath, 'img_{:02d}.png'.format(index))
        kwimage.imwrite(fpath, image)
        images.append({'id': index + 1, 'file_name': fpath, 'width': size, 'height': size})
    return kwcoco.CocoDataset({'images': images, 'annotations': [], 'categories': []})


def windows(dset, count, seed, size=224):
    rng = np.random.default_rng(seed)
    gids = sorted(dset.imgs)
    out = []
    for _ in range(count):
        img = dset.imgs[gids[rng.integers(len(gids))]]
        out.append({'gid': img['id'], 'width': size, 'height': size,
                    'cx': int(rng.integers(size, img['width'] - size)),
                    'cy': int(rng.integers(size, img['height'] - size))})
    return out


def read_all(sampler, targets):
    """Windows/s and windows per CPU-second of reading ``targets``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for target in targets:
        np.ascontiguousarray(sampler.load_sample(target, with_annots=False)['im'])
    return (len(targets) / (time.perf_counter() - wall),
            len(targets) / max(time.process_time() - cpu, 1e-9))


def _child(route, payload, targets, ready, starts, queue):
    sampler = _STATE['sampler'] if route == 'fork' else pickle.loads(payload)
    sampler.load_sample(targets[0], with_annots=False)  # imports, handles
    ready.put(True)
    for start in starts:  # a cold pass, then a warm one, each on the parent's signal
        start.wait()
        queue.put(read_all(sampler, targets))


def two_processes(sampler, route, targets):
    """``{'cold': (windows/s, [windows per CPU-second of each]), 'warm': ...}``."""
    ctx = multiprocessing.get_context('fork' if route == 'fork' else 'spawn')
    payload = pickle.dumps(sampler) if route == 'pickle' else None
    _STATE['sampler'] = sampler
    ready, queue = ctx.Queue(), ctx.Queue()
    starts = {'cold': ctx.Event(), 'warm': ctx.Event()}
    procs = [ctx.Process(target=_child, args=(route, payload, part, ready,
                                              list(starts.values()), queue))
             for part in (targets[0::2], targets[1::2])]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get()
    out = {}
    for rounds, start in starts.items():
        begin = time.perf_counter()
        start.set()
        results = [queue.get() for _ in procs]
        out[rounds] = (len(targets) / (time.perf_counter() - begin), [r[1] for r in results])
    for proc in procs:
        proc.join()
    return out


def main():
    import ndsampler
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--backends', nargs='+', default=['cog', 'zarr', 'hdf5'])
    parser.add_argument('--images', type=int, default=4)
    parser.add_argument('--size', type=int, default=3072)
    parser.add_argument('--windows', type=int, default=6000)
    parser.add_argument('--routes', nargs='+', default=['fork', 'pickle'])
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix='ndsampler_bench_tiles_')
    dset = make_dataset(tmp, args.images, args.size)
    targets = windows(dset, args.windows, seed=1)
    print('{} images of {} px, {} random 224 px windows, {} CPUs'.format(
        args.images, args.size, args.windows, os.cpu_count()))
    print('{:<7} {:<6} {:<6} {:<5} {:>9} {:>9} {:>6} {:>12} {:>14}'.format(
        'backend', 'shared', 'route', 'pass', '1 proc/s', '2 procs/s', 'ratio', '1 proc/cpu-s',
        '2 procs/cpu-s'))
    for backend in args.backends:
        for shared in (False, True):
            for route in args.routes:
                workdir = os.path.join(tmp, 'work_{}'.format(backend))
                config = {'type': backend, 'config': {'shared_tiles': shared}}
                sampler = ndsampler.CocoSampler(dset, workdir=workdir, backend=config)
                sampler.frames.prepare()
                tiles = os.path.join(workdir, '_cache', 'tiles')
                shutil.rmtree(tiles, ignore_errors=True)
                single = {'cold': read_all(sampler, targets), 'warm': read_all(sampler, targets)}
                shutil.rmtree(tiles, ignore_errors=True)
                fresh = ndsampler.CocoSampler(dset, workdir=workdir, backend=config)
                pair = two_processes(fresh, route, targets)
                for rounds in ('cold', 'warm'):
                    (one, one_cpu), (two, two_cpu) = single[rounds], pair[rounds]
                    print('{:<7} {:<6} {:<6} {:<5} {:>9.0f} {:>9.0f} {:>6.2f} {:>12.0f} {:>14}'.format(
                        backend, str(shared), route, rounds, one, two, two / one, one_cpu,
                        ' / '.join('{:.0f}'.format(c) for c in two_cpu)))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
