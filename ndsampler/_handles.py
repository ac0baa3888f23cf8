"""
Per-process resources: a bounded pool of open file handles and a
byte-bounded LRU of decoded images.

GDAL datasets must not be shared across ``fork``: a child that used its
parent's dataset would share its file offset and block-cache state.  The pool
therefore remembers the pid that filled it; in a forked child the first
look-up starts an empty pool, and the parent's handles are parked, never
touched again (not even closed, which would run GDAL code on the parent's
state).  Handles are also per thread, because a GDAL dataset is not
thread-safe.

Example:
    >>> pool = HandlePool(max_open=2)
    >>> pool.get('a', lambda: 'A'), pool.get('b', lambda: 'B'), pool.get('c', lambda: 'C')
    ('A', 'B', 'C')
    >>> pool.keys()
    ['b', 'c']
    >>> import numpy as np
    >>> lru = ByteLRU(max_bytes=100)
    >>> lru.put('x', np.zeros(60, np.uint8)); lru.put('y', np.zeros(60, np.uint8))
    >>> lru.get('x') is None, lru.get('y').size
    (True, 60)
"""
import os
import threading
from collections import OrderedDict

#: Handles one thread of one process keeps open at most; override with the
#: ``NDSAMPLER_MAX_OPEN_HANDLES`` environment variable.
DEFAULT_MAX_OPEN = int(os.environ.get('NDSAMPLER_MAX_OPEN_HANDLES', 64))


class HandlePool:
    """An LRU of open handles, per thread and per process."""

    def __init__(self, max_open=DEFAULT_MAX_OPEN):
        self.max_open = max_open
        self._local = threading.local()
        self._parked = []  # handles inherited through fork, never used again

    def _items(self):
        local = self._local
        pid = os.getpid()
        if getattr(local, 'pid', None) != pid:
            old = getattr(local, 'items', None)
            if old:
                self._parked.append(old)
            local.items = OrderedDict()
            local.pid = pid
        return local.items

    def get(self, key, opener):
        """Return the handle for ``key``, opening it with ``opener()`` if needed."""
        items = self._items()
        handle = items.get(key, None)
        if handle is None:
            handle = opener()
            items[key] = handle
            while len(items) > self.max_open:
                items.popitem(last=False)
        else:
            items.move_to_end(key)
        return handle

    def discard(self, key):
        """Forget the handle for ``key`` (for example, a corrupt cache file)."""
        self._items().pop(key, None)

    def keys(self):
        return list(self._items().keys())


#: The process-wide pool used by every backend.
HANDLES = HandlePool()


class ByteLRU:
    """A thread-safe least-recently-used map of arrays, bounded by their total bytes."""

    def __init__(self, max_bytes):
        self.max_bytes = int(max_bytes)
        self._items = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0

    def get(self, key):
        with self._lock:
            value = self._items.get(key, None)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            if key in self._items:
                self.nbytes -= self._items.pop(key).nbytes
            if value.nbytes > self.max_bytes:
                return
            self._items[key] = value
            self.nbytes += value.nbytes
            while self.nbytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self.nbytes -= old.nbytes
