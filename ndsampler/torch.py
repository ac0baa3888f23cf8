"""
Training with PyTorch: a map-style dataset over a sampler's windows, a
collate function for ragged annotations, and a sampler of target dicts that
balances positives, negatives and categories and shards an epoch across
distributed ranks.

Nothing else in :mod:`ndsampler` imports torch; this module needs it::

    pip install torch

Example:
    >>> # xdoctest: +REQUIRES(module:torch)
    >>> import ndsampler
    >>> from ndsampler.torch import SamplerDataset, RegionSampler, collate
    >>> import torch
    >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
    >>> dataset = SamplerDataset(sampler)
    >>> regions = RegionSampler(sampler, num_samples=8, window_dims=(64, 64), seed=0)
    >>> loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=regions,
    ...                                      collate_fn=collate)
    >>> batch = next(iter(loader))
    >>> tuple(batch['im'].shape), batch['im'].dtype
    ((4, 3, 64, 64), torch.float32)
    >>> len(batch['boxes']), batch['boxes'][0].shape[1]
    (4, 4)
"""
import math
import numbers
import warnings

import numpy as np

try:
    import torch
    import torch.utils.data
except ImportError as _ex:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'ndsampler.torch needs PyTorch, which could not be imported ({}). '
        'Install it with `pip install torch` (see https://pytorch.org/get-started/locally/ '
        'for CPU-only and CUDA builds); the rest of ndsampler works without it.'.format(_ex)
    ) from _ex

__all__ = ['SamplerDataset', 'RegionSampler', 'collate']

#: Fields of a dataset item that :func:`collate` stacks into one tensor.
STACKED_FIELDS = ('im',)


# -- plain values -----------------------------------------------------------------------

def _plain(value):
    """
    ``value`` with numpy scalars and arrays turned into Python numbers and
    lists, recursively through dicts, lists, tuples and slices: small to
    pickle, safe for any collate function, and equal across processes.

    Example:
        >>> # xdoctest: +REQUIRES(module:torch)
        >>> _plain({'a': np.int64(3), 'b': (slice(np.int64(0), 4), np.float32(0.5)),
        ...         'c': np.arange(2)})
        {'a': 3, 'b': (slice(0, 4, None), 0.5), 'c': [0, 1]}
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _plain(val) for key, val in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(val) for val in value)
    if isinstance(value, list):
        return [_plain(val) for val in value]
    if isinstance(value, slice):
        return slice(_plain(value.start), _plain(value.stop), _plain(value.step))
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _torch_dtype(dtype):
    """A ``torch.dtype`` from a torch dtype, a numpy dtype or its name; ``None`` stays."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name
    out = getattr(torch, name, None)
    if not isinstance(out, torch.dtype):
        raise TypeError('no torch dtype for {!r}'.format(dtype))
    return out


def _wants_segmentation(with_annots):
    """Whether ``with_annots`` (as ``load_sample`` takes it) includes segmentations."""
    if with_annots is True:
        return True
    if not with_annots:
        return False
    parts = with_annots.split('+') if isinstance(with_annots, str) else list(with_annots)
    return bool({'segmentation', 'segmentations'} & set(parts))


# -- the dataset --------------------------------------------------------------------------

class _PositiveTargets(object):
    """The sampler's positives as a lazy sequence of plain target dicts."""

    def __init__(self, sampler):
        self.sampler = sampler

    def __len__(self):
        return int(self.sampler.regions.n_positives)

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError('positive index {} out of range for {} positives'.format(index, n))
        return _plain(self.sampler.regions.get_positive(index))


class SamplerDataset(torch.utils.data.Dataset):
    """
    A map-style dataset of a sampler's windows as tensors.

    Args:
        sampler (ndsampler.CocoSampler): what loads the windows.
        targets (Sequence[dict] | None): the target dicts item ``i`` loads;
            default: the sampler's positives (``sampler.regions.get_positive(i)``),
            looked up lazily.
        with_annots (bool | str | List[str]): passed to ``load_sample``; with
            segmentations in it (``True`` includes them) each item carries
            ``'segmentations'``.
        transform (callable | None): ``transform(sample) -> sample`` on the
            dict from ``load_sample``, before it becomes tensors (so it may
            change ``im`` and ``annots['frame_dets']`` together).
        dtype (str | numpy.dtype | torch.dtype | None): of ``'im'``; ``None``
            keeps the image's dtype. Values are not rescaled.

    ``ds[key]`` takes an int (index into ``targets``) or a target dict, and
    returns a dict:

    * ``'im'``: channels first, ``(C, H, W)``, or ``(C, T, H, W)`` for a video
      target, contiguous;
    * ``'boxes'``: float32 ``(N, 4)``, x1y1x2y2 in window pixels (the boxes
      of every frame of a video target, in frame order);
    * ``'class_idxs'``: int64 ``(N,)``, indices into ``sampler.classes``
      (-1 for a category the sampler does not know);
    * ``'aids'``: int64 ``(N,)``;
    * ``'tr'``: the resolved target, with plain Python values;
    * ``'segmentations'`` (with segmentations requested): a list of ``N``
      ``kwimage.MultiPolygon`` in window pixels (``None`` where an
      annotation has none).

    The dataset pickles with the sampler, which carries no open file: each
    DataLoader worker opens its own handles on first use, whatever the start
    method.
    """

    def __init__(self, sampler, targets=None, *, with_annots=True, transform=None,
                 dtype='float32'):
        self.sampler = sampler
        self.targets = _PositiveTargets(sampler) if targets is None else targets
        self.with_annots = with_annots
        self.transform = transform
        self.dtype = _torch_dtype(dtype)
        self._want_ssegs = _wants_segmentation(with_annots)
        self._cid_to_idx = None

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, key):
        if isinstance(key, dict):
            target = key
        elif isinstance(key, numbers.Integral) or (
                isinstance(key, (np.ndarray, torch.Tensor)) and key.ndim == 0):
            target = self.targets[int(key)]
        else:
            raise TypeError('SamplerDataset keys are ints or target dicts, not {!r}'.format(
                type(key).__name__))
        sample = self.sampler.load_sample(target, with_annots=self.with_annots)
        if self.transform is not None:
            sample = self.transform(sample)
        return self._to_item(sample)

    # -- conversion -------------------------------------------------------------------
    def _class_lookup(self):
        if self._cid_to_idx is None:
            self._cid_to_idx = dict(self.sampler.classes.id_to_idx)
        return self._cid_to_idx

    def _image_tensor(self, im):
        if hasattr(im, 'values') and not isinstance(im, np.ndarray):  # xarray.DataArray
            im = im.values
        if isinstance(im, torch.Tensor):
            tensor = im
        else:
            im = np.asarray(im)
            if not im.flags.writeable or any(s < 0 for s in im.strides):
                im = np.array(im, order='C')  # torch.from_numpy needs these; one copy
            tensor = torch.from_numpy(im)
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(-1)
        if tensor.ndim == 3:
            tensor = tensor.permute(2, 0, 1)
        elif tensor.ndim == 4:
            tensor = tensor.permute(3, 0, 1, 2)
        else:
            raise ValueError('expected an image (H, W, C) or a video (T, H, W, C), '
                             'got shape {}'.format(tuple(tensor.shape)))
        if self.dtype is not None and tensor.dtype != self.dtype:
            # conversion and layout in one copy
            return tensor.to(dtype=self.dtype, memory_format=torch.contiguous_format)
        return tensor.contiguous()

    def _annot_fields(self, annots):
        dets = annots.get('frame_dets') if annots else None
        if dets is None:
            dets = []
        elif not isinstance(dets, (list, tuple)):
            dets = [dets]
        boxes, aids, cids, ssegs = [], [], [], []
        for det in dets:
            if det is None or len(det) == 0:
                continue
            boxes.append(np.asarray(det.boxes.to_ltrb().data, dtype=np.float32).reshape(-1, 4))
            aids.extend(_plain(np.asarray(det.data['aids']).ravel()))
            cids.extend(_plain(np.asarray(det.data['cids']).ravel()))
            if self._want_ssegs:
                found = det.data.get('segmentations', None)
                items = [None] * len(det) if found is None else list(found)
                ssegs.extend(_as_multi_polygon(s) for s in items)
        lookup = self._class_lookup()
        fields = {
            'boxes': torch.from_numpy(np.concatenate(boxes, axis=0) if boxes
                                      else np.zeros((0, 4), dtype=np.float32)),
            'class_idxs': torch.as_tensor([lookup.get(c, -1) for c in cids], dtype=torch.int64),
            'aids': torch.as_tensor(aids, dtype=torch.int64),
        }
        if self._want_ssegs:
            fields['segmentations'] = ssegs
        return fields

    def _to_item(self, sample):
        item = {'im': self._image_tensor(sample['im'])}
        item.update(self._annot_fields(sample.get('annots')))
        tr = sample.get('tr', sample.get('target'))
        item['tr'] = _plain(dict(tr)) if tr is not None else None
        return item


def _as_multi_polygon(sseg):
    """A ``kwimage.MultiPolygon`` from any kwimage segmentation (``None`` stays)."""
    if sseg is None:
        return None
    if hasattr(sseg, 'to_multi_polygon'):
        return sseg.to_multi_polygon()
    import kwimage
    return kwimage.Segmentation.coerce(sseg).to_multi_polygon()


def collate(batch):
    """
    Collate :class:`SamplerDataset` items: ``'im'`` is stacked into one
    tensor (``(B, C, H, W)`` or ``(B, C, T, H, W)``: windows of a batch must
    share a size); every other field (``'boxes'``, ``'class_idxs'``,
    ``'aids'``, ``'segmentations'``, ``'tr'``, ...) becomes a list with one
    entry per item, so the number of annotations may differ.

    Use it as ``DataLoader(..., collate_fn=collate)``.

    Example:
        >>> # xdoctest: +REQUIRES(module:torch)
        >>> items = [{'im': torch.zeros(3, 4, 4), 'aids': torch.tensor([1, 2])},
        ...          {'im': torch.ones(3, 4, 4), 'aids': torch.tensor([], dtype=torch.int64)}]
        >>> out = collate(items)
        >>> tuple(out['im'].shape), [len(a) for a in out['aids']]
        ((2, 3, 4, 4), [2, 0])
    """
    batch = list(batch)
    if not batch:
        return {}
    keys = list(batch[0].keys())
    out = {}
    for key in keys:
        values = [item[key] for item in batch]
        if key in STACKED_FIELDS:
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ValueError('cannot stack {!r} of different shapes {}: give the targets '
                                 'one window size (window_dims)'.format(key, sorted(shapes)))
            out[key] = torch.stack(values, dim=0)
        else:
            out[key] = values
    return out


# -- the sampler ----------------------------------------------------------------------------

def _world_size_and_rank(num_replicas, rank):
    """``(num_replicas, rank)``, filling what is ``None`` from ``torch.distributed``
    when a process group is initialised, else from a single process."""
    if num_replicas is None or rank is None:
        dist = torch.distributed
        initialised = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if initialised else 1
        if rank is None:
            rank = dist.get_rank() if initialised else 0
    num_replicas, rank = int(num_replicas), int(rank)
    if num_replicas < 1:
        raise ValueError('num_replicas must be at least 1, got {}'.format(num_replicas))
    if not 0 <= rank < num_replicas:
        raise ValueError('rank {} is not in [0, {})'.format(rank, num_replicas))
    return num_replicas, rank


class RegionSampler(torch.utils.data.Sampler):
    """
    Yields target dicts for :class:`SamplerDataset`: each epoch a draw of
    ``num_samples`` windows, positives (annotation windows) and random
    negatives (background windows), shuffled together.

    Args:
        sampler (ndsampler.CocoSampler): where the positives and negatives come from.
        num_samples (int): targets per epoch, over all ranks.
        pos_fraction (float): ``round(pos_fraction * num_samples)`` of them are
            positives, the rest negatives.
        balance (str | None): ``'classes'`` draws positives so that every
            category with a positive is equally frequent (counts differ by at
            most one); ``None`` draws them uniformly, each positive once before
            any repeats.
        seed (int): the draw is a function of ``(seed, epoch)`` only.
        num_replicas (int | None), rank (int | None): the distributed share;
            ``None``: from ``torch.distributed`` when a process group is
            initialised, else 1 and 0. Read when iteration starts (and by
            ``len``), not at construction.
        window_dims (Tuple[int, int] | None): ``(h, w)`` of every window,
            positives centred on their annotation; ``None``: positives take
            their annotation's box and negatives a size relative to their
            image, as ``CocoRegions`` draws them.
        neg_thresh (float): a negative may cover at most this fraction of
            any annotation's area; the default 0 keeps negatives clear of
            every annotation box, as ``CocoRegions.get_negative`` draws them
            (``CocoRegions.preselect`` allows 0.3).

    Each rank yields a disjoint share of ``ceil(num_samples / num_replicas)``
    targets: the draw is padded with its first targets to a multiple of
    ``num_replicas`` and rank ``r`` takes every ``num_replicas``-th target
    from ``r`` (as ``DistributedSampler`` does), so the shares together are
    the whole draw.

    Example:
        >>> # xdoctest: +REQUIRES(module:torch)
        >>> import ndsampler
        >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
        >>> regions = RegionSampler(sampler, 10, pos_fraction=0.3, window_dims=(32, 32))
        >>> targets = list(regions)
        >>> len(targets), sum(t['aid'] >= 0 for t in targets)
        (10, 3)
        >>> targets == list(regions)
        True
        >>> regions.set_epoch(1)
        >>> targets == list(regions)
        False
    """

    def __init__(self, sampler, num_samples, *, pos_fraction=0.5, balance=None, seed=0,
                 num_replicas=None, rank=None, window_dims=None, neg_thresh=0.0):
        super().__init__()
        if balance not in (None, 'classes'):
            raise ValueError("balance must be None or 'classes', got {!r}".format(balance))
        if not 0.0 <= float(pos_fraction) <= 1.0:
            raise ValueError('pos_fraction must be in [0, 1], got {}'.format(pos_fraction))
        if int(num_samples) < 0:
            raise ValueError('num_samples must not be negative')
        self.sampler = sampler
        self.num_samples = int(num_samples)
        self.pos_fraction = float(pos_fraction)
        self.balance = balance
        self.seed = int(seed)
        self.num_replicas = num_replicas
        self.rank = rank
        self.window_dims = None if window_dims is None else tuple(int(d) for d in window_dims)
        self.neg_thresh = float(neg_thresh)
        self.epoch = 0
        self._pos_cids = None

    @property
    def n_pos(self):
        """Positives per epoch (over all ranks)."""
        return int(round(self.pos_fraction * self.num_samples))

    @property
    def n_neg(self):
        """Negatives per epoch (over all ranks)."""
        return self.num_samples - self.n_pos

    def set_epoch(self, epoch):
        """Draw the targets of ``epoch`` from now on."""
        self.epoch = int(epoch)

    def __len__(self):
        num_replicas, _ = _world_size_and_rank(self.num_replicas, self.rank)
        return int(math.ceil(self.num_samples / num_replicas))

    def __iter__(self):
        num_replicas, rank = _world_size_and_rank(self.num_replicas, self.rank)
        draw = self.draw(self.epoch)
        per_rank = int(math.ceil(len(draw) / num_replicas)) if draw else 0
        total = per_rank * num_replicas
        padded = list(draw)
        while len(padded) < total:
            padded.extend(draw[:total - len(padded)])
        for target in padded[rank:total:num_replicas]:
            yield dict(target)

    # -- the draw ----------------------------------------------------------------------
    def _rng(self, epoch, stream):
        """A RandomState for one stream (0: positives, 1: negatives, 2: order)
        of one epoch, from ``(seed, epoch, stream)`` alone."""
        seq = np.random.SeedSequence([self.seed, int(epoch), int(stream)])
        return np.random.RandomState(seq.generate_state(1, dtype=np.uint32)[0])

    def draw(self, epoch=None):
        """
        The whole draw of ``epoch`` (default: the current one), before
        sharding: ``num_samples`` plain target dicts, in the order they are
        served. Negatives have ``aid == -1``.
        """
        epoch = self.epoch if epoch is None else int(epoch)
        positives = self._draw_positives(self._rng(epoch, 0), self.n_pos)
        negatives = self._draw_negatives(self._rng(epoch, 1), self.n_neg)
        targets = positives + negatives
        order = self._rng(epoch, 2).permutation(len(targets))
        return [targets[i] for i in order]

    def _positive_cids(self):
        """The category id of each positive index (cached)."""
        if self._pos_cids is None:
            regions = self.sampler.regions
            try:
                column = np.asarray(regions.targets._data['category_id'])
                select = regions._pos_select_idxs
                cids = column if select is None else column[np.asarray(select)]
            except (AttributeError, KeyError, TypeError):
                cids = np.array([regions.get_positive(i)['category_id']
                                 for i in range(regions.n_positives)])
            self._pos_cids = np.asarray(cids)
        return self._pos_cids

    @staticmethod
    def _cycled(rng, pool, count):
        """``count`` items of ``pool``: whole shuffled passes, then part of one more."""
        pool = np.asarray(pool)
        if count <= 0 or len(pool) == 0:
            return pool[:0]
        passes = [rng.permutation(pool) for _ in range(int(math.ceil(count / len(pool))))]
        return np.concatenate(passes)[:count]

    def _draw_positives(self, rng, count):
        if count == 0:
            return []
        regions = self.sampler.regions
        n_positives = int(regions.n_positives)
        if n_positives == 0:
            raise ValueError('RegionSampler: pos_fraction={} asks for positives, but the '
                             'dataset has no annotations with a box'.format(self.pos_fraction))
        if self.balance == 'classes':
            cids = self._positive_cids()
            cats = np.unique(cids)
            # equal counts per category (within one), the extra ones to random categories
            slots = np.resize(rng.permutation(cats), count)
            index = np.empty(count, dtype=np.int64)
            for cid in cats:
                where = np.flatnonzero(slots == cid)
                index[where] = self._cycled(rng, np.flatnonzero(cids == cid), len(where))
        else:
            index = self._cycled(rng, np.arange(n_positives), count)
        out = []
        for i in index.tolist():
            target = _plain(regions.get_positive(i))
            if self.window_dims is not None:
                target['window_dims'] = self.window_dims
            out.append(target)
        return out

    def _draw_negatives(self, rng, count):
        if count == 0:
            return []
        regions = self.sampler.regions
        # one call for the epoch; a pool preselected on the regions is left alone,
        # so the draw depends on (seed, epoch) only
        found = regions._random_negatives(count, exact=False, window_size=self.window_dims,
                                          rng=rng, thresh=self.neg_thresh)
        if not found:
            from ndsampler.coco_regions import MissingNegativePool
            raise MissingNegativePool('RegionSampler: no negative window could be drawn '
                                      '(window_dims={})'.format(self.window_dims))
        if len(found) < count:
            warnings.warn('RegionSampler: found only {} of {} negative windows; repeating '
                          'them'.format(len(found), count))
            found = [found[i % len(found)] for i in range(count)]
        out = []
        for target in found:
            target = _plain(target)
            if self.window_dims is not None:
                target['window_dims'] = self.window_dims
            out.append(target)
        return out
