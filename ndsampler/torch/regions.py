"""Balanced, seeded, sharded draws of target dicts."""
import math
import warnings

import numpy as np
import torch
import torch.utils.data

from ndsampler.torch.dataset import _plain


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
        """
        Positives per epoch (over all ranks).

        Example:
            >>> # xdoctest: +REQUIRES(module:torch)
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> RegionSampler(sampler, 10, pos_fraction=0.3).n_pos
            3
        """
        return int(round(self.pos_fraction * self.num_samples))

    @property
    def n_neg(self):
        """
        Negatives per epoch (over all ranks).

        Example:
            >>> # xdoctest: +REQUIRES(module:torch)
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> RegionSampler(sampler, 10, pos_fraction=0.3).n_neg
            7
        """
        return self.num_samples - self.n_pos

    def set_epoch(self, epoch):
        """
        Draw the targets of ``epoch`` from now on.

        Example:
            >>> # xdoctest: +REQUIRES(module:torch)
            >>> import ndsampler
            >>> regions = RegionSampler(ndsampler.CocoSampler.demo('shapes8', backend=None), 4)
            >>> regions.set_epoch(3)
            >>> regions.epoch, list(regions) == regions.draw(3)
            (3, True)
        """
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

        Example:
            >>> # xdoctest: +REQUIRES(module:torch)
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> draw = RegionSampler(sampler, 10, pos_fraction=0.3, window_dims=(32, 32)).draw(0)
            >>> len(draw), sum(t['aid'] == -1 for t in draw), draw[0]['window_dims']
            (10, 7, (32, 32))
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
