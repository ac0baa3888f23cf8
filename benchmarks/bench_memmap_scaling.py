"""
How copies of 224 px windows out of memory-mapped ``.npy`` images scale from
one process to two on this machine, with no ndsampler at all: the ceiling
of an ``npy`` sampler, whose time is mostly that copy.

Each process is new (forked), maps the files itself, and copies random
windows; with ``--split`` (the default, as the shared harness's ``mp``
section does) the processes share ``--count`` windows, else each copies
``--count``.  They start together, and two processes' rate is all their
windows over the time until the last one ends.  Pages are either mapped as
the windows are read (as in a fresh DataLoader worker) or all mapped before
timing.  Best of ``--rounds``, and the ratio of the medians.  Offline;
writes only to a temporary directory::

    .venv/bin/python benchmarks/bench_memmap_scaling.py
    .venv/bin/python benchmarks/bench_memmap_scaling.py --files 4 --side 7000
"""
import argparse
import multiprocessing
import os
import statistics
import tempfile
import time

import numpy as np


def copy_windows(paths, count, seed, premap, barrier, queue):
    """Copy ``count`` random windows; put ``(start, end, CPU seconds)``."""
    arrays = [np.load(path, mmap_mode='r') for path in paths]
    if premap:
        for array in arrays:
            array.sum(dtype=np.uint64)  # map every page into this process first
    rng = np.random.RandomState(seed)
    picks = [(rng.randint(len(arrays)), *rng.randint(0, arrays[0].shape[0] - 224, 2))
             for _ in range(count)]
    barrier.wait()
    start, cpu = time.perf_counter(), time.process_time()
    for index, y, x in picks:
        np.array(arrays[index][y:y + 224, x:x + 224])
    queue.put((start, time.perf_counter(), time.process_time() - cpu))


def run(paths, nprocs, count, seed, premap):
    """One timed run of ``nprocs`` new processes copying ``count`` windows each:
    ``(windows/s of all of them, CPU us per window of the slowest)``."""
    context = multiprocessing.get_context('fork')
    queue, barrier = context.Queue(), context.Barrier(nprocs)
    procs = [context.Process(target=copy_windows,
                             args=(paths, count, seed + i, premap, barrier, queue))
             for i in range(nprocs)]
    for proc in procs:
        proc.start()
    results = [queue.get() for _ in range(nprocs)]
    for proc in procs:
        proc.join()
    start, end = min(r[0] for r in results), max(r[1] for r in results)
    return nprocs * count / (end - start), max(r[2] for r in results) / count * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--files', type=int, default=2)
    parser.add_argument('--side', type=int, default=6000, help='images are side x side x 3 uint8')
    parser.add_argument('--count', type=int, default=4000,
                        help='windows in all (with --split), else per process')
    parser.add_argument('--split', type=int, default=1, help='1: the processes share --count')
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='ndsampler_memmap_') as tmp:
        rng = np.random.RandomState(0)
        paths = []
        for i in range(args.files):
            paths.append(os.path.join(tmp, 'image_{}.npy'.format(i)))
            np.save(paths[-1], rng.randint(0, 255, (args.side, args.side, 3), dtype=np.uint8))
        print('{} random 224 px windows {} out of {} memory-mapped {} x {} x 3 .npy files '
              '(in the page cache), {} CPUs, best of {} rounds'.format(
                  args.count, 'in all' if args.split else 'per process', args.files, args.side,
                  args.side, os.cpu_count(), args.rounds))
        for premap in (False, True):
            one, two = [], []
            for round_ in range(args.rounds):
                one.append(run(paths, 1, args.count, 10 * round_, premap))
                two.append(run(paths, 2, args.count // 2 if args.split else args.count,
                               10 * round_, premap))
            (rate1, cpu1), (rate2, cpu2) = max(one), max(two)
            median = statistics.median(r for r, _ in two) / statistics.median(r for r, _ in one)
            print('pages mapped {:<16} 1 process {:7.0f}/s ({:4.1f} CPU us), 2 processes {:7.0f}/s '
                  '({:4.1f} CPU us): {:.2f}x (medians: {:.2f}x)'.format(
                      'before timing' if premap else 'as read', rate1, cpu1, rate2, cpu2,
                      rate2 / rate1, median))


if __name__ == '__main__':
    main()
