"""Window weights and the slices of a prediction in image pixels."""
import numbers

import numpy as np

from ndsampler.errors import StitchError

#: The names ``weighting`` accepts.
WEIGHTINGS = ('uniform', 'gaussian', 'hann')

#: The smallest window weight, relative to its peak, for ``'gaussian'`` and
#: ``'hann'`` (per axis): every pixel a window covers gets a positive weight,
#: so every covered pixel has a finite mean.
WEIGHT_FLOOR = 1e-3


def _profile(n, weighting, sigma):
    """The 1-D weight profile of ``n`` samples, peak 1, floored at WEIGHT_FLOOR."""
    if weighting == 'uniform':
        return np.ones(n, dtype=np.float64)
    pos = (np.arange(n, dtype=np.float64) + 0.5) / n  # pixel centres in (0, 1)
    if weighting == 'hann':
        prof = np.sin(np.pi * pos) ** 2
    else:  # gaussian
        prof = np.exp(-0.5 * ((pos - 0.5) / sigma) ** 2)
    prof /= prof.max()
    return np.maximum(prof, WEIGHT_FLOOR)


def _check_weighting(weighting):
    if weighting not in WEIGHTINGS:
        raise StitchError('unknown weighting {!r}: use one of {}'.format(
            weighting, ', '.join(map(repr, WEIGHTINGS))))
    return weighting


def window_weights(dims, weighting='uniform', sigma=0.125):
    """
    The weight of each pixel of a ``(h, w)`` prediction.

    ``'uniform'`` is all ones.  ``'hann'`` is a separable raised cosine and
    ``'gaussian'`` a separable Gaussian with standard deviation ``sigma``
    times the side; both peak at 1 in the middle and are floored at
    :data:`WEIGHT_FLOOR` per axis, so they are positive everywhere.

    Example:
        >>> from ndsampler.stitch import window_weights
        >>> w = window_weights((4, 6), 'hann')
        >>> w.shape, bool(w.min() > 0), float(w.max()) <= 1.0
        ((4, 6), True, True)
        >>> window_weights((2, 3), 'uniform').tolist()
        [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    _check_weighting(weighting)
    h, w = (int(d) for d in dims)
    return np.outer(_profile(h, weighting, sigma), _profile(w, weighting, sigma))


# ---------------------------------------------------------------------------
# windows in image pixels

def _int(name, v):
    if isinstance(v, bool) or not isinstance(v, (numbers.Integral, np.integer)):
        raise StitchError('{} bounds must be ints, got {!r}'.format(name, v))
    return int(v)


def _slice_bounds(sl, dim, name):
    if not isinstance(sl, slice):
        raise StitchError('{} must be a slice, got {!r}'.format(name, sl))
    if sl.step not in (None, 1):
        raise StitchError('{} cannot have a step: {!r}'.format(name, sl))
    start = 0 if sl.start is None else _int(name, sl.start)
    if sl.stop is None:
        if dim is None:
            raise StitchError('{} needs an explicit stop here: {!r}'.format(name, sl))
        stop = int(dim)
    else:
        stop = _int(name, sl.stop)
    if stop <= start:
        raise StitchError('{} is empty or reversed: {!r}'.format(name, sl))
    return start, stop


def _window(item, space_dims=None):
    """
    ``(y0, y1, x0, x1, sx, sy)``: the box a window covers in image pixels and
    its scale (window pixels per image pixel), from a pair of slices or a
    target dict (``space_slice`` / ``slices``, or ``cx, cy, width, height``,
    with ``pad`` and ``scale`` as :mod:`ndsampler.windows` reads them).
    """
    if isinstance(item, dict):
        from ndsampler import windows
        target = item
        if space_dims is None and not any(k in target for k in ('space_slice', 'slices', 'cx')):
            raise StitchError('a target without slices needs the image size')
        dims = space_dims if space_dims is not None else (None, None)
        slices = target.get('space_slice', None)
        if slices is None:
            slices = target.get('slices', None)
            if isinstance(slices, tuple) and len(slices) == 3:
                slices = slices[1:]  # (t, y, x) of a space-time target
        if slices is not None:
            (y0, y1), (x0, x1) = _pair_bounds(slices, dims)
            space_slice = (slice(y0, y1), slice(x0, x1))
        else:
            space_slice, _ = windows.resolve_space_slice(target, dims)
        pad = target.get('pad', None)
        pad = (0, 0) if pad is None else windows.coerce_pad(pad)
        y0, y1, x0, x1 = windows.padded_bounds(space_slice, pad)
        scale = target.get('scale', None)
        sx, sy = (1.0, 1.0) if scale is None else windows.coerce_scale(scale)
        return y0, y1, x0, x1, float(sx), float(sy)
    (y0, y1), (x0, x1) = _pair_bounds(item, space_dims or (None, None))
    return y0, y1, x0, x1, 1.0, 1.0


def _pair_bounds(slices, dims):
    try:
        slices = tuple(slices)
    except TypeError:
        raise StitchError('expected a (y, x) pair of slices, got {!r}'.format(slices)) from None
    if len(slices) != 2:
        raise StitchError('expected a (y, x) pair of slices, got {!r}'.format(slices))
    return (_slice_bounds(slices[0], dims[0], 'y slice'),
            _slice_bounds(slices[1], dims[1], 'x slice'))


def _resize(data, h, w):
    """``data`` resized to ``(h, w)``: linear when enlarging, area when shrinking."""
    import cv2
    dh, dw = data.shape[:2]
    if (dh, dw) == (h, w):
        return data
    interp = cv2.INTER_AREA if (h <= dh and w <= dw) else cv2.INTER_LINEAR
    src = data if data.dtype in (np.float32, np.float64) else data.astype(np.float32)
    chans = src.shape[2] if src.ndim == 3 else None
    if chans is None:
        return cv2.resize(src, (w, h), interpolation=interp)
    out = np.empty((h, w, chans), dtype=src.dtype)
    for c in range(0, chans, 4):  # cv2 handles a few channels at a time well
        part = cv2.resize(np.ascontiguousarray(src[:, :, c:c + 4]), (w, h), interpolation=interp)
        out[:, :, c:c + 4] = part.reshape(h, w, -1)
    return out
