"""
One box index over the annotations of a kwcoco dataset.

On first use, every annotation with a bbox is packed into numpy arrays (ids,
image ids, category ids, boxes), grouped per image and sorted by annotation
id.  Each image gets, on its first query, a grid of buckets (several levels,
each four times coarser than the one below, a box living in the finest
level whose cells are larger than it, anchored at its top-left corner), so
that a window query only looks at the boxes near the window.  A window is
answered first from window-sized blocks (:class:`_Blocks`, built per image
and window size class on first need): one precomputed list per block, in
annotation-id order with its boxes' keys alongside, holds every box that can
meet a window starting in that block, so a query is one slice and a few
array operations, with no concatenation or sort.  Polygons and keypoints are
parsed once per image, on first need, into packed coordinate arrays.

The query (:meth:`AnnotIndex.overlapping_rows`): a box meets a window when
they share a point (touching edges count); with ``visible_thresh > 0`` it is
kept when more than that fraction of its area lies inside the window.  Rows
come back in annotation-id order.

Example:
    >>> import kwcoco
    >>> from ndsampler.annot_index import AnnotIndex
    >>> dset = kwcoco.CocoDataset.demo('shapes8')
    >>> index = AnnotIndex(dset)
    >>> ann = dset.anns[3]
    >>> ann['bbox'], ann['image_id']
    ([297, 307, 51, 109], 2)
    >>> rows = index.overlapping_rows(2, (292, 357, 297, 367))
    >>> index.for_image(2).aids[rows].tolist()
    [3]
    >>> index.overlapping_rows(2, (292, 357, 317, 367), visible_thresh=0.5).size
    0
"""
import math
import numbers

import numpy as np

#: Images with at most this many boxes are scanned without a grid.
SCAN_LIMIT = 32
#: Each grid level's cells are this many times larger than the level below.
LEVEL_RATIO = 4
#: Boxes larger than the cells of the coarsest level are always scanned.
MAX_LEVELS = 8
#: Block layers (one per window size class) an image keeps at most; a window
#: without its own layer then uses the next larger one, or the levels.
MAX_BLOCK_LAYERS = 3


class AnnotIndex:
    """
    The boxes, categories and geometry of a dataset's annotations, for
    window queries.  Pickles as the dataset alone; the arrays are rebuilt.

    Args:
        dset (kwcoco.CocoDataset): the dataset.
        kp_classes (kwcoco.CategoryTree | None): keypoint categories, used
            to turn keypoint category ids into class indices.
    """

    def __init__(self, dset, kp_classes=None):
        self.dset = dset
        self.kp_classes = kp_classes
        self._spans = None
        self._images = {}

    def __getstate__(self):
        return {'dset': self.dset, 'kp_classes': self.kp_classes}

    def __setstate__(self, state):
        self.__init__(state['dset'], state['kp_classes'])

    def _pack(self):
        """Pack every annotation with a bbox, sorted by (image id, annotation id)."""
        aids, gids, cids, xywh = [], [], [], []
        for aid, ann in self.dset.anns.items():
            bbox = ann.get('bbox', None)
            gid = ann.get('image_id', None)
            if bbox is None or gid is None:
                continue
            aids.append(aid)
            gids.append(gid)
            cids.append(ann.get('category_id', -1))
            xywh.append(bbox)
        aids = np.array(aids, dtype=np.int64)
        gids = np.array(gids, dtype=np.int64)
        order = np.lexsort((aids, gids))
        self.aids = aids[order]
        self.gids = gids[order]
        self.cids = np.array(cids, dtype=np.int64)[order]
        self.xywh = np.array(xywh, dtype=np.float64).reshape(-1, 4)[order]
        self.xywh[:, 2:4] += 0.0    # no -0.0 sizes: shifting a box leaves its size bit for bit
        self.ltrb = np.concatenate([self.xywh[:, 0:2], self.xywh[:, 0:2] + self.xywh[:, 2:4]], axis=1)
        uniq, first = np.unique(self.gids, return_index=True)
        stops = np.append(first[1:], len(self.gids))
        self._spans = dict(zip(uniq.tolist(), zip(first.tolist(), stops.tolist())))

    def for_image(self, gid):
        """The :class:`ImageAnnots` of an image (empty for an image without boxes)."""
        img = self._images.get(gid, None)
        if img is None:
            if self._spans is None:
                self._pack()
            start, stop = self._spans.get(gid, (0, 0))
            span = slice(start, stop)
            img = self._images[gid] = ImageAnnots(
                self, gid, self.aids[span], self.cids[span], self.xywh[span], self.ltrb[span])
        return img

    def overlapping_rows(self, gid, window_ltrb, visible_thresh=0.0):
        """
        Rows of :meth:`for_image` whose boxes meet the window ``(l, t, r, b)``
        (edges touching count), or, with ``visible_thresh > 0``, whose visible
        fraction of area inside it exceeds ``visible_thresh``; in aid order.
        """
        img = self._images.get(gid, None)
        if img is None:
            img = self.for_image(gid)
        return img.grid.rows(window_ltrb, visible_thresh)

    def rows_of(self, gid, annot_ids):
        """Rows of :meth:`for_image` holding those of ``annot_ids`` in image ``gid``."""
        aids = self.for_image(gid).aids
        return np.flatnonzero(np.isin(aids, np.asarray(list(annot_ids), dtype=np.int64)))


def as_ltrb(box):
    """
    A query region (``kwimage.Boxes`` or four numbers, ltrb) as a tuple of floats.

    Example:
        >>> import kwimage
        >>> as_ltrb(kwimage.Boxes([[1, 2, 3, 4]], 'xywh'))
        (1.0, 2.0, 4.0, 6.0)
    """
    import kwimage
    if isinstance(box, kwimage.Boxes):
        box = box.to_ltrb().data
    return tuple(np.asarray(box, dtype=np.float64).reshape(-1, 4)[0].tolist())


def intersection_areas(ltrb, window_ltrb):
    """Area of each ``(N, 4)`` ltrb box inside the window ``(l, t, r, b)``."""
    wl, wt, wr, wb = window_ltrb
    iw = np.minimum(ltrb[:, 2], wr) - np.maximum(ltrb[:, 0], wl)
    ih = np.minimum(ltrb[:, 3], wb) - np.maximum(ltrb[:, 1], wt)
    return np.clip(iw, 0, None) * np.clip(ih, 0, None)


def visible_fraction(ltrb, window_ltrb):
    """Fraction of each box's area inside the window (0 for empty boxes)."""
    isect = intersection_areas(ltrb, window_ltrb)
    area = (ltrb[:, 2] - ltrb[:, 0]) * (ltrb[:, 3] - ltrb[:, 1])
    with np.errstate(divide='ignore', invalid='ignore'):
        return np.where(area > 0, isect / area, 0.0)


def box_areas(ltrb):
    """Each ``(N, 4)`` ltrb box's area, as :func:`visible_fraction` computes it."""
    return (ltrb[:, 2] - ltrb[:, 0]) * (ltrb[:, 3] - ltrb[:, 1])


def visible_mask(lines, window_ltrb, thresh, areas=None, nonzero=False):
    """
    ``visible_fraction(ltrb, window_ltrb) > thresh`` for ``thresh > 0``, from
    the boxes' keys as four lines ``(l, t, -r, -b)`` (shape ``(4, k)``) and
    their :func:`box_areas` (``nonzero``: none of them is 0).

    The same floating point steps as :func:`visible_fraction` up to signs
    (``max(-r, -wr) = -min(r, wr)``, ``a + (-b) = -(b - a)`` and the
    product of two negated factors are exact), which only the sign of a
    zero could tell apart, and a zero fraction never exceeds ``thresh > 0``.
    The overlap never exceeds the area (both are rounded monotonically), so
    ``isect / area`` exceeds ``thresh`` exactly where the original's
    ``where(area > 0, isect / area, 0)`` does: elsewhere it is zero, negative
    or NaN.

    Example:
        >>> lines = np.array([[0, 0, -10, -10], [5, 5, -6, -6], [8, 0, -20, -4], [3, 3, -3, -9]], dtype=float).T
        >>> window = (0.0, 0.0, 10.0, 10.0)
        >>> visible_mask(lines, window, 0.3).tolist()
        [True, True, False, False]
        >>> ltrb = lines.T * [1, 1, -1, -1]
        >>> (visible_fraction(ltrb, window) > 0.3).tolist()
        [True, True, False, False]
    """
    wl, wt, wr, wb = window_ltrb
    if areas is None:
        sides = lines[0:2] + lines[2:4]
        areas = sides[0] * sides[1]
    # (max(l, wl) - min(r, wr), max(t, wt) - min(b, wb)): minus the overlap's sides
    inner = np.maximum(lines, np.array((wl, wt, -wr, -wb)).reshape(4, 1))
    inner = inner[0:2] + inner[2:4]
    np.minimum(inner, 0.0, out=inner)
    isect = inner[0] * inner[1]
    if nonzero or np.count_nonzero(areas) == len(areas):
        return isect / areas > thresh
    with np.errstate(divide='ignore', invalid='ignore'):
        return isect / areas > thresh


class ImageAnnots:
    """
    The annotations of one image: ``aids`` (sorted), ``cids``, ``xywh`` and
    ``ltrb`` (views of the packed arrays), a bucket grid built on the first
    query, and polygons / keypoints parsed on first need.
    """

    def __init__(self, index, gid, aids, cids, xywh, ltrb):
        self.index = index
        self.gid = gid
        self.aids = aids
        self.cids = cids
        self.xywh = xywh
        self.ltrb = ltrb
        self._grid = None
        self._polygons = None
        self._keypoints = None

    def __len__(self):
        return len(self.aids)

    @property
    def grid(self):
        """The :class:`BoxGrid` of the image's boxes (built on first use)."""
        if self._grid is None:
            self._grid = BoxGrid(self.ltrb, self.xywh)
        return self._grid

    @property
    def polygons(self):
        """:class:`PackedGeometry` of the rows' segmentations (as polygons)."""
        if self._polygons is None:
            self._polygons = _pack_polygons(self.index.dset, self.gid, self.aids.tolist())
        return self._polygons

    @property
    def keypoints(self):
        """:class:`PackedGeometry` of the rows' keypoints."""
        if self._keypoints is None:
            self._keypoints = _pack_keypoints(self.index.dset, self.aids.tolist(),
                                              self.index.kp_classes)
        return self._keypoints


class BoxGrid:
    """
    Buckets of the boxes of one image.

    A box of side ``max(w, h)`` lives in the finest level whose cell size
    exceeds it, in the cell of its top-left corner; a window then meets only
    boxes anchored in the cells it covers, or one cell left or above.  Each
    level is a CSR array (``indptr`` per cell in row-major order, the rows of
    each cell after it).  Boxes that fit no level (or are not finite) are
    always scanned.  The exact test runs on packed keys ``(l, t, -r, -b)``.

    Windows are first tried on window-sized :class:`_Blocks` (built per
    block size on first need), whose one list per block already holds every
    candidate in row order; the levels answer the windows they cannot.
    """

    def __init__(self, ltrb, xywh):
        n = len(ltrb)
        self.keys = np.concatenate([ltrb[:, 0:2], -ltrb[:, 2:4]], axis=1)
        self.lines = self.keys.T.copy() if n <= SCAN_LIMIT else None
        with np.errstate(invalid='ignore'):
            self.areas = box_areas(ltrb) if n <= SCAN_LIMIT else None
        self.ltrb = ltrb
        self.levels = []
        self.scan = np.arange(0)
        self._blocks = {}
        if n <= SCAN_LIMIT:
            return
        side = np.maximum(xywh[:, 2], xywh[:, 3])
        ok = np.isfinite(ltrb).all(axis=1) & (xywh[:, 2] >= 0) & (xywh[:, 3] >= 0)
        anchors = ltrb[ok, 0:2]
        extent = np.maximum(anchors.max(axis=0) - anchors.min(axis=0), 1.0) if len(anchors) else (1.0, 1.0)
        # about four boxes per cell, and cells larger than most boxes
        size = max(math.sqrt(extent[0] * extent[1] * 4.0 / n),
                   float(np.percentile(side[ok], 90)) if ok.any() else 1.0, 1.0)
        # the margin keeps ``l >= window_l - cell`` true despite rounding
        level = np.full(n, -1)
        sizes = size * LEVEL_RATIO ** np.arange(MAX_LEVELS)
        fits = ok & (side <= sizes[-1] * (1 - 1e-6))
        level[fits] = np.searchsorted(sizes * (1 - 1e-6), side[fits])
        if ok.any():
            self.scan = np.flatnonzero(level < 0)
            for k in np.unique(level[level >= 0]).tolist():
                self.levels.append(_Level(ltrb, np.flatnonzero(level == k), float(sizes[k])))
        xs, ys = ltrb[:, 0::2], ltrb[:, 1::2]
        xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
        if self.levels and xs.size and ys.size:
            # block sizes are 2 ** (key / 2): from the cell size up to the
            # size holding every finite coordinate in two blocks a side
            self.origin = (float(xs.min()), float(ys.min()))
            span = max(float(xs.max()) - self.origin[0], float(ys.max()) - self.origin[1], 1.0)
            self.key_min = math.ceil(2 * math.log2(size))
            self.key_max = max(math.ceil(2 * math.log2(span)), self.key_min)
        else:
            self._blocks = None

    def blocks(self, key):
        """The :class:`_Blocks` of size ``2 ** (key / 2)``, or None where refused."""
        try:
            return self._blocks[key]
        except KeyError:
            blocks = self._blocks[key] = _Blocks.build(self.ltrb, self.keys, 2.0 ** (key / 2), self.origin)
            return blocks

    def rows(self, window_ltrb, visible_thresh=0.0):
        """
        Rows whose boxes meet the closed window ``(l, t, r, b)`` or, with
        ``visible_thresh > 0``, whose visible fraction exceeds it; sorted.
        """
        wl, wt, wr, wb = window_ltrb
        if self.lines is not None:
            lines, areas, nonzero = self.lines, self.areas, False
            base = None
        else:
            span = self.block_span(wl, wt, wr, wb) if self._blocks is not None else None
            if span is None:
                rows = self.meeting_rows(window_ltrb)
                if visible_thresh > 0 and rows.size:
                    rows = rows[visible_mask(self.keys[rows].T, window_ltrb, visible_thresh)]
                return rows
            blocks, a, b = span
            lines = blocks.keys[:, a:b]
            areas, nonzero = blocks.areas[a:b], blocks.nonzero
            base = blocks.rows[a:b]
        if visible_thresh > 0:
            # a visible fraction above 0 implies meeting the window
            keep = visible_mask(lines, window_ltrb, visible_thresh, areas, nonzero)
        else:
            # (l, t, -r, -b) <= (wr, wb, -wl, -wt), line by line
            keep = _all_of(np.less_equal(lines, np.array((wr, wb, -wl, -wt)).reshape(4, 1)))
        if base is None:
            return np.flatnonzero(keep)
        # a long mask is cheaper turned into positions than used as a mask
        return base[keep] if len(keep) < 64 else base.take(keep.nonzero()[0])

    def meeting_rows(self, window_ltrb):
        """Rows whose boxes meet the closed window ``(l, t, r, b)``, sorted."""
        wl, wt, wr, wb = window_ltrb
        # (l, t, -r, -b) <= (wr, wb, -wl, -wt), the four bools of a row read as one uint32
        bound = np.array((wr, wb, -wl, -wt), dtype=np.float64)
        if not self.levels:
            return np.flatnonzero(np.less_equal(self.keys, bound).view(np.uint32)[:, 0] == 0x01010101)
        parts = [self.scan] if self.scan.size else []
        for lv in self.levels:
            lv.collect(wl, wt, wr, wb, parts)
        if len(parts) != 1:
            parts = [np.concatenate(parts) if parts else self.scan]
        cand = parts[0]
        hit = np.less_equal(self.keys.take(cand, axis=0), bound).view(np.uint32)[:, 0] == 0x01010101
        rows = cand[hit]
        rows.sort()
        return rows

    def block_span(self, wl, wt, wr, wb):
        """
        ``(blocks, start, stop)``: the one block list, ``blocks.rows[start:stop]``
        (sorted), holding every box meeting the window; or None when no block
        list covers it.
        """
        try:
            mant, exp = math.frexp(max(wr - wl, wb - wt))
            # the smallest 2 ** (key / 2) at least the window's larger side
            key = 2 * exp - (mant <= _SQRT_HALF)
            if key < self.key_min:
                key = self.key_min
            elif key > self.key_max:
                key = self.key_max
            blocks = self._blocks.get(key, False)
            if blocks is False:
                if len(self._blocks) < MAX_BLOCK_LAYERS:
                    blocks = self.blocks(key)
                else:
                    larger = [k for k, v in self._blocks.items() if k > key and v is not None]
                    blocks = self._blocks[min(larger)] if larger else None
            if blocks is None:
                return None
            size, last_x, last_y = blocks.size, blocks.last_x, blocks.last_y
            ox, oy = self.origin
            x0 = math.floor((wl - ox) / size)
            x1 = math.floor((wr - ox) / size)
            y0 = math.floor((wt - oy) / size)
            y1 = math.floor((wb - oy) / size)
        except (OverflowError, ValueError):   # infinite or NaN window
            return None
        # clamped onto the blocks, the window must fit in one block and its right/lower neighbour
        x0 = 0 if x0 < 0 else (last_x if x0 > last_x else x0)
        x1 = 0 if x1 < 0 else (last_x if x1 > last_x else x1)
        y0 = 0 if y0 < 0 else (last_y if y0 > last_y else y0)
        y1 = 0 if y1 < 0 else (last_y if y1 > last_y else y1)
        if x1 - x0 > 1 or y1 - y0 > 1:
            return None
        k = y0 * (last_x + 1) + x0
        indptr = blocks.indptr
        return blocks, indptr[k], indptr[k + 1]


_SQRT_HALF = math.sqrt(0.5)
_all_of = np.logical_and.reduce


class _Blocks:
    """
    Candidate lists for windows no larger than ``size``.

    With ``fx(x) = floor((x - ox) / size)`` (and ``fy`` alike), block
    ``(bx, by)`` lists, in row order, every box whose span ``[lo, hi]`` (the
    box's x extent, ends in either order) has ``fx(lo) - 1 <= bx <= fx(hi)``,
    and the same in y, the block indices clamped onto the grid.  A window
    with ``fx(wr) - fx(wl) <= 1`` (clamped likewise) and a box meeting it
    have ``fx(lo) <= fx(wr) <= fx(wl) + 1`` and ``fx(hi) >= fx(wl)``
    (``fx`` is monotone in floating point too), so block ``fx(wl)`` lists
    the box.  ``(ox, oy)`` is the smallest finite coordinate and the last
    block holds the largest, so a finite box never falls off the grid.
    Each entry keeps its row, its keys (as lines) and its area.
    """

    #: a layer is refused when it would hold more entries than this many per box (plus 1024)
    MAX_COPIES = 16

    def __init__(self, size, last_x, last_y, indptr, rows, keys, areas):
        self.size = size
        self.last_x = last_x
        self.last_y = last_y
        self.indptr = indptr
        self.rows = rows
        self.keys = keys
        self.areas = areas
        self.nonzero = bool(np.count_nonzero(areas) == len(areas))

    @classmethod
    def build(cls, ltrb, keys, size, origin):
        n = len(ltrb)
        ox, oy = origin
        with np.errstate(invalid='ignore'):
            lo = np.minimum(ltrb[:, 0:2], ltrb[:, 2:4])
            hi = np.maximum(ltrb[:, 0:2], ltrb[:, 2:4])
        valid = ~np.isnan(lo).any(axis=1)     # a NaN coordinate meets nothing
        off = np.array([ox, oy])
        finite = np.where(np.isfinite(ltrb), ltrb, -np.inf)
        top = np.maximum(finite[:, 0:2].max(axis=0), finite[:, 2:4].max(axis=0))
        with np.errstate(over='ignore'):
            last = np.floor((top - off) / size)
        if not (last < 1e9).all():
            return None
        last = last.astype(np.int64)
        last_x, last_y = int(last[0]), int(last[1])
        if n * cls.MAX_COPIES + 1024 < (last_x + 1) * (last_y + 1):
            return None
        with np.errstate(invalid='ignore', over='ignore'):
            first = np.floor((lo[valid] - off) / size) - 1
            final = np.floor((hi[valid] - off) / size)
        first = np.clip(first, 0, last).astype(np.int64)
        final = np.clip(final, 0, last).astype(np.int64)
        width = np.clip(final - first + 1, 0, None)
        count = width[:, 0] * width[:, 1]
        total = int(count.sum())
        if total > n * cls.MAX_COPIES + 1024:
            return None
        rows = np.repeat(np.flatnonzero(valid), count)
        step = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
        per_row = np.repeat(width[:, 0], count)
        bx = np.repeat(first[:, 0], count) + step % np.maximum(per_row, 1)
        by = np.repeat(first[:, 1], count) + step // np.maximum(per_row, 1)
        block = by * (last_x + 1) + bx
        order = np.argsort(block, kind='stable')
        counts = np.bincount(block, minlength=(last_x + 1) * (last_y + 1))
        indptr = np.concatenate([[0], np.cumsum(counts)]).tolist()
        rows = rows[order]
        # each entry's keys, in block order, one line per key
        with np.errstate(invalid='ignore'):
            areas = box_areas(ltrb)[rows]
        return cls(size, last_x, last_y, indptr, rows, np.ascontiguousarray(keys[rows].T), areas)


class _Level:
    """One grid level: cells of ``size`` pixels from ``(ox, oy)``, in CSR form."""

    def __init__(self, ltrb, rows, size):
        self.size = size
        anchors = ltrb[rows, 0:2]
        self.ox, self.oy = anchors.min(axis=0).tolist()
        cx = np.floor((anchors[:, 0] - self.ox) / size).astype(np.int64)
        cy = np.floor((anchors[:, 1] - self.oy) / size).astype(np.int64)
        self.nx = int(cx.max()) + 1
        self.ny = int(cy.max()) + 1
        if self.nx * self.ny > 4 * len(rows) + 1024:
            # sparse, far-flung boxes: coarser cells (still larger than every box)
            self.__init__(ltrb, rows, size * 2)
            return
        cell = cy * self.nx + cx
        order = np.argsort(cell, kind='stable')
        self.rows = rows[order]
        counts = np.bincount(cell, minlength=self.nx * self.ny)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).tolist()

    def collect(self, wl, wt, wr, wb, parts):
        """Append to ``parts`` the rows anchored in the cells the window reaches."""
        size = self.size
        x0 = max(math.floor((wl - self.ox) / size) - 1, 0)
        x1 = min(math.floor((wr - self.ox) / size), self.nx - 1)
        if x0 > x1:
            return
        y0 = max(math.floor((wt - self.oy) / size) - 1, 0)
        y1 = min(math.floor((wb - self.oy) / size), self.ny - 1)
        indptr, rows, nx = self.indptr, self.rows, self.nx
        for cy in range(y0, y1 + 1):
            a = indptr[cy * nx + x0]
            b = indptr[cy * nx + x1 + 1]
            if a < b:
                parts.append(rows[a:b])


class PackedGeometry:
    """
    Coordinates of one kind of geometry of an image's rows: ``xy`` holds all
    points, row ``r``'s are ``xy[ptr[r]:ptr[r + 1]]``, and ``layout[r]`` is
    None (no geometry) or what rebuilds the object from its points (ring
    lengths per polygon; or the keypoints' other data and meta).
    """

    def __init__(self, xy, ptr, layout):
        self.xy = xy
        self.ptr = ptr
        self.layout = layout
        self.empty = all(lay is None for lay in layout)

    def gather(self, rows):
        """``(points of the rows with geometry, [(start, stop, layout) or None per row])``."""
        ptr, layout, xy = self.ptr, self.layout, self.xy
        chunks, spans, start = [], [], 0
        for r in rows:
            lay = layout[r]
            if lay is None:
                spans.append(None)
                continue
            a, b = ptr[r], ptr[r + 1]
            chunks.append(xy[a:b])
            spans.append((start, start + b - a, lay))
            start += b - a
        pts = np.concatenate(chunks) if chunks else np.empty((0, 2))
        return pts, spans


def _packed(per_row):
    """A :class:`PackedGeometry` from ``(points, layout)`` (or None) per row."""
    ptr, chunks, layout = [0], [], []
    for item in per_row:
        if item is None:
            layout.append(None)
        else:
            chunks.append(item[0])
            layout.append(item[1])
        ptr.append(ptr[-1] + (len(item[0]) if item is not None else 0))
    xy = np.concatenate(chunks).astype(np.float64, copy=False) if chunks else np.empty((0, 2))
    return PackedGeometry(xy, ptr, layout)


def _pack_polygons(dset, gid, aids):
    img = dset.imgs.get(gid, {})
    dims = (img.get('height', None), img.get('width', None))
    per_row = []
    for aid in aids:
        sseg = dset.anns[aid].get('segmentation', None)
        if not sseg:
            per_row.append(None)
            continue
        polys = polygon_rings(sseg, dims)
        rings = [ring for poly in polys for ring in poly]
        xy = np.concatenate(rings) if rings else np.empty((0, 2))
        per_row.append((xy, tuple(tuple(len(ring) for ring in poly) for poly in polys)))
    return _packed(per_row)


def polygon_rings(sseg, dims=None):
    """
    A kwcoco segmentation as polygons, each a list of ``(k, 2)`` rings
    (exterior first, then holes), as ``kwimage`` would convert it.

    Example:
        >>> [[ring.tolist() for ring in poly] for poly in polygon_rings([[0, 0, 4, 0, 4, 2]])]
        [[[[0.0, 0.0], [4.0, 0.0], [4.0, 2.0]]]]
    """
    if isinstance(sseg, list) and all(
            isinstance(p, list) and p and isinstance(p[0], numbers.Number) for p in sseg):
        return [[np.array(p, dtype=np.float64).reshape(-1, 2)] for p in sseg]
    import kwimage
    multi = kwimage.Segmentation.coerce(sseg, dims=dims).to_multi_polygon()
    return [[_ring(poly.data['exterior'])] + [_ring(c) for c in poly.data.get('interiors', [])]
            for poly in multi.data]


def _ring(coords):
    return np.asarray(coords.data, dtype=np.float64).reshape(-1, 2)


def _pack_keypoints(dset, aids, kp_classes):
    per_row = []
    for aid in aids:
        pts = parse_keypoints(dset.anns[aid].get('keypoints', None), kp_classes)
        if pts is None:
            per_row.append(None)
            continue
        xy = np.asarray(pts.data['xy'].data, dtype=np.float64).reshape(-1, 2)
        extra = {k: v for k, v in pts.data.items() if k != 'xy'}
        per_row.append((xy, (extra, pts.meta)))
    return _packed(per_row)


def parse_keypoints(kpts, kp_classes=None):
    """
    A kwcoco annotation's keypoints (a list of dicts, or the flat
    ``[x, y, v, ...]`` form) as ``kwimage.Points``, or None.

    Example:
        >>> parse_keypoints([{'xy': [3, 4], 'keypoint_category_id': 1}]).xy.tolist()
        [[3.0, 4.0]]
        >>> parse_keypoints([3, 4, 2, 5, 6, 2]).xy.tolist()
        [[3, 4], [5, 6]]
    """
    import kwimage
    if not kpts:
        return None
    if isinstance(kpts, list) and isinstance(kpts[0], dict):
        xy = np.array([kp['xy'] for kp in kpts], dtype=np.float64).reshape(-1, 2)
        id_to_idx = kp_classes.id_to_idx if kp_classes is not None else {}
        idxs = np.array([id_to_idx.get(kp.get('keypoint_category_id', None), -1)
                         for kp in kpts], dtype=np.int64)
        return kwimage.Points(xy=xy, class_idxs=idxs, classes=kp_classes)
    return kwimage.Points.from_coco(kpts, classes=kp_classes)
