"""
The backend interface: what every storage backend provides, and nothing else.

A :class:`Backend` turns a source file path into an open :class:`Reader`,
building its cache first (under a lock, published atomically) when it keeps
one.  A reader describes one raster (``height``, ``width``, ``nbands``,
``dtype``) and copies in-bounds blocks straight into a buffer the caller
owns: padding, placement and channel order are the frames layer's business.

Example:
    >>> import numpy as np
    >>> from ndsampler._backends.readers import ArrayReader
    >>> reader = ArrayReader(np.arange(12, dtype=np.uint8).reshape(3, 4, 1))
    >>> isinstance(reader, Reader), reader.describe()
    (True, (3, 4, 1, dtype('uint8')))
    >>> out = np.zeros((2, 2, 1), np.uint8)
    >>> reader.read_into(out, 1, 3, 2, 4)
    >>> out[..., 0].tolist()
    [[6, 7], [10, 11]]
"""
import abc

import numpy as np


class Reader(abc.ABC):
    """One open raster of ``height x width`` pixels and ``nbands`` bands."""
    height: int
    width: int
    nbands: int
    dtype: np.dtype
    fpath = None

    def describe(self):
        """``(height, width, nbands, dtype)``."""
        return (self.height, self.width, self.nbands, self.dtype)

    @abc.abstractmethod
    def read_into(self, out, ya, yb, xa, xb, bands=None):
        """Copy ``[ya:yb, xa:xb]`` (inside the raster) of ``bands`` (all
        when ``None``) into ``out``, an ``(yb - ya, xb - xa, nb)`` array that
        may be a strided view of another dtype."""

    @abc.abstractmethod
    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        """Resample ``[ya:yb, xa:xb]`` to fill ``out``: an area average when
        shrinking, bilinear when enlarging."""

    def read(self, ya, yb, xa, xb, bands=None):
        """``[ya:yb, xa:xb]`` as a new C-contiguous array."""
        nbands = self.nbands if bands is None else len(bands)
        out = np.empty((yb - ya, xb - xa, nbands), self.dtype)
        self.read_into(out, ya, yb, xa, xb, bands)
        return out


class Backend(abc.ABC):
    """
    How the pixels of source files are stored and opened.

    Subclasses set ``type`` (the name users pass), ``DEFAULT_CONFIG`` and
    ``OPTIONAL_KEYS`` (the config keys they accept), and ``cache_dpath``
    (``None`` when they keep no cache).  A backend pickles as its
    configuration only: open handles never cross a process boundary.
    """
    type = None
    cache_dpath = None
    DEFAULT_CONFIG = {}
    OPTIONAL_KEYS = ()

    @staticmethod
    def check_config(config):
        """Raise ``BackendConfigError`` for a bad configuration value."""

    @abc.abstractmethod
    def open(self, fpath):
        """An open :class:`Reader` on the pixels of source ``fpath``,
        building (or rebuilding a stale or corrupt) cache first."""

    @abc.abstractmethod
    def build_cache(self, fpath):
        """Build the cache of ``fpath`` unless it is up to date; return its
        path (``None`` for a backend without a cache)."""

    @abc.abstractmethod
    def is_stale(self, fpath):
        """True when :meth:`open` would have to (re)build the cache."""

    def cache_status(self, fpath):
        """What the cache of source ``fpath`` is now, without building it:
        ``'ok'``, ``'missing'``, ``'stale'`` (built from an older version of
        the source) or ``'corrupt'``; ``'ok'`` for a backend without a cache."""
        return 'ok'

    def load_full(self, fpath):
        """The whole raster of ``fpath`` as an ``(H, W, C)`` array."""
        reader = self.open(fpath)
        return reader.read(0, reader.height, 0, reader.width)
