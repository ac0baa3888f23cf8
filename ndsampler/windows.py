"""
Pure window arithmetic: from a target's centre, size, slices and padding to
the pixel rectangle that a sample covers.  No I/O happens here.

Conventions (the original ndsampler's): slices and sizes are ``(y, x)`` /
``(h, w)``; a window of size ``d`` centred at ``c`` starts at
``floor(c - d / 2)`` and has exactly ``d`` pixels; slices in a target are taken
literally, so ``slice(-5, 5)`` means five rows above the image and five rows in
it.

Example:
    >>> from ndsampler.windows import center_extent_to_slice, padded_bounds
    >>> center_extent_to_slice((10, 20.5), (4, 5))
    (slice(8, 12, None), slice(18, 23, None))
    >>> padded_bounds((slice(-2, 3), slice(5, 9)), pad=(1, 2))
    (-3, 4, 3, 11)
"""
import math
import numbers
import os

import numpy as np

from ndsampler.errors import InvalidTargetError, InvalidTargetTypeError

#: Largest window side, in pixels, that a target may ask for.
MAX_WINDOW_SIDE = 1 << 20
#: Largest number of pixels (h * w) in one window; override with the
#: ``NDSAMPLER_MAX_WINDOW_PIXELS`` environment variable.
MAX_WINDOW_PIXELS = int(os.environ.get('NDSAMPLER_MAX_WINDOW_PIXELS', 1 << 31))


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
    """Return a window side as a positive int (ceil of a positive float)."""
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
        for key in ('width', 'height'):
            if key not in target:
                raise InvalidTargetError(
                    'target needs {!r} (or window_dims or slices) to size the '
                    'window: {!r}'.format(key, target))
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
    slices = []
    for c, d in zip(center, window_dims):
        start = int(math.floor(c - d / 2.0))
        slices.append(slice(start, start + int(d)))
    return tuple(slices)


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
    for key in ('space_slice', 'slices'):
        slices = target.get(key, None)
        if slices is not None:
            if key == 'slices' and isinstance(slices, tuple) and len(slices) == len(data_dims) + 1:
                slices = slices[1:]  # (t, y, x) slices of a space-time target
            return coerce_slices(slices, data_dims, key), None
    has_cx, has_cy = 'cx' in target, 'cy' in target
    if has_cx or has_cy:
        if not (has_cx and has_cy):
            raise InvalidTargetError(
                'target needs both cx and cy: {!r}'.format(target))
        center = (as_real('cy', target['cy']), as_real('cx', target['cx']))
        window_dims = window_dims_from_target(target)
        return center_extent_to_slice(center, window_dims), window_dims
    full = tuple(slice(0, int(d)) for d in data_dims)
    return full, None


def padded_bounds(space_slice, pad):
    """
    ``(y0, y1, x0, x1)`` of the window grown by ``pad`` on every side,
    checked against the window size limits.
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
