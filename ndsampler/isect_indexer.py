"""
Which annotation boxes does a region meet?  A per-image index of boxes, and
random background windows that avoid them.

Each image keeps its boxes as one ``(N, 4)`` ltrb array; a query is a single
vectorised comparison, which for the tens to thousands of boxes an image
holds is faster than walking a tree.

Example:
    >>> import kwimage
    >>> from ndsampler.isect_indexer import FrameIntersectionIndex
    >>> index = FrameIntersectionIndex.demo('shapes8')
    >>> gid = index.all_gids[0]
    >>> tree = index.qtrees[gid]
    >>> (tree.width, tree.height)
    (600, 600)
    >>> aid, ltrb = next(iter(tree.aid_to_ltrb.items()))
    >>> index.overlapping_aids(gid, kwimage.Boxes(ltrb, 'ltrb')) [0:1] == [aid]
    True
"""
import warnings

import kwarray
import kwimage
import numpy as np
import ubelt as ub


class ImageBoxIndex:
    """The boxes of one image: ``width``, ``height`` and ``aid_to_ltrb``."""

    def __init__(self, width, height, aids, ltrb):
        self.width = width
        self.height = height
        self.aids = np.asarray(aids, dtype=np.int64)
        self.ltrb = np.asarray(ltrb, dtype=np.float64).reshape(-1, 4)

    @property
    def aid_to_ltrb(self):
        return dict(zip(self.aids.tolist(), self.ltrb))

    def intersecting_rows(self, ltrb):
        """Rows whose boxes meet the closed box ``ltrb`` (touching counts)."""
        b = self.ltrb
        hit = ((b[:, 0] <= ltrb[2]) & (b[:, 2] >= ltrb[0]) &
               (b[:, 1] <= ltrb[3]) & (b[:, 3] >= ltrb[1]))
        return np.flatnonzero(hit)

    def iooas(self, ltrb, rows):
        """Intersection over each box's own area, for the boxes at ``rows``."""
        b = self.ltrb[rows]
        areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.where(areas > 0, self.isect_areas(ltrb, rows) / areas, 0.0)

    def isect_areas(self, ltrb, rows=None):
        """Intersection area of the region with each box (at ``rows``)."""
        b = self.ltrb if rows is None else self.ltrb[rows]
        iw = np.minimum(b[:, 2], ltrb[2]) - np.maximum(b[:, 0], ltrb[0])
        ih = np.minimum(b[:, 3], ltrb[3]) - np.maximum(b[:, 1], ltrb[1])
        return np.clip(iw, 0, None) * np.clip(ih, 0, None)


def _as_ltrb(box):
    """One region as a length-4 ltrb float array."""
    if isinstance(box, kwimage.Boxes):
        return box.to_ltrb().data.reshape(-1, 4)[0].astype(np.float64)
    return np.asarray(box, dtype=np.float64).reshape(-1, 4)[0]


class FrameIntersectionIndex(ub.NiceRepr):
    """
    Per-image box indexes of a dataset.

    Attributes:
        qtrees (Dict[int, ImageBoxIndex]): one per image id.
        all_gids (List[int]): image ids, sorted.
    """

    def __init__(self):
        self.qtrees = {}
        self.all_gids = []

    def __nice__(self):
        return 'n_images={}'.format(len(self.all_gids))

    @classmethod
    def from_coco(cls, dset, verbose=0):
        """Index every annotation with a bbox of a kwcoco dataset."""
        self = cls()
        for gid, img in dset.imgs.items():
            aids = [aid for aid in sorted(dset.index.gid_to_aids.get(gid, ()))
                    if dset.anns[aid].get('bbox', None) is not None]
            xywh = np.array([dset.anns[aid]['bbox'] for aid in aids], dtype=np.float64).reshape(-1, 4)
            ltrb = np.concatenate([xywh[:, 0:2], xywh[:, 0:2] + xywh[:, 2:4]], axis=1)
            self.qtrees[gid] = ImageBoxIndex(img.get('width', None), img.get('height', None), aids, ltrb)
        self.all_gids = sorted(self.qtrees)
        return self

    @classmethod
    def demo(cls, *args, **kwargs):
        """An index over a kwcoco demo dataset (``'shapes8'`` by default)."""
        import kwcoco
        return cls.from_coco(kwcoco.CocoDataset.demo(*(args or ('shapes8',)), **kwargs))

    def overlapping_aids(self, gid, box):
        """Sorted ids of the annotations whose boxes meet ``box`` (ltrb)."""
        tree = self.qtrees[gid]
        return sorted(tree.aids[tree.intersecting_rows(_as_ltrb(box))].tolist())

    def ious(self, gid, box):
        """``(aids, ious)`` of the overlapping annotations with ``box``."""
        tree = self.qtrees[gid]
        ltrb = _as_ltrb(box)
        rows = tree.intersecting_rows(ltrb)
        isect = tree.isect_areas(ltrb, rows)
        b = tree.ltrb[rows]
        areas = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
        union = areas + (ltrb[2] - ltrb[0]) * (ltrb[3] - ltrb[1]) - isect
        with np.errstate(divide='ignore', invalid='ignore'):
            ious = np.where(union > 0, isect / union, 0.0)
        return tree.aids[rows].tolist(), ious

    def iooas(self, gid, box):
        """``(aids, isect / area of each annotation)`` for ``box``."""
        tree = self.qtrees[gid]
        ltrb = _as_ltrb(box)
        rows = tree.intersecting_rows(ltrb)
        return tree.aids[rows].tolist(), tree.iooas(ltrb, rows)

    def random_negatives(self, num, anchors=None, window_size=None, gids=None,
                         thresh=0.0, exact=True, rng=None, patience=None):
        """
        Random windows whose overlap with every annotation is at most
        ``thresh`` of that annotation's area (``thresh=0``: they do not meet).

        Args:
            num (int): how many windows.
            anchors (ndarray | None): ``(K, 2)`` window sizes relative to the
                image, ``(w, h)``; one is drawn per window.
            window_size (Tuple[int, int] | None): absolute ``(w, h)``.
                Exactly one of ``anchors`` and ``window_size`` is required.
            gids (List[int] | None): images to draw from (default all).
            exact (bool | str): when fewer than ``num`` are found, raise
                (True), warn (``'warn'``) or return what was found (False).
            patience (int | None): draws per window before giving up
                (default 100).

        Returns:
            Tuple[ndarray, kwimage.Boxes]: image ids and ltrb boxes.

        Example:
            >>> from ndsampler.isect_indexer import FrameIntersectionIndex
            >>> index = FrameIntersectionIndex.demo('shapes8')
            >>> gids, boxes = index.random_negatives(5, window_size=(32, 32), rng=0)
            >>> all(index.overlapping_aids(g, b) == [] for g, b in zip(gids, boxes.data))
            True
        """
        if (anchors is None) == (window_size is None):
            raise ValueError('give exactly one of anchors and window_size')
        rng = kwarray.ensure_rng(rng)
        gids = list(self.all_gids if gids is None else gids)
        patience = 100 if patience is None else patience
        found_gids, found_boxes = [], []
        tries = 0
        max_tries = max(num, 1) * patience
        while len(found_gids) < num and tries < max_tries:
            tries += 1
            gid = gids[rng.randint(len(gids))]
            tree = self.qtrees[gid]
            if anchors is not None:
                rel_w, rel_h = anchors[rng.randint(len(anchors))]
                w, h = rel_w * tree.width, rel_h * tree.height
            else:
                w, h = window_size
            if w > tree.width or h > tree.height:
                continue
            x0 = rng.rand() * (tree.width - w)
            y0 = rng.rand() * (tree.height - h)
            ltrb = np.array([x0, y0, x0 + w, y0 + h])
            rows = tree.intersecting_rows(ltrb)
            if rows.size and (thresh <= 0 or (tree.iooas(ltrb, rows) > thresh).any()):
                continue
            found_gids.append(gid)
            found_boxes.append(ltrb)
        if len(found_gids) < num:
            msg = 'found only {} of {} negative windows in {} draws'.format(
                len(found_gids), num, tries)
            if exact == 'warn':
                warnings.warn(msg)
            elif exact:
                raise Exception(msg)
        boxes = np.array(found_boxes, dtype=np.float64).reshape(-1, 4)
        return np.array(found_gids, dtype=np.int64), kwimage.Boxes(boxes, 'ltrb')
