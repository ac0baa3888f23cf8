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

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        """Resample ``[ya:yb, xa:xb]`` to ``out``'s size (area average when shrinking)."""
        import cv2
        block = self.array[ya:yb, xa:xb]
        if bands is not None:
            block = block[:, :, bands]
        if block.dtype.kind == 'b' or block.dtype.itemsize > 4 and block.dtype.kind != 'f':
            block = block.astype(np.float32)
        shrink = out.shape[0] < block.shape[0]
        resized = cv2.resize(np.ascontiguousarray(block), (out.shape[1], out.shape[0]),
                             interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        out[...] = resized.reshape(out.shape)


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

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        """
        Resample ``[ya:yb, xa:xb]`` to ``out``'s size.  GDAL serves a shrink
        from the finest overview that is not coarser than needed and
        averages the rest, so a large region costs a few tiles.
        """
        from osgeo import gdal
        band_list = None if bands is None else [int(b) + 1 for b in bands]
        shrink = out.shape[0] < yb - ya
        try:
            self.dataset.ReadAsArray(
                xa, ya, xb - xa, yb - ya, buf_xsize=out.shape[1], buf_ysize=out.shape[0],
                buf_obj=out.transpose(2, 0, 1), band_list=band_list,
                resample_alg=gdal.GRIORA_Average if shrink else gdal.GRIORA_Bilinear)
        except RuntimeError as ex:
            from ndsampler.errors import CacheError
            raise CacheError(5, 'GDAL cannot read window [{}:{}, {}:{}] ({})'.format(
                ya, yb, xa, xb, ex), self.fpath) from ex

    def read(self, ya, yb, xa, xb, bands=None):
        nbands = self.nbands if bands is None else len(bands)
        out = np.empty((yb - ya, xb - xa, nbands), self.dtype)
        self.read_into(out, ya, yb, xa, xb, bands)
        return out


def scaled_shape(y0, y1, x0, x1, scale):
    """Output ``(h, w)`` of a window resampled by ``scale = (sx, sy)``."""
    sx, sy = scale
    return max(1, int(round((y1 - y0) * sy))), max(1, int(round((x1 - x0) * sx)))


def read_scaled_window(reader, y0, y1, x0, x1, scale, bands=None, padkw=None):
    """
    :func:`read_window` resampled by ``scale = (sx, sy)``: the part inside
    the raster is resampled into its place in the output; the rest is the
    constant fill.
    """
    sx, sy = scale
    out_h, out_w = scaled_shape(y0, y1, x0, x1, scale)
    fill = fill_value_of(padkw)
    if fill is None:
        raise ValueError('a scaled window can only be padded with a constant, got '
                         'padkw={!r}'.format(padkw))
    nbands = reader.nbands if bands is None else len(bands)
    dtype = _fill_dtype(reader.dtype, fill)
    out = np.full((out_h, out_w, nbands), fill, dtype)
    clip = clip_bounds(y0, y1, x0, x1, reader.height, reader.width)
    if clip is not None:
        ya, yb, xa, xb = clip
        oy0, oy1 = int(round((ya - y0) * sy)), min(out_h, int(round((yb - y0) * sy)))
        ox0, ox1 = int(round((xa - x0) * sx)), min(out_w, int(round((xb - x0) * sx)))
        if oy1 > oy0 and ox1 > ox0:
            view = out[oy0:oy1, ox0:ox1]
            if dtype == reader.dtype:
                reader.read_resized_into(view, ya, yb, xa, xb, bands)
            else:
                tmp = np.empty(view.shape, reader.dtype)
                reader.read_resized_into(tmp, ya, yb, xa, xb, bands)
                view[...] = tmp
    return out


def _fill_dtype(dtype, fill):
    """The output dtype: the data's, or float32 when the fill is NaN."""
    if isinstance(fill, float) and math.isnan(fill) and dtype.kind in 'biu':
        return np.dtype(np.float32)
    return dtype


def fill_value_of(padkw):
    """The constant a window is padded with, or ``None`` for other modes."""
    if not padkw:
        return 0
    if padkw.get('mode', 'constant') != 'constant':
        return None
    value = padkw.get('constant_values', 0)
    return value


def read_window(reader, y0, y1, x0, x1, bands=None, padkw=None, scale=None):
    """
    Read ``[y0:y1, x0:x1]`` (bounds may leave the raster) as a new writable,
    C-contiguous ``(h, w, c)`` array; pixels outside are padded per ``padkw``
    (``np.pad`` keywords, default a constant 0).  With ``scale = (sx, sy)``
    the window is resampled to ``round(w * sx), round(h * sy)`` pixels.
    """
    if scale is not None:
        return read_scaled_window(reader, y0, y1, x0, x1, scale, bands, padkw)
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
    dtype = _fill_dtype(reader.dtype, fill)
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
