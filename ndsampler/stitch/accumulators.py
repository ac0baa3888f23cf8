"""Where a stitcher keeps its weighted sum and weight: RAM or two files."""
import os

import numpy as np


class _RamAccum:
    """Sum and weight in two numpy arrays."""

    def __init__(self, shape, nchan, dtype):
        self.sum = np.zeros(shape[:2] + (nchan,), dtype=dtype)
        self.weight = np.zeros(shape[:2], dtype=dtype)

    def rows(self, ya, yb, xa=0, xb=None, write=False):
        """Rows ``ya:yb``, columns ``xa:xb`` of (sum, weight); a context manager."""
        return _Block(self.sum[ya:yb, xa:xb], self.weight[ya:yb, xa:xb])

    def close(self):
        pass


class _Block:
    def __init__(self, s, w, on_exit=None):
        self.sum, self.weight, self._on_exit = s, w, on_exit

    def __enter__(self):
        return self.sum, self.weight

    def __exit__(self, exc_type, *exc):
        if self._on_exit is not None and exc_type is None:
            self._on_exit(self.sum, self.weight)
        self.sum = self.weight = None


class _DiskAccum:
    """
    Sum and weight in two files of raw native-order numbers (``(H, W, C)``
    and ``(H, W)``, C order), zero-filled sparsely at creation, so
    ``np.memmap(path, dtype, shape=...)`` opens them.  Blocks are read and
    written back with ``pread`` / ``pwrite``: only the block being updated is
    in this process's memory, and the rest stays in the page cache or on
    disk, which the kernel may evict.  (Mapping the files instead makes
    every page the kernel maps around a touched one count in the resident
    set, which then grows towards the size of the files.)
    """

    def __init__(self, backing, shape, nchan, dtype):
        backing = os.fspath(backing)
        os.makedirs(backing, exist_ok=True)
        self.dir = backing
        self.dtype = np.dtype(dtype)
        self.shape = shape[:2]
        self.nchan = nchan
        self.paths = (os.path.join(backing, 'stitch_sum.{}'.format(self.dtype.name)),
                      os.path.join(backing, 'stitch_weight.{}'.format(self.dtype.name)))
        self.pixel_items = (nchan, 1)
        self._fds = []
        for path, per_pixel in zip(self.paths, self.pixel_items):
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            os.ftruncate(fd, shape[0] * shape[1] * per_pixel * self.dtype.itemsize)  # sparse zeros
            self._fds.append(fd)

    def _io(self, index, buf, ya, yb, xa, xb, write):
        fd = self._fds[index]
        item = self.pixel_items[index] * self.dtype.itemsize
        W = self.shape[1]
        flat = buf.reshape(yb - ya, -1)
        if xa == 0 and xb == W:  # whole rows: one call
            spans = [(memoryview(flat).cast('B'), ya * W * item)]
        else:
            spans = [(memoryview(flat[r]).cast('B'), ((ya + r) * W + xa) * item)
                     for r in range(yb - ya)]
        for mv, offset in spans:
            done = 0
            while done < len(mv):
                if write:
                    n = os.pwrite(fd, mv[done:], offset + done)
                else:
                    n = os.preadv(fd, [mv[done:]], offset + done)
                if n <= 0:
                    raise OSError('short {} on {}'.format('write' if write else 'read',
                                                          self.paths[index]))
                done += n

    def rows(self, ya, yb, xa=0, xb=None, write=False):
        xb = self.shape[1] if xb is None else xb
        s = np.empty((yb - ya, xb - xa, self.nchan), dtype=self.dtype)
        w = np.empty((yb - ya, xb - xa), dtype=self.dtype)
        self._io(0, s, ya, yb, xa, xb, False)
        self._io(1, w, ya, yb, xa, xb, False)

        def store(s, w):
            self._io(0, s, ya, yb, xa, xb, True)
            self._io(1, w, ya, yb, xa, xb, True)
        return _Block(s, w, store if write else None)

    def close(self):
        for fd in self._fds:
            os.close(fd)
        self._fds = []
