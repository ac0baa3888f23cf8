"""
One box index over the annotations of a kwcoco dataset.

On first use, every annotation with a bbox is packed into numpy arrays (ids,
image ids, category ids, boxes), grouped per image and sorted by annotation
id.  Each image gets, on its first query, a grid of buckets (several levels,
each four times coarser than the one below, a box living in the finest
level whose cells are larger than it, anchored at its top-left corner), so
that a window query only looks at the boxes near the window.  Polygons and
keypoints are parsed once per image, on first need, into packed coordinate
arrays.

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
        rows = img.grid.meeting_rows(window_ltrb)
        if visible_thresh > 0 and rows.size:
            rows = rows[visible_fraction(img.ltrb[rows], window_ltrb) > visible_thresh]
        return rows

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
    """

    def __init__(self, ltrb, xywh):
        n = len(ltrb)
        self.keys = np.concatenate([ltrb[:, 0:2], -ltrb[:, 2:4]], axis=1)
        self.levels = []
        self.scan = np.arange(0)
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
