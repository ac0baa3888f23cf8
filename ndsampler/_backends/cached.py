"""
What the on-disk cache backends share: one cache file per source file,
named by the source's content key, built once under a lock and published
atomically (:mod:`ndsampler._cachefile`), and opened through the per-process
handle pool (:mod:`ndsampler._handles`).

A remote source (a URL, see :mod:`ndsampler.remote`) is keyed by its remote
identity (size, ``ETag``, ``Last-Modified``: one ``HEAD``), and its cache is
built from a local copy fetched next to the cache's temporary and deleted
after the build.
"""
import abc
import errno
import glob
import os
import warnings
from os.path import join

from ndsampler import _cachefile, remote
from ndsampler._backends import tiles
from ndsampler._backends.base import Backend
from ndsampler.errors import CacheError

#: Write failures after which sources are read directly instead.
UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR}


class CachedBackend(Backend):
    """
    Base of the backends that keep one cache file per source.  A subclass
    sets ``ext`` and implements :meth:`build` (source to temporary file),
    :meth:`is_valid` (a format check of a fresh build) and
    :meth:`open_reader` (a reader on a published cache file).
    """
    ext = None
    #: Whether full-resolution reads go through decoded tiles shared by the
    #: processes of the machine (:mod:`ndsampler._backends.tiles`), as
    #: ``config['shared_tiles']`` (default ``True``) allows: set by the
    #: compressed caches, whose reads cost mostly decoding.
    shares_tiles = False

    def __init__(self, config, workdir, hashid_mode='PATH'):
        self.config = config
        self.workdir = os.fspath(workdir)
        self.hashid_mode = hashid_mode
        subdirs = self.subdirs()
        self.cache_dpath = join(self.workdir, '_cache', 'frames', *subdirs)
        self.tiles_dpath = join(self.workdir, '_cache', 'tiles', *subdirs)
        self.tiles_budget = (tiles.budget_of(self.config.get('shared_tiles', True))
                             if self.shares_tiles else 0)
        self._cache_by_source = {}
        self._warned_unwritable = False

    def subdirs(self):
        return [self.type]

    def config_hash(self, config=None):
        """A short hash of the configuration that shapes the cache files
        (``shared_tiles`` only affects reading, so it is left out)."""
        import ubelt as ub
        config = self.config if config is None else config
        return ub.hash_data(sorted((key, value) for key, value in config.items()
                                   if key != 'shared_tiles'))[:8]

    def tile_size(self):
        """Side of the cache's tiles or chunks, in pixels."""
        return 256

    def __getstate__(self):
        return {'config': self.config, 'workdir': self.workdir,
                'hashid_mode': self.hashid_mode}

    def __setstate__(self, state):
        self.__init__(state['config'], state['workdir'], state['hashid_mode'])

    @abc.abstractmethod
    def build(self, src_fpath, tmp_fpath):
        """Write the cache of ``src_fpath`` to ``tmp_fpath``."""

    @abc.abstractmethod
    def is_valid(self, cache_fpath):
        """True when a freshly built file opens as this format."""

    @abc.abstractmethod
    def open_reader(self, cache_fpath):
        """A :class:`~ndsampler._backends.base.Reader` on a published file."""

    def build_cache(self, fpath):
        """Build the cache of one source file (if needed); return its path."""
        return self._publish(fpath)

    def is_stale(self, fpath):
        if self._cache_by_source.get(fpath, None) is not None:
            return False
        return not _cachefile.is_intact(self.cache_fpath_of(fpath)[0])

    def cache_status(self, fpath):
        dst, key = self.cache_fpath_of(fpath)
        if _cachefile.is_intact(dst):
            return 'ok'
        if os.path.exists(dst) or os.path.exists(dst + _cachefile.STAMP_SUFFIX):
            return 'corrupt'
        return 'stale' if glob.glob(_cachefile.family_glob(dst, key, self.ext)) else 'missing'

    def cache_fpath_of(self, fpath):
        """``(cache path, key)`` the source's cache has now (keyed by its content)."""
        if remote.is_remote(fpath):
            key = remote.source_key(fpath, self.hashid_mode)
            return remote.cache_fpath(self.cache_dpath, fpath, key, self.ext), key
        key = _cachefile.source_key(fpath, self.hashid_mode)
        return _cachefile.cache_fpath(self.cache_dpath, fpath, key, self.ext), key

    def _build_any(self, fpath, tmp_fpath):
        """:meth:`build`, from a temporary local copy when the source is remote."""
        if not remote.is_remote(fpath):
            return self.build(fpath, tmp_fpath)
        with remote.temporary_copy(fpath, beside=tmp_fpath) as local:
            return self.build(local, tmp_fpath)

    def _publish(self, fpath):
        """The published cache path of a source, building it if needed."""
        dst = self._cache_by_source.get(fpath, None)
        if dst is None:
            dst, key = self.cache_fpath_of(fpath)
            _cachefile.build_once(dst, lambda tmp: self._build_any(fpath, tmp), self.is_valid,
                                  family_glob=_cachefile.family_glob(dst, key, self.ext))
            self._cache_by_source[fpath] = dst
        return dst

    def _published_or_none(self, fpath):
        """:meth:`_publish`, or ``None`` when the workdir cannot take the
        cache (read-only, full): then the source is read directly, with one
        warning per backend."""
        if self._cache_by_source.get(fpath, ()) is None:
            return None
        try:
            return self._publish(fpath)
        except CacheError as ex:
            if ex.errno not in UNWRITABLE:
                raise
            if not self._warned_unwritable:
                warnings.warn('cannot write the {!r} cache ({}); reading source images '
                              'directly instead'.format(self.type, ex), RuntimeWarning)
                self._warned_unwritable = True
            self._cache_by_source[fpath] = None
            return None

    def open(self, fpath):
        cache_fpath = self._published_or_none(fpath)
        if cache_fpath is None:
            return self._direct().open(fpath)
        try:
            reader = self.open_reader(cache_fpath)
        except FileNotFoundError:
            # Another process rebuilt the cache after the source changed and
            # deleted this, the superseded file: key the source afresh.
            self._cache_by_source.pop(fpath, None)
            cache_fpath = self._publish(fpath)
            reader = self.open_reader(cache_fpath)
        return self._with_shared_tiles(reader, fpath, cache_fpath)

    def _with_shared_tiles(self, reader, fpath, cache_fpath):
        """``reader``, through a shared tile file when this backend shares tiles."""
        if not self.tiles_budget:
            return reader
        if os.path.dirname(cache_fpath) != self.cache_dpath:  # a source read in place
            cache_fpath = self.cache_fpath_of(fpath)[0]
        tile_fpath = join(self.tiles_dpath, os.path.basename(cache_fpath) + tiles.SUFFIX)
        return tiles.SharedTileReader(reader, tile_fpath, self.tile_size(), self.tiles_budget)

    def _direct(self):
        direct = self.__dict__.get('_direct_backend', None)
        if direct is None:
            from ndsampler._backends.direct import DirectBackend
            direct = self._direct_backend = DirectBackend({}, self.workdir, self.hashid_mode)
        return direct


class ChunkedBackend(CachedBackend):
    """
    Base of the chunked-array caches (``'zarr'``, ``'hdf5'``): a subclass's
    ``DEFAULT_CONFIG`` has a ``'chunksize'``, and its chunks are the shared
    decoded tiles.
    """
    OPTIONAL_KEYS = ('shared_tiles',)
    shares_tiles = True

    def tile_size(self):
        return self.config['chunksize']
