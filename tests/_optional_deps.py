"""
Run the tests as if an optional dependency were not installed.

``NDSAMPLER_TEST_BLOCK_GDAL=1`` hides GDAL (``osgeo``) and
``NDSAMPLER_TEST_BLOCK_TORCH=1`` hides torch: :func:`apply` puts ``None`` into
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
}


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
        if loaded:
            raise RuntimeError('{}: {} was imported before it could be hidden: {}'.format(
                env_var, package, loaded[:5]))
        for name in [package] + submodules:
            sys.modules[name] = None
        hidden.append(package)
    return hidden


def gdal_importable():
    """True when ``osgeo.gdal`` and ``osgeo.gdal_array`` import in this process."""
    try:
        from osgeo import gdal, gdal_array  # NOQA
    except ImportError:
        return False
    return True
