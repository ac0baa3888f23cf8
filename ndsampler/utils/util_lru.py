"""
A dictionary that keeps only its ``max_size`` most recently used items.

:meth:`LRUDict.new` returns the C implementation of the optional
``lru-dict`` package (``lru.LRU``) when it is installed and this pure Python
one otherwise; both share the API used here.

Example:
    >>> from ndsampler.utils.util_lru import LRUDict
    >>> cache = LRUDict(2)
    >>> cache['a'] = 1
    >>> cache['b'] = 2
    >>> cache['a']       # touching 'a' makes 'b' the least recently used
    1
    >>> cache['c'] = 3   # evicts 'b'
    >>> list(cache.keys())
    ['a', 'c']
"""
from collections import OrderedDict

import ubelt as ub

__all__ = ['LRUDict']


class LRUDict(ub.NiceRepr):
    """
    Least-recently-used mapping: reading or writing a key makes it the most
    recent; inserting a new key into a full dict evicts the least recent.
    Iteration, ``keys``, ``values`` and ``items`` go from least to most
    recently used.

    Args:
        max_size (int): capacity (at least 1).

    Example:
        >>> cache = LRUDict(3)
        >>> cache.update({1: 'a', 2: 'b', 3: 'c'})
        >>> cache.get(1)
        'a'
        >>> cache[4] = 'd'
        >>> list(cache)
        [3, 1, 4]
        >>> 2 in cache, len(cache), cache.get_size()
        (False, 3, 3)
    """

    def __init__(self, max_size):
        self._max_size = self._check_size(max_size)
        self._cache = OrderedDict()

    @staticmethod
    def _check_size(max_size):
        max_size = int(max_size)
        if max_size < 1:
            raise ValueError('LRUDict max_size must be at least 1, got {}'.format(max_size))
        return max_size

    def __nice__(self):
        return ub.urepr(dict(self._cache), nl=0)

    def __contains__(self, key):
        return key in self._cache

    def has_key(self, key):
        """``key in self``, without touching it."""
        return key in self._cache

    def __len__(self):
        return len(self._cache)

    def __iter__(self):
        return iter(self._cache)

    def __getitem__(self, key):
        value = self._cache[key]
        self._cache.move_to_end(key)
        return value

    def __setitem__(self, key, value):
        if key in self._cache:
            self._cache.move_to_end(key)
        elif len(self._cache) >= self._max_size:
            self._cache.popitem(last=False)
        self._cache[key] = value

    def __delitem__(self, key):
        del self._cache[key]

    def get(self, key, default=None):
        """The value of ``key`` (now the most recent), or ``default``."""
        if key in self._cache:
            return self[key]
        return default

    def pop(self, key, *default):
        """Remove ``key`` and return its value (or ``default``)."""
        return self._cache.pop(key, *default)

    def setdefault(self, key, default=None):
        """``self[key]``, inserting ``default`` first when missing."""
        if key not in self._cache:
            self[key] = default
        return self[key]

    def update(self, other):
        """Insert every item of a mapping, in its order."""
        for key, value in other.items():
            self[key] = value

    def keys(self):
        return self._cache.keys()

    def values(self):
        return self._cache.values()

    def items(self):
        return self._cache.items()

    def clear(self):
        self._cache.clear()

    def get_size(self):
        """The capacity."""
        return self._max_size

    def set_size(self, max_size):
        """
        Change the capacity, evicting the least recently used items that no
        longer fit.

        Example:
            >>> cache = LRUDict(4)
            >>> cache.update(dict(zip('abcd', range(4))))
            >>> cache.set_size(2)
            >>> list(cache.items())
            [('c', 2), ('d', 3)]
        """
        self._max_size = self._check_size(max_size)
        while len(self._cache) > self._max_size:
            self._cache.popitem(last=False)

    @classmethod
    def new(cls, max_size, impl='auto'):
        """
        An LRU dictionary: ``impl='c'`` is ``lru.LRU`` from the optional
        ``lru-dict`` package, ``'py'`` this class, and ``'auto'`` the first
        of them that is available.

        Example:
            >>> cache = LRUDict.new(2, impl='py')
            >>> cache['x'] = 1
            >>> type(cache).__name__, cache.get_size()
            ('LRUDict', 2)
            >>> LRUDict.new(2, impl='auto')['y'] = 2
        """
        if impl not in ('auto', 'c', 'py'):
            raise KeyError('unknown LRUDict impl={!r}; expected auto, c or py'.format(impl))
        if impl in ('auto', 'c'):
            try:
                import lru
            except ImportError:
                if impl == 'c':
                    raise
            else:
                return lru.LRU(cls._check_size(max_size))
        return cls(max_size)
