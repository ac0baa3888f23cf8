"""
The frames layer: image id -> pixels, through a backend.

:class:`Frames` maps each image id to one or more source files ("parts", each
holding some of the image's channels).  :meth:`Frames.open` asks the backend
for a reader on each part a channel selection needs (building caches under
their locks the first time) and returns one :data:`ImageHandle` that answers
both the image's size and its reads; :meth:`Frames.read` fills one output
buffer for a resolved :class:`ndsampler.windows.SampleSpec`.  Subclasses
only say where an image's files are: :class:`SimpleFrames` from a dict of
paths, :class:`ndsampler.coco_frames.CocoFrames` from a kwcoco dataset.

Example:
    >>> import ndsampler
    >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
    >>> gid = frames.image_ids[0]
    >>> frames.load_region(gid, (slice(-20), slice(-10))).shape
    (492, 502, 3)
    >>> frames.open(gid).dims
    (512, 512)
"""
import itertools
import os
from collections import namedtuple

import numpy as np
import ubelt as ub

from ndsampler import windows
from ndsampler._backends import coerce_backend_config, make_backend
from ndsampler._backends.readers import copy_into
from ndsampler._handles import HANDLES
from ndsampler.errors import (BackendConfigError, InvalidTargetError, InvalidTargetTypeError,
                              UnknownChannelError, UnknownIdError)

#: One file of an image: its path, its channel names (``None`` when the
#: dataset does not name them), whether it is aligned with the image (no
#: warp), which is what the fast path needs, and whether it is the image's
#: main file (whose channels a request without ``channels`` gets).
Part = namedtuple('Part', ['fpath', 'channels', 'aligned', 'main'])

#: How to read a channel selection: for each part used, the part index, the
#: band indices to take from it and the output position of the first (both
#: ``None``: all its bands, after the previous part's); the output channel
#: names; and the output positions of channels the image lacks.
BandPlan = namedtuple('BandPlan', ['reads', 'names', 'missing'])

#: An image opened for reading a channel selection: its ``(h, w)``, the
#: output dtype and band count, ``reads`` as ``(reader, bands, start, stop)``
#: (bands of one reader fill output bands ``start:stop``), the output
#: positions of missing channels, and ``warped``: True when the parts need a
#: warp (then ``reads`` is empty and the frames layer resamples instead).
ImageHandle = namedtuple('ImageHandle', ['dims', 'dtype', 'nbands', 'names', 'reads',
                                         'missing', 'warped'])

#: The channel request for every band of every part of an image.
ALL_CHANNELS = '<all>'

#: Distinguishes the handles of different frames objects in the shared pool.
_NAMESPACES = itertools.count()


def channel_code(channels):
    """
    A channel request as a hashable code: ``None`` (the image's main file),
    ``'<all>'`` (every part), or a kwcoco channel code string; kwcoco
    ``FusedChannelSpec`` / ``ChannelSpec`` objects and lists of names are
    accepted.

    Example:
        >>> from delayed_image.channel_spec import FusedChannelSpec
        >>> channel_code(FusedChannelSpec.coerce('r|g')), channel_code(['r', 'g'])
        ('r|g', 'r|g')
        >>> channel_code(None), channel_code('<all>')
        (None, '<all>')
    """
    if channels is None or channels is ub.NoParam or isinstance(channels, str):
        return None if channels is ub.NoParam else channels
    spec = getattr(channels, 'spec', None)
    if isinstance(spec, str):
        return spec
    if isinstance(channels, (list, tuple)) and all(isinstance(c, str) for c in channels):
        return '|'.join(channels)
    raise InvalidTargetTypeError(
        "channels must be a kwcoco channel code or spec, got {!r}".format(channels))


def output_dtype(dtype, fill):
    """
    The dtype of a window: the data's, or float32 when integer data is
    padded with NaN.

    Example:
        >>> output_dtype(np.dtype('uint8'), float('nan')), output_dtype(np.dtype('uint8'), 0)
        (dtype('float32'), dtype('uint8'))
    """
    if fill != fill and dtype.kind in 'biu':
        return np.dtype(np.float32)
    return dtype


def allocate(shape, dtype, spec, dst, out=None):
    """
    An output buffer (``out`` if given, else a new one) whose part outside
    ``dst``, the ``(y0, y1, x0, x1)`` the data fills (``None``: none; for a
    video, every frame's), holds the spec's constant; uninitialised where
    the data goes or a ``np.pad`` mode fills the rest.

    Example:
        >>> from ndsampler.windows import resolve_sample
        >>> spec = resolve_sample({'slices': (slice(-1, 2), slice(0, 2)),
        ...                        'padkw': {'constant_values': 7}}, (10, 10), (1,))
        >>> allocate((3, 2, 1), np.uint8, spec, dst=None)[:, :, 0].tolist()
        [[7, 7], [7, 7], [7, 7]]
        >>> given = np.ones((3, 2, 1), np.uint8)
        >>> allocate((3, 2, 1), np.uint8, spec, (1, 3, 0, 2), given)[:, :, 0].tolist()
        [[7, 7], [1, 1], [1, 1]]
    """
    fill = spec.fill
    covered = dst is not None and dst == (0, shape[-3], 0, shape[-2])
    if out is not None:
        if out.shape != shape:
            raise ValueError('the output buffer has shape {}, the window {}'.format(out.shape, shape))
        if covered or fill is None:
            return out
    elif covered or fill is None:
        return np.empty(shape, dtype)
    elif fill == 0:
        return np.zeros(shape, dtype)
    try:
        if out is None:
            return np.full(shape, fill, dtype)
        if dst is None:
            out[...] = fill
        else:  # only around the data: a batch row is written once
            for y0, y1, x0, x1 in windows.margins(dst, shape[-3], shape[-2]):
                out[..., y0:y1, x0:x1, :] = fill
        return out
    except (OverflowError, ValueError, TypeError):
        raise InvalidTargetError('the pad value {!r} (padkw={!r}, nodata={!r}) cannot fill {} '
                                 'data'.format(fill, spec.padkw, spec.nodata,
                                               dtype if out is None else out.dtype)) from None


class Frames:
    """
    Abstract access to the pixels of a collection of images.

    Args:
        hashid_mode (str): how a cache file is keyed to its source: ``'PATH'``
            (real path, inode, size, mtime and ctime) or ``'PIXELS'`` (the
            file's bytes).
        workdir (str | PathLike | None): where caches live, under
            ``<workdir>/_cache/frames``; default ``ub.Path.appdir('ndsampler')``.
        backend (None | str | dict): ``None``, ``'npy'``, ``'cog'``, ``'auto'``
            or ``{'type': ..., 'config': {...}}``.

    Example:
        >>> import ndsampler
        >>> frames = ndsampler.SimpleFrames.demo(backend=None)
        >>> isinstance(frames, Frames), len(frames), frames[0].shape
        (True, 2, (512, 512, 3))
    """

    DEFAULT_NPY_CONFIG = {'type': 'npy', 'config': {}}
    DEFAULT_COG_CONFIG = {'type': 'cog', 'config': {'compress': 'auto'}}

    def __init__(self, hashid_mode='PATH', workdir=None, backend=None):
        if hashid_mode not in ('PATH', 'PIXELS'):
            raise BackendConfigError("hashid_mode must be 'PATH' or 'PIXELS', got "
                             "{!r}".format(hashid_mode))
        self.hashid_mode = hashid_mode
        if workdir is None:
            workdir = ub.Path.appdir('ndsampler')
        self.workdir = ub.Path(workdir)
        self._backend = coerce_backend_config(backend)
        self.backend = make_backend(self._backend, self.workdir, hashid_mode)
        self._plans = {}
        self._namespace = next(_NAMESPACES)

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_plans'] = {}
        del state['_namespace']
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._namespace = next(_NAMESPACES)

    # -- what subclasses provide ---------------------------------------------
    @property
    def image_ids(self):
        """
        The ids of the images, in the order ``len`` and indexing use.

        Example:
            >>> import ndsampler
            >>> frames = ndsampler.SimpleFrames.demo(backend=None)
            >>> frames.image_ids, len(frames)
            ([1, 2], 2)
        """
        raise NotImplementedError

    def _lookup_parts(self, image_id):
        """The :class:`Part` list of an image (raise ``UnknownIdError``)."""
        raise NotImplementedError

    def _warped_dims(self, image_id):
        """``(h, w)`` of an image whose parts need a warp."""
        raise NotImplementedError(
            'image {} has parts that need a warp; only CocoFrames reads '
            'them'.format(image_id))

    def _read_warped(self, spec, index):
        """Frame ``index`` of a sample, resampled through its warps."""
        raise NotImplementedError(
            'image {} has parts that need a warp; only CocoFrames reads '
            'them'.format(spec.gids[index]))

    # -- public API ----------------------------------------------------------
    @property
    def cache_dpath(self):
        """
        Where this backend keeps its cache files (``None`` without one).

        Example:
            >>> import os, ndsampler
            >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
            >>> os.path.relpath(frames.cache_dpath, frames.workdir)
            '_cache/frames/npy'
            >>> ndsampler.SimpleFrames.demo(backend=None).cache_dpath is None
            True
        """
        return self.backend.cache_dpath

    def __len__(self):
        return len(self.image_ids)

    def __getitem__(self, index):
        return self.load_image(self.image_ids[index])

    def band_plan(self, image_id, channels=None, missing_ok=False):
        """
        Which bands of which parts make up ``channels`` (see
        :func:`channel_code`), in that order: ``None`` is the bands of the
        image's main file (every part when it has none, as for a kwcoco
        image made only of assets), ``'<all>'`` every band of every part.
        With ``missing_ok`` a channel the image lacks is listed in
        ``missing`` instead of raising ``UnknownChannelError``.

        Example:
            >>> import kwcoco
            >>> from ndsampler.coco_frames import CocoFrames
            >>> frames = CocoFrames(kwcoco.CocoDataset.demo('vidshapes1-multispectral'), backend=None)
            >>> frames.band_plan(1, 'B1|nir', missing_ok=True)
            BandPlan(reads=[(0, [0], 0)], names=['B1', 'nir'], missing=[1])
        """
        key = (image_id, channels, missing_ok)
        plan = self._plans.get(key, None)
        if plan is None:
            plan = self._plans[key] = self._make_band_plan(image_id, channels, missing_ok)
        return plan

    def _make_band_plan(self, image_id, channels, missing_ok):
        parts = self._lookup_parts(image_id)
        if channels is None or channels == ALL_CHANNELS:
            used = [i for i, part in enumerate(parts) if part.main or channels == ALL_CHANNELS]
            used = used or list(range(len(parts)))
            names = []
            for i in used:
                if parts[i].channels is None:
                    names = None
                    break
                names.extend(parts[i].channels)
            return BandPlan([(i, None, None) for i in used], names, [])
        from delayed_image.channel_spec import ChannelSpec
        wanted = ChannelSpec.coerce(channels).fuse().normalize().as_list()
        where = {}
        for index, part in enumerate(parts):
            for band, name in enumerate(part.channels or []):
                where.setdefault(name, (index, band))
        reads, missing = [], []
        for position, name in enumerate(wanted):
            if name not in where:
                if missing_ok:
                    missing.append(position)
                    continue
                known = sorted(where) if where else 'none named'
                raise UnknownChannelError(
                    'image {} has no channel {!r} (channels: {})'.format(
                        image_id, name, known))
            index, band = where[name]
            last = reads[-1] if reads else None
            if last is not None and last[0] == index and last[2] + len(last[1]) == position:
                last[1].append(band)
            else:
                reads.append((index, [band], position))
        return BandPlan(reads, wanted, missing)

    def open(self, image_id, channels=None, missing_ok=False):
        """
        The :data:`ImageHandle` of an image for a channel selection (a
        :func:`channel_code`), from
        this process's handle pool: the parts' caches are built (under their
        locks) and opened the first time, and the handle answers both the
        image's size and its reads.

        Example:
            >>> import ndsampler
            >>> handle = ndsampler.SimpleFrames.demo(backend=None).open(1)
            >>> handle.dims, handle.nbands, handle.dtype, handle.warped
            ((512, 512), 3, dtype('uint8'), False)
        """
        return HANDLES.get((self._namespace, image_id, channels, missing_ok), self._open,
                           image_id, channels, missing_ok)

    def _open(self, image_id, channels, missing_ok):
        plan = self.band_plan(image_id, channels, missing_ok)
        parts = self._lookup_parts(image_id)
        if not all(parts[index].aligned for index, _, _ in plan.reads):
            return ImageHandle(self._warped_dims(image_id), None, None, plan.names, (),
                               tuple(plan.missing), True)
        reads, dtypes, stop = [], [], 0
        for index, bands, start in plan.reads:
            reader = self.backend.open(parts[index].fpath)
            start = stop if start is None else start
            stop = start + (reader.nbands if bands is None else len(bands))
            reads.append((reader, bands, start, stop))
            dtypes.append(reader.dtype)
        first = reads[0][0] if reads else self.backend.open(parts[0].fpath)
        nbands = stop if plan.reads and plan.reads[0][2] is None else len(plan.names)
        dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float32)
        if plan.missing:
            dtype = np.result_type(dtype, np.float32)
        return ImageHandle((first.height, first.width), dtype, nbands, plan.names,
                           tuple(reads), tuple(plan.missing), False)

    def read(self, spec, handles=None, out=None):
        """
        The pixels of a resolved sample (:class:`ndsampler.windows.SampleSpec`):
        ``(h, w, c)``, or ``(t, h, w, c)`` for a video sample, in one buffer
        that each frame's readers fill in place.  What the window takes from
        outside an image is padded per the spec.  ``handles`` are the frames'
        :meth:`open` handles (``None`` for a frame read through its warp).
        ``out``, if given, is that buffer: an array of the output's shape, of
        any strides and dtype (for example a channels-first batch row seen as
        ``(h, w, c)``); it is returned.

        Example:
            >>> import ndsampler
            >>> from ndsampler.windows import resolve_sample
            >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
            >>> handle = frames.open(1)
            >>> spec = resolve_sample({'slices': (slice(-2, 3), slice(0, 4))}, handle.dims, (1,))
            >>> frames.read(spec, [handle])[:, :, 1].tolist()
            [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]
            >>> planes = np.zeros((3, 5, 4), np.float32)  # channels first, another dtype
            >>> _ = frames.read(spec, [handle], out=planes.transpose(1, 2, 0))
            >>> planes[1].tolist()[3:]
            [[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]]
        """
        if handles is None:
            handles = [None if spec.frame_warp(index) is not None else
                       self.open(gid, spec.channels, spec.video)
                       for index, gid in enumerate(spec.gids)]
        out_h, out_w = spec.out_dims
        if not spec.video:
            handle = handles[0]
            if handle.warped:
                warped = self._read_warped(spec, 0)
                if out is None:
                    return warped
                copy_into(out, warped)
                return out
            dtype = output_dtype(handle.dtype, spec.fill)
            if out is not None and spec.scale is not None and out.dtype != dtype:
                return self._resampled_into(out, spec, handles)
            place = windows.placement(spec.box, spec.out_dims, spec.scale, *handle.dims)
            out = allocate((out_h, out_w, handle.nbands), dtype, spec,
                           None if place is None else place[1], out)
            fill_frame(out, spec, handle, place)
            return out
        warped = {index: self._read_warped(spec, index) for index, handle in enumerate(handles)
                  if handle is None or handle.warped or spec.frame_warp(index) is not None}
        direct = [h for index, h in enumerate(handles) if index not in warped]
        dtypes = [h.dtype for h in direct] + [a.dtype for a in warped.values()]
        nbands = {h.nbands for h in direct} | {a.shape[2] for a in warped.values()}
        if len(nbands) != 1:
            raise InvalidTargetError('frames {} have different channel counts {}; ask for '
                                     'channels by name'.format(list(spec.gids), sorted(nbands)))
        dtype = output_dtype(np.result_type(*dtypes), spec.fill)
        if out is not None and spec.scale is not None and out.dtype != dtype:
            return self._resampled_into(out, spec, handles)
        places = [None if index in warped else spec.placement(*handle.dims)
                  for index, handle in enumerate(handles)]
        dsts = {(0, out_h, 0, out_w) if index in warped else (p and p[1])
                for index, p in enumerate(places)}
        out = allocate((len(handles), out_h, out_w, nbands.pop()), dtype, spec,
                       dsts.pop() if len(dsts) == 1 else None, out)
        for index, handle in enumerate(handles):
            if index in warped:
                out[index] = warped[index]
            else:
                fill_frame(out[index], spec, handle, places[index])
        return out

    def _resampled_into(self, out, spec, handles):
        """A scaled window read in its own dtype, then copied into ``out`` of
        another: readers resample in the dtype of the buffer they fill, and
        the values must be those :meth:`read` returns (rounded for integers)."""
        copy_into(out, self.read(spec, handles))
        return out

    def load_region(self, image_id, region=None, channels=ub.NoParam,
                    width=None, height=None):
        """
        Numpy-style ``(y, x)`` slices of an image, clipped to it (negative
        stops count from the end, as in ``arr[:-20, :-10]``).

        Example:
            >>> import ndsampler
            >>> frames = ndsampler.SimpleFrames.demo(backend=None)
            >>> region = frames.load_region(1, (slice(10, 20), slice(-5, None)))
            >>> region.shape, region[:, 0, 1].tolist()
            ((10, 5, 3), [5, 5, 6, 6, 7, 7, 8, 8, 9, 9])
        """
        channels = channel_code(channels)
        handle = self.open(image_id, channels)
        if height is None or width is None:
            height, width = handle.dims
        y0, y1, x0, x1 = windows.region_to_bounds(region, height, width)
        if y1 <= y0 or x1 <= x0:
            raise InvalidTargetError('region {!r} of image {} is empty'.format(region, image_id))
        target = {'space_slice': (slice(y0, y1), slice(x0, x1))}
        spec = windows.resolve_sample(target, handle.dims, (image_id,), channels)
        return self.read(spec, [handle])

    def load_image(self, image_id, channels=ub.NoParam, cache=True, noreturn=False):
        """
        A whole image.  With the ``'npy'`` backend this is the cache's
        read-only ``np.memmap``; ``cache=False`` decodes the source instead.

        Example:
            >>> import ndsampler
            >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
            >>> cached, decoded = frames.load_image(1), frames.load_image(1, cache=False)
            >>> type(cached).__name__, type(decoded).__name__, bool((cached == decoded).all())
            ('memmap', 'ndarray', True)
        """
        channels = channel_code(channels)
        parts = self._lookup_parts(image_id)
        if noreturn:
            for part in parts:
                self.backend.build_cache(part.fpath)
            return None
        plan = self.band_plan(image_id, channels)
        simple = len(plan.reads) == 1 and plan.reads[0][1] is None and parts[0].aligned
        if simple and cache:
            return self.backend.load_full(parts[0].fpath)
        if simple:
            from ndsampler._backends.source import decode_image
            return decode_image(parts[0].fpath)
        return self.load_region(image_id, None, channels)

    def prepare(self, gids=None, workers=0, use_stamp=True, executor=None):
        """
        Build the cache of every image (or of ``gids``) with a progress bar,
        using ``workers`` threads, or the jobs of any
        ``concurrent.futures.Executor`` (a ``ProcessPoolExecutor``, or
        ``distributed.Client(...).get_executor()`` for a dask cluster): each
        job gets only the backend (its configuration) and one source path.
        Processes and hosts that share the workdir build each cache once.
        ``use_stamp`` is the original's argument, accepted for compatibility:
        every cache file is stamped and checked.

        Returns:
            List[dict]: per source file, ``source`` (the path, a URL without
            credentials), ``cache`` (the cache file), ``bytes`` (its size) and
            ``built`` (True when it was missing or stale, so written by this
            call or a concurrent one); empty for the ``None`` backend, which
            has no cache.

        Example:
            >>> import ndsampler
            >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
            >>> report = frames.prepare()
            >>> sorted(report[0]), report[0]['bytes'] > 512 * 512 * 3
            (['built', 'bytes', 'cache', 'source'], True)
            >>> [r['built'] for r in frames.prepare()]
            [False, False]
        """
        if self.backend.cache_dpath is None:
            print('Frames backend is None: there is no cache to prepare')
            return []
        gids = self.image_ids if gids is None else gids
        fpaths = list(ub.unique(part.fpath for gid in gids
                                for part in self._lookup_parts(gid)))
        from concurrent.futures import as_completed
        if executor is None:
            executor = ub.JobPool(mode='thread', max_workers=workers)
        index_of = {executor.submit(build_cache_job, self.backend, fpath): index
                    for index, fpath in enumerate(fpaths)}
        report = [None] * len(fpaths)
        for future in ub.ProgIter(as_completed(index_of), total=len(index_of),
                                  desc='prepare frames cache', verbose=1):
            report[index_of[future]] = future.result()
        return report


def build_cache_job(backend, fpath):
    """
    Build one source's cache (the job :meth:`Frames.prepare` sends to a
    worker; it pickles as a backend configuration and a path) and describe it.

    Example:
        >>> import ndsampler
        >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
        >>> build_cache_job(frames.backend, frames.id_to_path[1])['cache'].endswith('.npy')
        True
    """
    from ndsampler._cachefile import path_bytes
    from ndsampler.remote import redact
    fpath = os.fspath(fpath)
    built = backend.is_stale(fpath)
    cache = os.fspath(backend.build_cache(fpath))
    return {'source': redact(fpath), 'cache': cache, 'bytes': path_bytes(cache), 'built': built}


def fill_frame(out, spec, handle, place):
    """
    Fill one frame's output buffer from its readers: the part of the window
    inside the image goes where :meth:`SampleSpec.placement` puts it
    (resampled when the spec scales), channels the image lacks are NaN, and a
    non-constant ``padkw`` mode pads from the pixels read.

    Example:
        >>> import ndsampler
        >>> from ndsampler.windows import resolve_sample
        >>> handle = ndsampler.SimpleFrames.demo(backend=None).open(1)
        >>> spec = resolve_sample({'slices': (slice(-1, 2), slice(0, 3))}, handle.dims, (1,))
        >>> out = np.zeros(spec.out_dims + (handle.nbands,), handle.dtype)
        >>> fill_frame(out, spec, handle, spec.placement(*handle.dims))
        >>> out[:, :, 0].tolist()
        [[0, 0, 0], [0, 0, 1], [0, 0, 1]]
    """
    if spec.fill is None:  # np.pad modes need the inside first
        (ya, yb, xa, xb), (oy0, oy1, ox0, ox1) = place
        inside = np.empty((yb - ya, xb - xa, out.shape[2]), out.dtype)
        for reader, bands, start, stop in handle.reads:
            reader.read_into(inside[:, :, start:stop], ya, yb, xa, xb, bands)
        out[...] = np.pad(inside, ((oy0, out.shape[0] - oy1), (ox0, out.shape[1] - ox1), (0, 0)),
                          **spec.padkw)
    elif place is not None:
        (ya, yb, xa, xb), (oy0, oy1, ox0, ox1) = place
        view = out if (oy0, oy1, ox0, ox1) == (0, out.shape[0], 0, out.shape[1]) else \
            out[oy0:oy1, ox0:ox1]
        nbands = out.shape[2]
        for reader, bands, start, stop in handle.reads:
            dst = view if stop - start == nbands else view[:, :, start:stop]
            if spec.scale is None:
                reader.read_into(dst, ya, yb, xa, xb, bands)
            else:
                reader.read_resized_into(dst, ya, yb, xa, xb, bands)
    for position in handle.missing:
        out[:, :, position] = np.nan


class SimpleFrames(Frames):
    """
    Frames of single-file images given as ``{image_id: path}``.

    Example:
        >>> import ndsampler
        >>> frames = ndsampler.SimpleFrames.demo(backend=None)
        >>> frames.load_image(frames.image_ids[0]).shape
        (512, 512, 3)
    """

    def __init__(self, id_to_path, workdir=None, backend=None, hashid_mode='PATH'):
        super().__init__(hashid_mode=hashid_mode, workdir=workdir, backend=backend)
        self.id_to_path = id_to_path

    @property
    def image_ids(self):
        """
        The keys of ``id_to_path``, in its order.

        Example:
            >>> from ndsampler import SimpleFrames
            >>> SimpleFrames({7: 'a.png', 3: 'b.png'}).image_ids
            [7, 3]
        """
        return list(self.id_to_path.keys())

    def _lookup_parts(self, image_id):
        try:
            fpath = self.id_to_path[image_id]
        except KeyError:
            raise UnknownIdError('unknown image id {!r}'.format(image_id)) from None
        return [Part(os.fspath(fpath), None, True, True)]

    @classmethod
    def demo(cls, **kw):
        """
        Frames over two generated 512 x 512 RGB PNGs (made offline).

        Example:
            >>> from ndsampler import SimpleFrames
            >>> frames = SimpleFrames.demo(backend=None)
            >>> frames.image_ids, frames.load_region(2, (slice(0, 1), slice(0, 8)))[0, :, 0].tolist()
            ([1, 2], [0, 0, 0, 0, 1, 1, 1, 1])
        """
        import kwimage
        dpath = ub.Path.appdir('ndsampler/demo/simple_frames').ensuredir()
        id_to_path = {}
        yy, xx = np.mgrid[0:512, 0:512]
        for index in (1, 2):
            fpath = dpath / 'demo_{}.png'.format(index)
            if not fpath.exists():
                image = np.stack([xx // (2 * index), yy // 2, (xx + yy) // 4], axis=2)
                kwimage.imwrite(fpath, (image % 256).astype(np.uint8))
            id_to_path[index] = fpath
        kw.setdefault('workdir', dpath)
        return cls(id_to_path, **kw)
