"""
The readers backends hand out (see :class:`ndsampler._backends.base.Reader`):
one over an in-memory or memory-mapped array, one over a GDAL dataset, and
one over a remote GDAL dataset (a COG read in place by URL).

Example:
    >>> import numpy as np
    >>> reader = ArrayReader(np.arange(12, dtype=np.uint8).reshape(3, 4, 1))
    >>> reader.read(0, 2, 1, 3)[..., 0].tolist()
    [[1, 2], [5, 6]]
"""
import errno
import threading

import numpy as np

from ndsampler import remote
from ndsampler._backends.base import Reader
from ndsampler.errors import CacheError, SourceReadError

#: Dtypes OpenCV resizes natively; others go through float64 and back.
CV2_RESIZE_DTYPES = {np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.float32, np.float64)}


def resize(array, height, width):
    """
    An ``(H, W, C)`` array resampled to ``(height, width, C)``: area average
    when shrinking, bilinear when enlarging; any dtype and any number of
    bands (OpenCV's general resize takes at most 4 at once).

    Example:
        >>> resize(np.arange(16, dtype=np.int32).reshape(4, 4, 1), 2, 2)[..., 0].tolist()
        [[2, 4], [10, 12]]
        >>> resize(np.ones((41, 41, 6), np.uint16), 21, 21).shape
        (21, 21, 6)
    """
    import cv2
    if array.shape[2] > 4:
        return np.concatenate([resize(array[:, :, i:i + 4], height, width)
                               for i in range(0, array.shape[2], 4)], axis=2)
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


def resize_into(out, block):
    """
    :func:`resize` ``block`` to fill ``out``; a float ``out`` of another dtype
    gets the block resampled in its precision, unrounded.

    Example:
        >>> out = np.zeros((1, 1, 1), np.float32)
        >>> resize_into(out, np.array([[[1], [2]]], np.uint8))
        >>> out.ravel().tolist()
        [1.5]
    """
    if out.dtype.kind == 'f' and block.dtype != out.dtype:
        block = block.astype(out.dtype)
    out[...] = resize(block, out.shape[0], out.shape[1])


#: Dtypes ``cv2.split`` takes.
CV2_SPLIT_DTYPES = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.int32,
                                          np.float32, np.float64)}


def copy_into(out, block):
    """
    Copy an ``(h, w, c)`` block into ``out`` of the same shape, whatever
    ``out``'s strides and dtype (values cast as numpy assignment casts them).
    A channel-planar ``out`` (a channels-first buffer seen as ``(h, w, c)``)
    of a block of 2 to 4 channels is filled by OpenCV, about three times
    faster than numpy's strided copy: the block is packed into a scratch
    buffer of this thread (OpenCV splits contiguous pixels fastest, and far
    slower from some row strides), split into planes (straight into
    ``out`` when its planes are contiguous and of the block's dtype), and
    the planes copied over.

    Example:
        >>> block = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
        >>> planes = np.zeros((3, 2, 4), np.float32)  # channels first
        >>> copy_into(planes.transpose(1, 2, 0), block)
        >>> planes[1].tolist()
        [[1.0, 4.0, 7.0, 10.0], [13.0, 16.0, 19.0, 22.0]]
    """
    nchan = block.shape[-1]
    if not (2 <= nchan <= 4 and out.ndim == 3 and out.strides[1] == out.itemsize and
            out.strides[2] > out.strides[0] and block.dtype in CV2_SPLIT_DTYPES):
        out[...] = block
        return
    import cv2
    height, width = block.shape[0:2]
    size = height * width * nchan
    scratch = _scratch(block.dtype, 2 * size)
    pixels = scratch[:size].reshape(block.shape)
    np.copyto(pixels, block)
    planes = [out[:, :, c] for c in range(nchan)]
    direct = out.dtype == block.dtype and out.strides[0] == width * out.itemsize
    targets = planes if direct else list(scratch[size:2 * size].reshape(nchan, height, width))
    for target, got in zip(targets, cv2.split(pixels, targets)):
        # OpenCV hands back the arrays it wrote in place (``.ctypes`` costs a microsecond)
        if got is not target and got.ctypes.data != target.ctypes.data:
            target[...] = got
    if not direct:
        for plane, target in zip(planes, targets):
            plane[...] = target


def _scratch(dtype, size):
    """A scratch array of at least ``size`` items of ``dtype``, this thread's own."""
    buffers = _SCRATCH.__dict__.setdefault('buffers', {})
    array = buffers.get(dtype, None)
    if array is None or array.size < size:
        array = buffers[dtype] = np.empty(size, dtype)
    return array


_SCRATCH = threading.local()


def coarsest_exact_level(exact, factor, box):
    """
    The coarsest level ``k`` with ``2**k <= factor`` whose grid the window's
    edges ``box`` fall on, or 0.

    Example:
        >>> [coarsest_exact_level([1, 2, 3], f, (0, 64, 8, 72)) for f in (1.5, 2, 5, 100)]
        [0, 1, 2, 3]
        >>> coarsest_exact_level([1, 2, 3], 100, (1, 65, 8, 72))
        0
    """
    best = 0
    for k in exact:
        if k is None or (1 << k) > factor or any(edge % (1 << k) for edge in box):
            break
        best = k
    return best


class ArrayReader(Reader):
    """Reads windows of an in-memory or memory-mapped ``(H, W, C)`` array."""

    def __init__(self, array, fpath=None):
        self.array = array
        self.fpath = fpath
        self.height, self.width, self.nbands = array.shape
        self.dtype = array.dtype

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        block = self.array[ya:yb, xa:xb]
        if bands is not None:
            block = block[:, :, bands]
        if out.strides[2] == out.itemsize:  # pixel-interleaved, as usual
            out[...] = block
        else:
            copy_into(out, block)

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        block = self.array[ya:yb, xa:xb]
        if bands is not None:
            block = block[:, :, bands]
        resize_into(out, block)


class GdalReader(Reader):
    """
    Reads windows of a GDAL dataset straight into the caller's buffer.  A
    shrink reads the coarsest overview whose pixels tile the window exactly
    (overview ``k`` of factor ``2**k`` when the window's edges are multiples
    of it) and area-averages that, so a large region costs a few tiles and
    the result is the area average of the source window, as for the other
    backends.  Read failures raise ``SourceReadError`` for a source file and
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
        self._levels = None

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        band_list = None if bands is None else [int(b) + 1 for b in bands]
        self._guard(self.dataset.ReadAsArray, xa, ya, xb - xa, yb - ya,
                    buf_obj=out.transpose(2, 0, 1), band_list=band_list)

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        factor = min((yb - ya) / out.shape[0], (xb - xa) / out.shape[1])
        level = self.exact_level(factor, (ya, yb, xa, xb))
        if level:
            block = self._read_level(level, ya >> level, -(-yb >> level), xa >> level,
                                     -(-xb >> level), bands)
        else:
            block = self.read(ya, yb, xa, xb, bands)
        resize_into(out, block)

    def overview_levels(self):
        """The ``k`` of each overview, by index, that halves ``k`` times (else ``None``)."""
        if self._levels is None:
            band = self.dataset.GetRasterBand(1)
            levels = []
            for index in range(band.GetOverviewCount()):
                overview = band.GetOverview(index)
                k = index + 1
                exact = (overview.XSize == -(-self.width >> k) and
                         overview.YSize == -(-self.height >> k))
                levels.append(k if exact else None)
            self._levels = levels
        return self._levels

    def exact_level(self, factor, box):
        """:func:`coarsest_exact_level` among this dataset's overviews."""
        return coarsest_exact_level(self.overview_levels(), factor, box)

    def _read_level(self, level, ya, yb, xa, xb, bands):
        band_ids = range(1, self.nbands + 1) if bands is None else [int(b) + 1 for b in bands]
        rows = [min(yb, -(-self.height >> level)) - ya, min(xb, -(-self.width >> level)) - xa]
        block = np.empty((rows[0], rows[1], len(band_ids)), self.dtype)
        for index, band_id in enumerate(band_ids):
            overview = self.dataset.GetRasterBand(band_id).GetOverview(level - 1)
            self._guard(overview.ReadAsArray, xa, ya, rows[1], rows[0],
                        buf_obj=block[:, :, index])
        return block

    def _guard(self, read, xoff, yoff, xsize, ysize, **kwargs):
        try:
            read(xoff, yoff, xsize, ysize, **kwargs)
        except RuntimeError as ex:
            error = SourceReadError if self.is_source else CacheError
            raise error(errno.EIO, 'GDAL cannot read window [{}:{}, {}:{}] ({})'.format(
                yoff, yoff + ysize, xoff, xoff + xsize, ex), self.fpath) from ex


class RemoteGdalReader(GdalReader):
    """
    A :class:`GdalReader` on a remote tiled raster (see
    :mod:`ndsampler.remote`): each read fetches only the tiles it needs, with
    the library's GDAL settings, and failures raise the typed remote errors,
    naming the URL without credentials.
    """

    def __init__(self, dataset, url):
        super().__init__(dataset, url, is_source=True)

    def overview_levels(self):
        if self._levels is None:
            with remote.gdal_session(self.fpath):  # overview directories may be fetched
                super().overview_levels()
        return self._levels

    def _guard(self, read, xoff, yoff, xsize, ysize, **kwargs):
        remote.attempt(self.fpath, lambda gdal: read(xoff, yoff, xsize, ysize, **kwargs),
                       'window [{}:{}, {}:{}]: '.format(yoff, yoff + ysize, xoff, xoff + xsize))
