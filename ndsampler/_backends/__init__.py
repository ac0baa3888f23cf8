"""
Frame backends: how pixels of one source file are stored and read.

==========  =================================================================
``None``    read the source; decoded PNG/JPEG kept in a byte-bounded LRU,
            TIFFs read by window through GDAL
``'npy'``   uncompressed ``.npy`` cache, read through a memory map
``'cog'``   tiled GeoTIFF cache (256 px tiles, internal overviews), via GDAL
``'zarr'``  zarr v3 multiscale group per image (sharded 256 px chunks, Blosc-zstd)
``'hdf5'``  HDF5 file per image (256 px chunks, gzip or zstd, level datasets)
``'auto'``  ``'cog'`` when GDAL is importable, else ``'npy'``
==========  =================================================================

``'zarr'`` needs ``zarr>=3`` and ``'hdf5'`` needs ``h5py``; without them,
making the backend raises :class:`~ndsampler.errors.BackendUnavailableError`.

Example:
    >>> from ndsampler._backends import coerce_backend_config
    >>> coerce_backend_config('npy')
    {'type': 'npy', 'config': {}}
    >>> coerce_backend_config({'type': 'cog', 'config': {'compress': 'DEFLATE'}})['config']['compress']
    'DEFLATE'
    >>> coerce_backend_config({'type': 'zarr', 'config': {'compress': 'zstd'}})
    {'type': 'zarr', 'config': {'compress': 'zstd', 'chunksize': 256, 'shardsize': 2048}}
    >>> coerce_backend_config('tiledb')
    Traceback (most recent call last):
    ...
    ndsampler.errors.BackendConfigError: unknown backend type 'tiledb'; expected one of None, 'npy', 'cog', 'zarr', 'hdf5', 'auto'
"""
from ndsampler._backends.cog import CogBackend
from ndsampler._backends.direct import DirectBackend
from ndsampler._backends.hdf5 import Hdf5Backend, import_h5py
from ndsampler._backends.npy import NpyBackend
from ndsampler._backends.tiles import budget_of
from ndsampler._backends.zarr_store import ZarrBackend, import_zarr
from ndsampler.errors import BackendConfigError
from ndsampler.utils.util_gdal import have_gdal, import_gdal

BACKENDS = {None: DirectBackend, 'npy': NpyBackend, 'cog': CogBackend, 'zarr': ZarrBackend,
            'hdf5': Hdf5Backend}
#: The import each backend with an optional dependency needs (raising
#: ``BackendUnavailableError`` with what to install).
REQUIRES = {'cog': import_gdal, 'zarr': import_zarr, 'hdf5': import_h5py}
#: Keys of the dict form; the original's ``_hack_use_cli`` is accepted and has no effect.
TOP_LEVEL_KEYS = {'type', 'config', '_hack_use_cli'}


def coerce_backend_config(backend='auto'):
    """Normalise a backend argument to ``{'type': ..., 'config': {...}}``."""
    if backend is None or isinstance(backend, str):
        type_, config = backend, {}
    elif isinstance(backend, dict):
        unknown = sorted(set(backend) - TOP_LEVEL_KEYS)
        if unknown:
            raise BackendConfigError(
                'unknown backend key(s) {}; expected {}'.format(
                    unknown, sorted(TOP_LEVEL_KEYS)))
        type_, config = backend.get('type', None), backend.get('config', None) or {}
    else:
        raise BackendConfigError(
            'backend must be None, a string or a dict, got {!r}'.format(backend))
    if type_ == 'auto':
        type_ = 'cog' if have_gdal() else 'npy'
    if type_ not in BACKENDS:
        raise BackendConfigError(
            "unknown backend type {!r}; expected one of None, 'npy', 'cog', 'zarr', "
            "'hdf5', 'auto'".format(type_))
    cls = BACKENDS[type_]
    allowed = set(cls.DEFAULT_CONFIG) | set(cls.OPTIONAL_KEYS)
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise BackendConfigError(
            'unknown config key(s) {} for backend {!r}; expected {}'.format(
                unknown, type_, sorted(allowed)))
    merged = dict(cls.DEFAULT_CONFIG, **config)
    if getattr(cls, 'shares_tiles', False):
        budget_of(merged.get('shared_tiles', True))
    cls.check_config(merged)
    return {'type': type_, 'config': merged}


def make_backend(config, workdir, hashid_mode='PATH'):
    """Instantiate the backend for a normalised config."""
    if config['type'] in REQUIRES:
        REQUIRES[config['type']]()  # raises BackendUnavailableError with install hints
    return BACKENDS[config['type']](config['config'], workdir, hashid_mode)
