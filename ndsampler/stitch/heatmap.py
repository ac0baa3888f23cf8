"""The stitcher of dense predictions over one image, and its streamed COG writer."""
import math
import os
import tempfile

import numpy as np

from ndsampler.errors import StitchError, StitchShapeError
from ndsampler.stitch.accumulators import _DiskAccum, _RamAccum
from ndsampler.stitch.windowing import _check_weighting, _resize, _window, window_weights


class Stitcher:
    """
    The weighted mean of overlapping predictions over one image.

    Args:
        shape (Tuple[int, int] | Tuple[int, int, int]): ``(H, W)`` or
            ``(H, W, C)`` of the stitched result.
        weighting (str): the weight of each pixel of a prediction:
            ``'uniform'`` (all ones), ``'gaussian'`` or ``'hann'`` (favour
            the middle of each window, where a model sees the most context;
            positive everywhere, see :func:`window_weights`).
        dtype: dtype of :meth:`finalize` and :meth:`write` (``'float32'``).
        fill: the value of pixels no prediction covered (``nan``).
        backing (str | PathLike | None): ``None`` keeps the two accumulators
            (weighted sum and weight) in RAM; a directory keeps them there in
            two raw files (np.memmap-compatible, updated block by block), so the memory in use does not grow
            with the image.  The files are removed by :meth:`close` (also
            on garbage collection / ``with`` exit) unless ``keep_backing``.
        accum_dtype: dtype of the accumulators (``'float64'``; ``'float32'``
            halves their size at the cost of ~1e-7 relative error).
        sigma (float): standard deviation of the ``'gaussian'`` window,
            relative to its side.

    Slices entirely outside the image are ignored (:meth:`add` returns
    ``False``); slices that hang over it contribute their inside part.

    Example:
        >>> import numpy as np
        >>> from ndsampler.stitch import Stitcher
        >>> st = Stitcher((4, 6), fill=-1)
        >>> st.add((slice(0, 4), slice(0, 4)), np.full((4, 4), 2.0))
        True
        >>> st.add((slice(0, 4), slice(2, 6)), np.full((2, 2), 4.0))  # stride 2: resized
        True
        >>> st.finalize().tolist()[0]
        [2.0, 2.0, 3.0, 3.0, 4.0, 4.0]
        >>> st.add((slice(10, 20), slice(0, 4)), np.zeros((10, 4)))  # outside: ignored
        False
    """

    def __init__(self, shape, *, weighting='uniform', dtype='float32', fill=float('nan'),
                 backing=None, accum_dtype='float64', sigma=0.125, keep_backing=False):
        shape = tuple(int(d) for d in shape)
        if len(shape) not in (2, 3) or min(shape) <= 0:
            raise StitchShapeError('shape must be (H, W) or (H, W, C) of positive sizes, '
                                   'got {!r}'.format(shape))
        self.shape = shape
        self.nchan = shape[2] if len(shape) == 3 else 1
        self.weighting = _check_weighting(weighting)
        self.dtype = np.dtype(dtype)
        self.fill = fill
        self.sigma = float(sigma)
        self.accum_dtype = np.dtype(accum_dtype)
        self.backing = backing
        self.keep_backing = keep_backing
        self._window_cache = {}
        if backing is None:
            self._acc = _RamAccum(shape, self.nchan, self.accum_dtype)
        else:
            self._acc = _DiskAccum(backing, shape, self.nchan, self.accum_dtype)
        self.num_added = 0

    # -- context / cleanup
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """
        Release the accumulators (and delete backing files unless kept).

        Example:
            >>> import os, tempfile
            >>> dpath = tempfile.mkdtemp()
            >>> st = Stitcher((4, 4), backing=dpath)
            >>> sorted(os.listdir(dpath))
            ['stitch_sum.float64', 'stitch_weight.float64']
            >>> st.close()
            >>> os.listdir(dpath)
            []
        """
        acc, self._acc = getattr(self, '_acc', None), None
        if acc is None:
            return
        acc.close()
        if isinstance(acc, _DiskAccum) and not self.keep_backing:
            for path in acc.paths:
                try:
                    os.remove(path)
                except OSError:
                    pass

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _live(self):
        if self._acc is None:
            raise StitchError('this Stitcher is closed')
        return self._acc

    def _weights(self, h, w):
        key = (h, w)
        win = self._window_cache.get(key)
        if win is None:
            win = window_weights((h, w), self.weighting, self.sigma)
            if len(self._window_cache) > 8:
                self._window_cache.clear()
            self._window_cache[key] = win
        return win

    def _as_data(self, data):
        data = np.asarray(data)
        if data.ndim == 2:
            data = data[:, :, None]
        if data.ndim != 3:
            raise StitchShapeError('data must be (h, w) or (h, w, C), got shape {}'.format(data.shape))
        if data.shape[2] != self.nchan:
            raise StitchShapeError(
                'data has {} channels but the stitcher has {} (shape {}): got data of shape {}'.format(
                    data.shape[2], self.nchan, self.shape, data.shape))
        if 0 in data.shape:
            raise StitchShapeError('data is empty: shape {}'.format(data.shape))
        return data

    def add(self, space_slice, data, weight=None):
        """
        Add one prediction.

        Args:
            space_slice: ``(y_slice, x_slice)`` in image pixels (may hang over
                the image: the outside part is dropped), or a target dict
                (``space_slice`` / ``slices``, or ``cx, cy, width, height``;
                ``pad`` is honoured; a ``scale`` needs no care since ``data``
                is resized to the window anyway).
            data (ndarray): ``(h, w)`` or ``(h, w, C)``.  When ``h, w`` differ
                from the slice's size (a model with a stride, or a scaled
                target) it is resized to it (linear when enlarging, area
                when shrinking).
            weight (float | ndarray | None): multiplies the window's weights:
                a number, or ``(h, w)`` / ``(h, w, 1)`` per pixel (resized
                with ``data``).  Non-negative; zero weight contributes
                nothing.

        Returns:
            bool: ``False`` when the slice misses the image (nothing added).

        Example:
            >>> import numpy as np
            >>> from ndsampler.stitch import Stitcher
            >>> st = Stitcher((2, 2))
            >>> st.add((slice(0, 2), slice(0, 2)), np.ones((2, 2)), weight=3)
            True
            >>> st.add((slice(0, 2), slice(0, 2)), np.zeros((2, 2)), weight=1)
            True
            >>> st.finalize().tolist()
            [[0.75, 0.75], [0.75, 0.75]]
        """
        acc = self._live()
        H, W = self.shape[:2]
        y0, y1, x0, x1, _, _ = _window(space_slice, (H, W))
        ya, yb, xa, xb = max(y0, 0), min(y1, H), max(x0, 0), min(x1, W)
        data = self._as_data(data)
        h, w = y1 - y0, x1 - x0
        if weight is not None and not np.isscalar(weight):
            weight = np.asarray(weight, dtype=np.float64)
            if weight.ndim == 3 and weight.shape[2] == 1:
                weight = weight[:, :, 0]
            if weight.shape != data.shape[:2]:
                raise StitchShapeError('weight must be a number or (h, w) like data {}, got {}'.format(
                    data.shape[:2], weight.shape))
        if ya >= yb or xa >= xb:
            return False
        if data.shape[:2] != (h, w):
            data = _resize(data, h, w).reshape(h, w, self.nchan)
            if weight is not None and not np.isscalar(weight):
                weight = _resize(weight, h, w)
        win = self._weights(h, w)
        if weight is not None:
            if np.isscalar(weight):
                weight = float(weight)
                if not weight >= 0 or not math.isfinite(weight):
                    raise StitchError('weight must be finite and >= 0, got {!r}'.format(weight))
                if weight == 0:
                    return True
            elif weight.size and (not np.all(np.isfinite(weight)) or weight.min() < 0):
                raise StitchError('weights must be finite and >= 0')
            win = win * weight
        cy, cx = slice(ya - y0, yb - y0), slice(xa - x0, xb - x0)
        win = win[cy, cx]
        part = data[cy, cx]
        with acc.rows(ya, yb, xa, xb, write=True) as (s, wt):
            s += part * win[:, :, None]
            wt += win
        self.num_added += 1
        return True

    def _mean_block(self, ya, yb, out=None, chunk_bytes=8 * 2 ** 20):
        """
        The finished rows ``ya:yb`` as ``(rows, W, C)`` of ``dtype``, computed
        a few rows at a time (about ``chunk_bytes`` of accumulator each) so
        the temporaries stay small whatever the image width.
        """
        acc = self._live()
        W = self.shape[1]
        if out is None:
            out = np.empty((yb - ya, W, self.nchan), dtype=self.dtype)
        step = max(1, int(chunk_bytes // (W * (self.nchan + 1) * self.accum_dtype.itemsize)))
        for ra in range(ya, yb, step):
            rb = min(ra + step, yb)
            dst = out[ra - ya:rb - ya]
            with acc.rows(ra, rb) as (s, wt):
                covered = wt > 0
                with np.errstate(invalid='ignore', divide='ignore'):
                    np.divide(s, np.where(covered, wt, 1)[:, :, None], out=dst, casting='unsafe')
            if not covered.all():
                dst[~covered] = self.fill
        return out

    def finalize(self, block_rows=1024):
        """
        The weighted mean of everything added, ``fill`` where nothing was
        (or only zero weight was).  Shape ``(H, W)`` or ``(H, W, C)``.

        This holds the whole result in memory; :meth:`write` does not.

        Example:
            >>> import numpy as np
            >>> from ndsampler.stitch import Stitcher
            >>> st = Stitcher((2, 3, 2), fill=0)
            >>> _ = st.add((slice(0, 2), slice(0, 2)), np.ones((2, 2, 2)))
            >>> st.finalize()[..., 0].tolist()
            [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]]
        """
        H = self.shape[0]
        out = np.empty(self.shape[:2] + (self.nchan,), dtype=self.dtype)
        for ya in range(0, H, block_rows):
            yb = min(ya + block_rows, H)
            self._mean_block(ya, yb, out=out[ya:yb])
        return out if len(self.shape) == 3 else out[:, :, 0]

    def write(self, path, *, blocksize=512, compress='ZSTD', level=None, overviews=True,
              resampling='AVERAGE', nodata='fill', cache_mb=32, num_threads=None):
        """
        Write the stitched result to a Cloud Optimized GeoTIFF.

        Tiled (``blocksize`` square tiles), compressed losslessly
        (``compress``: ``'ZSTD'``, ``'DEFLATE'`` or ``'LZW'``, with the
        floating point predictor for float data), with overviews (halving
        until the image fits one tile) made with ``resampling``.  The mean
        is computed one row of tiles at a time from the accumulators and
        streamed to a temporary tiled GeoTIFF beside ``path``; each overview
        level is then computed from the one above in strips of
        ``2 * blocksize`` square (``'AVERAGE'``, which skips nodata, or
        ``'NEAREST'``) and written into the temporary file's overviews, and
        ``gdal.Translate(format='COG')`` copies it all, tile by tile, into
        the COG layout.  GDAL's block cache is held to ``cache_mb``
        meanwhile, so memory stays bounded by one row of tiles whatever the
        image size.  (Another ``resampling`` is left to GDAL's overview
        builder, whose memory grows with the image width.)
        ``nodata='fill'`` sets the file's nodata to ``fill`` (overviews then
        ignore uncovered pixels); ``None`` sets none.

        Needs GDAL (``osgeo.gdal``).

        Returns:
            str: ``path``.

        Example:
            >>> # xdoctest: +REQUIRES(module:osgeo)
            >>> import numpy as np, tempfile, os
            >>> from osgeo import gdal
            >>> from ndsampler.stitch import Stitcher
            >>> st = Stitcher((300, 200))
            >>> _ = st.add((slice(0, 300), slice(0, 150)), np.ones((300, 150)))
            >>> fpath = st.write(os.path.join(tempfile.mkdtemp(), 'heat.tif'), blocksize=128)
            >>> ds = gdal.Open(fpath)
            >>> ds.GetRasterBand(1).GetOverviewCount() > 0, ds.GetRasterBand(1).GetBlockSize()
            (True, [128, 128])
        """
        try:
            from osgeo import gdal, gdal_array
        except ImportError as ex:
            raise ImportError('Stitcher.write needs GDAL (osgeo.gdal); install the GDAL '
                              'Python bindings, or use finalize()') from ex
        path = os.fspath(path)
        H, W = self.shape[:2]
        C = self.nchan
        blocksize = int(blocksize)
        if blocksize % 16:
            raise StitchError('blocksize must be a multiple of 16, got {}'.format(blocksize))
        gdal_type = gdal_array.NumericTypeCodeToGDALTypeCode(self.dtype)
        if gdal_type is None:
            raise StitchError('GDAL cannot write dtype {}'.format(self.dtype))
        compress = str(compress).upper()
        is_float = self.dtype.kind == 'f'
        predictor = '3' if is_float else '2'
        if nodata == 'fill':
            nodata = self.fill
        threads = 'ALL_CPUS' if num_threads is None else str(num_threads)
        comp_opts = ['COMPRESS=' + compress]
        if compress in ('ZSTD', 'DEFLATE', 'LZW'):
            comp_opts.append('PREDICTOR=' + predictor)
            if level is not None:
                comp_opts.append(('ZSTD_LEVEL=' if compress == 'ZSTD' else 'ZLEVEL=')
                                 + str(level))
        tmp_opts = ['TILED=YES', 'BLOCKXSIZE={}'.format(blocksize), 'BLOCKYSIZE={}'.format(blocksize),
                    'BIGTIFF=IF_SAFER', 'INTERLEAVE=PIXEL' if C > 1 else 'INTERLEAVE=BAND',
                    'NUM_THREADS=' + threads]
        # the temporary copy is compressed fast; the COG gets the real settings
        tmp_opts += ['COMPRESS=ZSTD', 'ZSTD_LEVEL=1', 'PREDICTOR=' + predictor] \
            if compress == 'ZSTD' else ['COMPRESS=LZW', 'PREDICTOR=' + predictor]
        resampling = str(resampling).upper()
        streamed = resampling in ('AVERAGE', 'NEAREST')
        cog_opts = comp_opts + ['BLOCKSIZE={}'.format(blocksize), 'BIGTIFF=IF_SAFER',
                                'NUM_THREADS=' + threads,
                                'OVERVIEWS=' + ('FORCE_USE_EXISTING' if overviews else 'NONE'),
                                'RESAMPLING=' + resampling]
        out_dir = os.path.dirname(os.path.abspath(path))
        fd, tmp_path = tempfile.mkstemp(prefix='.stitch-', suffix='.tif', dir=out_dir)
        os.close(fd)
        old_cache = gdal.GetCacheMax()
        gdal.SetCacheMax(int(cache_mb) * 1024 * 1024)
        try:
            drv = gdal.GetDriverByName('GTiff')
            ds = drv.Create(tmp_path, W, H, C, gdal_type, options=tmp_opts)
            if ds is None:
                raise OSError('GDAL could not create {}: {}'.format(tmp_path, gdal.GetLastErrorMsg()))
            if nodata is not None:
                for b in range(1, C + 1):
                    ds.GetRasterBand(b).SetNoDataValue(float(nodata))
            buf = np.empty((blocksize, W, C), dtype=self.dtype)
            for ya in range(0, H, blocksize):
                yb = min(ya + blocksize, H)
                block = self._mean_block(ya, yb, out=buf[:yb - ya])
                if C == 1:
                    ds.GetRasterBand(1).WriteArray(block[:, :, 0], 0, ya)
                else:
                    ds.WriteRaster(0, ya, W, yb - ya, np.ascontiguousarray(block).tobytes(),
                                   buf_type=gdal_type, band_list=list(range(1, C + 1)),
                                   buf_pixel_space=C * self.dtype.itemsize,
                                   buf_line_space=W * C * self.dtype.itemsize,
                                   buf_band_space=self.dtype.itemsize)
                ds.FlushCache()
            del buf
            if overviews:
                factors, w, h = [], W, H
                while max(w, h) > blocksize:
                    w, h = -(-w // 2), -(-h // 2)
                    factors.append(2 ** (len(factors) + 1))
                if factors:
                    # NONE: allocate the overview levels; streamed ones are filled below
                    ds.BuildOverviews('NONE' if streamed else resampling, factors)
                    if streamed:
                        _stream_overviews(ds, nodata, resampling, blocksize)
            ds = None
            out = gdal.Translate(path, tmp_path, format='COG', creationOptions=cog_opts)
            if out is None:
                raise OSError('GDAL could not write {}: {}'.format(path, gdal.GetLastErrorMsg()))
            out = None
        finally:
            gdal.SetCacheMax(old_cache)
            for p in (tmp_path, tmp_path + '.ovr', tmp_path + '.aux.xml'):
                if os.path.exists(p):
                    os.remove(p)
        return path


def _reduce2(arr, nodata, resampling):
    """
    Halve a ``(h, w)`` block: the mean of each 2 x 2 cell's valid pixels
    (``AVERAGE``; pixels equal to ``nodata``, or nan, are not valid; a cell
    with none is ``nodata``) or its top-left pixel (``NEAREST``).  Odd sides
    are padded with invalid pixels, as GDAL rounds overview sizes up.
    """
    h, w = arr.shape
    if resampling == 'NEAREST':
        return arr[0::2, 0::2]
    H2, W2 = -(-h // 2), -(-w // 2)
    pad = np.full((H2 * 2, W2 * 2), np.nan, dtype=np.float64)
    pad[:h, :w] = arr
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        pad[pad == nodata] = np.nan
    cells = pad.reshape(H2, 2, W2, 2)
    valid = ~np.isnan(cells)
    count = valid.sum(axis=(1, 3))
    total = np.where(valid, cells, 0).sum(axis=(1, 3))
    with np.errstate(invalid='ignore', divide='ignore'):
        out = total / count
    if nodata is not None:
        out[count == 0] = nodata
    return out


def _stream_overviews(ds, nodata, resampling, blocksize):
    """
    Fill the (allocated) overviews of each band of ``ds``, level ``k`` from
    level ``k - 1``, reading strips of ``2 * blocksize`` rows by
    ``2 * blocksize`` columns: the memory used does not depend on the image
    size (GDAL's own overview builder holds whole-width rows).
    """
    rows, cols = 2 * blocksize, 2 * blocksize
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        src = band
        for k in range(band.GetOverviewCount()):
            dst = band.GetOverview(k)
            dtype = None
            for ya in range(0, src.YSize, rows):
                yb = min(ya + rows, src.YSize)
                for xa in range(0, src.XSize, cols):
                    xb = min(xa + cols, src.XSize)
                    block = src.ReadAsArray(xa, ya, xb - xa, yb - ya)
                    dtype = block.dtype if dtype is None else dtype
                    small = _reduce2(block, nodata, resampling)
                    dst.WriteArray(small.astype(dtype, copy=False), xa // 2, ya // 2)
            dst.FlushCache()
            src = dst
