"""
The ``'cog'`` backend: each source converted once into a tiled GeoTIFF with
256 px tiles and internal overviews (levels 2, 4, 8, ... until the coarsest
fits in one tile), written by GDAL's GTiff driver and read by window through
GDAL.

Compression (``config['compress']``):

==========  ==============================================================
``'auto'``  JPEG sources stay JPEG: GDAL copies their DCT coefficients
            into the tiles (no second generation loss, no re-encode);
            every other source is stored losslessly with ZSTD and a
            predictor, so a PNG or TIFF is never degraded
``'ZSTD'``, ``'DEFLATE'``, ``'LZW'``  lossless, with a predictor
``'JPEG'``  lossy (``config['quality']``, default 90); 8-bit, 1 or 3 bands
``'NONE'``  (or ``'RAW'``) uncompressed tiles
==========  ==============================================================

Overviews are box averages (OpenCV ``INTER_AREA``, each level from the one
below it); a JPEG source's first level is decoded straight at half size.

A local source that is already a tiled GeoTIFF (a COG, for instance) needs
no conversion: it is read in place, and ``prepare`` writes nothing for it.
A remote one (a URL) is converted like any other source, into a local cache.
"""
import math
import os

from ndsampler import remote
from ndsampler._backends.cached import CachedBackend
from ndsampler._backends.readers import GdalReader
from ndsampler._backends.source import decode_image, ext_of, missing_or_unreadable
from ndsampler.errors import BackendConfigError

COMPRESSIONS = ('AUTO', 'ZSTD', 'DEFLATE', 'LZW', 'JPEG', 'NONE', 'RAW')
JPEG_EXTS = ('.jpg', '.jpeg')


def overview_shapes(height, width, blocksize):
    """
    ``(h, w)`` of each overview level (factors 2, 4, ...), as GDAL sizes them.

    Example:
        >>> overview_shapes(4000, 3000, 256)
        [(2000, 1500), (1000, 750), (500, 375), (250, 188)]
    """
    shapes = []
    factor = 2
    while max(height, width) / (factor / 2) > blocksize:
        shapes.append((math.ceil(height / factor), math.ceil(width / factor)))
        factor *= 2
    return shapes


def compute_overviews(first, shapes):
    """
    Overview arrays, each the 2x2 box average of the level below (an odd
    last row or column averaged with its own copy), so pixel ``j`` of level
    ``k`` covers exactly source pixels ``[j * 2**k, (j + 1) * 2**k)``; starts
    from ``first`` (level 0, or level 1 when a JPEG decoded at half size).

    Example:
        >>> import numpy as np
        >>> first = np.arange(15, dtype=np.float32).reshape(3, 5, 1)
        >>> compute_overviews(first, [(2, 3)])[0][..., 0].tolist()
        [[3.0, 5.0, 6.5], [10.5, 12.5, 14.0]]
    """
    import numpy as np
    from ndsampler._backends.readers import resize
    levels = []
    current = first
    for h, w in shapes:
        if current.shape[0:2] != (h, w):
            odd_h, odd_w = current.shape[0] % 2, current.shape[1] % 2
            if odd_h or odd_w:
                current = np.pad(current, ((0, odd_h), (0, odd_w), (0, 0)), mode='edge')
            current = resize(current, h, w)
        levels.append(current)
    return levels


def is_tiled_geotiff(fpath):
    """
    True when ``fpath`` is a GeoTIFF stored in tiles (blocks narrower than
    the image; a striped TIFF's blocks are whole rows).  Its overviews, if
    it has any, serve scaled reads; without them GDAL averages the full
    resolution, which is exact but slower.
    """
    if ext_of(fpath) not in ('.tif', '.tiff'):
        return False
    from osgeo import gdal
    try:
        dataset = gdal.Open(os.fspath(fpath), gdal.GA_ReadOnly)
    except RuntimeError:
        return False  # the cache build reports the source error, naming the file
    if dataset is None or dataset.GetDriver().ShortName != 'GTiff' or not dataset.RasterCount:
        return False
    block_width, _ = dataset.GetRasterBand(1).GetBlockSize()
    return block_width != dataset.RasterXSize


#: The pid of the process whose GDAL owns a compression thread pool.
_THREAD_POOL_PID = []


def threads_option():
    """
    ``NUM_THREADS=ALL_CPUS`` unless this process was forked from one that
    started GDAL's worker threads: a fork copies the pool's state but not its
    threads, and GDAL would wait for them forever.
    """
    pid = os.getpid()
    if not _THREAD_POOL_PID:
        _THREAD_POOL_PID.append(pid)
    return ['NUM_THREADS=ALL_CPUS'] if _THREAD_POOL_PID[0] == pid else []


def creation_options(compress, dtype, nbands, config):
    """GTiff creation options for a tiled cache file."""
    size = str(config['blocksize'])
    opts = ['TILED=YES', 'BLOCKXSIZE=' + size, 'BLOCKYSIZE=' + size,
            'BIGTIFF=IF_SAFER', 'INTERLEAVE=PIXEL'] + threads_option()
    if compress in ('NONE', 'RAW'):
        return opts + ['COMPRESS=NONE']
    opts.append('COMPRESS=' + compress)
    if compress == 'JPEG':
        opts.append('JPEG_QUALITY={}'.format(config['quality']))
        if nbands == 3:
            opts.append('PHOTOMETRIC=YCBCR')
        return opts
    opts.append('PREDICTOR={}'.format(3 if dtype.kind == 'f' else 2))
    if compress == 'ZSTD':
        opts.append('ZSTD_LEVEL=1')
    return opts


class CogBackend(CachedBackend):
    type = 'cog'
    ext = '.cog.tif'
    DEFAULT_CONFIG = {'compress': 'auto'}
    OPTIONAL_KEYS = ('blocksize', 'quality', 'shared_tiles')
    shares_tiles = True

    def __init__(self, config, workdir, hashid_mode='PATH'):
        config = dict({'blocksize': 256, 'quality': 90}, **config)
        super().__init__(config, workdir, hashid_mode)
        self._in_place = {}

    def reads_in_place(self, fpath):
        """True for a local source that is already a tiled GeoTIFF (a COG,
        say): it is read where it is, and no cache file is made."""
        in_place = self._in_place.get(fpath, None)
        if in_place is None:
            in_place = not remote.is_remote(fpath) and is_tiled_geotiff(fpath)
            self._in_place[fpath] = in_place
        return in_place

    def _publish(self, fpath):
        return fpath if self.reads_in_place(fpath) else super()._publish(fpath)

    def is_stale(self, fpath):
        return not self.reads_in_place(fpath) and super().is_stale(fpath)

    def subdirs(self):
        return ['cog', self.config_hash()]

    def tile_size(self):
        return self.config['blocksize']

    @staticmethod
    def check_config(config):
        compress = str(config['compress']).upper()
        if compress not in COMPRESSIONS:
            raise BackendConfigError(
                'unknown cog compress={!r}; expected one of {}'.format(
                    config['compress'], COMPRESSIONS))

    def resolve_compress(self, src_fpath, array_dtype, nbands):
        compress = str(self.config['compress']).upper()
        jpeg_ok = array_dtype.kind == 'u' and array_dtype.itemsize == 1 and nbands in (1, 3)
        if compress == 'AUTO':
            return 'JPEG' if ext_of(src_fpath) in JPEG_EXTS and jpeg_ok else 'ZSTD'
        if compress == 'JPEG' and not jpeg_ok:
            raise BackendConfigError(
                'cog compress=JPEG needs 8-bit data with 1 or 3 bands; {} has '
                '{} band(s) of {}'.format(src_fpath, nbands, array_dtype))
        return compress

    def build(self, src_fpath, tmp_fpath):
        if ext_of(src_fpath) in JPEG_EXTS and str(self.config['compress']).upper() == 'AUTO':
            if self._transcode_jpeg(src_fpath, tmp_fpath):
                return
        array = decode_image(src_fpath)
        compress = self.resolve_compress(src_fpath, array.dtype, array.shape[2])
        self.write_array(tmp_fpath, array, compress)

    def _transcode_jpeg(self, src_fpath, tmp_fpath):
        """
        Copy a JPEG's DCT blocks into tiles (GDAL's lossless transcoding),
        decoding it at half size for the overviews in a second thread
        meanwhile.  Returns False for JPEGs that are not 8-bit gray or RGB.
        """
        from concurrent.futures import ThreadPoolExecutor
        from osgeo import gdal
        try:
            info = gdal.Open(src_fpath, gdal.GA_ReadOnly)
        except RuntimeError as ex:
            decode_image(src_fpath)  # raises the decoder's error, which names the file
            raise missing_or_unreadable(src_fpath, ex) from None
        nbands = info.RasterCount
        if nbands not in (1, 3) or info.GetRasterBand(1).DataType != gdal.GDT_Byte:
            return False
        with ThreadPoolExecutor(1) as pool:
            half = pool.submit(decode_image, src_fpath, 2, nbands == 1)
            opts = [o for o in creation_options('JPEG', None, nbands, self.config)
                    if not o.startswith('JPEG_QUALITY')]
            gdal.Translate(tmp_fpath, info, options=gdal.TranslateOptions(
                format='GTiff', creationOptions=opts))
            half = half.result()
        dataset = gdal.Open(tmp_fpath, gdal.GA_Update)
        shapes = overview_shapes(dataset.RasterYSize, dataset.RasterXSize,
                                 self.config['blocksize'])
        self._write_overviews(dataset, compute_overviews(half, shapes))
        dataset = None
        return True

    def write_array(self, fpath, array, compress):
        """Write an ``(H, W, C)`` array as a tiled GeoTIFF with overviews."""
        from osgeo import gdal, gdal_array
        h, w, c = array.shape
        gdal_type = gdal_array.NumericTypeCodeToGDALTypeCode(array.dtype)
        opts = creation_options(compress, array.dtype, c, self.config)
        dataset = gdal.GetDriverByName('GTiff').Create(fpath, w, h, c, gdal_type, options=opts)
        shapes = overview_shapes(h, w, self.config['blocksize'])
        dataset.WriteArray(array.transpose(2, 0, 1))
        self._write_overviews(dataset, compute_overviews(array, shapes))
        dataset = None

    @staticmethod
    def _write_overviews(dataset, levels):
        if not levels:
            return
        dataset.BuildOverviews('NONE', [2 ** (i + 1) for i in range(len(levels))])
        for index, level in enumerate(levels):
            for band in range(level.shape[2]):
                dataset.GetRasterBand(band + 1).GetOverview(index).WriteArray(level[:, :, band])

    def is_valid(self, cache_fpath):
        from osgeo import gdal
        try:
            dataset = gdal.Open(cache_fpath, gdal.GA_ReadOnly)
        except RuntimeError:
            return False
        return dataset is not None and dataset.RasterCount > 0

    def open_reader(self, cache_fpath):
        from osgeo import gdal
        in_place = self._in_place.get(cache_fpath, False)
        try:
            dataset = gdal.Open(cache_fpath, gdal.GA_ReadOnly)
        except RuntimeError as ex:
            if in_place:
                raise missing_or_unreadable(cache_fpath, ex) from None
            if not os.path.exists(cache_fpath):
                raise FileNotFoundError(cache_fpath) from None  # superseded: re-keyed by open()
            raise
        return GdalReader(dataset, cache_fpath, is_source=in_place)
