"""
GDAL helpers at the original's import path.  GDAL stays optional: this
module imports without it, and whatever needs it raises
:class:`ndsampler.errors.BackendUnavailableError` (an ``ImportError``) with
installation hints.

* :func:`have_gdal` / :func:`import_gdal`: is it there, and get it.
* :class:`LazyGDalFrameFile`: a GeoTIFF (or any GDAL raster) indexed like an
  ``(H, W, C)`` array, read by window.
* :func:`_imwrite_cloud_optimized_geotiff`, :func:`batch_convert_to_cog`,
  :func:`batch_validate_cog`, :func:`validate_nonzero_data`: write and check
  COGs.  Tiles, overviews and creation options come from the ``'cog'``
  backend (:mod:`ndsampler._backends.cog`).

Example:
    >>> from ndsampler.utils.util_gdal import have_gdal, _auto_compress
    >>> isinstance(have_gdal(), bool)
    True
    >>> _auto_compress(src_fpath='photo.jpg'), _auto_compress(src_fpath='mask.png')
    ('JPEG', 'LZW')
"""
import errno
import functools
import os
import uuid
from os.path import basename, dirname, exists

import numpy as np
import ubelt as ub

from ndsampler.errors import (BackendUnavailableError, GDAL_INSTALL_HINT, SourceReadError,
                              require_module)

__all__ = ['have_gdal', 'import_gdal', 'LazyGDalFrameFile', 'batch_convert_to_cog',
           'batch_validate_cog', 'validate_nonzero_data']

#: Compressions :func:`_imwrite_cloud_optimized_geotiff` accepts ('RAW' and
#: 'NONE' both mean uncompressed).
WRITE_COMPRESSIONS = ('JPEG', 'LZW', 'DEFLATE', 'ZSTD', 'RAW', 'NONE')


@functools.lru_cache(maxsize=None)
def have_gdal():
    """
    True when GDAL's Python bindings, including ``gdal_array``, import.

    Example:
        >>> have_gdal() in (True, False)
        True
    """
    try:
        import_gdal()
    except BackendUnavailableError:
        return False
    return True


def import_gdal():
    """
    Return the ``osgeo.gdal`` module with exceptions enabled.

    Raises:
        BackendUnavailableError: with installation instructions.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> import_gdal().__name__
        'osgeo.gdal'
    """
    gdal = require_module('osgeo.gdal', GDAL_INSTALL_HINT)
    require_module('osgeo.gdal_array', GDAL_INSTALL_HINT)  # numpy support, needed for reads
    gdal.UseExceptions()
    return gdal


def _numpy_to_gdal_dtype(numpy_dtype):
    """
    The GDAL type code of a numpy dtype (``TypeError`` when GDAL has none).

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> from osgeo import gdal
        >>> _numpy_to_gdal_dtype(np.dtype('uint16')) == gdal.GDT_UInt16
        True
    """
    import_gdal()
    from osgeo import gdal_array
    code = gdal_array.NumericTypeCodeToGDALTypeCode(np.dtype(numpy_dtype))
    if code is None:
        raise TypeError('GDAL cannot store {} pixels'.format(np.dtype(numpy_dtype)))
    return code


def _auto_compress(src_fpath=None, data=None, data_set=None):
    """
    The compression the original chose for ``compress='auto'``: JPEG for a
    ``.jpg`` / ``.jpeg`` source, LZW for a ``.png`` source, else JPEG for
    3-band uint8 pixels and RAW (uncompressed) for anything else.

    Args:
        src_fpath (str | None): the source path, if known.
        data (ndarray | None): the pixels, if known.
        data_set (osgeo.gdal.Dataset | None): an open dataset, if known.

    Example:
        >>> _auto_compress(data=np.zeros((3, 2, 3), np.uint8))
        'JPEG'
        >>> _auto_compress(data=np.zeros((3, 2, 4), np.uint8)), _auto_compress(data=np.zeros((3, 2)))
        ('RAW', 'RAW')
    """
    if src_fpath is not None:
        ext = os.path.splitext(os.fspath(src_fpath))[1].lower()
        if ext in ('.jpg', '.jpeg'):
            return 'JPEG'
        if ext == '.png':
            return 'LZW'
    dtype, nbands = None, None
    if data is not None:
        dtype = np.asarray(data).dtype
        nbands = data.shape[2] if len(data.shape) == 3 else 1
    elif data_set is not None:
        from osgeo import gdal_array
        dtype = np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(
            data_set.GetRasterBand(1).DataType))
        nbands = data_set.RasterCount
    if dtype == np.uint8 and nbands == 3:
        return 'JPEG'
    return 'RAW'


def _imwrite_cloud_optimized_geotiff(fpath, data, compress='auto', blocksize=256):
    """
    Write an array as a Cloud Optimized GeoTIFF: ``blocksize`` tiles,
    box-averaged internal overviews until the coarsest fits in one tile,
    and the COG layout (every directory first, then the pixels from the
    smallest overview up), as :mod:`ndsampler.utils.validate_cog` checks.

    Args:
        fpath (str | PathLike): where to write.
        data (ndarray): ``(H, W)`` or ``(H, W, C)`` pixels.
        compress (str): ``'JPEG'`` (lossy; uint8, at most 4 bands),
            ``'LZW'``, ``'DEFLATE'``, ``'ZSTD'``, ``'RAW'`` / ``'NONE'``,
            or ``'auto'`` (see :func:`_auto_compress`).  Others raise
            ``KeyError``.
        blocksize (int): tile size in pixels.

    Returns:
        str | PathLike: ``fpath``.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> import ubelt as ub
        >>> fpath = ub.Path.appdir('ndsampler/doctest/util_gdal').ensuredir() / 'demo.cog.tif'
        >>> data = (np.arange(600 * 400 * 2) % 251).astype(np.uint8).reshape(600, 400, 2)
        >>> _ = _imwrite_cloud_optimized_geotiff(fpath, data, compress='DEFLATE')
        >>> file = LazyGDalFrameFile(fpath)
        >>> file.shape, bool((file[:] == data).all()), file.validate()['status']
        ((600, 400, 2), True, 'pass')
    """
    gdal = import_gdal()
    from ndsampler._backends.cog import CogBackend, creation_options
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise ValueError('expected (H, W) or (H, W, C) pixels, got shape {}'.format(data.shape))
    if compress == 'auto':
        compress = _auto_compress(data=data)
    compress = str(compress).upper()
    if compress not in WRITE_COMPRESSIONS:
        raise KeyError('unknown compress={!r}; expected one of {} or auto'.format(
            compress, WRITE_COMPRESSIONS))
    nbands = data.shape[2]
    if compress == 'JPEG' and (data.dtype != np.uint8 or nbands > 4):
        raise ValueError('JPEG compression needs uint8 pixels with at most 4 bands, got '
                         '{} band(s) of {}'.format(nbands, data.dtype))
    _numpy_to_gdal_dtype(data.dtype)
    backend = CogBackend({'compress': compress, 'blocksize': int(blocksize)},
                         workdir=dirname(os.fspath(fpath)) or '.')
    # Tiles and overviews go to memory first, uncompressed; one copy then
    # writes them in COG order with the requested compression.
    staging = '/vsimem/ndsampler-cog-{}.tif'.format(uuid.uuid4().hex)
    try:
        backend.write_array(staging, data, 'NONE')
        options = creation_options(compress, data.dtype, nbands, backend.config)
        options = [o for o in options if not o.startswith('BIGTIFF')] + [
            'BIGTIFF=IF_SAFER', 'COPY_SRC_OVERVIEWS=YES']
        gdal.Translate(os.fspath(fpath), staging, options=gdal.TranslateOptions(
            format='GTiff', creationOptions=options))
    finally:
        gdal.Unlink(staging)
    return fpath


class LazyGDalFrameFile(ub.NiceRepr):
    """
    A raster file (usually a COG) that reads like an ``(H, W, C)`` array,
    one window at a time; the file is opened on first use.

    Indexing: ``file[y, x, c]`` with up to three parts, each ``None``, a
    slice (steps > 0) or an int; channels also take a list.  An int keeps
    its axis (``file[0]`` has shape ``(1, W, C)``) and counts from the end
    when negative.  Slices are clipped to the image: a negative start means
    before the image and is clipped to 0 (unlike numpy), a stop past the end
    is clipped to the size, a negative stop counts from the end, and a
    window entirely outside gives an empty array.  Nothing is padded.

    Args:
        cog_fpath (str | PathLike): the file.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> self = LazyGDalFrameFile.demo('checkerboard', dsize=(64, 48))
        >>> self.shape, self.dtype.__name__, self.ndim
        ((48, 64, 3), 'uint8', 3)
        >>> self[0:3, 0:3].shape, self[:, :, 0].shape, self[0].shape, self[0, 3].shape
        ((3, 3, 3), (48, 64, 1), (1, 64, 3), (1, 1, 3))
        >>> self[-10:5, 60:1000].shape, self[100:200].shape
        ((5, 4, 3), (0, 64, 3))
        >>> np.asarray(self).shape
        (48, 64, 3)
    """

    def __init__(self, cog_fpath):
        self.cog_fpath = cog_fpath
        self.fpath = cog_fpath
        self._reader = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_reader'] = None  # GDAL handles do not pickle
        return state

    def __nice__(self):
        return '.../' + basename(os.fspath(self.cog_fpath))

    def _open(self):
        if self._reader is None:
            import_gdal()
            from ndsampler._backends.direct import open_gdal_source
            fpath = os.fspath(self.cog_fpath)
            if not exists(fpath):
                raise SourceReadError(errno.ENOENT, 'File does not exist', fpath)
            self._reader = open_gdal_source(fpath)
        return self._reader

    @property
    def _ds(self):
        """The open ``osgeo.gdal.Dataset``."""
        return self._open().dataset

    @classmethod
    def demo(cls, key='astro', dsize=None):
        """
        A COG of a kwimage test image as uint8 with at least 3 bands
        (``kwimage.grab_test_image(key, dsize)``; ``'checkerboard'`` is
        generated offline, the photographs are downloaded once), cached
        under ``ub.Path.appdir('ndsampler/demo')``.

        Example:
            >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
            >>> LazyGDalFrameFile.demo('checkerboard', dsize=(32, 32)).shape
            (32, 32, 3)
        """
        import kwimage
        dpath = ub.Path.appdir('ndsampler/demo').ensuredir()
        suffix = '' if dsize is None else '_{}x{}'.format(*dsize)
        fpath = dpath / '{}{}.cog.tiff'.format(key, suffix)
        stamp = ub.CacheStamp('{}{}.cog'.format(key, suffix), dpath=dpath,
                              depends={'key': key, 'dsize': dsize, 'v': 3},
                              product=[fpath], verbose=0)
        if stamp.expired():
            image = kwimage.grab_test_image(key, dsize=dsize)
            image = kwimage.atleast_3channels(kwimage.ensure_uint255(image))
            tmp = '{}.tmp-{}'.format(fpath, uuid.uuid4().hex[:8])
            try:
                _imwrite_cloud_optimized_geotiff(tmp, image, compress='DEFLATE')
                os.replace(tmp, fpath)
            finally:
                if exists(tmp):
                    os.unlink(tmp)
            stamp.renew()
        return cls(fpath)

    @property
    def ndim(self):
        """Always 3: ``(H, W, C)``."""
        return len(self.shape)

    @property
    def shape(self):
        """``(height, width, bands)``."""
        reader = self._open()
        return (reader.height, reader.width, reader.nbands)

    @property
    def dtype(self):
        """The numpy scalar type of the pixels (e.g. ``numpy.uint8``)."""
        return self._open().dtype.type

    def __getitem__(self, index):
        reader = self._open()
        parts = list(index) if isinstance(index, (tuple, list)) else [index]
        if any(part is Ellipsis for part in parts):
            at = parts.index(Ellipsis)
            parts[at:at + 1] = [None] * (3 - len(parts) + 1)
        if len(parts) > 3:
            raise IndexError('at most 3 indices (y, x, channel), got {}'.format(len(parts)))
        parts += [None] * (3 - len(parts))
        ya, yb, ystep = _clip_to_dim(parts[0], reader.height)
        xa, xb, xstep = _clip_to_dim(parts[1], reader.width)
        bands = _band_list(parts[2], reader.nbands)
        out = np.empty((yb - ya, xb - xa, len(bands)), reader.dtype)
        if out.size:
            all_bands = bands == list(range(reader.nbands))
            reader.read_into(out, ya, yb, xa, xb, None if all_bands else bands)
        if ystep != 1 or xstep != 1:
            out = np.ascontiguousarray(out[::ystep, ::xstep])
        return out

    def __array__(self, dtype=None, copy=None):
        """The whole raster, so ``np.asarray(file)`` works."""
        data = self[:]
        return data if dtype is None else data.astype(dtype)

    def validate(self, orig_fpath=None, orig_data=None):
        """
        Check the file for corruption: the COG structure
        (:func:`ndsampler.utils.validate_cog.validate`) and that it is not
        all zeros.  An all-zero image is a warning, or an error when the
        original (``orig_fpath`` or ``orig_data``) is not all zeros.

        Returns:
            Dict: ``errors``, ``warnings`` (lists of str), ``details``,
            ``fpath``, ``orig_fpath`` and ``status`` (``'pass'`` or
            ``'fail'``).

        Example:
            >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
            >>> info = LazyGDalFrameFile.demo('checkerboard', dsize=(32, 32)).validate()
            >>> info['status'], info['errors'], info['warnings']
            ('pass', [], [])
        """
        from ndsampler.utils.validate_cog import validate as validate_cog
        info = {'errors': [], 'warnings': [], 'details': {}, 'fpath': self.cog_fpath,
                'orig_fpath': orig_fpath}
        try:
            warnings, errors, details = validate_cog(self.cog_fpath)
        except Exception as ex:
            info['errors'].append(repr(ex))
        else:
            info['errors'].extend(errors)
            info['warnings'].extend(warnings)
            info['details'] = details
        try:
            if not validate_nonzero_data(self):
                if orig_data is None and orig_fpath is not None:
                    from ndsampler._backends.source import decode_image
                    orig_data = decode_image(orig_fpath)
                if orig_data is None:
                    info['warnings'].append('image appears to be all black')
                elif np.asarray(orig_data).any():
                    info['errors'].append('image is all zeros, but the original is not '
                                          '(sum {})'.format(np.asarray(orig_data).sum()))
        except Exception as ex:
            info['errors'].append(repr(ex))
        info['status'] = 'fail' if info['errors'] else 'pass'
        return info


def _clip_to_dim(part, size):
    """``(start, stop, step)`` of one spatial index, clipped to ``[0, size]``."""
    if part is None:
        return 0, size, 1
    if isinstance(part, slice):
        step = 1 if part.step is None else int(part.step)
        if step < 1:
            raise ValueError('only positive slice steps are supported, got {}'.format(step))
        start = 0 if part.start is None else min(max(0, int(part.start)), size)
        stop = size if part.stop is None else int(part.stop)
        stop = min(size, size + stop if stop < 0 else stop)
        return start, max(start, stop), step
    if isinstance(part, (int, np.integer)):
        index = int(part) + size if part < 0 else int(part)
        if not 0 <= index < size:
            raise IndexError('index {} is out of bounds for size {}'.format(part, size))
        return index, index + 1, 1
    raise TypeError('cannot index a raster with {!r}'.format(part))


def _band_list(part, nbands):
    """The band indices selected by the channel part of an index."""
    if part is None:
        return list(range(nbands))
    if isinstance(part, slice):
        return list(range(*part.indices(nbands)))
    if isinstance(part, (int, np.integer)):
        return [_clip_to_dim(part, nbands)[0]]
    if isinstance(part, (list, tuple, np.ndarray)):
        return [_clip_to_dim(int(p), nbands)[0] for p in part]
    raise TypeError('cannot index raster bands with {!r}'.format(part))


def validate_nonzero_data(file):
    """
    True unless the image is all zeros (black).  Checks growing windows
    around the centre first, so a typical image reads only a few pixels;
    returns False when the file cannot be read.

    Args:
        file (LazyGDalFrameFile | ndarray): anything with ``shape`` and
            ``(y, x)`` slicing.

    Example:
        >>> validate_nonzero_data(np.zeros((10, 10, 1))), validate_nonzero_data(np.eye(10))
        (False, True)
    """
    try:
        cy, cx = (int(n) // 2 for n in file.shape[0:2])
        for half in (8, 512, 2048, 5000):
            window = (slice(max(0, cy - half), cy + half), slice(max(0, cx - half), cx + half))
            if np.asarray(file[window]).any():
                return True
        return bool(np.asarray(file[:]).any())
    except Exception:
        return False


def _write_cog_atomic(src_fpath, dst_fpath, cog_config):
    """Convert a source image into a COG at ``dst_fpath`` (published by rename)."""
    from ndsampler._backends.source import decode_image
    config = dict(cog_config)
    config.pop('hack_use_cli', None)
    config.pop('overviews', None)  # overviews are always built
    data = decode_image(src_fpath)
    if config.get('compress', 'auto') == 'auto':
        config['compress'] = _auto_compress(src_fpath=src_fpath, data=data)
    tmp = '{}.tmp-{}'.format(os.fspath(dst_fpath), uuid.uuid4().hex[:8])
    try:
        _imwrite_cloud_optimized_geotiff(tmp, data, **config)
        os.replace(tmp, dst_fpath)
    finally:
        if exists(tmp):
            os.unlink(tmp)
    return dst_fpath


def _validate_cog_worker(dst_fpath, orig_fpath=None):
    """:meth:`LazyGDalFrameFile.validate` of one file (a picklable job)."""
    return LazyGDalFrameFile(dst_fpath).validate(orig_fpath=orig_fpath)


def _convert_to_cog_worker(src_fpath, dst_fpath, cog_config, max_tries=3):
    """Convert (unless done), validate, and retry up to ``max_tries`` times."""
    if not exists(dst_fpath):
        _write_cog_atomic(src_fpath, dst_fpath, cog_config)
    for _ in range(max_tries):
        info = _validate_cog_worker(dst_fpath, orig_fpath=src_fpath)
        if info['status'] == 'pass':
            return dst_fpath
        ub.delete(dst_fpath)
        _write_cog_atomic(src_fpath, dst_fpath, cog_config)
    raise SourceReadError(errno.EIO, 'could not convert to a valid COG ({}); '
                          'destination {}'.format(info['errors'], dst_fpath), src_fpath)


def batch_convert_to_cog(src_fpaths, dst_fpaths, mode='process', max_workers=0,
                         cog_config=None):
    """
    Convert many images to COGs (skipping destinations that exist) and check
    each result with :meth:`LazyGDalFrameFile.validate`, rebuilding a bad
    one up to 3 times before raising.

    Args:
        src_fpaths (List[str]): source images.
        dst_fpaths (List[str]): their COG paths (directories must exist).
        mode (str): ``'process'``, ``'thread'`` or ``'serial'``.
        max_workers (int): 0 runs the jobs in this process, one by one.
        cog_config (dict | None): :func:`_imwrite_cloud_optimized_geotiff`
            options; default ``{'compress': 'LZW', 'blocksize': 256}``.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> import kwimage, ubelt as ub
        >>> dpath = ub.Path.appdir('ndsampler/doctest/batch_cog').delete().ensuredir()
        >>> srcs = [kwimage.imwrite(dpath / 'img{}.png'.format(i), np.full((40, 30, 3), i + 1, np.uint8))
        ...         for i in range(3)]
        >>> dsts = [dpath / 'img{}.cog.tif'.format(i) for i in range(3)]
        >>> batch_convert_to_cog(srcs, dsts, mode='thread', max_workers=2)
        >>> [LazyGDalFrameFile(d)[0, 0].ravel().tolist() for d in dsts]
        [[1, 1, 1], [2, 2, 2], [3, 3, 3]]
    """
    if cog_config is None:
        cog_config = {'compress': 'LZW', 'blocksize': 256}
    import_gdal()
    jobs = ub.JobPool(mode, max_workers=max_workers)
    for src_fpath, dst_fpath in zip(src_fpaths, dst_fpaths):
        jobs.submit(_convert_to_cog_worker, os.fspath(src_fpath), os.fspath(dst_fpath),
                    cog_config)
    for job in ub.ProgIter(jobs.as_completed(), total=len(jobs), desc='converting to cog',
                           verbose=0):
        job.result()


def batch_validate_cog(dst_fpaths, mode='thread', max_workers=0):
    """
    Yield :meth:`LazyGDalFrameFile.validate` info of each file, in
    completion order (a generator).

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> fpath = LazyGDalFrameFile.demo('checkerboard', dsize=(32, 32)).fpath
        >>> [info['status'] for info in batch_validate_cog([fpath, fpath])]
        ['pass', 'pass']
    """
    jobs = ub.JobPool(mode, max_workers=max_workers)
    for dst_fpath in dst_fpaths:
        jobs.submit(_validate_cog_worker, dst_fpath)
    for job in ub.ProgIter(jobs.as_completed(), total=len(jobs), desc='validate cogs',
                           verbose=0):
        yield job.result()
