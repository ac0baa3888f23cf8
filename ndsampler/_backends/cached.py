"""
What the on-disk cache backends share: one cache file per source file,
named by the source's content key, built once under a lock and published
atomically (:mod:`ndsampler._cachefile`), and opened through the per-process
handle pool (:mod:`ndsampler._handles`).
"""
import os
from os.path import join

from ndsampler import _cachefile
from ndsampler._handles import HANDLES


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
        cache_fpath = self._cache_by_source.get(fpath, None)
        if cache_fpath is None:
            key = _cachefile.source_key(fpath, self.hashid_mode)
            dst = _cachefile.cache_fpath(self.cache_dpath, fpath, key, self.ext)
            family = dst[:-len(key) - len(self.ext)] + '*' + self.ext
            _cachefile.build_once(
                dst, lambda tmp: self.build(fpath, tmp), self.is_valid,
                family_glob=family)
            cache_fpath = self._cache_by_source[fpath] = dst
        return cache_fpath

    def reader(self, fpath):
        cache_fpath = self.prepare(fpath)
        return HANDLES.get(cache_fpath, lambda: self.open_reader(cache_fpath))

    def load_full(self, fpath):
        reader = self.reader(fpath)
        return reader.read(0, reader.height, 0, reader.width)
