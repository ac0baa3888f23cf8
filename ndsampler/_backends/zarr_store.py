"""
The ``'zarr'`` backend: each source converted once into a zarr v3 group
``<workdir>/_cache/frames/zarr/<confighash>/<stem>_<pathhash>_<key>.zarr``
(a directory), read by window through the ``zarr`` package.

Layout: arrays ``0``, ``1``, ... of shape ``(H, W, C)``, level ``k`` being
the exact 2x2 box average of level ``k - 1`` (as the ``'cog'`` overviews),
until the coarsest fits in one chunk; chunks of ``chunksize`` x
``chunksize`` x C (default 256) grouped into shards of ``shardsize`` px
(default 2048, so a 2048 px level is one file), compressed losslessly
(``compress``: ``'blosc'``, the default, is Blosc with zstd level 1 and byte
shuffle; ``'zstd'``; ``'none'``).  The group carries OME-NGFF 0.5 style
``multiscales`` metadata (axes ``y``, ``x``, ``c``; each level's scale).

Every chunk is written, even an all-zero one, so a chunk that goes missing
is an error when read (zarr would otherwise fill it with zeros).  The cache
directory is published and stamped by :mod:`ndsampler._cachefile` (a
manifest of its files), so a truncated or changed shard is rebuilt.

Example:
    >>> # xdoctest: +REQUIRES(module:zarr)
    >>> import numpy as np, ubelt as ub
    >>> dpath = ub.Path.appdir('ndsampler/doctest/zarr_store').delete().ensuredir()
    >>> image = np.arange(600 * 500, dtype=np.uint16).reshape(600, 500, 1)
    >>> write_zarr_pyramid(dpath / 'a.zarr', image, dict(DEFAULTS, shardsize=512))
    >>> [level.shape for level in open_zarr_levels(dpath / 'a.zarr')]
    [(600, 500, 1), (300, 250, 1), (150, 125, 1)]
"""
import errno
import functools
import os

from ndsampler._backends.array_sources import (READ_ERRORS, AxesView, LevelsReader,
                                               pick_levels)
from ndsampler._backends.cached import ChunkedBackend
from ndsampler._backends.cog import compute_overviews, overview_shapes
from ndsampler._backends.source import decode_image
from ndsampler.errors import (BackendConfigError, BackendUnavailableError, CacheError,
                              require_module)

ZARR_INSTALL_HINT = ("The 'zarr' backend needs the zarr package, version 3 or later: "
                     "pip install 'zarr>=3'. Alternatively use backend='npy', which "
                     "needs nothing more.")
COMPRESSIONS = ('blosc', 'zstd', 'none')
DEFAULTS = {'compress': 'blosc', 'chunksize': 256, 'shardsize': 2048}
#: Store keys of metadata: the only ones that may be missing from a cache.
METADATA_KEYS = ('zarr.json', '.zarray', '.zgroup', '.zattrs', '.zmetadata')


def import_zarr():
    """
    The ``zarr`` module (v3 or later).

    Raises:
        BackendUnavailableError: with what to install.

    Example:
        >>> # xdoctest: +REQUIRES(module:zarr)
        >>> int(import_zarr().__version__.split('.')[0]) >= 3
        True
    """
    zarr = require_module('zarr', ZARR_INSTALL_HINT)
    if int(zarr.__version__.split('.')[0]) < 3:
        raise BackendUnavailableError(
            '{} (found zarr {})'.format(ZARR_INSTALL_HINT, zarr.__version__))
    return zarr


@functools.lru_cache(maxsize=None)
def strict_store_class():
    """A read-only ``LocalStore`` on which a missing chunk raises
    ``FileNotFoundError`` instead of reading as the fill value."""
    from zarr.storage import LocalStore

    class StrictLocalStore(LocalStore):
        async def get(self, key, prototype=None, byte_range=None):
            value = await super().get(key, prototype, byte_range)
            if value is None and key.rsplit('/', 1)[-1] not in METADATA_KEYS:
                raise FileNotFoundError(errno.ENOENT, 'missing zarr chunk',
                                        os.path.join(str(self.root), key))
            return value
    return StrictLocalStore


def open_zarr_levels(path, member='', strict=True):
    """
    The levels of the zarr array or group at ``member`` of the store at
    ``path``, as ``(H, W, C)`` views (see
    :mod:`ndsampler._backends.array_sources` for which arrays are levels).
    ``strict``: a missing chunk is an error (caches) rather than zeros.
    """
    zarr = import_zarr()
    store_cls = strict_store_class() if strict else zarr.storage.LocalStore
    node = zarr.open(store=store_cls(os.fspath(path), read_only=True), mode='r',
                     path=member.strip('/'))
    if isinstance(node, zarr.Array):
        return [AxesView(node)]
    attrs = dict(node.attrs)
    multiscales = (attrs.get('ome') or {}).get('multiscales') or attrs.get('multiscales')
    paths, axes = None, None
    if multiscales:
        paths = [dataset['path'] for dataset in multiscales[0]['datasets']]
        names = [a['name'] if isinstance(a, dict) else a for a in multiscales[0].get('axes', [])]
        axes = ''.join(names) or None
    levels = pick_levels([] if paths else list(node.array_keys()), lambda name: True, paths)
    return [AxesView(node[name], axes) for name in levels]


def ngff_attributes(name, nlevels):
    """OME-NGFF 0.5 style ``multiscales`` attributes of a ``(y, x, c)`` pyramid."""
    axes = [{'name': 'y', 'type': 'space'}, {'name': 'x', 'type': 'space'},
            {'name': 'c', 'type': 'channel'}]
    datasets = [{'path': str(k), 'coordinateTransformations': [
        {'type': 'scale', 'scale': [2.0 ** k, 2.0 ** k, 1.0]}]} for k in range(nlevels)]
    return {'ome': {'version': '0.5', 'multiscales': [
        {'name': name, 'axes': axes, 'datasets': datasets}]}}


def write_zarr_pyramid(path, array, config):
    """Write an ``(H, W, C)`` array and its box-averaged levels as a zarr v3 group."""
    zarr = import_zarr()
    from zarr.codecs import BloscCodec, ZstdCodec
    chunk, shard = int(config['chunksize']), int(config['shardsize'])
    levels = [array] + compute_overviews(array, overview_shapes(*array.shape[0:2], chunk))
    compress = str(config['compress']).lower()
    compressors = {'blosc': [BloscCodec(cname='zstd', clevel=1, shuffle='shuffle')],
                   'zstd': [ZstdCodec(level=1)], 'none': None}[compress]
    group = zarr.open_group(store=zarr.storage.LocalStore(os.fspath(path)), mode='w-',
                            zarr_format=3, attributes=ngff_attributes(
                                os.path.basename(os.fspath(path)), len(levels)))
    for k, level in enumerate(levels):
        chunks = tuple(min(chunk, n) for n in level.shape[0:2]) + (level.shape[2],)
        shards = tuple(c * min(shard // chunk, -(-n // c))
                       for c, n in zip(chunks[0:2], level.shape[0:2])) + (level.shape[2],)
        group.create_array(str(k), data=level, chunks=chunks, shards=shards,
                           compressors=compressors, fill_value=0, dimension_names=('y', 'x', 'c'),
                           config={'write_empty_chunks': True})


class ZarrBackend(ChunkedBackend):
    """One zarr v3 multiscale group per source; see the module docstring."""
    type = 'zarr'
    ext = '.zarr'
    DEFAULT_CONFIG = DEFAULTS

    def subdirs(self):
        return ['zarr', self.config_hash()]

    @staticmethod
    def check_config(config):
        if str(config['compress']).lower() not in COMPRESSIONS:
            raise BackendConfigError('unknown zarr compress={!r}; expected one of {}'.format(
                config['compress'], COMPRESSIONS))
        chunk, shard = config['chunksize'], config['shardsize']
        if not (isinstance(chunk, int) and isinstance(shard, int) and 0 < chunk <= shard
                and shard % chunk == 0):
            raise BackendConfigError(
                'zarr chunksize={!r} and shardsize={!r} must be positive integers, the '
                'shard size a multiple of the chunk size'.format(chunk, shard))

    def build(self, src_fpath, tmp_fpath):
        write_zarr_pyramid(tmp_fpath, decode_image(src_fpath), self.config)

    def is_valid(self, cache_fpath):
        try:
            coarsest = open_zarr_levels(cache_fpath)[-1]
            return coarsest[0:1, 0:1].size == coarsest.shape[2]
        except READ_ERRORS:
            return False

    def open_reader(self, cache_fpath):
        if not os.path.isdir(cache_fpath):
            raise FileNotFoundError(cache_fpath)  # superseded: re-keyed by open()
        try:
            levels = open_zarr_levels(cache_fpath)
        except READ_ERRORS as ex:
            raise CacheError(errno.EIO, 'cannot open zarr cache ({})'.format(ex),
                             cache_fpath) from None
        return LevelsReader(levels, cache_fpath, is_source=False)
