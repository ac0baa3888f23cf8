"""
Decoding source images into ``(H, W, C)`` arrays in RGB(A) order.

PNG and JPEG go through OpenCV (libpng / libjpeg-turbo, the fastest full
decoders here); other formats through GDAL when it is installed, else
kwimage.  Every failure names the file.

Example:
    >>> import kwimage, numpy as np, ubelt as ub
    >>> fpath = ub.Path.appdir('ndsampler/doctest/source').ensuredir() / 'a.png'
    >>> _ = kwimage.imwrite(fpath, np.full((4, 5, 3), 7, np.uint8))
    >>> decode_image(fpath).shape
    (4, 5, 3)
"""
import errno
import os
from os.path import exists

import numpy as np

from ndsampler.errors import RemoteSourceError, SourceReadError
from ndsampler.remote import is_remote, redact, temporary_copy

#: Extensions that OpenCV decodes faster than GDAL.
CV2_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.webp')
#: Extensions that GDAL can read by window without decoding the whole file.
GDAL_WINDOW_EXTS = ('.tif', '.tiff', '.vrt', '.ntf', '.jp2')


def ext_of(fpath):
    return os.path.splitext(os.fspath(fpath))[1].lower()


def kind_of(fpath):
    """
    What kind of source a path names, decided once per source when it is
    opened: ``'remote'`` (a URL or GDAL network path, see
    :mod:`ndsampler.remote`), ``'array'`` (a zarr store or an HDF5 dataset,
    see :mod:`ndsampler._backends.array_sources`) or ``'local'`` (an image
    file).

    Example:
        >>> kind_of('s3://bucket/a.tif'), kind_of('/data/a.zarr'), kind_of('/data/a.png')
        ('remote', 'array', 'local')
    """
    if is_remote(fpath):
        return 'remote'
    from ndsampler._backends.array_sources import is_array_source
    return 'array' if is_array_source(fpath) else 'local'


def missing_or_unreadable(fpath, why):
    """The error for a source that cannot be read, naming its path."""
    fpath = os.fspath(fpath)
    if not exists(fpath):
        return SourceReadError(errno.ENOENT, 'source image does not exist', fpath)
    if os.path.getsize(fpath) == 0:
        return SourceReadError(errno.EIO, 'source image is empty', fpath)
    return SourceReadError(errno.EIO, 'cannot decode source image ({})'.format(why), fpath)


def check_jpeg_complete(fpath):
    """
    Raise unless a JPEG ends with its end-of-image marker: decoders fill a
    truncated JPEG with grey and report success, which would be silent
    garbage.
    """
    try:
        with open(fpath, 'rb') as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - 1024))
            tail = file.read()
    except OSError:
        raise missing_or_unreadable(fpath, 'cannot open it') from None
    if size == 0:
        raise missing_or_unreadable(fpath, 'empty')
    if b'\xff\xd9' not in tail.rstrip(b'\x00\r\n '):
        raise SourceReadError(errno.EIO, 'JPEG is truncated (no end-of-image marker)', fpath)


def as_hwc(arr):
    """View a 2-D array as ``(H, W, 1)``."""
    return arr[:, :, None] if arr.ndim == 2 else arr


def decode_image(fpath, reduce=1, gray=False):
    """
    Decode a whole image as a C-contiguous ``(H, W, C)`` array.  EXIF
    orientation is ignored, as GDAL ignores it, so every path sees the same
    pixel grid.

    Args:
        reduce (int): 1, 2, 4 or 8; JPEGs decode straight at that reduction
            (other formats ignore it and return full resolution).
        gray (bool): with ``reduce > 1``, the JPEG has one band.
    """
    fpath = os.fspath(fpath)
    kind = kind_of(fpath)
    if kind == 'remote':
        with temporary_copy(fpath) as local:
            try:
                return decode_local(local, reduce, gray)
            except SourceReadError as ex:  # name the URL, not the temporary copy
                raise RemoteSourceError(ex.errno, ex.strerror, redact(fpath)) from None
    if kind == 'array':
        from ndsampler._backends.array_sources import load_array_source
        return load_array_source(fpath)
    return decode_local(fpath, reduce, gray)


def decode_local(fpath, reduce=1, gray=False):
    """:func:`decode_image` of a local file."""
    ext = ext_of(fpath)
    if ext in ('.jpg', '.jpeg'):
        check_jpeg_complete(fpath)
    if ext in CV2_EXTS:
        import cv2
        flag = cv2.IMREAD_UNCHANGED
        if reduce > 1 and ext in ('.jpg', '.jpeg'):
            flags = ({2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                      8: cv2.IMREAD_REDUCED_GRAYSCALE_8} if gray else
                     {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                      8: cv2.IMREAD_REDUCED_COLOR_8})
            flag = flags[reduce] | cv2.IMREAD_IGNORE_ORIENTATION
        arr = cv2.imread(fpath, flag)
        if arr is None:
            raise missing_or_unreadable(fpath, 'OpenCV could not decode it')
        arr = as_hwc(arr)
        if arr.shape[2] in (3, 4):
            code = cv2.COLOR_BGR2RGB if arr.shape[2] == 3 else cv2.COLOR_BGRA2RGBA
            arr = cv2.cvtColor(arr, code)  # SIMD; a fancy-indexed copy is 50x slower
        return np.ascontiguousarray(arr)
    if ext == '.npy':
        try:
            return np.ascontiguousarray(as_hwc(np.load(fpath)))
        except (OSError, ValueError) as ex:
            raise missing_or_unreadable(fpath, ex) from None
    from ndsampler.utils.util_gdal import have_gdal
    if have_gdal():
        from osgeo import gdal
        try:
            ds = gdal.Open(fpath, gdal.GA_ReadOnly)
            arr = ds.ReadAsArray()
        except RuntimeError as ex:
            raise missing_or_unreadable(fpath, ex) from None
        arr = arr[None] if arr.ndim == 2 else arr
        return np.ascontiguousarray(arr.transpose(1, 2, 0))
    import kwimage
    try:
        arr = kwimage.imread(fpath)
    except Exception as ex:
        raise missing_or_unreadable(fpath, ex) from None
    return np.ascontiguousarray(as_hwc(arr))
