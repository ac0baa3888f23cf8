"""
Example:
    >>> from ndsampler.utils.util_misc import HashIdentifiable
    >>> class Thing(HashIdentifiable):
    ...     def _depends(self):
    ...         return ['a', 1]
    >>> len(Thing().hashid) > 8
    True
"""
import ubelt as ub


class HashIdentifiable:
    """
    Mixin giving a ``hashid`` property: a hash of ``_depends()``, or
    whatever ``_make_hashid()`` returns, computed once.
    """

    def _depends(self):
        raise NotImplementedError

    def _make_hashid(self):
        return ub.hash_data(self._depends())

    @property
    def hashid(self):
        hashid = self.__dict__.get('_hashid', None)
        if hashid is None:
            hashid = self.__dict__['_hashid'] = self._make_hashid()
        return hashid
