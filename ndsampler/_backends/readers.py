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
            return np.ascontiguousarray(block[:, :, bands])
        return np.array(block, order='C')

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        """Resample ``[ya:yb, xa:xb]`` to ``out``'s size (area average when shrinking)."""
        block = self.array[ya:yb, xa:xb]
        if bands is not None:
            block = block[:, :, bands]
        out[...] = resize(block, out.shape[0], out.shape[1])


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
    out = _full((out_h, out_w, nbands), fill, dtype, padkw)
    clip = clip_bounds(y0, y1, x0, x1, reader.height, reader.width)
    if clip is not None:
        ya, yb, xa, xb = clip
        # nearest output pixel edge, rounding halves up (not to even, which
        # would flip the error's sign with the window's parity)
        oy0, oy1 = int(math.floor((ya - y0) * sy + 0.5)), min(out_h, int(math.floor((yb - y0) * sy + 0.5)))
        ox0, ox1 = int(math.floor((xa - x0) * sx + 0.5)), min(out_w, int(math.floor((xb - x0) * sx + 0.5)))
        if oy1 > oy0 and ox1 > ox0:
            view = out[oy0:oy1, ox0:ox1]
            if dtype == reader.dtype:
                reader.read_resized_into(view, ya, yb, xa, xb, bands)
            else:
                tmp = np.empty(view.shape, reader.dtype)
                reader.read_resized_into(tmp, ya, yb, xa, xb, bands)
                view[...] = tmp
    return out


def _full(shape, fill, dtype, padkw):
    """``np.full``, with a clear error for a fill the dtype cannot hold."""
    try:
        return np.full(shape, fill, dtype)
    except (OverflowError, ValueError, TypeError):
        from ndsampler.errors import InvalidTargetError
        raise InvalidTargetError('padkw={!r} cannot fill {} data'.format(padkw, dtype)) from None


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
        inside = reader.read(y0, y1, x0, x1, bands)
        if padkw is not None:  # a NaN fill makes every window float, padded or not
            inside = inside.astype(_fill_dtype(reader.dtype, fill_value_of(padkw)), copy=False)
        return inside
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
    out = np.zeros(shape, dtype) if fill == 0 else _full(shape, fill, dtype, padkw)
    if clip is not None:
        ya, yb, xa, xb = clip
        view = out[ya - y0:yb - y0, xa - x0:xb - x0]
        if dtype == reader.dtype:
            reader.read_into(view, ya, yb, xa, xb, bands)
        else:
            view[...] = reader.read(ya, yb, xa, xb, bands)
    return out
