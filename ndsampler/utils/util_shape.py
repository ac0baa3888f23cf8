"""
Describe the structure of nested containers by the shapes of their arrays.

Example:
    >>> import numpy as np
    >>> from ndsampler.utils.util_shape import nestshape
    >>> nestshape({'im': np.zeros((3, 4)), 'labels': [np.zeros(2), 'cat']})
    {'im': (3, 4), 'labels': [(2,), 'cat']}
"""
import numpy as np

__all__ = ['nestshape']

#: Leaves reported as themselves.
_PLAIN = (str, bytes, int, float, complex, slice, type(None))


def nestshape(data):
    """
    Replace every array-like (anything with a ``shape``: numpy arrays, torch
    tensors, ...) in nested dicts, lists and tuples by its shape.  Strings,
    numbers, slices and ``None`` are kept as they are; dicts (and other
    mappings) come back as dicts with sorted keys.  A netharn/mmcv
    ``DataContainer`` becomes ``{'<ClassName>{stack, cpu_only}': <nested
    shape of its data>}``; mmdet's mask lists become their ``repr``.

    Raises:
        TypeError: for a leaf of any other type.

    Example:
        >>> batch = {'label': 3, 'boxes': (np.zeros((2, 4)), None), 'path': 'x.png'}
        >>> nestshape(batch)
        {'boxes': ((2, 4), None), 'label': 3, 'path': 'x.png'}
        >>> nestshape([np.arange(10), np.arange(13)])
        [(10,), (13,)]
    """
    kind = type(data).__name__
    if isinstance(data, dict):
        return _sorted_dict(data)
    if 'Container' in kind and hasattr(data, 'data'):
        meta = '{{cpu_only={}, stack={}}}'.format(getattr(data, 'cpu_only', None),
                                                 getattr(data, 'stack', None))
        return {kind + meta: nestshape(data.data)}
    if isinstance(data, list):
        return [nestshape(item) for item in data]
    if isinstance(data, tuple) and not hasattr(data, 'shape'):
        if hasattr(data, '_fields'):  # namedtuple: keep its type
            return type(data)(*[nestshape(item) for item in data])
        return tuple(nestshape(item) for item in data)
    if isinstance(data, np.ndarray) or _is_tensor(data):
        return data.shape
    if isinstance(data, _PLAIN):
        return data
    if kind in ('PolygonMasks', 'BitmapMasks'):
        return repr(data)
    if hasattr(data, 'shape'):
        return data.shape
    if hasattr(data, 'items'):
        return _sorted_dict(data)
    raise TypeError('nestshape cannot describe a {!r}'.format(type(data)))


def _sorted_dict(mapping):
    return {key: nestshape(mapping[key]) for key in sorted(mapping.keys(), key=_sort_key)}


def _sort_key(key):
    # keys of mixed types sort by type name first, then by value
    return (type(key).__name__, key) if not isinstance(key, (int, float)) else ('', key)


def _is_tensor(data):
    return type(data).__module__.split('.')[0] == 'torch' and hasattr(data, 'shape')
