"""
Pure window arithmetic: from a target's centre, size, slices, padding and
scale to the pixel rectangle a sample covers and where each source pixel
lands in the output.  No I/O happens here; every other module asks this one.

Conventions (the original ndsampler's): slices and sizes are ``(y, x)`` /
``(h, w)``; a window of size ``d`` centred at ``c`` starts at
``floor(c - d / 2)`` and has exactly ``d`` pixels; slices in a target are taken
literally, so ``slice(-5, 5)`` means five rows above the image and five rows in
it.

Example:
    >>> from ndsampler.windows import center_extent_to_slice, padded_bounds, resolve_sample
    >>> center_extent_to_slice((10, 20.5), (4, 5))
    (slice(8, 12, None), slice(18, 23, None))
    >>> padded_bounds((slice(-2, 3), slice(5, 9)), pad=(1, 2))
    (-3, 4, 3, 11)
    >>> spec = resolve_sample({'cx': 2, 'cy': 2, 'width': 6, 'height': 4}, (10, 8), gids=(1,))
    >>> spec.box, spec.out_dims, spec.placement(10, 8)
    ((0, 4, -1, 5), (4, 6), ((0, 4, 0, 5), (0, 4, 1, 6)))
"""
import math
import numbers
import os
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np

from ndsampler.errors import InvalidTargetError, InvalidTargetTypeError

#: Largest window side, in pixels, that a target may ask for.
MAX_WINDOW_SIDE = 1 << 20
#: Largest number of pixels (h * w) in one window; override with the
#: ``NDSAMPLER_MAX_WINDOW_PIXELS`` environment variable.
MAX_WINDOW_PIXELS = int(os.environ.get('NDSAMPLER_MAX_WINDOW_PIXELS', 1 << 31))

_isfinite = math.isfinite
_IDENTITY = np.eye(3)


def as_real(name, value):
    """
    Return ``value`` as a finite float, or raise a typed error naming it.

    Example:
        >>> as_real('cx', 3)
        3.0
        >>> as_real('cx', float('nan'))
        Traceback (most recent call last):
        ...
        ndsampler.errors.InvalidTargetError: target['cx'] must be finite, got nan
    """
    kind = type(value)
    if kind is int or ((kind is float or kind is np.float64) and _isfinite(value)):
        return float(value)  # the common case, without the slower checks below
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Real, np.number)):
        raise InvalidTargetTypeError(
            'target[{!r}] must be a real number, got {!r} of type {}'.format(
                name, value, type(value).__name__))
    value = float(value)
    if not math.isfinite(value):
        raise InvalidTargetError(
            'target[{!r}] must be finite, got {!r}'.format(name, value))
    return value


def as_size(name, value):
    """
    Return a window side as a positive int (ceil of a positive float).

    Example:
        >>> as_size('width', 10.2), as_size('height', 3)
        (11, 3)
        >>> as_size('width', 0)
        Traceback (most recent call last):
        ...
        ndsampler.errors.InvalidTargetError: target['width'] must be positive, got 0.0
    """
    if type(value) is int and 0 < value <= MAX_WINDOW_SIDE:
        return value  # the common case, without the checks below
    value = as_real(name, value)
    if value <= 0:
        raise InvalidTargetError(
            'target[{!r}] must be positive, got {!r}'.format(name, value))
    if value > MAX_WINDOW_SIDE:
        raise InvalidTargetError(
            'target[{!r}]={!r} exceeds the largest window side {}'.format(
                name, value, MAX_WINDOW_SIDE))
    return int(math.ceil(value))


def window_dims_from_target(target):
    """
    The ``(h, w)`` of the window a centred target asks for.

    ``window_dims`` may be ``None`` or ``'extent'`` (the ceil of the target's
    height and width), ``'square'`` (the larger of the two, both ways) or an
    explicit ``(h, w)``.

    Example:
        >>> window_dims_from_target({'width': 10.5, 'height': 21})
        (21, 11)
        >>> window_dims_from_target({'width': 10, 'height': 20, 'window_dims': 'square'})
        (20, 20)
        >>> window_dims_from_target({'window_dims': (5, 7)})
        (5, 7)
    """
    window_dims = target.get('window_dims', None)
    if window_dims is None or isinstance(window_dims, str):
        if window_dims not in (None, 'extent', 'square'):
            raise InvalidTargetError(
                "target['window_dims'] must be None, 'extent', 'square' or "
                "(h, w), got {!r}".format(window_dims))
        if 'width' not in target or 'height' not in target:
            raise InvalidTargetError(
                'target needs width and height (or window_dims or slices) to size the '
                'window: {!r}'.format(target))
        h = as_size('height', target['height'])
        w = as_size('width', target['width'])
        if window_dims == 'square':
            h = w = max(h, w)
        return (h, w)
    try:
        h, w = window_dims
    except (TypeError, ValueError):
        raise InvalidTargetTypeError(
            "target['window_dims'] must be a pair (h, w), got {!r}".format(
                window_dims)) from None
    return (as_size('window_dims[0]', h), as_size('window_dims[1]', w))


def center_extent_to_slice(center, window_dims):
    """
    Slices of exactly ``window_dims`` pixels centred at ``center``.

    Args:
        center (Tuple[float, float]): ``(cy, cx)``
        window_dims (Tuple[int, int]): ``(h, w)``

    Example:
        >>> center_extent_to_slice((0, 0), (21, 11))
        (slice(-11, 10, None), slice(-6, 5, None))
    """
    if len(center) == 2:  # the common case, unrolled
        (cy, cx), (h, w) = center, window_dims
        y0, x0 = math.floor(cy - h / 2.0), math.floor(cx - w / 2.0)
        return (slice(y0, y0 + int(h)), slice(x0, x0 + int(w)))
    starts = [math.floor(c - d / 2.0) for c, d in zip(center, window_dims)]
    return tuple(slice(start, start + int(d)) for start, d in zip(starts, window_dims))


def coerce_pad(pad, ndims=2):
    """
    Normalise a context pad to one non-negative int per spatial dimension.

    Example:
        >>> coerce_pad(None), coerce_pad(3), coerce_pad((2, 4))
        ((0, 0), (3, 3), (2, 4))
    """
    if pad is None:
        return (0,) * ndims
    if isinstance(pad, (numbers.Integral, np.integer)) and not isinstance(pad, bool):
        pads = (int(pad),) * ndims
    else:
        try:
            pads = tuple(pad)
        except TypeError:
            raise InvalidTargetTypeError(
                "target['pad'] must be an int or a tuple of ints, got "
                "{!r}".format(pad)) from None
        if len(pads) != ndims:
            raise InvalidTargetError(
                "target['pad'] needs {} values, got {!r}".format(ndims, pad))
    out = []
    for p in pads:
        if not isinstance(p, (numbers.Integral, np.integer)) or isinstance(p, bool):
            raise InvalidTargetTypeError(
                "target['pad'] values must be ints, got {!r}".format(pad))
        if p < 0:
            raise InvalidTargetError(
                "target['pad'] must be non-negative, got {!r}".format(pad))
        out.append(int(p))
    return tuple(out)


def coerce_scale(scale):
    """
    ``(sx, sy)`` of a target's ``scale`` (a number or a pair), or ``None``
    when it is absent or 1.

    Example:
        >>> coerce_scale(None), coerce_scale(1.0), coerce_scale(0.5), coerce_scale((2, 4))
        (None, None, (0.5, 0.5), (2.0, 4.0))
    """
    if scale is None:
        return None
    pair = (scale, scale) if isinstance(scale, (numbers.Real, np.number)) else tuple(scale)
    if len(pair) != 2:
        raise InvalidTargetError("target['scale'] must be a number or (sx, sy), got {!r}".format(scale))
    sx, sy = (as_real('scale', v) for v in pair)
    if sx <= 0 or sy <= 0:
        raise InvalidTargetError("target['scale'] must be positive, got {!r}".format(scale))
    return None if (sx, sy) == (1.0, 1.0) else (sx, sy)


def coerce_slices(slices, data_dims, key='slices'):
    """
    Literal ``(y, x)`` slices with ``None`` ends filled from ``data_dims``.

    Example:
        >>> coerce_slices((slice(-5, 5), slice(None, None)), (20, 30))
        (slice(-5, 5, None), slice(0, 30, None))
    """
    try:
        if isinstance(slices, (str, bytes)):
            raise TypeError(slices)
        slices = tuple(slices)
    except TypeError:
        raise InvalidTargetTypeError(
            'target[{!r}] must be a tuple of slices, got {!r}'.format(
                key, slices)) from None
    if len(slices) != len(data_dims):
        raise InvalidTargetError(
            'target[{!r}] needs {} slices, got {!r}'.format(
                key, len(data_dims), slices))
    out = []
    for sl, dim in zip(slices, data_dims):
        if not isinstance(sl, slice):
            raise InvalidTargetTypeError(
                'target[{!r}] must hold slices, got {!r}'.format(key, slices))
        if sl.step not in (None, 1):
            raise InvalidTargetError(
                'target[{!r}] slices cannot have a step: {!r}'.format(key, sl))
        start = 0 if sl.start is None else sl.start
        stop = dim if sl.stop is None else sl.stop
        for v in (start, stop):
            if not isinstance(v, (numbers.Integral, np.integer)) or isinstance(v, bool):
                raise InvalidTargetTypeError(
                    'target[{!r}] bounds must be ints, got {!r}'.format(key, sl))
        if stop <= start:
            raise InvalidTargetError(
                'target[{!r}] is empty or reversed: {!r}'.format(key, sl))
        if stop - start > MAX_WINDOW_SIDE:
            raise InvalidTargetError(
                'target[{!r}] {!r} exceeds the largest window side {}'.format(
                    key, sl, MAX_WINDOW_SIDE))
        out.append(slice(int(start), int(stop)))
    return tuple(out)


def resolve_space_slice(target, data_dims):
    """
    The unpadded ``(y, x)`` slices of a 2-D target, and its window dims.

    Slices (``space_slice``, or ``slices``, whose leading time slice a
    space-time target drops) win over a centre; a target with neither covers
    the whole image.

    Returns:
        Tuple[Tuple[slice, slice], Tuple[int, int] | None]

    Example:
        >>> resolve_space_slice({'cx': 300, 'cy': 300, 'width': 10, 'height': 20}, (600, 600))
        ((slice(290, 310, None), slice(295, 305, None)), (20, 10))
        >>> resolve_space_slice({}, (4, 6))
        ((slice(0, 4, None), slice(0, 6, None)), None)
    """
    slices = target.get('space_slice', None)
    if slices is not None:
        return coerce_slices(slices, data_dims, 'space_slice'), None
    slices = target.get('slices', None)
    if slices is not None:
        if isinstance(slices, tuple) and len(slices) == len(data_dims) + 1:
            slices = slices[1:]  # (t, y, x) slices of a space-time target
        return coerce_slices(slices, data_dims, 'slices'), None
    has_cx, has_cy = 'cx' in target, 'cy' in target
    if has_cx or has_cy:
        if not (has_cx and has_cy):
            raise InvalidTargetError(
                'target needs both cx and cy: {!r}'.format(target))
        center = (as_real('cy', target['cy']), as_real('cx', target['cx']))
        window_dims = window_dims_from_target(target)
        return center_extent_to_slice(center, window_dims), window_dims
    if 'width' in target or 'height' in target:
        raise InvalidTargetError(
            'a target with width/height needs a centre (cx, cy) or slices: {!r}'.format(target))
    full = tuple(slice(0, int(d)) for d in data_dims)
    return full, None


def padded_bounds(space_slice, pad):
    """
    ``(y0, y1, x0, x1)`` of the window grown by ``pad`` on every side,
    checked against the window size limits.

    Example:
        >>> padded_bounds((slice(0, 10), slice(5, 9)), (2, 1))
        (-2, 12, 4, 10)
    """
    sl_y, sl_x = space_slice
    ph, pw = pad
    y0, y1 = sl_y.start - ph, sl_y.stop + ph
    x0, x1 = sl_x.start - pw, sl_x.stop + pw
    h, w = y1 - y0, x1 - x0
    if h * w > MAX_WINDOW_PIXELS:
        raise InvalidTargetError(
            'window of {}x{} pixels exceeds the limit of {} pixels (set '
            'NDSAMPLER_MAX_WINDOW_PIXELS to raise it)'.format(
                h, w, MAX_WINDOW_PIXELS))
    return y0, y1, x0, x1


def clip_bounds(y0, y1, x0, x1, height, width):
    """
    The part of a window inside an image, or ``None`` when they do not meet.

    Example:
        >>> clip_bounds(-3, 4, 3, 11, 10, 8)
        (0, 4, 3, 8)
        >>> clip_bounds(20, 30, 0, 5, 10, 8) is None
        True
    """
    ya, yb = max(y0, 0), min(y1, height)
    xa, xb = max(x0, 0), min(x1, width)
    if ya >= yb or xa >= xb:
        return None
    return ya, yb, xa, xb


def region_to_bounds(region, height, width):
    """
    Numpy-style ``(y, x)`` slices (negative stops count from the end) clipped
    to the image, as ``(y0, y1, x0, x1)``.

    Example:
        >>> region_to_bounds((slice(-20), slice(-10)), 600, 600)
        (0, 580, 0, 590)
        >>> region_to_bounds(None, 5, 6)
        (0, 5, 0, 6)
    """
    if region is None:
        return 0, height, 0, width
    region = tuple(region) + (slice(None),) * (2 - len(region))
    (y0, y1, _), (x0, x1, _) = (
        region[0].indices(height), region[1].indices(width))
    return y0, max(y0, y1), x0, max(x0, x1)


def scaled_shape(y0, y1, x0, x1, scale):
    """
    Output ``(h, w)`` of the window ``[y0:y1, x0:x1]`` resampled by
    ``scale = (sx, sy)``.

    Example:
        >>> scaled_shape(0, 101, 0, 50, (0.5, 0.5))
        (50, 25)
    """
    sx, sy = scale
    return max(1, int(round((y1 - y0) * sy))), max(1, int(round((x1 - x0) * sx)))


def fill_value(padkw=None, nodata=None):
    """
    The constant that pads what a window takes from outside the image: 0 by
    default, NaN for ``nodata`` of ``'float'`` or ``'auto'`` without a
    ``padkw``, ``padkw``'s ``constant_values``; ``None`` for the other
    ``np.pad`` modes (edge, reflect, ...), which pad from the pixels read.

    Example:
        >>> fill_value(), fill_value(nodata='float'), fill_value({'constant_values': 7})
        (0, nan, 7)
        >>> fill_value({'mode': 'edge'}) is None
        True
    """
    if padkw is None:
        return math.nan if nodata in ('float', 'auto') else 0
    if padkw.get('mode', 'constant') != 'constant':
        return None
    return padkw.get('constant_values', 0)


def placement(box, out_dims, scale, height, width):
    """
    Where a window meets a ``height x width`` raster: ``(src, dst)``, the
    ``(y0, y1, x0, x1)`` read from the raster and the ``(y0, y1, x0, x1)`` of
    the output it fills, or ``None`` when they do not meet.  A scaled window
    places its inside part at the nearest output pixel edges, rounding halves
    up (rounding to even would flip the error's sign with the window's
    parity).

    Example:
        >>> placement((-2, 3, 5, 9), (5, 4), None, 10, 8)
        ((0, 3, 5, 8), (2, 5, 0, 3))
        >>> placement((-2, 6, 0, 8), (4, 4), (0.5, 0.5), 10, 8)
        ((0, 6, 0, 8), (1, 4, 0, 4))
        >>> placement((20, 30, 0, 5), (10, 5), None, 10, 8) is None
        True
    """
    y0, y1, x0, x1 = box
    ya = y0 if y0 > 0 else 0
    xa = x0 if x0 > 0 else 0
    yb = y1 if y1 < height else height
    xb = x1 if x1 < width else width
    if ya >= yb or xa >= xb:
        return None
    if scale is None:
        return (ya, yb, xa, xb), (ya - y0, yb - y0, xa - x0, xb - x0)
    sx, sy = scale
    out_h, out_w = out_dims
    floor = math.floor
    oy0, oy1 = int(floor((ya - y0) * sy + 0.5)), min(out_h, int(floor((yb - y0) * sy + 0.5)))
    ox0, ox1 = int(floor((xa - x0) * sx + 0.5)), min(out_w, int(floor((xb - x0) * sx + 0.5)))
    if oy0 >= oy1 or ox0 >= ox1:
        return None
    return (ya, yb, xa, xb), (oy0, oy1, ox0, ox1)


def margins(dst, height, width):
    """
    The rectangles ``(y0, y1, x0, x1)`` of a ``height x width`` output
    outside ``dst``, the part data fills (see :func:`placement`): full-width
    bands above and below it, then the strips left and right of it.

    Example:
        >>> margins((2, 5, 0, 3), 5, 4)
        [(0, 2, 0, 4), (2, 5, 3, 4)]
    """
    y0, y1, x0, x1 = dst
    out = []
    if y0 > 0:
        out.append((0, y0, 0, width))
    if y1 < height:
        out.append((y1, height, 0, width))
    if x0 > 0:
        out.append((y0, y1, 0, x0))
    if x1 < width:
        out.append((y0, y1, x1, width))
    return out


class SampleSpec(NamedTuple):
    """
    One sample, resolved once from its target: nothing downstream derives
    window geometry again.  A 2-D sample is the one-frame case.

    Attributes:
        gids: image ids, one per frame, in time order.
        box: ``(y0, y1, x0, x1)``, the padded window in space pixels (image
            pixels in 2-D, video pixels for a video); it may leave the image.
        out_dims: ``(h, w)`` of the output (the box's size times ``scale``).
        space_dims: ``(h, w)`` of the image or video.
        space_slice: the unpadded ``(y, x)`` slices.
        window_dims: ``(h, w)`` a centred target asked for, else ``None``.
        pad: ``(ph, pw)`` context added on each side.
        scale: ``(sx, sy)`` resampling, or ``None``.
        channels: the channels asked for (``None`` for the image's own).
        fill: the constant outside pixels get, or ``None`` to pad with
            ``padkw``'s ``np.pad`` mode.
        padkw: the target's ``padkw``.
        nodata: the target's ``nodata``.
        video: True for a space-time target (output ``(t, h, w, c)``).
        vidid: the video id, if any.
        time_slice: the frames of the video taken, if any.
        frame_warps: per frame, the 3x3 image-to-space matrix, or ``None``
            where it is the identity (empty: all identity).
        data_dims: the dimensions of the data sampled from: ``space_dims``
            for an image, ``(frames, h, w)`` for a video (the original's
            ``data_dims``).

    Example:
        >>> spec = resolve_sample({'cx': 3, 'cy': 2, 'width': 4, 'height': 4, 'pad': 1}, (10, 10), (5,))
        >>> spec.gids, spec.box, spec.out_dims, spec.space_slice, spec.pad
        ((5,), (-1, 5, 0, 6), (6, 6), (slice(0, 4, None), slice(1, 5, None)), (1, 1))
    """
    gids: Tuple
    box: Tuple[int, int, int, int]
    out_dims: Tuple[int, int]
    space_dims: Tuple[int, int]
    space_slice: Tuple[slice, slice]
    window_dims: Optional[Tuple[int, int]]
    pad: Tuple[int, int]
    scale: Optional[Tuple[float, float]]
    channels: Any = None
    fill: Any = 0
    padkw: Optional[dict] = None
    nodata: Any = None
    video: bool = False
    vidid: Any = None
    time_slice: Optional[slice] = None
    frame_warps: Tuple = ()
    data_dims: Optional[Tuple] = None

    def placement(self, height, width):
        """
        :func:`placement` of this window on a ``height x width`` raster.

        Example:
            >>> spec = resolve_sample({'slices': (slice(-2, 3), slice(5, 9))}, (10, 8), (1,))
            >>> spec.placement(10, 8)
            ((0, 3, 5, 8), (2, 5, 0, 3))
        """
        return placement(self.box, self.out_dims, self.scale, height, width)

    def frame_warp(self, index):
        """
        Frame ``index``'s 3x3 image-to-space matrix, or ``None`` (identity).

        Example:
            >>> spec = resolve_sample({'slices': (slice(0, 4), slice(0, 4))}, (10, 10), (1, 2),
            ...                       video=True, frame_warps=(None, np.diag([2.0, 2.0, 1.0])))
            >>> spec.frame_warp(0) is None, spec.frame_warp(1).tolist()
            (True, [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 1.0]])
        """
        return self.frame_warps[index] if self.frame_warps else None

    def space_to_window(self):
        """
        The 3x3 matrix from space pixels to output pixels.

        Example:
            >>> spec = resolve_sample({'slices': (slice(4, 8), slice(2, 6)), 'scale': 0.5}, (10, 10), (1,))
            >>> spec.space_to_window().tolist()
            [[0.5, 0.0, -1.0], [0.0, 0.5, -2.0], [0.0, 0.0, 1.0]]
        """
        y0, _, x0, _ = self.box
        sx, sy = (1.0, 1.0) if self.scale is None else self.scale
        return np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy], [0.0, 0.0, 1.0]])

    def window_to_space(self):
        """
        The 3x3 matrix from output pixels to space pixels (the inverse of
        :meth:`space_to_window`; the sample's ``tf_rel_to_abs``).

        Example:
            >>> spec = resolve_sample({'slices': (slice(4, 8), slice(2, 6)), 'scale': 0.5}, (10, 10), (1,))
            >>> spec.window_to_space().tolist()
            [[2.0, 0.0, 2.0], [0.0, 2.0, 4.0], [0.0, 0.0, 1.0]]
        """
        matrix = _IDENTITY.copy()  # a copy of a constant is cheaper than np.array of tuples
        matrix[0, 2] = self.box[2]
        matrix[1, 2] = self.box[0]
        if self.scale is not None:
            matrix[0, 0] = 1.0 / self.scale[0]
            matrix[1, 1] = 1.0 / self.scale[1]
        return matrix

    def image_to_window(self, index):
        """
        The 3x3 matrix from frame ``index``'s image pixels to output pixels.

        Example:
            >>> spec = resolve_sample({'slices': (slice(4, 8), slice(2, 6))}, (10, 10), (1,),
            ...                       frame_warps=(np.diag([0.5, 0.5, 1.0]),))
            >>> spec.image_to_window(0).tolist()
            [[0.5, 0.0, -2.0], [0.0, 0.5, -4.0], [0.0, 0.0, 1.0]]
        """
        warp = self.frame_warp(index)
        matrix = self.space_to_window()
        return matrix if warp is None else matrix @ warp

    def frame_map(self, index):
        """
        ``(window, coeffs)`` of frame ``index`` as plain floats: the padded
        window in the frame's image pixels ``(l, t, r, b)`` (see
        :meth:`image_box`) and the first two rows ``(a, b, c, d, e, f)`` of
        :meth:`image_to_window`; cheap for a frame without a warp.

        Example:
            >>> spec = resolve_sample({'slices': (slice(4, 8), slice(2, 6)), 'scale': 0.5}, (10, 10), (1,))
            >>> spec.frame_map(0)
            ((2.0, 4.0, 6.0, 8.0), (0.5, 0.0, -1.0, 0.0, 0.5, -2.0))
        """
        if self.frame_warp(index) is None:
            y0, y1, x0, x1 = self.box
            sx, sy = (1.0, 1.0) if self.scale is None else self.scale
            return ((float(x0), float(y0), float(x1), float(y1)),
                    (float(sx), 0.0, float(-x0 * sx), 0.0, float(sy), float(-y0 * sy)))
        return self.image_box(index), tuple(self.image_to_window(index)[0:2].ravel().tolist())

    def image_box(self, index):
        """
        The padded window as ``(l, t, r, b)`` in frame ``index``'s image
        pixels (the bounding box of its corners mapped back through the
        frame's warp).

        Example:
            >>> spec = resolve_sample({'slices': (slice(4, 8), slice(2, 6))}, (10, 10), (1,))
            >>> spec.image_box(0)
            (2.0, 4.0, 6.0, 8.0)
        """
        y0, y1, x0, x1 = self.box
        warp = self.frame_warp(index)
        if warp is None:
            return (float(x0), float(y0), float(x1), float(y1))
        corners = np.array([[x0, x1, x1, x0], [y0, y0, y1, y1], [1.0, 1.0, 1.0, 1.0]])
        xy = np.linalg.inv(warp)[0:2] @ corners
        lo, hi = xy.min(axis=1), xy.max(axis=1)
        return (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))


def _plain_centre_spec(target, space_dims, gids, channels, data_dims):
    """
    The :class:`SampleSpec` of the common 2-D target, a centre and a size in
    pixels and nothing else (finite plain-number ``cx``, ``cy``; ints in
    range as the pair ``window_dims`` or else as ``height``, ``width``; no
    other key that changes the geometry, not even set to None), built
    without the general path's checks, which its values need not; None for
    any other target.  The window starts as in :func:`center_extent_to_slice`.
    """
    if not _GEOMETRY_KEYS.isdisjoint(target):
        return None
    try:
        cx, cy = target['cx'], target['cy']
        window_dims = target.get('window_dims', None)
        if window_dims is None:
            height, width = target['height'], target['width']
        elif type(window_dims) is tuple and len(window_dims) == 2:
            height, width = window_dims
        else:
            return None
    except KeyError:
        return None
    if not (type(cx) in _PLAIN_REALS and type(cy) in _PLAIN_REALS and type(width) is int and
            type(height) is int and _isfinite(cx) and _isfinite(cy) and
            0 < width <= MAX_WINDOW_SIDE and 0 < height <= MAX_WINDOW_SIDE and
            width * height <= MAX_WINDOW_PIXELS):
        return None
    y0, x0 = _floor(cy - height / 2.0), _floor(cx - width / 2.0)
    window_dims = (height, width)
    space_dims = space_dims if type(space_dims) is tuple else tuple(space_dims)
    return tuple.__new__(SampleSpec, (
        gids if type(gids) is tuple else tuple(gids), (y0, y0 + height, x0, x0 + width),
        window_dims, space_dims, (slice(y0, y0 + height), slice(x0, x0 + width)), window_dims,
        (0, 0), None, channels, 0, None, None, False, None, None, (),
        space_dims if data_dims is None else data_dims))


_PLAIN_REALS = frozenset([int, float, np.float64])
#: Target keys that change a window's geometry beyond a centre and a size.
_GEOMETRY_KEYS = frozenset(['space_slice', 'slices', 'pad', 'scale', 'padkw', 'nodata'])
_floor = math.floor


def resolve_sample(target, space_dims, gids, channels=None, video=False, vidid=None,
                   time_slice=None, frame_warps=(), data_dims=None):
    """
    Resolve a target dict into a :class:`SampleSpec`: the one place where a
    target's centre, size, slices, ``pad``, ``scale``, ``padkw`` and
    ``nodata`` become pixel geometry.

    Args:
        target (dict): the target, ids already resolved.
        space_dims (Tuple[int, int]): ``(h, w)`` of the image (2-D) or video.
        gids (Tuple): image ids, one per frame.
        channels: the channels to read (``None``: each image's own).
        frame_warps (Tuple): per frame, a 3x3 image-to-space matrix or
            ``None``; empty when every frame is aligned with the space.

    Example:
        >>> spec = resolve_sample({'cx': 5, 'cy': 5, 'width': 4, 'height': 4, 'pad': 1,
        ...                        'scale': 0.5}, (10, 10), gids=(7,))
        >>> spec.box, spec.out_dims, spec.scale, spec.fill
        ((2, 8, 2, 8), (3, 3), (0.5, 0.5), 0)
    """
    if not video and not frame_warps and vidid is None and time_slice is None:
        spec = _plain_centre_spec(target, space_dims, gids, channels, data_dims)
        if spec is not None:
            return spec
    space_slice, window_dims = resolve_space_slice(target, space_dims)
    pad = target.get('pad', None)
    pad = (0, 0) if pad is None else coerce_pad(pad)
    box = padded_bounds(space_slice, pad)
    scale = target.get('scale', None)
    if scale is not None:
        scale = coerce_scale(scale)
    y0, y1, x0, x1 = box
    out_dims = (y1 - y0, x1 - x0) if scale is None else scaled_shape(y0, y1, x0, x1, scale)
    padkw = target.get('padkw', None)
    nodata = target.get('nodata', None)
    fill = 0 if padkw is None and nodata is None else fill_value(padkw, nodata)
    if fill is None:
        if scale is not None:
            raise InvalidTargetError('a scaled window can only be padded with a constant, '
                                     'got padkw={!r}'.format(padkw))
        if placement(box, out_dims, None, *space_dims) is None:
            raise InvalidTargetError('padkw={!r} needs image data to pad from, but the '
                                     'window {} misses the image'.format(padkw, box))
    space_dims = space_dims if type(space_dims) is tuple else tuple(space_dims)
    return SampleSpec(gids if type(gids) is tuple else tuple(gids), box, out_dims, space_dims,
                      space_slice, window_dims, pad, scale, channels, fill, padkw, nodata, video,
                      vidid, time_slice, tuple(frame_warps) if frame_warps else (),
                      space_dims if data_dims is None else data_dims)
