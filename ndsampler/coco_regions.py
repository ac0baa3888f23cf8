"""
Regions of a dataset worth sampling: positives centred on annotations,
negatives drawn from background, and sliding-window grids.

Positives are every annotation with a bbox, in dataset order.  Negatives are
random windows whose overlap with every annotation is at most 30% of that
annotation's area; they carry ``aid=-1`` and the background category id.
``preselect`` fixes a pool of each; with an integer seed the pools are
reproducible and cached under ``workdir``, keyed by the dataset's content.

Example:
    >>> from ndsampler.coco_regions import CocoRegions
    >>> regions = CocoRegions.demo()
    >>> regions.preselect(neg_to_pos_ratio=0.5, window_dims=(64, 64), rng=0)
    (71, 35)
    >>> negative = regions.get_negative(0)
    >>> (negative['aid'], negative['category_id'], negative['width'])
    (-1, 0, 64.0)
"""
import json
import os
import warnings

import kwarray
import kwimage
import numpy as np
import ubelt as ub

from ndsampler.annot_index import AnnotIndex, as_ltrb
from ndsampler.isect_indexer import FrameIntersectionIndex, ImageSizes
from ndsampler.sample_grids import new_image_sample_grid, new_video_sample_grid

TARGET_COLUMNS = ['aid', 'gid', 'category_id', 'cx', 'cy', 'width', 'height',
                  'img_width', 'img_height']
#: Negatives may cover at most this fraction of any annotation's area.
NEGATIVE_OVERLAP_THRESH = 0.3


class MissingNegativePool(AssertionError):
    """
    A specific negative was asked for before a negative pool exists.

    Example:
        >>> CocoRegions.demo().get_negative(0)
        Traceback (most recent call last):
        ...
        ndsampler.coco_regions.MissingNegativePool: negative index=0 was requested, but no negative pool exists...
    """


class Targets:
    """
    The abstract interface of a region selector (:class:`CocoRegions`
    implements it; its methods raise ``NotImplementedError`` here).

    Example:
        >>> isinstance(CocoRegions.demo(), Targets)
        True
        >>> Targets().get_positive(0)
        Traceback (most recent call last):
        ...
        NotImplementedError
    """

    def get_positive(self, index=None, rng=None):
        """
        Positive ``index`` as a target dict (``aid``, ``gid``, centre and size).

        Example:
            >>> target = CocoRegions.demo().get_positive(rng=0)
            >>> sorted(target) == sorted(TARGET_COLUMNS), bool(target['aid'] > 0)
            (True, True)
        """
        raise NotImplementedError

    def get_negative(self, index=None, rng=None):
        """
        Negative ``index`` (a background window, ``aid == -1``) as a target dict.

        Example:
            >>> negative = CocoRegions.demo().get_negative(rng=0)
            >>> negative['aid'], negative['category_id']
            (-1, 0)
        """
        raise NotImplementedError

    def overlapping_aids(self, gid, region, visible_thresh=0.0):
        """
        Ids of the annotations of image ``gid`` whose boxes meet ``region`` (ltrb).

        Example:
            >>> CocoRegions.demo().overlapping_aids(1, [0, 0, 600, 600])
            [1]
        """
        raise NotImplementedError

    def preselect(self, n_pos=None, n_neg=None, neg_to_pos_ratio=None,
                  window_dims=None, rng=None, verbose=0):
        """
        Fix the pools of positives and negatives; returns ``(n_pos, n_neg)``.

        Example:
            >>> CocoRegions.demo().preselect(n_pos=6, neg_to_pos_ratio=0.5, window_dims=(32, 32), rng=0)
            (6, 3)
        """
        raise NotImplementedError


def tabular_coco_targets(dset, image_dims=None):
    """
    One row per annotation with a bbox, in dataset order: its id, image,
    category, box centre and size, and image size.

    Args:
        dset (kwcoco.CocoDataset): the dataset.
        image_dims (Callable | Mapping | ImageSizes | None): ``(h, w)`` of
            images whose dicts lack ``width``/``height`` (see
            :class:`~ndsampler.isect_indexer.ImageSizes`); ``-1`` where no
            size can be found.

    Example:
        >>> import kwcoco
        >>> dset = kwcoco.CocoDataset.demo('shapes2')
        >>> targets = tabular_coco_targets(dset)
        >>> sorted(targets.columns) == sorted(TARGET_COLUMNS)
        True
        >>> del dset.imgs[1]['width'], dset.imgs[1]['height']
        >>> targets = tabular_coco_targets(dset, image_dims=lambda gid: (50, 70))
        >>> int(targets['img_width'][0]), int(targets['img_height'][0])
        (70, 50)
    """
    sizes = ImageSizes.coerce(dset, image_dims)
    rows = {key: [] for key in TARGET_COLUMNS}
    for aid, ann in dset.anns.items():
        bbox = ann.get('bbox', None)
        if bbox is None:
            continue
        dims = sizes(ann['image_id'])
        img_h, img_w = (-1, -1) if dims is None else dims
        x, y, w, h = bbox
        for key, value in zip(TARGET_COLUMNS, [
                aid, ann['image_id'], ann.get('category_id', -1), x + w / 2.0,
                y + h / 2.0, w, h, img_w, img_h]):
            rows[key].append(value)
    dtypes = {'cx': np.float64, 'cy': np.float64, 'width': np.float64, 'height': np.float64}
    columns = {key: np.array(values, dtype=dtypes.get(key, np.int64))
               for key, values in rows.items()}
    return kwarray.DataFrameArray(columns)


def select_positive_regions(targets, window_dims=(300, 300), thresh=0.0, rng=None, verbose=0):
    """
    A subset of targets whose windows cover the annotations with little
    redundancy: per image, windows of ``window_dims`` centred on each target
    are ranked at random and non-maximum suppression at ``thresh`` drops
    those overlapping a kept one.

    Returns:
        ndarray: sorted indices into ``targets``.

    Example:
        >>> from ndsampler.coco_regions import CocoRegions
        >>> regions = CocoRegions.demo()
        >>> idxs = select_positive_regions(regions.targets, window_dims=(300, 300), rng=0)
        >>> 0 < len(idxs) < len(regions.targets)
        True
    """
    rng = kwarray.ensure_rng(rng)
    gids = np.asarray(targets['gid'])
    h, w = window_dims
    keep = []
    for gid in np.unique(gids):
        idxs = np.flatnonzero(gids == gid)
        cx = np.asarray(targets['cx'])[idxs]
        cy = np.asarray(targets['cy'])[idxs]
        ltrb = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        scores = rng.rand(len(idxs))
        kept = kwimage.non_max_supression(ltrb, scores, thresh=thresh, impl='numpy')
        keep.extend(idxs[kept].tolist())
    if verbose:
        print('selected {} of {} positive regions'.format(len(keep), len(gids)))
    return np.array(sorted(keep), dtype=np.int64)


class CocoRegions(Targets, ub.NiceRepr):
    """
    Positive and negative regions of a kwcoco dataset.

    Args:
        dset (kwcoco.CocoDataset): the dataset.
        workdir (str | PathLike | None): where seeded pools are cached.
        verbose (int): verbosity.
        annot_index (AnnotIndex | None): the dataset's annotation index, to
            share with a sampler (one is made on first use otherwise).
        image_dims (Callable[[int], Tuple[int, int]] | Mapping | None):
            ``(h, w)`` of an image whose dict lacks ``width``/``height``
            (e.g. read from its frames); used by negatives, grids, the
            ``img_width``/``img_height`` columns and the anchors.  Without
            it such sizes come from the main file's header (images with
            neither get no negatives).

    Example:
        >>> import kwcoco
        >>> import ndsampler
        >>> dset = kwcoco.CocoDataset.demo('shapes8')
        >>> for img in dset.imgs.values():
        ...     del img['width'], img['height']
        >>> regions = ndsampler.CocoRegions(dset, image_dims=lambda gid: (600, 600), verbose=0)
        >>> regions.preselect(n_neg=3, window_dims=(64, 64), rng=0)[1]
        3
        >>> int(regions.get_negative(0)['img_width'])
        600
    """

    def __init__(self, dset, workdir=None, verbose=1, annot_index=None, image_dims=None):
        self.dset = dset
        self.workdir = workdir
        self.verbose = verbose
        self._annot_index = annot_index
        self.image_sizes = ImageSizes.coerce(dset, image_dims)
        self._targets = None
        self._isect_index = None
        self._neg_anchors = None
        self._pos_select_idxs = None
        self._negative_pool = None
        self._negative_cursor = 0
        self._enabled_caches = {'negatives': workdir is not None}

    def __nice__(self):
        n_pos = None if self._pos_select_idxs is None else len(self._pos_select_idxs)
        n_neg = None if self._negative_pool is None else len(self._negative_pool)
        n_viable = None if self._pos_select_idxs is None else len(self.targets)
        stats = ', '.join('{}={}'.format(k, v) for k, v in self.dset.basic_stats().items())
        return '{{nPos={}, nNeg={}}} ∼ {{nViable={}}} ⊆ {{{}}}'.format(n_pos, n_neg, n_viable, stats)

    @classmethod
    def demo(cls):
        """
        Regions over kwcoco's ``shapes8`` demo dataset.

        Example:
            >>> regions = CocoRegions.demo()
            >>> regions.n_images, regions.n_positives
            (8, 71)
        """
        import kwcoco
        return cls(kwcoco.CocoDataset.demo('shapes8'), verbose=0)

    # -- lazily built state ----------------------------------------------------
    @property
    def targets(self):
        """
        Every annotation with a bbox (see :func:`tabular_coco_targets`).

        Example:
            >>> targets = CocoRegions.demo().targets
            >>> len(targets), targets['aid'][0:3].tolist(), targets['gid'][0:3].tolist()
            (71, [1, 2, 3], [1, 2, 2])
        """
        if self._targets is None:
            self._targets = tabular_coco_targets(self.dset, image_dims=self.image_sizes)
        return self._targets

    @property
    def annot_index(self):
        """
        The :class:`~ndsampler.annot_index.AnnotIndex` all box queries go through.

        Example:
            >>> index = CocoRegions.demo().annot_index
            >>> index.for_image(2).aids[0:3].tolist(), index.for_image(2).ltrb[1].tolist()
            ([2, 3, 4], [297.0, 307.0, 348.0, 416.0])
        """
        if self._annot_index is None:
            self._annot_index = AnnotIndex(self.dset)
        return self._annot_index

    @property
    def isect_index(self):
        """
        A :class:`~ndsampler.isect_indexer.FrameIntersectionIndex` over
        :attr:`annot_index`.

        Example:
            >>> index = CocoRegions.demo().isect_index
            >>> index.all_gids[0:3], index.overlapping_aids(2, [290, 300, 350, 420])
            ([1, 2, 3], [3])
        """
        if self._isect_index is None:
            self._isect_index = FrameIntersectionIndex.from_coco(
                self.dset, annot_index=self.annot_index, image_dims=self.image_sizes)
        return self._isect_index

    @property
    def neg_anchors(self):
        """Window sizes relative to their image, ``(w, h)``, one per distinct
        positive size (of images whose size is known).

        Example:
            >>> anchors = CocoRegions.demo().neg_anchors
            >>> anchors.shape[1], bool(((anchors > 0) & (anchors <= 1)).all())
            (2, True)
        """
        if self._neg_anchors is None:
            t = self.targets
            img_w, img_h = np.asarray(t['img_width']), np.asarray(t['img_height'])
            known = (img_w > 0) & (img_h > 0)
            rel = np.stack([np.asarray(t['width'])[known] / img_w[known],
                            np.asarray(t['height'])[known] / img_h[known]], axis=1)
            self._neg_anchors = np.unique(rel.round(4), axis=0) if len(rel) else np.array([[0.1, 0.1]])
        return self._neg_anchors

    # -- counts and categories ---------------------------------------------------
    @property
    def classes(self):
        """The dataset's object categories (a kwcoco ``CategoryTree``).

        Example:
            >>> CocoRegions.demo().classes.idx_to_node[0:3]
            ['background', 'star', 'vector']
        """
        return self.dset.object_categories()

    @property
    def catgraph(self):
        """Deprecated alias of :attr:`classes`.

        Example:
            >>> regions = CocoRegions.demo()
            >>> regions.catgraph.idx_to_node == regions.classes.idx_to_node
            True
        """
        return self.classes

    @property
    def BACKGROUND_CLASS_ID(self):
        """
        The id of the ``'background'`` category (0 when there is none):
        the ``category_id`` of every negative.

        Example:
            >>> CocoRegions.demo().BACKGROUND_CLASS_ID
            0
        """
        return self.classes.node_to_id.get('background', 0)

    @property
    def n_positives(self):
        """
        Annotations with a bbox, or the preselected ones.

        Example:
            >>> regions = CocoRegions.demo()
            >>> before = regions.n_positives
            >>> regions.preselect(n_pos=10, window_dims=(32, 32), rng=0)[0], before
            (10, 71)
        """
        if self._pos_select_idxs is None:
            return len(self.targets)
        return len(self._pos_select_idxs)

    @property
    def n_negatives(self):
        """
        The size of the preselected negative pool (0 before :meth:`preselect`).

        Example:
            >>> regions = CocoRegions.demo()
            >>> before = regions.n_negatives
            >>> regions.preselect(n_neg=3, window_dims=(32, 32), rng=0)[1], before
            (3, 0)
        """
        return 0 if self._negative_pool is None else len(self._negative_pool)

    @property
    def n_samples(self):
        """
        :attr:`n_positives` plus :attr:`n_negatives`.

        Example:
            >>> regions = CocoRegions.demo()
            >>> regions.preselect(n_pos=5, n_neg=2, window_dims=(32, 32), rng=0), regions.n_samples
            ((5, 2), 7)
        """
        return self.n_positives + self.n_negatives

    @property
    def n_annots(self):
        """Annotations in the dataset (with or without a bbox).

        Example:
            >>> CocoRegions.demo().n_annots
            71
        """
        return len(self.dset.anns)

    @property
    def n_images(self):
        """Images in the dataset.

        Example:
            >>> CocoRegions.demo().n_images
            8
        """
        return len(self.dset.imgs)

    @property
    def n_categories(self):
        """Categories in the dataset.

        Example:
            >>> CocoRegions.demo().n_categories
            4
        """
        return len(self.dset.cats)

    @property
    def class_ids(self):
        """Category ids, in the dataset's order.

        Example:
            >>> CocoRegions.demo().class_ids
            [0, 3, 6, 7]
        """
        return list(self.dset.cats.keys())

    @property
    def image_ids(self):
        """Image ids, sorted.

        Example:
            >>> CocoRegions.demo().image_ids
            [1, 2, 3, 4, 5, 6, 7, 8]
        """
        return sorted(self.dset.imgs.keys())

    # -- single regions ----------------------------------------------------------
    def get_positive(self, index=None, rng=None):
        """
        The positive at ``index`` (a random one when ``None``) as a target dict.

        Example:
            >>> target = CocoRegions.demo().get_positive(2)
            >>> int(target['aid']), int(target['gid']), float(target['cx']), float(target['width'])
            (3, 2, 322.5, 51.0)
        """
        if index is None:
            index = kwarray.ensure_rng(rng).randint(self.n_positives)
        if self._pos_select_idxs is not None:
            index = self._pos_select_idxs[index]
        columns = self.targets._data
        return {key: columns[key][index] for key in TARGET_COLUMNS}

    def get_negative(self, index=None, rng=None):
        """
        The negative at ``index`` of the preselected pool; with ``index=None``
        the next one of the pool, drawing a fresh window once it is used up.

        Raises:
            MissingNegativePool: an index was given but no pool exists.

        Example:
            >>> regions = CocoRegions.demo()
            >>> regions.preselect(n_neg=2, window_dims=(32, 32), rng=0)[1]
            2
            >>> [(r['aid'], r['width']) for r in [regions.get_negative(1), regions.get_negative()]]
            [(-1, 32.0), (-1, 32.0)]
        """
        if index is None:
            if self._negative_pool is None or self._negative_cursor >= len(self._negative_pool):
                pool = self._random_negatives(1, exact=False, rng=rng)
                if not pool:
                    raise MissingNegativePool('cannot draw a negative window from this dataset')
                return pool[0]
            index = self._negative_cursor
            self._negative_cursor += 1
        elif self._negative_pool is None:
            raise MissingNegativePool(
                'negative index={} was requested, but no negative pool exists; call '
                'preselect() first'.format(index))
        return dict(self._negative_pool[index])

    def get_item(self, index, rng=None):
        """
        Positives first, then negatives.

        Example:
            >>> regions = CocoRegions.demo()
            >>> regions.preselect(n_pos=2, n_neg=1, window_dims=(32, 32), rng=0)
            (2, 1)
            >>> [bool(regions.get_item(i)['aid'] >= 0) for i in range(3)]
            [True, True, False]
        """
        if index < self.n_positives:
            return self.get_positive(index, rng=rng)
        return self.get_negative(index - self.n_positives, rng=rng)

    def overlapping_aids(self, gid, region, visible_thresh=0.0):
        """Annotations whose boxes meet ``region``; with ``visible_thresh > 0``
        only those with more than that fraction of their area inside it.

        Example:
            >>> regions = CocoRegions.demo()
            >>> half = [297, 307, 322.5, 416]  # the left half of annotation 3
            >>> regions.overlapping_aids(2, half), regions.overlapping_aids(2, half, visible_thresh=0.6)
            ([3], [])
        """
        index = self.annot_index
        rows = index.overlapping_rows(gid, as_ltrb(region), visible_thresh)
        return index.for_image(gid).aids[rows].tolist()

    def get_segmentations(self, aids):
        """
        Each annotation's segmentation as a ``kwimage.MultiPolygon`` (or None).

        Example:
            >>> [type(seg).__name__ for seg in CocoRegions.demo().get_segmentations([1, 3])]
            ['MultiPolygon', 'MultiPolygon']
        """
        out = []
        for aid in aids:
            sseg = self.dset.anns[aid].get('segmentation', None)
            out.append(kwimage.Segmentation.coerce(sseg).to_multi_polygon() if sseg else None)
        return out

    # -- pools ---------------------------------------------------------------------
    def preselect(self, n_pos=None, n_neg=None, neg_to_pos_ratio=None, window_dims=None,
                  rng=None, verbose=0):
        """
        Fix the pools: ``n_pos`` positives (all by default) and ``n_neg``
        negatives, or ``int(neg_to_pos_ratio * n_pos)`` of them.

        Returns:
            Tuple[int, int]: ``(n_pos, n_neg)``.

        Example:
            >>> regions = CocoRegions.demo()
            >>> regions.preselect(n_pos=4, n_neg=2, window_dims=(64, 64), rng=0)
            (4, 2)
            >>> regions.get_negative(0)['width'], regions.n_samples
            (64.0, 6)
        """
        if n_neg is not None and neg_to_pos_ratio is not None:
            raise ValueError('give n_neg or neg_to_pos_ratio, not both')
        seed = rng
        rng = kwarray.ensure_rng(rng)
        self._preselect_positives(n_pos, window_dims=window_dims, rng=rng, verbose=verbose)
        n_pos = self.n_positives
        if n_neg is None:
            n_neg = int((neg_to_pos_ratio or 0) * n_pos)
        self._preselect_negatives(n_neg, window_dims=window_dims, rng=rng, verbose=verbose,
                                  _seed=seed)
        return n_pos, self.n_negatives

    def _preselect_positives(self, num=None, window_dims=None, rng=None, verbose=None):
        n_targets = len(self.targets)
        if num is None or num >= n_targets:
            self._pos_select_idxs = np.arange(n_targets)
        else:
            rng = kwarray.ensure_rng(rng)
            self._pos_select_idxs = np.sort(rng.choice(n_targets, size=num, replace=False))
        return self._pos_select_idxs

    def _preselect_negatives(self, num, window_dims=None, thresh=NEGATIVE_OVERLAP_THRESH,
                             rng=None, verbose=None, _seed=None):
        cache_fpath = self._negative_cache_fpath(num, window_dims, thresh, _seed)
        pool = None
        if cache_fpath is not None and os.path.exists(cache_fpath):
            with open(cache_fpath) as file:
                pool = json.load(file)
        if pool is None:
            pool = self._random_negatives(num, exact='warn', window_size=window_dims,
                                          rng=rng, thresh=thresh)
            if cache_fpath is not None:
                self._write_pool(cache_fpath, pool)
        self._negative_pool = pool
        self._negative_cursor = 0
        return pool

    def _negative_cache_fpath(self, num, window_dims, thresh, seed):
        """Where a seeded pool is cached (``None``: unseeded or no workdir)."""
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
            return None
        if self.workdir is None or not self._enabled_caches.get('negatives', False):
            return None
        key = ub.hash_data([self.dset._build_hashid(), int(num),
                            None if window_dims is None else list(window_dims),
                            float(thresh), int(seed), 'v1'])[:16]
        return os.path.join(os.fspath(self.workdir), '_cache', 'regions',
                            'negatives_{}.json'.format(key))

    @staticmethod
    def _write_pool(cache_fpath, pool):
        from ndsampler._cachefile import build_once

        def write(tmp):
            with open(tmp, 'w') as file:
                json.dump(pool, file)
        try:
            build_once(cache_fpath, write)
        except OSError as ex:
            warnings.warn('could not cache the negative pool: {}'.format(ex))

    def _random_negatives(self, num, exact=False, neg_anchors=None, window_size=None,
                          rng=None, thresh=0.0):
        """``num`` negative target dicts (fewer, with a warning, if the images are full)."""
        if window_size is not None:
            h, w = window_size
            anchors, size = None, (w, h)
        else:
            anchors, size = (self.neg_anchors if neg_anchors is None else neg_anchors), None
        gids, boxes = self.isect_index.random_negatives(
            num, anchors=anchors, window_size=size, thresh=thresh, exact=exact, rng=rng)
        background = self.BACKGROUND_CLASS_ID
        pool = []
        for gid, (x0, y0, x1, y1) in zip(gids.tolist(), boxes.data.tolist()):
            img_h, img_w = self.image_sizes(gid)   # known: negatives avoid unsized images
            w, h = size if size is not None else (x1 - x0, y1 - y0)
            pool.append({'gid': gid, 'aid': -1, 'cx': x0 + w / 2.0, 'cy': y0 + h / 2.0,
                         'width': float(w), 'height': float(h),
                         'img_width': img_w, 'img_height': img_h,
                         'category_id': background})
        return pool

    # -- grids -----------------------------------------------------------------------
    def new_sample_grid(self, task, window_dims, window_overlap=0, **kwargs):
        """
        Sliding-window targets covering every image: ``'image_detection'``
        (:func:`new_image_sample_grid`, ``window_dims=(h, w)``) or
        ``'video_detection'`` (:func:`new_video_sample_grid`,
        ``window_dims=(t, h, w)``); ``kwargs`` go to that function.  The
        grid shares this object's annotation index and image sizes.

        Example:
            >>> from ndsampler.coco_regions import CocoRegions
            >>> regions = CocoRegions.demo()
            >>> grid = regions.new_sample_grid('image_detection', (300, 300), verbose=0)
            >>> len(grid['targets']), grid['positives_indexes'][0:3]
            (32, [1, 2, 3])
        """
        if task == 'image_detection':
            grid_fn = new_image_sample_grid
        elif task == 'video_detection':
            grid_fn = new_video_sample_grid
        else:
            raise NotImplementedError('sample grid task {!r} is not supported'.format(task))
        kwargs.setdefault('image_dims', self.image_sizes)
        if kwargs.get('use_annots', True):
            kwargs.setdefault('isect_index', self.annot_index)
        return grid_fn(self.dset, window_dims, window_overlap, **kwargs)
