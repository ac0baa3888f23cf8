"""
Optional GDAL: import it only when a backend needs it.

Example:
    >>> from ndsampler.utils.util_gdal import have_gdal
    >>> isinstance(have_gdal(), bool)
    True
"""
import functools

from ndsampler.errors import BackendUnavailableError, GDAL_INSTALL_HINT


@functools.lru_cache(maxsize=None)
def have_gdal():
    """True when GDAL's Python bindings, including ``gdal_array``, import."""
    try:
        import_gdal()
    except BackendUnavailableError:
        return False
    return True


def import_gdal():
    """
    Return the ``osgeo.gdal`` module with exceptions enabled.

    Raises:
        BackendUnavailableError: with installation instructions.
    """
    try:
        from osgeo import gdal
        import osgeo.gdal_array  # NOQA: numpy support, needed for reads
    except ImportError as ex:
        raise BackendUnavailableError(
            '{} (import failed: {})'.format(GDAL_INSTALL_HINT, ex)) from ex
    gdal.UseExceptions()
    return gdal
