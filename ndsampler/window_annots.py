"""
Annotations in window coordinates.

A sample's annotations come from one query of the shared
:class:`~ndsampler.annot_index.AnnotIndex` per frame (the frame's padded
window in image pixels), then one vectorised affine map (image pixels to
window pixels) of all their boxes, polygon and keypoint coordinates; the
``kwimage`` objects are built last, from array slices.

The window is a :class:`~ndsampler.windows.SampleSpec`: ``spec.gids`` (one
image id per frame) and ``spec.frame_map(i)`` (frame ``i``'s padded window in
its image's pixels, and the affine map from those pixels to output pixels).

Example:
    >>> import kwcoco
    >>> from ndsampler.windows import resolve_sample
    >>> from ndsampler.window_annots import AnnotIndex, sample_annots, window_aids
    >>> dset = kwcoco.CocoDataset.demo('shapes8')
    >>> index = AnnotIndex(dset)
    >>> # the window x in [290, 350), y in [300, 420) of image 2
    >>> spec = resolve_sample({'slices': (slice(300, 420), slice(290, 350))}, (600, 600), (2,))
    >>> window_aids(index, spec)
    [3]
    >>> annots = sample_annots(index, spec, True, dset.object_categories())
    >>> annots['rel_boxes'].data.tolist()  # bbox [297, 307, 51, 109] shifted
    [[7.0, 7.0, 51.0, 109.0]]
    >>> annots['frame_dets'][0].meta['gid'], annots['aids'].tolist()
    (2, [3])
"""
import numpy as np
from kwimage import Boxes, Coords, Detections, MultiPolygon, Points, PointsList, Polygon, PolygonList

from ndsampler.annot_index import AnnotIndex

__all__ = ['AnnotIndex', 'ANNOT_PARTS', 'parse_with_annots', 'sample_annots', 'frame_rows',
           'window_boxes', 'window_xywh', 'window_aids', 'frame_detections', 'annots_dict']

ANNOT_PARTS = ('boxes', 'segmentation', 'keypoints')
_ALL_PARTS = frozenset(ANNOT_PARTS)


def parse_with_annots(with_annots):
    """
    Which annotation parts a ``with_annots`` argument asks for.

    Example:
        >>> sorted(parse_with_annots(True))
        ['boxes', 'keypoints', 'segmentation']
        >>> sorted(parse_with_annots('boxes+keypoints'))
        ['boxes', 'keypoints']
    """
    if with_annots is True:
        return _ALL_PARTS
    if not with_annots:
        return set()
    if isinstance(with_annots, str):
        with_annots = with_annots.split('+')
    parts = set(with_annots)
    unknown = parts - set(ANNOT_PARTS) - {'segmentations'}
    if unknown:
        raise ValueError('unknown with_annots part(s) {}; expected {}'.format(
            sorted(unknown), ANNOT_PARTS))
    if 'segmentations' in parts:
        parts = (parts - {'segmentations'}) | {'segmentation'}
    return parts | {'boxes'}


def window_aids(index, spec, visible_thresh=0.0):
    """
    Ids of the annotations meeting each frame's window, frame by frame.

    Example:
        >>> import kwcoco
        >>> from ndsampler.windows import resolve_sample
        >>> index = AnnotIndex(kwcoco.CocoDataset.demo('shapes8'))
        >>> window_aids(index, resolve_sample({}, (600, 600), (6,)))  # all of image 6
        [50]
    """
    return [aid for _, _, img, rows, _ in frame_rows(index, spec, visible_thresh)
            for aid in img.aids.take(rows).tolist()]


def sample_annots(index, spec, parts, classes, visible_thresh=0.0, annot_ids=None, legacy=True):
    """
    A sample's ``annots`` dict: the annotations meeting each frame's window
    (or, given ``annot_ids``, those of them in the frame's image) in window
    coordinates.

    Args:
        index (AnnotIndex): the dataset's annotation index.
        spec: the sample spec (see the module docstring).
        parts (Set[str] | bool | str): parts to fill, see :func:`parse_with_annots`.
        classes: the object categories, stored in each ``Detections.meta``.
        visible_thresh (float): keep annotations with more than this fraction
            of their box inside the window (0: all that meet it).
        annot_ids (Iterable[int] | None): replaces the spatial look-up.
        legacy (bool): add the original's flat keys.

    Returns:
        dict: ``frame_dets`` (one ``kwimage.Detections`` per frame) and, when
        ``legacy``, ``aids, cids, rel_frame_index, rel_boxes, rel_ssegs, rel_kpts``.

    Example:
        >>> import kwcoco
        >>> from ndsampler.windows import resolve_sample
        >>> dset = kwcoco.CocoDataset.demo('shapes8')
        >>> spec = resolve_sample({'slices': (slice(300, 420), slice(290, 350))}, (600, 600), (2,))
        >>> annots = sample_annots(AnnotIndex(dset), spec, 'boxes', dset.object_categories(), legacy=False)
        >>> list(annots), annots['frame_dets'][0].boxes.to_ltrb().data.tolist()
        (['frame_dets'], [[7.0, 7.0, 58.0, 116.0]])
    """
    if parts is True:
        parts = _ALL_PARTS
    elif not isinstance(parts, (set, frozenset)):
        parts = parse_with_annots(parts)
    frame_dets = [_detections(index, img, gid, rows, coeffs, None, parts, classes, i)
                  for i, gid, img, rows, coeffs in frame_rows(index, spec, visible_thresh, annot_ids)]
    return annots_dict(frame_dets, legacy)


def frame_rows(index, spec, visible_thresh=0.0, annot_ids=None):
    """
    Per frame of ``spec``: ``(frame index, gid, the image's packed
    annotations, rows, coeffs)``, where ``rows`` are the annotations meeting
    the frame's window (or, given ``annot_ids``, those of them in the
    frame's image) and ``coeffs`` the first two rows of the map from image
    to window pixels (see :meth:`SampleSpec.frame_map`).

    Example:
        >>> import kwcoco
        >>> from ndsampler.windows import resolve_sample
        >>> index = AnnotIndex(kwcoco.CocoDataset.demo('shapes8'))
        >>> spec = resolve_sample({'slices': (slice(300, 420), slice(290, 350))}, (600, 600), (2,))
        >>> [(i, gid, rows.tolist(), coeffs) for i, gid, _, rows, coeffs in frame_rows(index, spec)]
        [(0, 2, [1], (1.0, 0.0, -290.0, 0.0, 1.0, -300.0))]
    """
    if annot_ids is not None:
        annot_ids = list(annot_ids)
    out = []
    for i, gid in enumerate(spec.gids):
        img = index.for_image(gid)
        window, coeffs = spec.frame_map(i)
        if annot_ids is None:
            rows = img.grid.rows(window, visible_thresh)
        else:
            rows = index.rows_of(gid, annot_ids)
        out.append((i, gid, img, rows, coeffs))
    return out


def window_boxes(index, spec, visible_thresh=0.0, segmentations=False):
    """
    The boxes meeting a sample's window as plain arrays, without building
    the ``kwimage`` objects of a sample dict: ``(xywh, aids, cids)``, the
    boxes in window pixels (float64 ``(N, 4)``) and their annotation and
    category ids, frame after frame; the same values and order as
    :func:`sample_annots`'s ``rel_boxes``, ``aids`` and ``cids``.  With
    ``segmentations``, a fourth value: their segmentations in window pixels
    (``kwimage.MultiPolygon``, or None), as :func:`sample_annots` has them.

    Example:
        >>> import kwcoco
        >>> from ndsampler.windows import resolve_sample
        >>> index = AnnotIndex(kwcoco.CocoDataset.demo('shapes8'))
        >>> spec = resolve_sample({'slices': (slice(300, 420), slice(290, 350))}, (600, 600), (2,))
        >>> xywh, aids, cids = window_boxes(index, spec)
        >>> xywh.tolist(), aids.tolist(), cids.tolist()
        ([[7.0, 7.0, 51.0, 109.0]], [3], [7])
        >>> polys = window_boxes(index, spec, segmentations=True)[3]
        >>> [type(p).__name__ for p in polys]
        ['MultiPolygon']
    """
    frames = frame_rows(index, spec, visible_thresh)
    parts = [(window_xywh(img, rows, coeffs), img.aids.take(rows), img.cids.take(rows))
             for _, _, img, rows, coeffs in frames]
    if len(parts) == 1:
        found = parts[0]
    elif not parts:
        found = np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0, np.int64)
    else:
        found = tuple(np.concatenate(column) for column in zip(*parts))
    if not segmentations:
        return found
    polys = [p for _, _, img, rows, coeffs in frames for p in _frame_polygons(img, rows, coeffs)]
    return found + (polys,)


def window_xywh(img, rows, coeffs, m=None):
    """
    The boxes at ``rows`` of an image's packed annotations mapped into
    window pixels by ``coeffs = (a, b, c, d, e, f)`` (the map's first two
    rows; ``m``, the 3x3 matrix, if at hand): xywh, float64, the bounding
    box of the mapped corners.
    """
    a, b, c, d, e, f = coeffs
    if b == 0 and d == 0 and a > 0 and e > 0:
        xywh = img.xywh.take(rows, axis=0)
        if a != 1 or e != 1:
            np.multiply(xywh, np.array((a, e, a, e)), out=xywh)
            np.add(xywh, np.array((c, f, 0.0, 0.0)), out=xywh)
        else:
            # (x, y) read as one complex number; (w, h) are stored without
            # -0.0, so adding zeros to them would change nothing
            xywh.view(np.complex128)[:, 0] += complex(c, f)
        return xywh
    if m is None:
        m = np.array([[a, b, c], [d, e, f], [0.0, 0.0, 1.0]])
    return _warped_boxes(img.ltrb.take(rows, axis=0), m)


def frame_detections(index, gid, rows, matrix, parts, classes, frame_index=0):
    """
    The annotations at ``rows`` of image ``gid`` mapped by the 3x3 ``matrix``
    (image pixels to window pixels), as ``kwimage.Detections``: boxes (xywh;
    the bounding box of the mapped corners), polygons and keypoints, with
    ``aids``, ``cids`` and meta ``classes, gid, rel_frame_index``.

    Example:
        >>> import kwcoco
        >>> dset = kwcoco.CocoDataset.demo('shapes8')
        >>> index = AnnotIndex(dset)
        >>> half = np.diag([0.5, 0.5, 1.0])  # image pixels to a half-size window
        >>> dets = frame_detections(index, 2, np.array([1]), half, {'boxes'}, dset.object_categories())
        >>> dets.boxes.data.tolist(), dets.data['aids'].tolist()
        ([[148.5, 153.5, 25.5, 54.5]], [3])
    """
    m = np.asarray(matrix, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.intp)
    return _detections(index, index.for_image(gid), gid, rows, tuple(m[0:2].ravel().tolist()), m,
                       parts, classes, frame_index)


def _detections(index, img, gid, rows, coeffs, m, parts, classes, frame_index):
    """
    :func:`frame_detections` of ``img``: the map's first two rows as floats
    ``coeffs = (a, b, c, d, e, f)``, and as the 3x3 matrix ``m`` if at hand
    (else None: built only for a warp, polygons or keypoints).
    """
    xywh = window_xywh(img, rows, coeffs, m)
    n = len(rows)
    kpts = polys = None
    if 'keypoints' in parts and not img.keypoints.empty:
        kpts = _geometry(img.keypoints, rows, coeffs, m, _points)
    if 'segmentation' in parts:
        polys = _frame_polygons(img, rows, coeffs, m)
    return Detections(
        data={'boxes': Boxes(xywh, 'xywh', canonical=True),
              'keypoints': PointsList([None] * n if kpts is None else kpts,
                                      {'classes': index.kp_classes}),
              'segmentations': PolygonList([None] * n if polys is None else polys),
              'aids': img.aids.take(rows), 'cids': img.cids.take(rows)},
        meta={'classes': classes, 'gid': gid, 'rel_frame_index': frame_index})


def _frame_polygons(img, rows, coeffs, m=None):
    """The segmentations of ``rows`` of ``img`` mapped into window pixels by
    ``coeffs`` (see :func:`frame_rows`; ``m``, the 3x3 matrix, if at hand):
    a ``kwimage.MultiPolygon``, or None, per row."""
    if img.polygons.empty:
        return [None] * len(rows)
    return _geometry(img.polygons, rows, coeffs, m, _multi_polygon)


def _warped_boxes(ltrb, m):
    """xywh bounding boxes of the boxes' four corners mapped by ``m``."""
    corners = ltrb[:, [0, 1, 2, 1, 2, 3, 0, 3]].reshape(-1, 4, 2)
    xy = corners @ m[0:2, 0:2].T + m[0:2, 2]
    lt = xy.min(axis=1)
    return np.concatenate([lt, xy.max(axis=1) - lt], axis=1)


def _apply(xy, m, axis_aligned):
    if axis_aligned:
        return xy * (m[0, 0], m[1, 1]) + (m[0, 2], m[1, 2])
    return xy @ m[0:2, 0:2].T + m[0:2, 2]


def _geometry(packed, rows, coeffs, m, build):
    """``build(points, span)`` per row (None for a row without geometry), its
    packed points mapped by ``coeffs`` (see :func:`frame_rows`; ``m``, the
    3x3 matrix, if at hand)."""
    a, b, c, d, e, f = coeffs
    if m is None:
        m = np.array([[a, b, c], [d, e, f], [0.0, 0.0, 1.0]])
    xy, spans = packed.gather(rows.tolist())
    xy = _apply(xy, m, b == 0 and d == 0 and a > 0 and e > 0)
    return [None if span is None else build(xy, span) for span in spans]


def _multi_polygon(xy, span):
    """A ``kwimage.MultiPolygon`` from its rings' points."""
    pos, _, layout = span
    polys = []
    for ring_lens in layout:
        rings = []
        for k in ring_lens:
            rings.append(Coords(xy[pos:pos + k]))
            pos += k
        polys.append(Polygon(data={'exterior': rings[0], 'interiors': rings[1:]}, meta={}))
    return MultiPolygon(polys)


def _points(xy, span):
    """A ``kwimage.Points`` from its points, other data and meta."""
    start, stop, (extra, meta) = span
    data = dict(extra)
    data['xy'] = Coords(xy[start:stop])
    return Points(data=data, meta=meta)


def annots_dict(frame_dets, legacy=True):
    """
    A sample's ``annots``: ``frame_dets`` (one ``Detections`` per frame) and,
    when ``legacy``, the original's flat keys over all frames.

    Example:
        >>> import kwcoco
        >>> dset = kwcoco.CocoDataset.demo('shapes8')
        >>> index, classes = AnnotIndex(dset), dset.object_categories()
        >>> dets = [frame_detections(index, gid, np.arange(len(index.for_image(gid))), np.eye(3),
        ...                          {'boxes'}, classes, frame_index=t) for t, gid in enumerate([1, 6])]
        >>> annots = annots_dict(dets)
        >>> annots['aids'].tolist(), annots['rel_frame_index'].tolist()
        ([1, 50], [0, 1])
    """
    if not legacy:
        return {'frame_dets': frame_dets}
    if len(frame_dets) == 1:
        dets = frame_dets[0]
        data = dets.data
        aids = data['aids']
        return {'frame_dets': frame_dets, 'aids': aids, 'cids': data['cids'],
                'rel_frame_index': np.full(len(aids), dets.meta['rel_frame_index'], dtype=np.int64),
                'rel_boxes': data['boxes'], 'rel_ssegs': data['segmentations'],
                'rel_kpts': data['keypoints']}
    kpts = PointsList([p for d in frame_dets for p in d.data['keypoints'].data])
    kpts.meta['classes'] = frame_dets[0].data['keypoints'].meta.get('classes', None)
    return {'frame_dets': frame_dets,
            'aids': np.concatenate([d.data['aids'] for d in frame_dets]),
            'cids': np.concatenate([d.data['cids'] for d in frame_dets]),
            'rel_frame_index': np.concatenate([np.full(len(d), d.meta['rel_frame_index'], dtype=np.int64)
                                               for d in frame_dets]),
            'rel_boxes': Boxes.concatenate([d.data['boxes'] for d in frame_dets]),
            'rel_ssegs': PolygonList([p for d in frame_dets for p in d.data['segmentations'].data]),
            'rel_kpts': kpts}
