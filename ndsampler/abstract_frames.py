"""
The frames layer: image id -> pixels, through a backend.

:class:`Frames` maps each image id to one or more source files ("parts", each
holding some of the image's channels), asks the backend for a window reader
on each, and assembles windows in the requested channel order.  Subclasses
only say where an image's files are: :class:`SimpleFrames` from a dict of
paths, :class:`ndsampler.coco_frames.CocoFrames` from a kwcoco dataset.

Example:
    >>> import ndsampler
    >>> frames = ndsampler.SimpleFrames.demo(backend='npy')
    >>> gid = frames.image_ids[0]
    >>> frames.load_region(gid, (slice(-20), slice(-10))).shape
    (492, 502, 3)
    >>> frames.read_window(gid, -2, 3, 0, 4).shape
    (5, 4, 3)
"""
import os
from collections import namedtuple

import numpy as np
import ubelt as ub

from ndsampler import windows
from ndsampler._backends import coerce_backend_config, make_backend
from ndsampler._backends.readers import read_window
from ndsampler.errors import InvalidTargetError, UnknownChannelError, UnknownIdError

#: One file of an image: its path, its channel names (``None`` when the
#: dataset does not name them) and whether it is aligned with the image
#: (no warp), which is what the fast path needs.
Part = namedtuple('Part', ['fpath', 'channels', 'aligned'])

#: How to read a channel selection: for each part used, the part index and
#: the band indices to take from it, in output order; and the output names.
BandPlan = namedtuple('BandPlan', ['reads', 'names'])

ALL_CHANNELS = (None, '<all>')


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
    """

    DEFAULT_NPY_CONFIG = {'type': 'npy', 'config': {}}
    DEFAULT_COG_CONFIG = {'type': 'cog', 'config': {'compress': 'auto'}}

    def __init__(self, hashid_mode='PATH', workdir=None, backend=None):
        if hashid_mode not in ('PATH', 'PIXELS'):
            raise ValueError("hashid_mode must be 'PATH' or 'PIXELS', got "
                             "{!r}".format(hashid_mode))
        self.hashid_mode = hashid_mode
        if workdir is None:
            workdir = ub.Path.appdir('ndsampler')
        self.workdir = ub.Path(workdir)
        self._backend = coerce_backend_config(backend)
        self.backend = make_backend(self._backend, self.workdir, hashid_mode)
        self._plans = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_plans'] = {}
        return state

    # -- what subclasses provide ---------------------------------------------
    @property
    def image_ids(self):
        raise NotImplementedError

    def _lookup_parts(self, image_id):
        """The :class:`Part` list of an image (raise ``UnknownIdError``)."""
        raise NotImplementedError

    def _load_unaligned(self, image_id, y0, y1, x0, x1, channels, padkw, scale):
        """Read a window that needs warped parts (kwcoco assets)."""
        raise NotImplementedError(
            'image {} has parts that need a warp; only CocoFrames reads '
            'them'.format(image_id))

    # -- public API ----------------------------------------------------------
    @property
    def cache_dpath(self):
        """Where this backend keeps its cache files (``None`` without one)."""
        return self.backend.cache_dpath

    def __len__(self):
        return len(self.image_ids)

    def __getitem__(self, index):
        return self.load_image(self.image_ids[index])

    def band_plan(self, image_id, channels=None):
        """
        Which bands of which parts make up ``channels`` (a kwcoco channel
        code, ``'<all>'`` or ``None`` for every band), in that order.
        """
        key = (image_id, None if channels in ALL_CHANNELS else str(channels))
        plan = self._plans.get(key, None)
        if plan is None:
            plan = self._plans[key] = self._make_band_plan(image_id, key[1])
        return plan

    def _make_band_plan(self, image_id, channels):
        parts = self._lookup_parts(image_id)
        if channels is None:
            names = []
            for part in parts:
                if part.channels is None:
                    names = None
                    break
                names.extend(part.channels)
            return BandPlan([(i, None) for i in range(len(parts))], names)
        from delayed_image.channel_spec import ChannelSpec
        wanted = ChannelSpec.coerce(channels).fuse().normalize().as_list()
        where = {}
        for index, part in enumerate(parts):
            for band, name in enumerate(part.channels or []):
                where.setdefault(name, (index, band))
        reads = []
        for name in wanted:
            if name not in where:
                known = sorted(where) if where else 'none named'
                raise UnknownChannelError(
                    'image {} has no channel {!r} (channels: {})'.format(
                        image_id, name, known))
            index, band = where[name]
            if reads and reads[-1][0] == index:
                reads[-1][1].append(band)
            else:
                reads.append((index, [band]))
        return BandPlan(reads, wanted)

    def _reader(self, part):
        return self.backend.reader(part.fpath)

    def image_dims(self, image_id):
        """``(height, width)`` of an image's pixel grid (its first part)."""
        reader = self._reader(self._lookup_parts(image_id)[0])
        return (reader.height, reader.width)

    def read_window(self, image_id, y0, y1, x0, x1, channels=None, padkw=None, scale=None):
        """
        The window ``[y0:y1, x0:x1]`` of an image as a new ``(h, w, c)``
        array; bounds may leave the image, and what lies outside is padded
        per ``padkw`` (default zeros).  ``scale = (sx, sy)`` resamples it
        (the cog backend reads from its overviews).
        """
        plan = self.band_plan(image_id, channels)
        parts = self._lookup_parts(image_id)
        if not all(parts[index].aligned for index, _ in plan.reads):
            return self._load_unaligned(image_id, y0, y1, x0, x1, channels, padkw, scale)
        if len(plan.reads) == 1:
            index, bands = plan.reads[0]
            return read_window(self._reader(parts[index]), y0, y1, x0, x1, bands, padkw, scale)
        return np.concatenate([
            read_window(self._reader(parts[index]), y0, y1, x0, x1, bands, padkw, scale)
            for index, bands in plan.reads], axis=2)

    def load_region(self, image_id, region=None, channels=ub.NoParam,
                    width=None, height=None):
        """
        Numpy-style ``(y, x)`` slices of an image, clipped to it (negative
        stops count from the end, as in ``arr[:-20, :-10]``).
        """
        channels = None if channels is ub.NoParam else channels
        if height is None or width is None:
            height, width = self.image_dims(image_id)
        y0, y1, x0, x1 = windows.region_to_bounds(region, height, width)
        if y1 <= y0 or x1 <= x0:
            raise InvalidTargetError('region {!r} of image {} is empty'.format(region, image_id))
        return self.read_window(image_id, y0, y1, x0, x1, channels)

    def load_image(self, image_id, channels=ub.NoParam, cache=True, noreturn=False):
        """
        A whole image.  With the ``'npy'`` backend this is the cache's
        read-only ``np.memmap``; ``cache=False`` decodes the source instead.
        """
        channels = None if channels is ub.NoParam else channels
        parts = self._lookup_parts(image_id)
        plan = self.band_plan(image_id, channels)
        if noreturn:
            for part in parts:
                self.backend.prepare(part.fpath)
            return None
        simple = (len(plan.reads) == 1 and plan.reads[0][1] is None and parts[0].aligned)
        if simple and cache:
            return self.backend.load_full(parts[0].fpath)
        if simple:
            from ndsampler._backends.source import decode_image
            return decode_image(parts[0].fpath)
        height, width = self.image_dims(image_id)
        return self.read_window(image_id, 0, height, 0, width, channels)

    def prepare(self, gids=None, workers=0, use_stamp=True):
        """
        Build the cache of every image (or of ``gids``) with a progress bar,
        using ``workers`` threads.  A no-op for the ``None`` backend.
        """
        if self.backend.cache_dpath is None:
            print('Frames backend is None: there is no cache to prepare')
            return
        gids = self.image_ids if gids is None else gids
        fpaths = list(ub.unique(part.fpath for gid in gids
                                for part in self._lookup_parts(gid)))
        jobs = ub.JobPool(mode='thread', max_workers=workers)
        for fpath in fpaths:
            jobs.submit(self.backend.prepare, fpath)
        for job in jobs.as_completed(desc='prepare frames cache', progkw={'verbose': 1}):
            job.result()


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
        return list(self.id_to_path.keys())

    def _lookup_parts(self, image_id):
        try:
            fpath = self.id_to_path[image_id]
        except KeyError:
            raise UnknownIdError('unknown image id {!r}'.format(image_id)) from None
        return [Part(os.fspath(fpath), None, True)]

    @classmethod
    def demo(cls, **kw):
        """Frames over two generated 512 x 512 RGB PNGs (made offline)."""
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
