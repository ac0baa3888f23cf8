"""
Per-process resources: a bounded pool of open file handles and a
byte-bounded LRU of decoded images.

GDAL datasets must not be shared across ``fork``: a child that used its
parent's dataset would share its file offset and block-cache state.  In a forked
child the pool therefore starts empty (an ``os.register_at_fork`` hook, so a
look-up costs no ``getpid``), and the parent's handles are parked, never
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



def default_max_open():
    """
    Handles one thread of one process keeps open at most: the
    ``NDSAMPLER_MAX_OPEN_HANDLES`` environment variable, else an eighth of
    the soft limit on open files (each handle may hold a descriptor, and
    DataLoader workers and GDAL need their own), between 64 and 1024.
    """
    if os.environ.get('NDSAMPLER_MAX_OPEN_HANDLES'):
        return int(os.environ['NDSAMPLER_MAX_OPEN_HANDLES'])
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        soft = 1024
    if soft == getattr(resource, 'RLIM_INFINITY', -1):
        soft = 1 << 16
    return max(64, min(1024, soft // 8))


DEFAULT_MAX_OPEN = default_max_open()


class HandlePool:
    """An LRU of open handles, per thread and per process."""

    def __init__(self, max_open=DEFAULT_MAX_OPEN):
        self.max_open = max_open
        self._local = threading.local()
        self._parked = []  # pools inherited through fork, never used again
        os.register_at_fork(after_in_child=self._forget_parent_handles)

    def _forget_parent_handles(self):
        self._parked.append(self._local)
        self._local = threading.local()

    def get(self, key, opener, *args):
        """Return the handle for ``key``, opening it with ``opener(*args)`` if needed."""
        try:
            items = self._local.items
        except AttributeError:
            items = self._local.items = OrderedDict()
        handle = items.get(key, None)
        if handle is None:
            handle = opener(*args)
            items[key] = handle
            while len(items) > self.max_open:
                items.popitem(last=False)
        else:
            items.move_to_end(key)
        return handle

    def discard(self, key):
        """Forget the handle for ``key`` (for example, a corrupt cache file)."""
        getattr(self._local, 'items', {}).pop(key, None)

    def keys(self):
        return list(getattr(self._local, 'items', {}).keys())


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
