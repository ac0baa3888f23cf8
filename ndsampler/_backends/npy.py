"""
The ``'npy'`` backend: each source decoded once into an uncompressed
``.npy`` file and read through a read-only memory map.  Lossless and the
fastest random access, at the cost of raw-size disk use.
"""
import numpy as np

from ndsampler._backends.cached import CachedBackend
from ndsampler._backends.readers import ArrayReader
from ndsampler._backends.source import decode_image


def open_npy(cache_fpath):
    """Memory-map a cache file; raises if its header or size is wrong."""
    array = np.load(cache_fpath, mmap_mode='r', allow_pickle=False)
    if array.ndim != 3:
        raise ValueError('expected an (H, W, C) array in {}'.format(cache_fpath))
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
        except (OSError, ValueError):
            return False
        return True

    def open_reader(self, cache_fpath):
        return ArrayReader(open_npy(cache_fpath).view(np.ndarray), cache_fpath)

    def load_full(self, fpath):
        """The whole image as a read-only ``np.memmap`` of the cache."""
        published = self._published_or_none(fpath)
        if published is None:
            return self._direct().load_full(fpath)
        return open_npy(published[0])
