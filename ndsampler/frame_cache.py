"""
Writers of per-image cache files, at the original's import path.

The sampler's own caches are managed by its backends
(:mod:`ndsampler._backends`); these functions are the original's
lower-level helpers for code that builds cache files itself.  Writes go to a
temporary name and are renamed into place, so a reader never sees half a
file; :func:`_locked_cache_write` also serialises writers of one file
across processes.

Example:
    >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
    >>> import kwimage, numpy as np, ubelt as ub
    >>> from ndsampler.frame_cache import _cog_cache_write
    >>> from ndsampler.utils.util_gdal import LazyGDalFrameFile
    >>> dpath = ub.Path.appdir('ndsampler/doctest/frame_cache').delete().ensuredir()
    >>> gpath = kwimage.imwrite(dpath / 'src.png', np.full((20, 30, 3), 9, np.uint8))
    >>> cog = _cog_cache_write(gpath, dpath / 'src.cog.tif', {'compress': 'auto'})
    >>> LazyGDalFrameFile(cog)[5, 5].ravel().tolist()
    [9, 9, 9]
"""
import os
import uuid
from os.path import exists

import numpy as np

from ndsampler.errors import CacheError

__all__ = ['CorruptCOG']

#: Keys of a COG cache config; the original's ``hack_use_cli`` is accepted
#: and has no effect.
COG_CONFIG_KEYS = {'compress', 'blocksize', 'hack_use_cli'}


class CorruptCOG(CacheError):
    """A freshly written COG reads back as all zeros although its source is not."""


def _atomic_write(cache_gpath, write):
    """Call ``write(tmp_path)`` and rename the result to ``cache_gpath``."""
    cache_gpath = os.fspath(cache_gpath)
    tmp = '{}.tmp-{}-{}'.format(cache_gpath, os.getpid(), uuid.uuid4().hex[:8])
    try:
        write(tmp)
        os.replace(tmp, cache_gpath)
    finally:
        if exists(tmp):
            os.unlink(tmp)
    return cache_gpath


def _cog_cache_write(gpath, cache_gpath, config=None):
    """
    Convert the image ``gpath`` into a COG at ``cache_gpath`` (unless that
    exists), then check that it did not come out all zeros.

    Args:
        gpath (str | PathLike): source image.
        cache_gpath (str | PathLike): the COG to write.
        config (dict): ``compress`` (default ``'auto'``, see
            :func:`ndsampler.utils.util_gdal._auto_compress`) and
            ``blocksize`` (default 256).  Required, as in the original.

    Returns:
        str: ``cache_gpath``.

    Raises:
        CorruptCOG: the written file reads back as zeros but the source is
            not; the file is deleted first.
    """
    from ndsampler._backends.source import decode_image
    from ndsampler.utils import util_gdal
    if config is None:
        raise ValueError("a COG config is required, e.g. {'compress': 'auto'}")
    unknown = set(config) - COG_CONFIG_KEYS
    if unknown:
        raise ValueError('unknown COG config keys {}; expected {}'.format(
            sorted(unknown), sorted(COG_CONFIG_KEYS)))
    util_gdal.import_gdal()
    cache_gpath = os.fspath(cache_gpath)
    data = None
    if not exists(cache_gpath):
        data = decode_image(gpath)
        compress = config.get('compress', 'auto')
        if compress == 'auto':
            compress = util_gdal._auto_compress(src_fpath=gpath, data=data)
        _atomic_write(cache_gpath, lambda tmp: util_gdal._imwrite_cloud_optimized_geotiff(
            tmp, data, compress=compress, blocksize=config.get('blocksize', 256)))
    if not util_gdal.validate_nonzero_data(util_gdal.LazyGDalFrameFile(cache_gpath)):
        if data is None:
            data = decode_image(gpath)
        if data.any():
            os.unlink(cache_gpath)
            raise CorruptCOG('the COG of {} read back as all zeros: {}'.format(gpath, cache_gpath))
    return cache_gpath


def _npy_cache_write(gpath, cache_gpath, config=None):
    """
    Decode ``gpath`` and save it as an ``.npy`` file at ``cache_gpath``.

    Example:
        >>> import kwimage, numpy as np, ubelt as ub
        >>> dpath = ub.Path.appdir('ndsampler/doctest/frame_cache_npy').ensuredir()
        >>> gpath = kwimage.imwrite(dpath / 'src.png', np.full((4, 5, 3), 2, np.uint8))
        >>> np.load(_npy_cache_write(gpath, dpath / 'src.npy')).shape
        (4, 5, 3)
    """
    from ndsampler._backends.source import decode_image
    data = decode_image(gpath)

    def write(tmp):
        with open(tmp, 'wb') as file:
            np.save(file, data)
    return _atomic_write(cache_gpath, write)


def _locked_cache_write(_write_func, gpath, cache_gpath, config=None):
    """
    ``_write_func(gpath, cache_gpath, config)`` unless ``cache_gpath``
    exists, holding an exclusive lock on ``cache_gpath + '.lock'`` so that
    concurrent processes build it once.

    Example:
        >>> import kwimage, numpy as np, ubelt as ub
        >>> dpath = ub.Path.appdir('ndsampler/doctest/frame_cache_lock').delete().ensuredir()
        >>> gpath = kwimage.imwrite(dpath / 'src.png', np.zeros((4, 5, 3), np.uint8))
        >>> _locked_cache_write(_npy_cache_write, gpath, dpath / 'src.npy')
        >>> sorted(p.name for p in dpath.iterdir())
        ['src.npy', 'src.png']
    """
    from ndsampler._cachefile import file_lock
    cache_gpath = os.fspath(cache_gpath)
    os.makedirs(os.path.dirname(cache_gpath) or '.', exist_ok=True)
    with file_lock(cache_gpath + '.lock'):
        if not exists(cache_gpath):
            _write_func(gpath, cache_gpath, config)
