"""
What the on-disk cache backends share: one cache file per source file,
named by the source's content key, built once under a lock and published
atomically (:mod:`ndsampler._cachefile`), and opened through the per-process
handle pool (:mod:`ndsampler._handles`).
"""
import errno
import glob
import os
import warnings
from os.path import join

from ndsampler import _cachefile
from ndsampler._handles import HANDLES
from ndsampler.errors import CacheError

#: Write failures after which sources are read directly instead.
UNWRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR}


class CachedBackend:
    """Base of the ``'npy'`` and ``'cog'`` backends."""
    type = None
    ext = None
    DEFAULT_CONFIG = {}
    OPTIONAL_KEYS = ()

    def __init__(self, config, workdir, hashid_mode='PATH'):
        self.config = config
        self.workdir = os.fspath(workdir)
        self.hashid_mode = hashid_mode
        self.cache_dpath = join(self.workdir, '_cache', 'frames', *self.subdirs())
        self._cache_by_source = {}
        self._warned_unwritable = False

    def subdirs(self):
        return [self.type]

    @staticmethod
    def check_config(config):
        pass

    def __getstate__(self):
        return {'config': self.config, 'workdir': self.workdir,
                'hashid_mode': self.hashid_mode}

    def __setstate__(self, state):
        self.__init__(state['config'], state['workdir'], state['hashid_mode'])

    # Subclasses implement these three.
    def build(self, src_fpath, tmp_fpath):
        raise NotImplementedError

    def is_valid(self, cache_fpath):
        raise NotImplementedError

    def open_reader(self, cache_fpath):
        raise NotImplementedError

    def prepare(self, fpath):
        """Build the cache of one source file (if needed); return its path."""
        return self._publish(fpath)[0]

    def _publish(self, fpath):
        """``(cache path, handle key)`` of a source, building the cache if needed.
        The handle key names the published file (path, inode, mtime), so a
        rebuilt file is never read through a handle on its predecessor."""
        published = self._cache_by_source.get(fpath, None)
        if published is None:
            key = _cachefile.source_key(fpath, self.hashid_mode)
            dst = _cachefile.cache_fpath(self.cache_dpath, fpath, key, self.ext)
            family = glob.escape(dst[:-len(key) - len(self.ext)]) + '*' + glob.escape(self.ext)
            _cachefile.build_once(dst, lambda tmp: self.build(fpath, tmp), self.is_valid,
                                  family_glob=family)
            st = os.stat(dst)
            published = self._cache_by_source[fpath] = (dst, (dst, st.st_ino, st.st_mtime_ns))
        return published

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

    def reader(self, fpath):
        published = self._published_or_none(fpath)
        if published is None:
            return self._direct().reader(fpath)
        cache_fpath, handle_key = published
        try:
            return HANDLES.get(handle_key, lambda: self.open_reader(cache_fpath))
        except FileNotFoundError:
            # Another process rebuilt the cache after the source changed and
            # deleted this, the superseded file: key the source afresh.
            self._cache_by_source.pop(fpath, None)
            cache_fpath, handle_key = self._publish(fpath)
            return HANDLES.get(handle_key, lambda: self.open_reader(cache_fpath))

    def _direct(self):
        direct = self.__dict__.get('_direct_backend', None)
        if direct is None:
            from ndsampler._backends.direct import DirectBackend
            direct = self._direct_backend = DirectBackend({})
        return direct

    def load_full(self, fpath):
        reader = self.reader(fpath)
        return reader.read(0, reader.height, 0, reader.width)
