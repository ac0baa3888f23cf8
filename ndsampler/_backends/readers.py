"""
Window readers: the small interface every backend hands out, and the one
function that turns an out-of-bounds window into a padded array.

A reader knows ``height``, ``width``, ``nbands`` and ``dtype`` of one raster
and copies an in-bounds ``[ya:yb, xa:xb]`` block into a caller's buffer.

Example:
    >>> import numpy as np
    >>> reader = ArrayReader(np.arange(12, dtype=np.uint8).reshape(3, 4, 1))
    >>> read_window(reader, -1, 2, 2, 5)[..., 0].tolist()
    [[0, 0, 0], [2, 3, 0], [6, 7, 0]]
"""
import math

import numpy as np

from ndsampler.windows import clip_bounds


class ArrayReader:
    """Reads windows of an in-memory or memory-mapped ``(H, W, C)`` array."""

    def __init__(self, array, fpath=None):
        self.array = array
        self.fpath = fpath
        self.height, self.width, self.nbands = array.shape
        self.dtype = array.dtype

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        block = self.array[ya:yb, xa:xb]
        out[...] = block if bands is None else block[:, :, bands]

    def read(self, ya, yb, xa, xb, bands=None):
        block = self.array[ya:yb, xa:xb]
        if bands is not None:
            return block[:, :, bands]  # fancy indexing copies
        return np.array(block, order='C')


class GdalReader:
    """Reads windows of a GDAL dataset straight into a pixel-interleaved buffer."""

    def __init__(self, dataset, fpath=None):
        from osgeo import gdal_array
        self.dataset = dataset
        self.fpath = fpath
        self.height = dataset.RasterYSize
        self.width = dataset.RasterXSize
        self.nbands = dataset.RasterCount
        self.dtype = np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(
            dataset.GetRasterBand(1).DataType))

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        band_list = None if bands is None else [int(b) + 1 for b in bands]
        try:
            self.dataset.ReadAsArray(xa, ya, xb - xa, yb - ya,
                                     buf_obj=out.transpose(2, 0, 1),
                                     band_list=band_list)
        except RuntimeError as ex:
            from ndsampler.errors import CacheError
            raise CacheError(5, 'GDAL cannot read window [{}:{}, {}:{}] '
                             '({})'.format(ya, yb, xa, xb, ex),
                             self.fpath) from ex

    def read(self, ya, yb, xa, xb, bands=None):
        nbands = self.nbands if bands is None else len(bands)
        out = np.empty((yb - ya, xb - xa, nbands), self.dtype)
        self.read_into(out, ya, yb, xa, xb, bands)
        return out


def fill_value_of(padkw):
    """The constant a window is padded with, or ``None`` for other modes."""
    if not padkw:
        return 0
    if padkw.get('mode', 'constant') != 'constant':
        return None
    value = padkw.get('constant_values', 0)
    return value


def read_window(reader, y0, y1, x0, x1, bands=None, padkw=None):
    """
    Read ``[y0:y1, x0:x1]`` (bounds may leave the raster) as a new writable,
    C-contiguous ``(h, w, c)`` array; pixels outside are padded per ``padkw``
    (``np.pad`` keywords, default a constant 0).
    """
    clip = clip_bounds(y0, y1, x0, x1, reader.height, reader.width)
    if clip == (y0, y1, x0, x1):
        return reader.read(y0, y1, x0, x1, bands)
    nbands = reader.nbands if bands is None else len(bands)
    fill = fill_value_of(padkw)
    if fill is None:
        if clip is None:
            raise ValueError('padkw={!r} needs image data to pad from, but '
                             'the window misses the image'.format(padkw))
        ya, yb, xa, xb = clip
        inner = reader.read(ya, yb, xa, xb, bands)
        pad_width = ((ya - y0, y1 - yb), (xa - x0, x1 - xb), (0, 0))
        return np.pad(inner, pad_width, **padkw)
    dtype = reader.dtype
    if isinstance(fill, float) and math.isnan(fill) and dtype.kind in 'biu':
        dtype = np.dtype(np.float32)
    shape = (y1 - y0, x1 - x0, nbands)
    out = np.zeros(shape, dtype) if fill == 0 else np.full(shape, fill, dtype)
    if clip is not None:
        ya, yb, xa, xb = clip
        view = out[ya - y0:yb - y0, xa - x0:xb - x0]
        if dtype == reader.dtype:
            reader.read_into(view, ya, yb, xa, xb, bands)
        else:
            view[...] = reader.read(ya, yb, xa, xb, bands)
    return out
