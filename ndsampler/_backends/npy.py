"""
The ``'npy'`` backend: each source decoded once into an uncompressed
``.npy`` file and read through a read-only memory map.  Lossless and the
fastest random access, at the cost of raw-size disk use.
"""
import errno

import numpy as np

from ndsampler._backends.cached import CachedBackend
from ndsampler._backends.readers import ArrayReader
from ndsampler._backends.source import decode_image
from ndsampler.errors import CacheError


def open_npy(cache_fpath):
    """Memory-map a cache file; ``CacheError`` if its header or size is wrong."""
    try:
        array = np.load(cache_fpath, mmap_mode='r', allow_pickle=False)
    except ValueError as ex:
        raise CacheError(errno.EIO, 'corrupt npy cache ({})'.format(ex), cache_fpath) from None
    if array.ndim != 3:
        raise CacheError(errno.EIO, 'expected an (H, W, C) array', cache_fpath)
    return array


class NpyBackend(CachedBackend):
    type = 'npy'
    ext = '.npy'

    def build(self, src_fpath, tmp_fpath):
        array = decode_image(src_fpath)
        with open(tmp_fpath, 'wb') as file:
            np.save(file, array, allow_pickle=False)

    def is_valid(self, cache_fpath):
        try:
            open_npy(cache_fpath)
        except OSError:
            return False
        return True

    def open_reader(self, cache_fpath):
        return ArrayReader(open_npy(cache_fpath).view(np.ndarray), cache_fpath)

    def load_full(self, fpath):
        """The whole image as a read-only ``np.memmap`` of the cache."""
        cache_fpath = self._published_or_none(fpath)
        if cache_fpath is None:
            return self._direct().load_full(fpath)
        return open_npy(cache_fpath)
