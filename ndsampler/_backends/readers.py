"""
The readers backends hand out (see :class:`ndsampler._backends.base.Reader`):
one over an in-memory or memory-mapped array, one over a GDAL dataset.

Example:
    >>> import numpy as np
    >>> reader = ArrayReader(np.arange(12, dtype=np.uint8).reshape(3, 4, 1))
    >>> reader.read(0, 2, 1, 3)[..., 0].tolist()
    [[1, 2], [5, 6]]
"""
import errno

import numpy as np

from ndsampler._backends.base import Reader
from ndsampler.errors import CacheError, SourceReadError

#: Dtypes OpenCV resizes natively; others go through float64 and back.
CV2_RESIZE_DTYPES = {np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64)}


def resize(array, height, width):
    """
    An ``(H, W, C)`` array resampled to ``(height, width, C)``: area average
    when shrinking, bilinear when enlarging; any dtype.

    Example:
        >>> resize(np.arange(16, dtype=np.int32).reshape(4, 4, 1), 2, 2)[..., 0].tolist()
        [[2, 4], [10, 12]]
    """
    import cv2
    work = array if array.dtype in CV2_RESIZE_DTYPES else array.astype(np.float64)
    shrink = height < array.shape[0]
    resized = cv2.resize(np.ascontiguousarray(work), (width, height),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    resized = resized.reshape(height, width, array.shape[2])
    if resized.dtype != array.dtype:
        if array.dtype.kind in 'biu':
            resized = np.rint(resized)
        resized = resized.astype(array.dtype)
    return resized


class ArrayReader(Reader):
    """Reads windows of an in-memory or memory-mapped ``(H, W, C)`` array."""

    def __init__(self, array, fpath=None):
        self.array = array
        self.fpath = fpath
        self.height, self.width, self.nbands = array.shape
        self.dtype = array.dtype

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        block = self.array[ya:yb, xa:xb]
        out[...] = block if bands is None else block[:, :, bands]

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        block = self.array[ya:yb, xa:xb]
        if bands is not None:
            block = block[:, :, bands]
        out[...] = resize(block, out.shape[0], out.shape[1])


class GdalReader(Reader):
    """
    Reads windows of a GDAL dataset straight into the caller's buffer; a
    shrink is served from the finest overview that is not coarser than
    needed.  Read failures raise ``SourceReadError`` for a source file and
    ``CacheError`` for a cache file, naming it.
    """

    def __init__(self, dataset, fpath=None, is_source=False):
        from osgeo import gdal_array
        self.dataset = dataset
        self.fpath = fpath
        self.is_source = is_source
        self.height = dataset.RasterYSize
        self.width = dataset.RasterXSize
        self.nbands = dataset.RasterCount
        self.dtype = np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(
            dataset.GetRasterBand(1).DataType))

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        self._read(out, ya, yb, xa, xb, bands, {})

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        from osgeo import gdal
        shrink = out.shape[0] < yb - ya
        self._read(out, ya, yb, xa, xb, bands, {
            'buf_xsize': out.shape[1], 'buf_ysize': out.shape[0],
            'resample_alg': gdal.GRIORA_Average if shrink else gdal.GRIORA_Bilinear})

    def _read(self, out, ya, yb, xa, xb, bands, options):
        band_list = None if bands is None else [int(b) + 1 for b in bands]
        try:
            self.dataset.ReadAsArray(xa, ya, xb - xa, yb - ya, buf_obj=out.transpose(2, 0, 1),
                                     band_list=band_list, **options)
        except RuntimeError as ex:
            error = SourceReadError if self.is_source else CacheError
            raise error(errno.EIO, 'GDAL cannot read window [{}:{}, {}:{}] ({})'.format(
                ya, yb, xa, xb, ex), self.fpath) from ex
