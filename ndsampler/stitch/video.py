"""Per-frame stitching of space-time predictions."""
import os

import numpy as np

from ndsampler.errors import StitchError, StitchShapeError
from ndsampler.stitch.heatmap import Stitcher
from ndsampler.stitch.windowing import _check_weighting, _slice_bounds


class VideoStitcher:
    """
    Per-frame stitching of space-time predictions: one :class:`Stitcher` per
    frame (``self.frames``), created on first use.

    Args:
        shape: ``(T, H, W)`` or ``(T, H, W, C)``, in video pixels.
        frame_ids (Sequence | None): the image id of each frame, so a target
            that names its frames by ``gids`` (without ``time_slice``) can be
            placed.
        backing: a directory; frame ``t`` keeps its accumulators in
            ``backing/frame_{t:05d}``.
        **kwargs: the other :class:`Stitcher` options (``weighting``, ...).

    Example:
        >>> import numpy as np
        >>> from ndsampler.stitch import VideoStitcher
        >>> vs = VideoStitcher((3, 4, 4), fill=0)
        >>> target = {'time_slice': slice(1, 3), 'space_slice': (slice(0, 2), slice(0, 4))}
        >>> vs.add(target, np.ones((2, 2, 4)))
        True
        >>> out = vs.finalize()
        >>> out.shape, float(out[0].sum()), float(out[1].sum()), float(out[2].sum())
        ((3, 4, 4), 0.0, 8.0, 8.0)
    """

    def __init__(self, shape, *, frame_ids=None, backing=None, **kwargs):
        shape = tuple(int(d) for d in shape)
        if len(shape) not in (3, 4):
            raise StitchShapeError('shape must be (T, H, W) or (T, H, W, C), got {!r}'.format(shape))
        self.shape = shape
        self.frame_ids = None if frame_ids is None else list(frame_ids)
        self.backing = backing
        self.kwargs = kwargs
        _check_weighting(kwargs.get('weighting', 'uniform'))
        self.frames = [None] * shape[0]

    def frame(self, t):
        """
        The :class:`Stitcher` of frame ``t`` (created when first asked for).

        Example:
            >>> vs = VideoStitcher((2, 3, 3), fill=0)
            >>> vs.frames[1] is None, vs.frame(1).shape, vs.frame(1) is vs.frames[1]
            (True, (3, 3), True)
        """
        st = self.frames[t]
        if st is None:
            backing = None if self.backing is None else os.path.join(
                os.fspath(self.backing), 'frame_{:05d}'.format(t))
            st = self.frames[t] = Stitcher(self.shape[1:], backing=backing, **self.kwargs)
        return st

    def _time_indices(self, item):
        T = self.shape[0]
        if isinstance(item, dict):
            tsl = item.get('time_slice', None)
            sl = item.get('slices', None)
            if tsl is None and isinstance(sl, tuple) and len(sl) == 3:
                tsl = sl[0]
            if tsl is not None:
                t0, t1 = _slice_bounds(tsl, T, 'time slice')
                return list(range(t0, t1)), item
            gids = item.get('gids', None)
            if gids is not None:
                if self.frame_ids is None:
                    raise StitchError('a target with gids but no time_slice needs frame_ids')
                lut = {g: i for i, g in enumerate(self.frame_ids)}
                try:
                    return [lut[g] for g in gids], item
                except KeyError as ex:
                    raise StitchError('gid {} is not a frame of this video'.format(ex)) from None
            raise StitchError('a video target needs time_slice, (t, y, x) slices or gids')
        slices = tuple(item)
        if len(slices) != 3:
            raise StitchError('expected (t, y, x) slices, got {!r}'.format(item))
        t0, t1 = _slice_bounds(slices[0], T, 'time slice')
        return list(range(t0, t1)), slices[1:]

    def add(self, space_time_slice, data, weight=None):
        """
        Add a ``(t, h, w[, C])`` prediction at ``(t_slice, y_slice, x_slice)``
        or at a video target (``time_slice`` / ``gids`` with ``space_slice``).
        Frames outside ``0:T`` are ignored; returns whether anything landed.

        Example:
            >>> import numpy as np
            >>> from ndsampler.stitch import VideoStitcher
            >>> vs = VideoStitcher((2, 3, 3))
            >>> vs.add((slice(0, 2), slice(0, 3), slice(0, 3)), np.zeros((2, 3, 3)))
            True
        """
        times, space = self._time_indices(space_time_slice)
        data = np.asarray(data)
        if data.ndim not in (3, 4) or data.shape[0] != len(times):
            raise StitchShapeError('data must be (t, h, w[, C]) with t = {} frames, got shape {}'.format(
                len(times), data.shape))
        if weight is not None and not np.isscalar(weight):
            weight = np.asarray(weight)
            if weight.shape[0] != len(times):
                raise StitchShapeError('weight must be a number or per frame, got shape {}'.format(
                    weight.shape))
        added = False
        for i, t in enumerate(times):
            if not 0 <= t < self.shape[0]:
                continue
            w = weight if weight is None or np.isscalar(weight) else weight[i]
            added |= self.frame(t).add(space, data[i], weight=w)
        return added

    def finalize(self):
        """
        ``(T, H, W[, C])``: each frame's weighted mean (``fill`` for frames
        nothing was added to).

        Example:
            >>> from ndsampler.stitch import VideoStitcher
            >>> VideoStitcher((2, 3, 3), fill=0).finalize().shape
            (2, 3, 3)
        """
        out = np.empty(self.shape, dtype=np.dtype(self.kwargs.get('dtype', 'float32')))
        for t in range(self.shape[0]):
            out[t] = self.frame(t).finalize()
        return out

    def write(self, path_pattern, **kwargs):
        """
        Write each frame with :meth:`Stitcher.write` to
        ``path_pattern.format(t)`` (e.g. ``'heat_{:03d}.tif'``); returns the
        paths.

        Example:
            >>> # xdoctest: +REQUIRES(module:osgeo)
            >>> import os, tempfile, numpy as np
            >>> from ndsampler.stitch import VideoStitcher
            >>> vs = VideoStitcher((2, 16, 16))
            >>> paths = vs.write(os.path.join(tempfile.mkdtemp(), 'f{}.tif'), blocksize=16)
            >>> len(paths)
            2
        """
        return [self.frame(t).write(os.fspath(path_pattern).format(t), **kwargs)
                for t in range(self.shape[0])]

    def close(self):
        """
        Close every frame's stitcher.

        Example:
            >>> vs = VideoStitcher((2, 3, 3))
            >>> first = vs.frame(0)
            >>> vs.close()
            >>> first.add((slice(0, 3), slice(0, 3)), np.ones((3, 3)))
            Traceback (most recent call last):
            ...
            ndsampler.errors.StitchError: this Stitcher is closed
        """
        for st in self.frames:
            if st is not None:
                st.close()
