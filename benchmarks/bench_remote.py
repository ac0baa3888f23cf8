"""
Windows per second for random 224 px windows of one COG (backend ``None``):
read from local disk, and from a local HTTP server (range requests through
GDAL's ``/vsicurl/``), with the bytes the server sent.  "cold" is the first
pass over the windows, "warm" the same windows again (GDAL's block cache).

    .venv/bin/python benchmarks/bench_remote.py [--size 8192] [--windows 200]

The server runs in this process (``tests/_remote_servers.py``), so the
figures measure the protocol and GDAL's per-request overhead, not a network.
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests'))


def make_cog(fpath, size):
    from osgeo import gdal, gdal_array
    ramp = (np.arange(size) // 32).astype(np.uint8)
    array = np.random.default_rng(0).integers(0, 32, size=(3, size, size), dtype=np.uint8)
    array[0] += ramp[None, :]
    array[1] += ramp[:, None]
    gdal.Translate(fpath, gdal_array.OpenArray(array), options=gdal.TranslateOptions(
        format='COG', creationOptions=['BLOCKSIZE=256', 'COMPRESS=DEFLATE', 'LEVEL=1',
                                       'NUM_THREADS=ALL_CPUS']))


def sampler_for(file_name, size, workdir):
    import kwcoco
    import ndsampler
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=file_name, id=1, height=size, width=size)
    return ndsampler.CocoSampler(dset, workdir=workdir, backend=None)


def time_windows(sampler, targets):
    start = time.perf_counter()
    for target in targets:
        sampler.load_sample(target, with_annots=False)
    return len(targets) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--size', type=int, default=8192)
    parser.add_argument('--windows', type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='bench_remote_') as root:
        run(args, root)


def run(args, root):
    from osgeo import gdal
    from _remote_servers import RangeServer
    fpath = os.path.join(root, 'bench.tif')
    make_cog(fpath, args.size)
    file_size = os.path.getsize(fpath)
    rng = np.random.default_rng(0)
    corners = rng.integers(0, args.size - 224, size=(args.windows, 2))
    targets = [{'gid': 1, 'space_slice': (slice(int(y), int(y) + 224), slice(int(x), int(x) + 224))}
               for y, x in corners]
    local = sampler_for(fpath, args.size, root)
    rows = [('local disk, cold', time_windows(local, targets), '-'),
            ('local disk, warm (same windows)', time_windows(local, targets), '-')]
    with RangeServer(root) as server:
        gdal.VSICurlClearCache()
        sampler = sampler_for(server.url('bench.tif'), args.size, root)
        cold = time_windows(sampler, targets)
        sent = server.bytes_served('bench.tif')
        warm = time_windows(sampler, targets)
        rows.append(('HTTP, cold', cold, '{:.1%}'.format(sent / file_size)))
        rows.append(('HTTP, warm (same windows)', warm,
                     '+{:.1%}'.format((server.bytes_served('bench.tif') - sent) / file_size)))
    print('{} random 224 px windows of a {} x {} RGB COG ({:.0f} MB, 256 px tiles, '
          'DEFLATE)'.format(args.windows, args.size, args.size, file_size / 1e6))
    print('{:<32} {:>10} {:>14}'.format('source', 'windows/s', 'bytes fetched'))
    for name, rate, fetched in rows:
        print('{:<32} {:>10.0f} {:>14}'.format(name, rate, fetched))


if __name__ == '__main__':
    main()
