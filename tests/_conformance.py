"""
Helpers of ``test_backend_conformance.py``: the sources it writes, the
reference windows it compares with, and what it inspects in a cache
directory (the layout of docs/backends.rst and docs/reliability.rst).
"""
import glob
import os
import warnings
from collections import namedtuple

import cv2
import kwcoco
import kwimage
import numpy as np

RGB, GRAY, U16, F32, I32, PHOTO, SMOOTH, MULTI = 1, 2, 3, 4, 5, 6, 7, 8
LOSSLESS = [RGB, GRAY, U16, F32, I32, MULTI]
SMOOTH_SIZE = 2048

Sources = namedtuple('Sources', ['dset', 'arrays', 'written'])


def _smooth_image(rng, size):
    """A smooth uint8 RGB image with a little noise (what photos look like)."""
    coarse = rng.integers(0, 255, (size // 32, size // 32, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)


def write_sources(dpath):
    """Write every source image; return the dataset and the arrays written."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:100, 0:130]
    arrays = {
        RGB: rng.integers(0, 256, (300, 400, 3), dtype=np.uint8),
        GRAY: rng.integers(0, 256, (50, 70, 1), dtype=np.uint8),
        U16: rng.integers(0, 65536, (130, 170, 3), dtype=np.uint16),
        F32: rng.normal(0, 1000, (90, 110, 1)).astype(np.float32),
        I32: ((np.arange(300 * 400, dtype=np.int32).reshape(300, 400, 1) % 1000) - 500),
        PHOTO: np.stack([xx * 2, yy * 2, (xx + yy)], axis=2).astype(np.uint8),
        SMOOTH: _smooth_image(rng, SMOOTH_SIZE),
        MULTI: rng.integers(0, 256, (120, 160, 4), dtype=np.uint8),
    }
    names = {RGB: 'rgb.png', GRAY: 'gray.png', U16: 'u16.tif', F32: 'f32.tif', I32: 'i32.tif',
             PHOTO: 'photo.jpg', SMOOTH: 'smooth.png'}
    dset = kwcoco.CocoDataset()
    dset.fpath = os.path.join(dpath, 'conformance.kwcoco.json')
    dset.add_category('thing', id=1)
    for gid, name in names.items():
        data = arrays[gid]
        # TIFFs striped, as tifffile writes them, with or without GDAL (a tiled
        # GeoTIFF may be read in place: see test_a_tiled_geotiff_source_...)
        kw = {'backend': 'skimage'} if name.endswith('.tif') else {}
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', '.*low contrast', UserWarning)
            kwimage.imwrite(os.path.join(dpath, name), data[..., 0] if data.shape[2] == 1 else data, **kw)
        h, w = data.shape[0:2]
        dset.add_image(file_name=name, id=gid, height=h, width=w,
                       channels='r|g|b' if gid == RGB else None)
    kwimage.imwrite(os.path.join(dpath, 'multi_rgb.png'), arrays[MULTI][..., 0:3])
    kwimage.imwrite(os.path.join(dpath, 'multi_disparity.png'), arrays[MULTI][..., 3])
    dset.add_image(id=MULTI, name='multi', width=160, height=120, auxiliary=[
        {'file_name': 'multi_rgb.png', 'channels': 'r|g|b', 'width': 160, 'height': 120},
        {'file_name': 'multi_disparity.png', 'channels': 'disparity', 'width': 160, 'height': 120}])
    dset.add_annotation(image_id=RGB, category_id=1, bbox=[10, 20, 30, 40], id=1)
    dset.add_annotation(image_id=RGB, category_id=1, bbox=[100, 80, 20, 10], id=2)
    dset.add_annotation(image_id=RGB, category_id=1, bbox=[390, 0, 10, 10], id=3)
    return dset, arrays


def decoded_source(dset, gid):
    """The reference pixels: each source file decoded by kwimage, bands stacked."""
    img = dset.imgs[gid]
    fnames = [img['file_name']] if img.get('file_name') else [a['file_name'] for a in img['auxiliary']]
    parts = []
    for fname in fnames:
        data = kwimage.imread(os.path.join(dset.bundle_dpath, fname))
        parts.append(data[:, :, None] if data.ndim == 2 else data)
    return np.concatenate(parts, axis=2)


def reference_window(source, y0, y1, x0, x1, fill=0, dtype=None):
    """``source[y0:y1, x0:x1]`` with what lies outside set to ``fill``."""
    h, w = source.shape[0:2]
    out = np.full((y1 - y0, x1 - x0, source.shape[2]), fill, dtype or source.dtype)
    ya, yb, xa, xb = max(y0, 0), min(y1, h), max(x0, 0), min(x1, w)
    if ya < yb and xa < xb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = source[ya:yb, xa:xb]
    return out


def window_of(target):
    y0 = int(np.floor(target['cy'] - target['height'] / 2))
    x0 = int(np.floor(target['cx'] - target['width'] / 2))
    return y0, y0 + target['height'], x0, x0 + target['width']


def random_targets(rng, gid, shape, n, max_side=90, overhang=40):
    """Windows of random size and place, a good share of them leaving the image."""
    h, w = shape[0:2]
    return [{'gid': gid, 'cx': int(rng.integers(-overhang, w + overhang)),
             'cy': int(rng.integers(-overhang, h + overhang)),
             'width': int(rng.integers(1, max_side)), 'height': int(rng.integers(1, max_side))}
            for _ in range(n)]


def cache_listing(workdir):
    """Every cache entry under ``<workdir>/_cache/frames`` (relative paths):
    files, and directories whose name has a dot (a zarr store, or a
    temporary of one), listed whole."""
    root = os.path.join(os.fspath(workdir), '_cache', 'frames')
    found = []
    for dirpath, dirnames, fnames in os.walk(root):
        units = [d for d in dirnames if '.' in d]
        dirnames[:] = [d for d in dirnames if '.' not in d]
        found.extend(os.path.relpath(os.path.join(dirpath, f), root) for f in units + fnames)
    return sorted(found)


def published_caches(workdir):
    """The published caches (files or directories), each checked to carry its
    ``.ok`` stamp and none left as a temporary or a lock (docs/reliability.rst)."""
    names = cache_listing(workdir)
    assert not [n for n in names if '.tmp-' in n or n.endswith('.lock')], names
    data = [n for n in names if not n.endswith('.ok')]
    assert sorted(n + '.ok' for n in data) == sorted(n for n in names if n.endswith('.ok')), names
    return [os.path.join(os.fspath(workdir), '_cache', 'frames', n) for n in data]


def cache_nbytes(cache):
    """Bytes of a cache file, or of every file in a cache directory."""
    if not os.path.isdir(cache):
        return os.path.getsize(cache)
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(cache) for f in fs)


def data_file_of(cache):
    """The file to damage in a cache: the cache file, or a cache directory's
    largest file (the shard of the most pixels)."""
    if not os.path.isdir(cache):
        return cache
    files = [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs]
    return max(files, key=os.path.getsize)


def damage_cache(cache, damage):
    """Truncate (``'truncated'``, ``'emptied'``) or overwrite the middle of
    (``'overwritten'``) the data file of a cache; ``'tail-zeroed'`` zeroes
    its last 4 KiB, keeping its size."""
    fpath = data_file_of(cache)
    size = os.path.getsize(fpath)
    with open(fpath, 'r+b') as file:
        if damage == 'truncated':
            file.truncate(size // 2)
        elif damage == 'emptied':
            file.truncate(0)
        elif damage == 'tail-zeroed':
            file.seek(max(0, size - 4096))
            file.write(b'\0' * min(size, 4096))
        else:
            file.seek(size // 2)
            file.write(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())


def count_builds(monkeypatch, sampler, log_fpath, during_build=None):
    """
    Log one line per cache build of ``sampler``'s backend class to
    ``log_fpath`` (forked children inherit the patch).  The only use of an
    internal name in this module: the backend's ``build`` method.
    """
    cls = type(sampler.frames.backend)
    real_build = cls.build

    def build(self, *args, **kwargs):
        note = during_build() if during_build is not None else ''
        with open(log_fpath, 'a') as file:
            file.write('build {} {}\n'.format(os.getpid(), note))
        return real_build(self, *args, **kwargs)
    monkeypatch.setattr(cls, 'build', build)


def lock_inodes_with_a_waiter(cache_dpath):
    """Inodes of ``*.lock`` files in ``cache_dpath`` that a process is blocked on
    (``->`` lines of /proc/locks)."""
    inodes = set()
    for fpath in glob.glob(os.path.join(cache_dpath, '*.lock')):
        try:
            inodes.add(os.stat(fpath).st_ino)
        except FileNotFoundError:
            pass
    with open('/proc/locks') as file:
        waiting = {int(tok.rsplit(':', 1)[1]) for line in file if '->' in line
                   for tok in line.split() if tok.count(':') == 2}
    return inodes & waiting


def one_image_dset(fpath, width, height):
    dset = kwcoco.CocoDataset()
    dset.add_image(file_name=os.fspath(fpath), id=1, width=width, height=height)
    return dset
