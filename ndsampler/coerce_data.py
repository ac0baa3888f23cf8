"""
Train / validation / test kwcoco datasets from netharn-style config keys.

Kept at the original's import path for old training scripts (the original
notes that this helper moved to netharn).

Example:
    >>> from ndsampler.coerce_data import coerce_datasets
    >>> subsets = coerce_datasets({'datasets': 'special:shapes8'}, verbose=0)
    >>> sorted(subsets)
    ['test', 'train', 'vali']
    >>> {tag: sorted(dset.imgs) for tag, dset in subsets.items()}
    {'train': [1, 3, 4, 6, 8], 'vali': [5], 'test': [2, 7]}
"""
import os
import warnings

import ubelt as ub

__all__ = ['coerce_datasets']

SUBSET_KEYS = {'train': 'train_dataset', 'vali': 'vali_dataset', 'test': 'test_dataset'}


def coerce_datasets(config, build_hashid=False, verbose=1):
    """
    Datasets ``{'train': ..., 'vali': ..., 'test': ...}`` (only those that
    exist) from the config keys ``train_dataset``, ``vali_dataset`` and
    ``test_dataset``, or, when none of these is given, by splitting
    ``datasets`` with :func:`_split_train_vali_test` (``split_factor``,
    default 3; ``no_test=True`` moves the test images into train).

    Each value may be a ``kwcoco.CocoDataset``, the path of a kwcoco file
    (optionally prefixed ``path:``), or a kwcoco demo code prefixed
    ``special:`` (e.g. ``'special:shapes8'``; a code without the prefix
    works with a warning).  A split subset's ``tag`` is the base tag plus
    ``-train`` / ``-vali`` / ``-test``.

    Args:
        config (dict): the keys above (others are ignored).
        build_hashid (bool): also compute each subset's ``hashid`` (without
            hashing pixels).
        verbose (int): print progress.

    Returns:
        Dict[str, kwcoco.CocoDataset]

    Example:
        >>> import kwcoco
        >>> subsets = coerce_datasets({
        ...     'datasets': 'special:shapes8',   # ignored: explicit subsets win
        ...     'train_dataset': kwcoco.CocoDataset.demo('shapes2'),
        ...     'test_dataset': 'special:shapes1'}, verbose=0)
        >>> {tag: dset.n_images for tag, dset in subsets.items()}
        {'train': 2, 'test': 1}
        >>> split = coerce_datasets({'datasets': 'special:shapes8', 'no_test': True},
        ...                         build_hashid=True, verbose=0)
        >>> sorted(split), split['train'].tag, split['vali'].hashid is not None
        (['train', 'vali'], 'shapes8-train', True)
    """
    subsets = {tag: _ensure_coco(config.get(key, None), verbose)
               for tag, key in SUBSET_KEYS.items()}
    explicit = any(value is not None for value in subsets.values())
    base = None if explicit else _ensure_coco(config.get('datasets', None), verbose)
    if base is not None:
        if verbose:
            print('[ndsampler.coerce_data] splitting {} into train/vali/test'.format(base))
        split_gids = _split_train_vali_test(base, factor=config.get('split_factor', 3))
        if config.get('no_test', False):
            split_gids['train'] = sorted(split_gids['train'] + split_gids.pop('test'))
        for tag, gids in split_gids.items():
            subset = base.subset(sorted(gids), copy=True)
            subset.tag = '{}-{}'.format(base.tag, tag) if base.tag else tag
            subsets[tag] = subset
    subsets = {tag: dset for tag, dset in subsets.items() if dset is not None}
    if build_hashid:
        for tag, subset in subsets.items():
            if verbose:
                print('[ndsampler.coerce_data] hashing {}'.format(subset.tag))
            subset._build_hashid(hash_pixels=False)
    return subsets


def _ensure_coco(data, verbose=0):
    """A ``kwcoco.CocoDataset`` from a dataset, a file path or a demo code."""
    import kwcoco
    if data is None or isinstance(data, kwcoco.CocoDataset):
        return data
    if not isinstance(data, (str, os.PathLike)):
        raise TypeError('expected a kwcoco.CocoDataset, a path or a special: code, got '
                        '{!r}'.format(type(data)))
    text = os.fspath(data)
    for prefix in ('path:', 'PATH:'):
        if text.startswith(prefix):
            text = text[len(prefix):]
    fpath = ub.expandpath(text)
    if os.path.exists(fpath):
        if verbose:
            print('[ndsampler.coerce_data] reading {}'.format(fpath))
        return kwcoco.CocoDataset(fpath)
    if text.lower().startswith('special:'):
        code = text[len('special:'):]
    else:
        warnings.warn('{!r} is not an existing file; treating it as a kwcoco demo code '
                      '(write special:{} to silence this)'.format(text, text))
        code = text
    return kwcoco.CocoDataset.demo(code)


def _split_train_vali_test(coco_dset, factor=3):
    """
    Image ids for ``'train'``, ``'vali'`` and ``'test'``: disjoint, each
    image whole, classes balanced.

    Every annotation is one sample, grouped by its image and labelled by its
    category: the first of ``factor`` :class:`StratifiedGroupKFold` folds is
    the test set, and the first of ``factor`` folds of the rest is the
    validation set.  Images without annotations are in no split.

    Example:
        >>> import kwcoco
        >>> split = _split_train_vali_test(kwcoco.CocoDataset.demo('shapes8'))
        >>> split
        {'train': [1, 3, 4, 6, 8], 'vali': [5], 'test': [2, 7]}
    """
    from ndsampler.utils.util_sklearn import StratifiedGroupKFold
    images = coco_dset.images()
    gids, cids = [], []
    for gid, image_cids in zip(images, images.annots.cids):
        gids.extend([gid] * len(image_cids))
        cids.extend(image_cids)

    def first_fold(gids_, cids_, seed):
        splitter = StratifiedGroupKFold(n_splits=factor, shuffle=True, random_state=seed)
        train, test = next(iter(splitter.split(gids_, cids_, groups=gids_)))
        return train, test

    learnx, testx = first_fold(gids, cids, 2997217409)
    _trainx, _valix = first_fold([gids[i] for i in learnx], [cids[i] for i in learnx], 140860164)
    parts = {'train': learnx[_trainx], 'vali': learnx[_valix], 'test': testx}
    split = {tag: sorted(set(gids[i] for i in idxs)) for tag, idxs in parts.items()}
    # groups are images, so the sets are disjoint; enforce it regardless
    split['vali'] = sorted(set(split['vali']) - set(split['train']))
    split['test'] = sorted(set(split['test']) - set(split['train']) - set(split['vali']))
    return split


def _catfreq_columns_str(subsets):
    """A text table of annotations per category (rows) in each subset (columns)."""
    import pandas as pd
    table = pd.DataFrame.from_dict({tag: subset.category_annotation_frequency()
                                    for tag, subset in subsets.items()})
    table['sum'] = table.sum(axis=1)
    with pd.option_context('display.max_rows', 1000):
        return table.sort_values('sum').to_string()


def _print_catfreq_columns(subsets):
    """Print :func:`_catfreq_columns_str` under a heading."""
    print('Category Split Frequency:')
    print(_catfreq_columns_str(subsets))
