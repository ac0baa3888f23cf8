"""
The library's own exceptions, in one hierarchy.

Every error derives from :class:`NdsamplerError` and also from the built-in
type that user code already catches, so ``except KeyError`` keeps working for
an unknown id and ``except ValueError`` for a bad target.

Example:
    >>> from ndsampler import errors
    >>> [issubclass(errors.UnknownIdError, base) for base in (errors.NdsamplerError, KeyError)]
    [True, True]
    >>> issubclass(errors.InvalidTargetError, ValueError)
    True
    >>> issubclass(errors.SourceReadError, OSError)
    True
    >>> issubclass(errors.RemoteNotFoundError, (errors.SourceReadError, FileNotFoundError))
    True
"""
import importlib


class NdsamplerError(Exception):
    """
    Base class of every error raised by ndsampler itself.

    Example:
        >>> import ndsampler
        >>> sampler = ndsampler.CocoSampler.demo('shapes2', backend=None)
        >>> try:
        ...     sampler.load_sample({'gid': 999})
        ... except NdsamplerError as ex:
        ...     print(type(ex).__name__, isinstance(ex, KeyError), ex)
        UnknownIdError True unknown image id gid=999
    """


class UnknownIdError(NdsamplerError, KeyError):
    """An image, annotation or video id that the dataset does not have."""

    def __str__(self):
        # KeyError quotes its argument; keep the message readable.
        return str(self.args[0]) if self.args else ''


class UnknownChannelError(UnknownIdError):
    """A requested channel that the image does not provide."""


class InvalidTargetError(NdsamplerError, ValueError):
    """A target dictionary that cannot describe a window (NaN, bad size, no id)."""


class InvalidTargetTypeError(InvalidTargetError, TypeError):
    """A target value of the wrong type (a string where a number belongs)."""


class BackendConfigError(NdsamplerError, ValueError):
    """An unknown backend type or configuration key."""


class BackendUnavailableError(NdsamplerError, ImportError):
    """A backend whose optional dependency (GDAL, zarr, h5py) is not installed."""


def require_module(name, install_hint):
    """
    Import an optional dependency, or raise :class:`BackendUnavailableError`
    with ``install_hint`` (how to install it) and why the import failed.

    Example:
        >>> require_module('math', 'pip install math').__name__
        'math'
        >>> require_module('no_such_module_here', 'pip install it')
        Traceback (most recent call last):
        ...
        ndsampler.errors.BackendUnavailableError: pip install it (import failed: No module named 'no_such_module_here')
    """
    try:
        importlib.import_module(name.partition('.')[0])  # a hidden parent hides its modules
        return importlib.import_module(name)
    except ImportError as ex:
        raise BackendUnavailableError('{} (import failed: {})'.format(install_hint, ex)) from ex


class SourceReadError(NdsamplerError, OSError):
    """A source image that is missing, empty or cannot be decoded."""


class CacheError(NdsamplerError, OSError):
    """A cache file that cannot be written, or is corrupt and cannot be rebuilt."""


class NegativeSamplingError(NdsamplerError, RuntimeError):
    """Fewer background windows than asked for could be found (``exact=True``)."""


GDAL_INSTALL_HINT = (
    "The 'cog' backend needs GDAL's Python bindings (osgeo.gdal_array). "
    "On Debian/Ubuntu: apt-get install libgdal-dev gdal-bin, then, with numpy, "
    "setuptools and wheel already installed: pip install "
    "--no-build-isolation --no-cache-dir GDAL==$(gdal-config --version). "
    "Alternatively use backend='npy' or backend=None, which need no GDAL.")


class StitchError(NdsamplerError, ValueError):
    """A bad argument to a stitcher (unknown weighting, bad slices or weights)."""


class StitchShapeError(StitchError):
    """A prediction whose dimensions or channel count do not fit the stitcher."""


class RemoteSourceError(SourceReadError):
    """A remote source (URL) that cannot be read; ``filename`` is the URL
    without credentials or signatures."""


class RemoteNotFoundError(RemoteSourceError, FileNotFoundError):
    """A remote source that does not exist (HTTP 404, no such object or bucket)."""


class RemoteAccessDeniedError(RemoteSourceError, PermissionError):
    """A remote source the credentials may not read (HTTP 401 / 403)."""


class RemoteUnavailableError(RemoteSourceError, ConnectionError):
    """A remote source that kept failing transiently (5xx, resets, timeouts)
    after every retry."""
