"""
Run the tests as if an optional dependency were not installed.

``NDSAMPLER_TEST_BLOCK_GDAL=1`` hides GDAL (``osgeo``),
``NDSAMPLER_TEST_BLOCK_TORCH=1`` hides torch, ``NDSAMPLER_TEST_BLOCK_ZARR=1``
hides zarr, ``NDSAMPLER_TEST_BLOCK_H5PY=1`` hides h5py (and hdf5plugin) and
``NDSAMPLER_TEST_BLOCK_DASK=1`` hides dask and distributed:
:func:`apply` puts ``None`` into
``sys.modules`` for the package and its submodules, which is how Python marks
a module that must not be imported: ``import osgeo`` raises
``ModuleNotFoundError`` and ``importlib.util.find_spec('osgeo')`` returns
``None``, as when the package is absent.  ``tests/conftest.py`` applies it
before ``ndsampler`` is imported, and ``tests/_workers.py`` again in spawned
processes (they inherit the environment, not ``sys.modules``)::

    NDSAMPLER_TEST_BLOCK_GDAL=1 .venv/bin/python -m pytest tests -q -p no:randomly
"""
import os
import sys

HIDEABLE = {
    'NDSAMPLER_TEST_BLOCK_GDAL': ('osgeo', ['osgeo.gdal', 'osgeo.gdal_array', 'osgeo.gdalconst',
                                            'osgeo.ogr', 'osgeo.osr', 'osgeo_utils']),
    'NDSAMPLER_TEST_BLOCK_TORCH': ('torch', ['torch.utils', 'torch.utils.data', 'torchvision']),
    'NDSAMPLER_TEST_BLOCK_ZARR': ('zarr', ['zarr.storage', 'zarr.codecs', 'zarr.core']),
    'NDSAMPLER_TEST_BLOCK_H5PY': ('h5py', ['hdf5plugin']),
    'NDSAMPLER_TEST_BLOCK_DASK': ('distributed', ['dask', 'dask.distributed']),
}


#: Packages that their own pytest plugin imports before any conftest (zarr
#: registers ``zarr.testing``): hiding them drops the loaded modules instead of
#: refusing.  The plugin keeps its objects; ``import zarr`` fails from then on.
IMPORTED_BY_PYTEST_PLUGINS = {'zarr'}


def requested(env_var):
    """True when the environment asks to hide the package of ``env_var``."""
    return os.environ.get(env_var, '').strip().lower() not in ('', '0', 'false', 'no')


def apply():
    """Hide every package the environment asks to hide; return their names."""
    hidden = []
    for env_var, (package, submodules) in HIDEABLE.items():
        if not requested(env_var):
            continue
        loaded = [name for name in sys.modules if sys.modules[name] is not None and
                  (name == package or name.startswith(package + '.'))]
        if loaded and package not in IMPORTED_BY_PYTEST_PLUGINS:
            raise RuntimeError('{}: {} was imported before it could be hidden: {}'.format(
                env_var, package, loaded[:5]))
        for name in loaded:
            del sys.modules[name]
        for name in [package] + submodules:
            sys.modules[name] = None
        hidden.append(package)
    return hidden


def importable(module):
    """True when ``module`` imports in this process (and is not hidden)."""
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def zarr_v3_importable():
    """True when zarr, version 3 or later, imports in this process."""
    try:
        import zarr
    except ImportError:
        return False
    return int(zarr.__version__.split('.')[0]) >= 3


def gdal_importable():
    """True when ``osgeo.gdal`` and ``osgeo.gdal_array`` import in this process."""
    try:
        from osgeo import gdal, gdal_array  # NOQA
    except ImportError:
        return False
    return True
