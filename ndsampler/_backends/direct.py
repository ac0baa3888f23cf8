"""
The ``None`` backend: read the source files themselves.

PNG and JPEG must be decoded whole; decoded images are kept in a per-process
LRU bounded by bytes (``config['lru_bytes']``, default 1 GiB, or the
``NDSAMPLER_DECODED_LRU_BYTES`` environment variable), so random windows over
a working set that fits decode each image once.  TIFF and other tiled or
striped formats are read by window through GDAL, without decoding the rest.
Windows are always copies: changing one never changes the cache.

Remote sources (URLs, see :mod:`ndsampler.remote`): a tiled raster (a COG)
is read in place, each window fetching only its tiles; any other remote file
is fetched once into ``<workdir>/_cache/remote`` and read like a local one.
"""
import os

from ndsampler._backends import source
from ndsampler._backends.base import Backend
from ndsampler._backends.readers import ArrayReader, GdalReader, RemoteGdalReader
from ndsampler._handles import ByteLRU

DEFAULT_LRU_BYTES = int(os.environ.get('NDSAMPLER_DECODED_LRU_BYTES', 1 << 30))


def open_gdal_source(fpath):
    """A :class:`GdalReader` on a source file; errors name the file."""
    from ndsampler.utils.util_gdal import import_gdal
    gdal = import_gdal()
    try:
        dataset = gdal.OpenEx(os.fspath(fpath), gdal.OF_RASTER | gdal.OF_READONLY)
    except RuntimeError as ex:
        raise source.missing_or_unreadable(fpath, ex) from None
    return GdalReader(dataset, os.fspath(fpath), is_source=True)


class DecodedReader(ArrayReader):
    """
    A decoded source image, taken from the backend's byte-bounded LRU on
    every read and decoded again if it was evicted, so an open reader never
    pins an image in memory.
    """

    def __init__(self, fpath, decoded):
        self.fpath = fpath
        self.decoded = decoded
        self.height, self.width, self.nbands = self.array.shape
        self.dtype = self.array.dtype

    @property
    def array(self):
        array = self.decoded.get(self.fpath)
        if array is None:
            array = source.decode_image(self.fpath)
            self.decoded.put(self.fpath, array)
        return array


class DirectBackend(Backend):
    """Reads windows of source files, with no cache on disk."""

    OPTIONAL_KEYS = ('lru_bytes',)

    def __init__(self, config, workdir=None, hashid_mode='PATH'):
        self.config = config
        self.workdir = workdir
        self.hashid_mode = hashid_mode
        self.decoded = ByteLRU(config.get('lru_bytes', DEFAULT_LRU_BYTES))

    def __getstate__(self):
        return {'config': self.config, 'workdir': self.workdir, 'hashid_mode': self.hashid_mode}

    def __setstate__(self, state):
        self.__init__(state['config'], state.get('workdir'), state.get('hashid_mode', 'PATH'))

    def open(self, fpath):
        kind = source.kind_of(fpath)
        if kind == 'remote':
            return self.open_remote(fpath)
        if kind == 'array':
            from ndsampler._backends.array_sources import open_array_source
            return open_array_source(fpath)
        return self.open_local(fpath)

    def open_local(self, fpath):
        """A reader on a local source file."""
        if source.ext_of(fpath) in source.GDAL_WINDOW_EXTS:
            from ndsampler.utils.util_gdal import have_gdal
            if have_gdal():
                return open_gdal_source(fpath)
        return DecodedReader(fpath, self.decoded)

    def open_remote(self, url):
        """A reader on a remote source: in place when it is tiled, else on
        its local copy (fetched once into the workdir)."""
        from ndsampler import remote
        if remote.ext_of(url) in source.GDAL_WINDOW_EXTS:
            dataset = remote.open_dataset(url)
            if remote.is_tiled(dataset):
                return RemoteGdalReader(dataset, url)
            dataset = None
        workdir = self.workdir
        if workdir is None:
            import ubelt as ub
            workdir = ub.Path.appdir('ndsampler')
        return self.open_local(remote.local_copy(url, workdir, self.hashid_mode))

    def build_cache(self, fpath):
        """Nothing to build: the source is the cache."""
        return None

    def is_stale(self, fpath):
        return False
