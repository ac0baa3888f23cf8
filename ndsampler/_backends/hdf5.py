"""
The ``'hdf5'`` backend: each source converted once into one HDF5 file
``<workdir>/_cache/frames/hdf5/<confighash>/<stem>_<pathhash>_<key>.h5``,
written and read with ``h5py``.

Layout: datasets ``/0``, ``/1``, ... of shape ``(H, W, C)``, level ``k``
being the exact 2x2 box average of level ``k - 1`` (as the ``'cog'``
overviews), until the coarsest fits in one chunk; chunks of ``chunksize`` x
``chunksize`` x C (default 256), byte shuffle, a Fletcher-32 checksum per
chunk, and lossless compression (``compress``: ``'auto'``, the default, is
zstd when ``hdf5plugin`` imports and gzip level 1 otherwise; ``'gzip'``,
``'zstd'``, ``'lzf'``, ``'none'``).

Fork safety: no HDF5 file is open across a ``fork``.  Every reader is
registered, and a fork hook closes their files in the parent just before
the fork (waiting for reads in flight); each process then reopens a file on
its next read, so a child never uses an h5py object of its parent.  A
reader also reopens when it finds itself in another process.

Example:
    >>> # xdoctest: +REQUIRES(module:h5py)
    >>> import numpy as np, ubelt as ub
    >>> dpath = ub.Path.appdir('ndsampler/doctest/hdf5').delete().ensuredir()
    >>> image = np.arange(600 * 500, dtype=np.int32).reshape(600, 500, 1)
    >>> write_hdf5_pyramid(dpath / 'a.h5', image, dict(DEFAULTS, compress='gzip'))
    >>> reader = Hdf5Reader(dpath / 'a.h5')
    >>> [level.shape for level in reader.levels]
    [(600, 500, 1), (300, 250, 1), (150, 125, 1)]
    >>> reader.read(1, 2, 3, 5)[..., 0].tolist()
    [[503, 504]]
"""
import errno
import os
import threading
import weakref

from ndsampler._backends.array_sources import (READ_ERRORS, AxesView, LevelsReader,
                                               pick_levels)
from ndsampler._backends.cached import ChunkedBackend
from ndsampler._backends.cog import compute_overviews, overview_shapes
from ndsampler._backends.source import decode_image
from ndsampler.errors import (BackendConfigError, BackendUnavailableError, CacheError,
                              SourceReadError, require_module)

H5PY_INSTALL_HINT = ("The 'hdf5' backend needs h5py: pip install h5py (and pip install "
                     "hdf5plugin for zstd compression). Alternatively use backend='npy', "
                     "which needs nothing more.")
COMPRESSIONS = ('auto', 'gzip', 'zstd', 'lzf', 'none')
DEFAULTS = {'compress': 'auto', 'chunksize': 256}
#: Bytes of decoded chunks h5py keeps per open dataset.
CHUNK_CACHE_BYTES = 4 << 20


def import_h5py():
    """
    The ``h5py`` module.

    Raises:
        BackendUnavailableError: with what to install.

    Example:
        >>> # xdoctest: +REQUIRES(module:h5py)
        >>> import_h5py().__name__
        'h5py'
    """
    return require_module('h5py', H5PY_INSTALL_HINT)


def resolve_compress(compress):
    """
    The compression ``compress`` means here: ``'auto'`` is ``'zstd'`` when
    ``hdf5plugin`` imports, else ``'gzip'``.

    Example:
        >>> resolve_compress('auto') in ('zstd', 'gzip'), resolve_compress('LZF')
        (True, 'lzf')
    """
    compress = str(compress).lower()
    if compress not in COMPRESSIONS:
        raise BackendConfigError('unknown hdf5 compress={!r}; expected one of {}'.format(
            compress, COMPRESSIONS))
    if compress in ('auto', 'zstd'):
        try:
            import hdf5plugin  # NOQA: registers the zstd filter with HDF5
        except ImportError as ex:
            if compress == 'zstd':
                raise BackendUnavailableError(
                    "hdf5 compress='zstd' needs hdf5plugin: pip install hdf5plugin "
                    "(or use compress='gzip')") from ex
            return 'gzip'
        return 'zstd'
    return compress


def dataset_options(compress):
    """``create_dataset`` keywords of a resolved compression."""
    if compress == 'none':
        return {'fletcher32': True}
    if compress == 'zstd':
        import hdf5plugin
        return dict(hdf5plugin.Zstd(clevel=1), shuffle=True, fletcher32=True)
    level = {'compression_opts': 1} if compress == 'gzip' else {}
    return dict(level, compression=compress, shuffle=True, fletcher32=True)


def write_hdf5_pyramid(path, array, config):
    """Write an ``(H, W, C)`` array and its box-averaged levels as datasets ``0``, ``1``, ..."""
    h5py = import_h5py()
    chunk = int(config['chunksize'])
    options = dataset_options(resolve_compress(config['compress']))
    levels = [array] + compute_overviews(array, overview_shapes(*array.shape[0:2], chunk))
    with h5py.File(os.fspath(path), 'w') as file:
        for k, level in enumerate(levels):
            chunks = tuple(min(chunk, n) for n in level.shape[0:2]) + (level.shape[2],)
            file.create_dataset(str(k), data=level, chunks=chunks, **options)


def hdf5_levels(file, member=''):
    """The levels of the dataset or group ``member`` of an open file (see
    :mod:`ndsampler._backends.array_sources`)."""
    import h5py
    node = file[member] if member.strip('/') else file
    if isinstance(node, h5py.Dataset):
        return [AxesView(node)]
    names = pick_levels(list(node.keys()), lambda name: isinstance(node.get(name), h5py.Dataset))
    return [AxesView(node[name]) for name in names]


# -- no HDF5 file open across a fork -------------------------------------------

#: Every live reader, and the lock under which readers open and forks close them.
_READERS = weakref.WeakSet()
_REGISTRY_LOCK = threading.Lock()
#: Readers whose locks the forking thread holds; h5py files of another process.
_HELD, _PARKED = [], []


def _close_all_before_fork():
    _REGISTRY_LOCK.acquire()
    _HELD[:] = list(_READERS)
    for reader in _HELD:
        reader.lock.acquire()
        reader.close()


def _release_after_fork():
    for reader in _HELD:
        reader.lock.release()
    _HELD.clear()
    _REGISTRY_LOCK.release()


os.register_at_fork(before=_close_all_before_fork, after_in_parent=_release_after_fork,
                    after_in_child=_release_after_fork)


class Hdf5Reader(LevelsReader):
    """
    A :class:`LevelsReader` on an HDF5 file's dataset or level datasets,
    opened (read-only, without HDF5's file locking) in the process that
    reads; see the module docstring for forks.
    """

    def __init__(self, path, member='', is_source=False, fpath=None):
        self.path, self.member = os.fspath(path), member
        self.is_source = is_source
        self.fpath = fpath or self.path
        self.lock = threading.Lock()
        self.file, self.pid = None, None
        with _REGISTRY_LOCK:
            self._open()
            _READERS.add(self)
        super().__init__(self.levels, self.fpath, is_source)

    def _open(self):
        h5py = import_h5py()
        try:
            file = h5py.File(self.path, 'r', locking=False, rdcc_nbytes=CHUNK_CACHE_BYTES)
            levels = hdf5_levels(file, self.member)
        except READ_ERRORS as ex:
            error = SourceReadError if self.is_source else CacheError
            raise error(errno.EIO, 'cannot open HDF5 {} ({})'.format(
                'source' if self.is_source else 'cache', ex), self.fpath) from None
        self.file, self.pid, self.levels = file, os.getpid(), levels

    def close(self):
        """Close the file (reopened by the next read)."""
        if self.file is not None and self.pid == os.getpid():
            self.file.close()
        elif self.file is not None:
            _PARKED.append(self.file)  # another process's: never touched here
        self.file, self.levels = None, None

    def _read_level(self, k, ya, yb, xa, xb):
        with self.lock:
            if self.file is None or self.pid != os.getpid():
                self.close()
                self._open()
            return super()._read_level(k, ya, yb, xa, xb)


class Hdf5Backend(ChunkedBackend):
    """One HDF5 file per source; see the module docstring."""
    type = 'hdf5'
    ext = '.h5'
    DEFAULT_CONFIG = DEFAULTS

    def subdirs(self):
        resolved = dict(self.config, compress=resolve_compress(self.config['compress']))
        return ['hdf5', self.config_hash(resolved)]

    @staticmethod
    def check_config(config):
        resolve_compress(config['compress'])
        chunk = config['chunksize']
        if not (isinstance(chunk, int) and chunk > 0):
            raise BackendConfigError('hdf5 chunksize={!r} must be a positive integer'.format(chunk))

    def build(self, src_fpath, tmp_fpath):
        write_hdf5_pyramid(tmp_fpath, decode_image(src_fpath), self.config)

    def is_valid(self, cache_fpath):
        try:
            reader = Hdf5Reader(cache_fpath)
            reader.read(0, 1, 0, 1)
        except (CacheError, *READ_ERRORS):
            return False
        with reader.lock:
            reader.close()
        return True

    def open_reader(self, cache_fpath):
        if not os.path.exists(cache_fpath):
            raise FileNotFoundError(cache_fpath)  # superseded: re-keyed by open()
        return Hdf5Reader(cache_fpath)
