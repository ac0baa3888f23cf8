"""
Stable identifiers for objects whose content can be listed.

A :class:`HashIdentifiable` object lists what identifies it in
``_depends()``; ``hashid`` is ``ubelt.hash_data`` of that list (SHA-512,
hex).  ``ubelt.hash_data`` hashes the values themselves (dicts by sorted
items, strings by their bytes, numbers by their text), never Python's
randomised ``hash()`` or object addresses, so the same content gives the same
``hashid`` in every process and run: client code uses it as a cache key.

Example:
    >>> from ndsampler.utils.util_misc import HashIdentifiable
    >>> class Thing(HashIdentifiable):
    ...     def _depends(self):
    ...         return {'name': 'a', 'size': 1}
    >>> Thing().hashid[:16]
    '865e51923cc99074'
"""
import ubelt as ub

__all__ = ['HashIdentifiable']


class HashIdentifiable:
    """
    Mixin giving a ``hashid`` property, computed once and then kept.

    A subclass implements one of:

    * ``_depends()``: the (ubelt-hashable) things that identify it;
    * ``_make_hashid()``: returning ``(hashid, parts)`` as in the original
      (a bare ``hashid`` string is accepted too);
    * or sets ``self._hashid`` itself.

    Example:
        >>> class Given(HashIdentifiable):
        ...     _hashid = 'abc'
        >>> Given().hashid
        'abc'
        >>> class Legacy(HashIdentifiable):
        ...     def _make_hashid(self):
        ...         return 'xyz', None
        >>> Legacy().hashid
        'xyz'
    """

    def _depends(self):
        raise NotImplementedError(
            '{} must implement _depends() or _make_hashid()'.format(type(self).__name__))

    def _make_hashid(self):
        parts = self._depends()
        return ub.hash_data(parts), parts

    @property
    def hashid(self):
        hashid = getattr(self, '_hashid', None)
        if hashid is None:
            made = self._make_hashid()
            if isinstance(made, tuple):
                hashid, parts = made
                self._hashid_parts = parts
            else:
                hashid = made
            self._hashid = hashid
        return hashid
