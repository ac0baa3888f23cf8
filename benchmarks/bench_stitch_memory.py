"""
Peak memory of stitching and writing a large heatmap with on-disk accumulators.

Stitches a ``--size x --size`` single-band float32 heatmap (20,000 x 20,000 by
default: 1.6 GB as float32, and each float64 accumulator 3.2 GB) from
overlapping ``--window`` windows with ``ndsampler.stitch.Stitcher(backing=...)``
in a temporary directory, writes it to a COG, and prints the process's peak
resident set size (``VmHWM`` from ``/proc/self/status``, or ``ru_maxrss``)
after each phase.  The target is a peak under 400 MB.

Usage::

    .venv/bin/python benchmarks/bench_stitch_memory.py            # 20k x 20k, /tmp
    .venv/bin/python benchmarks/bench_stitch_memory.py --size 4000 --tmpdir /some/disk

Needs GDAL for the write; about 10 GB of free disk at the default size.
"""
import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np


def peak_rss_mb():
    """The peak resident set size of this process so far, in MB."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb():
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def fake_model(y0, x0, h, w):
    """A smooth float32 'heatmap' for the window at (y0, x0)."""
    yy = (np.arange(y0, y0 + h, dtype=np.float32) / 997.0)[:, None]
    xx = (np.arange(x0, x0 + w, dtype=np.float32) / 1499.0)[None, :]
    return np.sin(yy) * np.cos(xx)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--size', type=int, default=20000)
    parser.add_argument('--window', type=int, default=1024)
    parser.add_argument('--overlap', type=float, default=0.25)
    parser.add_argument('--weighting', default='hann')
    parser.add_argument('--tmpdir', default='/tmp')
    parser.add_argument('--limit-mb', type=float, default=400.0)
    args = parser.parse_args(argv)

    from ndsampler.stitch import Stitcher

    H = W = args.size
    win = args.window
    stride = max(1, int(round(win * (1 - args.overlap))))
    starts = list(range(0, H - win + 1, stride))
    if starts[-1] + win < H:
        starts.append(H - win)
    workdir = tempfile.mkdtemp(prefix='bench-stitch-', dir=args.tmpdir)
    print('image {} x {} float32, {} windows of {} (overlap {}), work dir {}'.format(
        H, W, len(starts) ** 2, win, args.overlap, workdir))
    print('start: peak RSS {:.0f} MB'.format(peak_rss_mb()))
    try:
        t0 = time.perf_counter()
        st = Stitcher((H, W), weighting=args.weighting, backing=os.path.join(workdir, 'acc'))
        for y0 in starts:
            for x0 in starts:
                st.add((slice(y0, y0 + win), slice(x0, x0 + win)), fake_model(y0, x0, win, win))
        t1 = time.perf_counter()
        print('stitched {} windows in {:.1f} s: peak RSS {:.0f} MB (now {:.0f} MB)'.format(
            st.num_added, t1 - t0, peak_rss_mb(), current_rss_mb()))
        fpath = os.path.join(workdir, 'heatmap.tif')
        st.write(fpath, blocksize=512)
        t2 = time.perf_counter()
        size_mb = os.path.getsize(fpath) / 2 ** 20
        print('wrote COG ({:.0f} MB) in {:.1f} s: peak RSS {:.0f} MB'.format(
            size_mb, t2 - t1, peak_rss_mb()))
        try:
            from osgeo import gdal
            ds = gdal.Open(fpath)
            band = ds.GetRasterBand(1)
            y, x = (H * 5) // 8, (W * 3) // 8
            got = float(band.ReadAsArray(x, y, 1, 1)[0, 0])
            want = float(fake_model(y, x, 1, 1)[0, 0])
            print('check: {} overviews, layout {}, pixel ({}, {}) = {:.6f} (model {:.6f})'.format(
                band.GetOverviewCount(), ds.GetMetadata('IMAGE_STRUCTURE').get('LAYOUT'),
                y, x, got, want))
            ds = None
        except ImportError:
            pass
        st.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    peak = peak_rss_mb()
    ok = peak < args.limit_mb
    print('PEAK RSS {:.0f} MB ({} the {:.0f} MB limit)'.format(
        peak, 'under' if ok else 'OVER', args.limit_mb))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
