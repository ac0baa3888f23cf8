"""
A cross-validation splitter that keeps groups whole and classes balanced.

:class:`StratifiedGroupKFold` follows scikit-learn's splitter protocol
(``split``, ``get_n_splits``) and, when scikit-learn is installed, is a
``sklearn.model_selection.BaseCrossValidator``; it does not need
scikit-learn.

Example:
    >>> import numpy as np
    >>> from ndsampler.utils.util_sklearn import StratifiedGroupKFold
    >>> groups = [1, 1, 3, 4, 2, 2, 7, 8, 8]
    >>> y      = [1, 1, 1, 1, 2, 2, 2, 3, 3]
    >>> splitter = StratifiedGroupKFold(n_splits=3)
    >>> for train, test in splitter.split(np.empty((9, 0)), y, groups):
    ...     print(train.tolist(), test.tolist())
    [2, 3, 4, 5, 6] [0, 1, 7, 8]
    [0, 1, 2, 7, 8] [3, 4, 5, 6]
    [0, 1, 3, 4, 5, 6, 7, 8] [2]
"""
import numbers

import numpy as np

__all__ = ['StratifiedGroupKFold']

try:  # be a real scikit-learn splitter when scikit-learn is there
    from sklearn.model_selection import BaseCrossValidator as _SplitterBase
except Exception:  # absent, or broken at import time: work on our own
    _SplitterBase = object


class StratifiedGroupKFold(_SplitterBase):
    """
    K folds in which every group lands in exactly one test fold and each
    fold's class proportions stay close to the whole data's.

    Groups are assigned greedily, largest first (ties: the later group
    first); each goes to the fold where it minimises the squared distance of
    the folds' class ratios from the overall ratios plus the fold's share of
    the samples assigned so far (ties: the lower fold).  The assignment is
    deterministic: ``shuffle`` and ``random_state`` are validated and kept
    for compatibility but do not change it, as in ndsampler 0.8.1.

    Args:
        n_splits (int): number of folds, at least 2.
        shuffle (bool): kept for compatibility (no effect).
        random_state: kept for compatibility (no effect; dropped unless
            ``shuffle``).

    Example:
        >>> y = ['cat', 'cat', 'dog', 'dog', 'cat', 'dog']
        >>> groups = [0, 0, 1, 1, 2, 3]
        >>> splitter = StratifiedGroupKFold(n_splits=2)
        >>> splitter.get_n_splits()
        2
        >>> [test.tolist() for _, test in splitter.split(y, y, groups)]
        [[2, 3, 4], [0, 1, 5]]
    """

    def __init__(self, n_splits=3, shuffle=False, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or isinstance(n_splits, bool):
            raise ValueError('n_splits must be an integer, got {!r}'.format(n_splits))
        if n_splits < 2:
            raise ValueError('n_splits must be at least 2, got {}'.format(n_splits))
        if not isinstance(shuffle, bool):
            raise TypeError('shuffle must be True or False, got {!r}'.format(shuffle))
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state if shuffle else None

    def __repr__(self):
        return '{}(n_splits={}, random_state={!r}, shuffle={})'.format(
            type(self).__name__, self.n_splits, self.random_state, self.shuffle)

    def get_n_splits(self, X=None, y=None, groups=None):
        """The number of folds."""
        return self.n_splits

    def split(self, X, y, groups=None):
        """
        Yield ``(train_indices, test_indices)`` for each fold.

        Args:
            X (ArrayLike): the samples (only their number is used).
            y (ArrayLike): a class label per sample (any hashable values).
            groups (ArrayLike | None): a group id per sample; samples of one
                group share a fold.  ``None``: every sample is its own group.
        """
        n_samples = len(X)
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError('y must be one-dimensional, got shape {}'.format(y.shape))
        if len(y) != n_samples:
            raise ValueError('X has {} samples but y has {}'.format(n_samples, len(y)))
        indices = np.arange(n_samples)
        for mask in self._iter_test_masks(X, y, groups):
            yield indices[~mask], indices[mask]

    def _iter_test_masks(self, X=None, y=None, groups=None):
        folds = self._make_test_folds(X, y, groups)
        for fold in range(self.n_splits):
            yield folds == fold

    def _make_test_folds(self, X, y=None, groups=None):
        """
        The fold of each sample (an int array).

        Example:
            >>> StratifiedGroupKFold(2)._make_test_folds(None, [0, 0, 1, 1], [5, 5, 6, 7]).tolist()
            [0, 0, 0, 1]
        """
        y = np.asarray(y)
        n_samples = len(y)
        if groups is None:
            groups = np.arange(n_samples)
        groups = np.asarray(groups)
        if len(groups) != n_samples:
            raise ValueError('y has {} samples but groups has {}'.format(n_samples, len(groups)))
        _, labels = np.unique(y, return_inverse=True)
        labels = labels.reshape(-1)
        _, group_of = np.unique(groups, return_inverse=True)
        group_of = group_of.reshape(-1)
        n_classes = labels.max() + 1 if n_samples else 0
        n_groups = group_of.max() + 1 if n_samples else 0

        # class counts of every group, and the overall class ratios to match
        counts = np.zeros((n_groups, n_classes))
        np.add.at(counts, (group_of, labels), 1)
        target = counts.sum(axis=0) / max(counts.sum(), 1)

        fold_counts = np.zeros((self.n_splits, n_classes))
        fold_errors = ((fold_counts - target) ** 2).sum(axis=1)
        group_fold = np.empty(n_groups, dtype=int)
        # largest groups first; among equal sizes the later group goes first
        order = np.argsort(counts.sum(axis=1), kind='stable')[::-1]
        for group in order:
            candidate = fold_counts + counts[group]
            ratios = candidate / candidate.sum(axis=1, keepdims=True)
            errors = ((ratios - target) ** 2).sum(axis=1)
            others = np.array([sum(fold_errors[k + 1:]) + sum(fold_errors[:k])
                               for k in range(self.n_splits)])
            sizes = fold_counts.sum(axis=1)
            load = sizes / sizes.sum() if sizes.sum() else np.zeros(self.n_splits)
            best = int(np.argmin(others + errors + load))
            fold_counts[best] = candidate[best]
            fold_errors[best] = errors[best]
            group_fold[group] = best
        return group_fold[group_of]
