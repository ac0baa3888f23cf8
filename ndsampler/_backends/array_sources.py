"""
Sources that are already chunked arrays (zarr stores, HDF5 datasets), read
in place, and the reader over a pyramid of such arrays that the ``'zarr'``
and ``'hdf5'`` caches use too.

Which ``file_name`` is an array source (decided by the name alone):

=================================  =============================================
``<path>.zarr``                    a zarr store (v2 or v3) holding an array, or a
                                   group: an OME-NGFF ``multiscales`` group
                                   (levels from its ``datasets``, axes from its
                                   ``axes``), a group with arrays ``0``, ``1``,
                                   ... (level ``k`` when it is ``2**k`` smaller),
                                   or a group with exactly one array
``<path>.zarr::<group/array>``     the array or group at that path in the store
``<path>.h5`` (``.hdf5``,          the file's root group, read as above: datasets
``.hdf``, ``.he5``)                ``0``, ``1``, ... or its one dataset
``<path>.h5::/<group/dataset>``    that dataset or group in the file
=================================  =============================================

Arrays are ``(H, W)`` or ``(H, W, C)``, unless OME-NGFF axes say otherwise
(any order of ``y``, ``x`` and an optional ``c``).  A scaled read uses the
coarsest level whose pixel grid the window's edges fall on, as the ``'cog'``
backend does with overviews.

Example:
    >>> # xdoctest: +REQUIRES(module:zarr)
    >>> import numpy as np, ubelt as ub, zarr
    >>> dpath = ub.Path.appdir('ndsampler/doctest/array_sources').delete().ensuredir()
    >>> fpath = dpath / 'img.zarr'
    >>> zarr.create_array(fpath, data=np.arange(24, dtype=np.uint8).reshape(4, 6))
    <Array file://.../img.zarr shape=(4, 6) dtype=uint8>
    >>> is_array_source(fpath), is_array_source(dpath / 'img.png')
    (True, False)
    >>> reader = open_array_source(fpath)
    >>> reader.describe()
    (4, 6, 1, dtype('uint8'))
    >>> reader.read(1, 3, 2, 4)[..., 0].tolist()
    [[8, 9], [14, 15]]
    >>> load_array_source(fpath).shape
    (4, 6, 1)
"""
import errno
import os

import numpy as np

from ndsampler._backends.base import Reader
from ndsampler._backends.readers import coarsest_exact_level, copy_into, resize_into
from ndsampler.errors import CacheError, SourceReadError

SEP = '::'
HDF5_EXTS = ('.h5', '.hdf5', '.hdf', '.he5')
ZARR_EXTS = ('.zarr',)
#: Errors a chunked-array library raises for a damaged or vanished chunk.
READ_ERRORS = (OSError, RuntimeError, ValueError, KeyError)


def split_source(fpath):
    """
    ``(kind, path, member)`` of a source name: ``kind`` is ``'zarr'``,
    ``'hdf5'`` or ``None`` (not an array source).

    Example:
        >>> split_source('/data/a.h5::/images/rgb')
        ('hdf5', '/data/a.h5', '/images/rgb')
        >>> split_source('/data/b.zarr/'), split_source('/data/c.png')
        (('zarr', '/data/b.zarr', ''), (None, '/data/c.png', ''))
        >>> split_source('https://host/d.zarr')[0] is None
        True
    """
    path, _, member = os.fspath(fpath).partition(SEP)
    ext = os.path.splitext(path.rstrip('/'))[1].lower()
    kind = 'zarr' if ext in ZARR_EXTS else 'hdf5' if ext in HDF5_EXTS else None
    if '://' in path:
        kind = None  # a URL (ndsampler.remote): local stores only
    if kind is None:
        return None, os.fspath(fpath), ''
    return kind, path.rstrip('/') if kind == 'zarr' else path, member


def is_array_source(fpath):
    """True when ``fpath`` names a zarr or HDF5 source (see the module docstring)."""
    return split_source(fpath)[0] is not None


def open_array_source(fpath):
    """A :class:`LevelsReader` on a zarr or HDF5 source, read in place.

    Raises:
        SourceReadError: naming the source when it is missing, cannot be
            opened, or holds no single image array.
        BackendUnavailableError: when ``zarr`` or ``h5py`` is not installed.
    """
    kind, path, member = split_source(fpath)
    if not os.path.exists(path):
        raise SourceReadError(errno.ENOENT, 'source image does not exist', os.fspath(fpath))
    if kind == 'zarr':
        from ndsampler._backends.zarr_store import open_zarr_levels
        try:
            levels = open_zarr_levels(path, member, strict=False)
        except READ_ERRORS as ex:
            raise unreadable(fpath, ex) from None
        return LevelsReader(levels, os.fspath(fpath), is_source=True)
    if kind == 'hdf5':
        from ndsampler._backends.hdf5 import Hdf5Reader
        return Hdf5Reader(path, member, is_source=True, fpath=os.fspath(fpath))
    raise SourceReadError(errno.EINVAL, 'not a zarr or HDF5 source name', os.fspath(fpath))


def load_array_source(fpath):
    """The whole full-resolution ``(H, W, C)`` array of a zarr or HDF5 source."""
    reader = open_array_source(fpath)
    return reader.read(0, reader.height, 0, reader.width)


def unreadable(fpath, why):
    """The error for an array source that exists and cannot be read."""
    return SourceReadError(errno.EIO, 'cannot read array source ({})'.format(why), os.fspath(fpath))


def pick_levels(names, is_array, multiscale_paths=None):
    """
    The member paths of the levels of a group: the ``multiscales`` dataset
    paths when given, else ``0``, ``1``, ... while present, else its one
    array.  ``KeyError`` when it has none of them.

    Example:
        >>> pick_levels(['0', '1', '3'], lambda n: True)
        ['0', '1']
        >>> pick_levels(['labels', 'image'], lambda n: n == 'image')
        ['image']
    """
    if multiscale_paths:
        return list(multiscale_paths)
    names = set(names)
    levels = []
    while str(len(levels)) in names and is_array(str(len(levels))):
        levels.append(str(len(levels)))
    if levels:
        return levels
    arrays = sorted(n for n in names if is_array(n))
    if len(arrays) != 1:
        raise KeyError('expected one array or arrays 0, 1, ...; found {}'.format(arrays or 'none'))
    return arrays


class AxesView:
    """
    An array of axes ``axes`` (a string of ``y``, ``x`` and optionally
    ``c``) seen as ``(H, W, C)``: ``view[ys, xs]`` reads a block.

    Example:
        >>> view = AxesView(np.arange(24).reshape(2, 3, 4), 'cyx')
        >>> view.shape, view[0:1, 1:3].tolist()
        ((3, 4, 2), [[[1, 13], [2, 14]]])
    """

    def __init__(self, array, axes=None):
        axes = axes or ('yxc' if array.ndim == 3 else 'yx')
        if sorted(axes) not in (['c', 'x', 'y'], ['x', 'y']) or len(axes) != array.ndim:
            raise ValueError('cannot read axes {!r} of a {}-D array as an image'.format(
                axes, array.ndim))
        self.array, self.axes = array, axes
        sizes = dict(zip(axes, array.shape))
        self.shape = (sizes['y'], sizes['x'], sizes.get('c', 1))
        self.dtype = np.dtype(array.dtype)
        order = [axes.index(a) for a in 'yxc' if a in axes]
        self._order = None if order == sorted(order) else order  # to (y, x, c)

    def __getitem__(self, index):
        ys, xs = index
        where = {'y': ys, 'x': xs, 'c': slice(None)}
        block = np.asarray(self.array[tuple(where[a] for a in self.axes)])
        if self._order is not None:
            block = block.transpose(self._order)
        return block if 'c' in self.axes else block[:, :, None]


class LevelsReader(Reader):
    """
    Reads windows of a pyramid of ``(H, W, C)`` array views (level ``k``
    ``2**k`` times smaller) straight into the caller's buffer; a shrink reads
    the coarsest level whose pixels tile the window exactly and
    area-averages it.  Read failures raise ``SourceReadError`` for a source
    and ``CacheError`` for a cache, naming the file.
    """

    def __init__(self, levels, fpath=None, is_source=False):
        self.levels = levels
        self.fpath = fpath
        self.is_source = is_source
        self.height, self.width, self.nbands = levels[0].shape
        self.dtype = levels[0].dtype
        self.exact = exact_levels([level.shape for level in levels])

    def read_into(self, out, ya, yb, xa, xb, bands=None):
        block = self._read_level(0, ya, yb, xa, xb)
        copy_into(out, block if bands is None else block[:, :, bands])

    def read_resized_into(self, out, ya, yb, xa, xb, bands=None):
        factor = min((yb - ya) / out.shape[0], (xb - xa) / out.shape[1])
        k = coarsest_exact_level(self.exact, factor, (ya, yb, xa, xb))
        block = self._read_level(k, ya >> k, -(-yb >> k), xa >> k, -(-xb >> k))
        if bands is not None:
            block = block[:, :, bands]
        resize_into(out, block)

    def _read_level(self, k, ya, yb, xa, xb):
        try:
            return self.levels[k][ya:yb, xa:xb]
        except READ_ERRORS as ex:
            error = SourceReadError if self.is_source else CacheError
            raise error(errno.EIO, 'cannot read window [{}:{}, {}:{}] of level {} ({}: {})'.format(
                ya, yb, xa, xb, k, type(ex).__name__, ex), self.fpath) from ex


def exact_levels(shapes):
    """
    For each level after the first, ``k`` when its shape is level 0's halved
    ``k`` times (rounding up), else ``None``.

    Example:
        >>> exact_levels([(5, 9, 1), (3, 5, 1), (2, 3, 1), (1, 1, 1)])
        [1, 2, None]
    """
    h, w = shapes[0][0:2]
    return [k if tuple(shape[0:2]) == (-(-h >> k), -(-w >> k)) else None
            for k, shape in enumerate(shapes[1:], start=1)]
