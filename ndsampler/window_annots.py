"""
Annotations in window coordinates.

:class:`AnnotIndex` keeps, per image, the annotation boxes as numpy arrays
(built on first use), answers "which annotations meet this window" with one
vectorised test, and turns them into the sample's ``annots`` dict: boxes,
polygons and keypoints shifted by the window offset, packed as
``kwimage.Detections`` (plus the original's flat legacy keys).

Example:
    >>> import kwcoco, numpy as np
    >>> from ndsampler.window_annots import AnnotIndex
    >>> dset = kwcoco.CocoDataset.demo('shapes8')
    >>> index = AnnotIndex(dset)
    >>> ann = dset.anns[3]
    >>> ann['bbox'], ann['image_id']
    ([297, 307, 51, 109], 2)
    >>> rows = index.overlapping_rows(2, (292, 357, 317, 367))
    >>> index.for_image(2).aids[rows].tolist()
    [3]
    >>> rows = index.overlapping_rows(2, (292, 357, 317, 367), visible_thresh=0.5)
    >>> rows.size
    0
"""
from collections import namedtuple

import numpy as np

#: Box arrays of one image: aids (sorted), category ids and ``ltrb`` boxes.
ImageBoxes = namedtuple('ImageBoxes', ['aids', 'cids', 'ltrb'])

ANNOT_PARTS = ('boxes', 'segmentation', 'keypoints')


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
        return set(ANNOT_PARTS)
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


class AnnotIndex:
    """Per-image annotation boxes of a kwcoco dataset, for window queries."""

    def __init__(self, dset, kp_classes=None):
        self.dset = dset
        self.kp_classes = kp_classes
        self._boxes = {}
        self._geometry = {}

    def __getstate__(self):
        return {'dset': self.dset, 'kp_classes': self.kp_classes}

    def __setstate__(self, state):
        self.__init__(state['dset'], state['kp_classes'])

    def for_image(self, gid):
        """The :data:`ImageBoxes` of an image (annotations without a bbox are left out)."""
        boxes = self._boxes.get(gid, None)
        if boxes is None:
            anns = self.dset.anns
            aids = sorted(aid for aid in self.dset.index.gid_to_aids.get(gid, ())
                          if anns[aid].get('bbox', None) is not None)
            xywh = np.array([anns[aid]['bbox'] for aid in aids], dtype=np.float64).reshape(-1, 4)
            ltrb = xywh.copy()
            ltrb[:, 2:4] += xywh[:, 0:2]
            cids = np.array([anns[aid].get('category_id', -1) for aid in aids], dtype=np.int64)
            boxes = self._boxes[gid] = ImageBoxes(np.array(aids, dtype=np.int64), cids, ltrb)
        return boxes

    def overlapping_rows(self, gid, window_ltrb, visible_thresh=0.0):
        """
        Rows of :meth:`for_image` whose boxes meet the window (edges touching
        count), or, with ``visible_thresh > 0``, whose visible fraction of
        area inside it exceeds ``visible_thresh``.
        """
        ltrb = self.for_image(gid).ltrb
        wl, wt, wr, wb = window_ltrb
        if visible_thresh <= 0:
            hit = ((ltrb[:, 0] <= wr) & (ltrb[:, 2] >= wl) &
                   (ltrb[:, 1] <= wb) & (ltrb[:, 3] >= wt))
            return np.flatnonzero(hit)
        iw = np.minimum(ltrb[:, 2], wr) - np.maximum(ltrb[:, 0], wl)
        ih = np.minimum(ltrb[:, 3], wb) - np.maximum(ltrb[:, 1], wt)
        isect = np.clip(iw, 0, None) * np.clip(ih, 0, None)
        area = (ltrb[:, 2] - ltrb[:, 0]) * (ltrb[:, 3] - ltrb[:, 1])
        with np.errstate(divide='ignore', invalid='ignore'):
            visible = np.where(area > 0, isect / area, 0.0)
        return np.flatnonzero(visible > visible_thresh)

    def rows_of(self, gid, annot_ids):
        """Rows of :meth:`for_image` holding those of ``annot_ids`` in image ``gid``."""
        aids = self.for_image(gid).aids
        return np.flatnonzero(np.isin(aids, np.asarray(list(annot_ids), dtype=np.int64)))

    def geometry(self, aid):
        """An annotation's parsed ``(MultiPolygon | None, Points | None)``."""
        geom = self._geometry.get(aid, None)
        if geom is None:
            geom = self._geometry[aid] = self._parse_geometry(self.dset.anns[aid])
        return geom

    def _parse_geometry(self, ann):
        import kwimage
        sseg = ann.get('segmentation', None)
        poly = None
        if sseg:
            img = self.dset.imgs[ann['image_id']]
            dims = (img.get('height', None), img.get('width', None))
            poly = kwimage.Segmentation.coerce(sseg, dims=dims).to_multi_polygon()
        return poly, self._parse_keypoints(ann.get('keypoints', None))

    def _parse_keypoints(self, kpts):
        import kwimage
        if not kpts:
            return None
        if isinstance(kpts[0], dict):
            xy = np.array([kp['xy'] for kp in kpts], dtype=np.float64).reshape(-1, 2)
            id_to_idx = self.kp_classes.id_to_idx if self.kp_classes is not None else {}
            idxs = np.array([id_to_idx.get(kp.get('keypoint_category_id', None), -1)
                             for kp in kpts], dtype=np.int64)
            return kwimage.Points(xy=xy, class_idxs=idxs, classes=self.kp_classes)
        return kwimage.Points.from_coco(kpts, classes=self.kp_classes)

    def frame_detections(self, gid, rows, offset, parts, classes, frame_index=0,
                         scale=None, warp=None):
        """
        The annotations at ``rows`` of image ``gid`` in window coordinates,
        as ``kwimage.Detections``: warped by ``warp`` (image to video space,
        when it is not the identity), shifted by ``offset = (dx, dy)``, then
        multiplied by ``scale = (sx, sy)`` when the window was resampled.
        """
        import kwimage
        boxes = self.for_image(gid)
        aids = boxes.aids[rows]
        cids = boxes.cids[rows]
        ltrb = boxes.ltrb[rows]
        if warp is not None:
            ltrb = kwimage.Boxes(ltrb, 'ltrb').warp(warp).to_ltrb().data
        xywh = np.empty_like(ltrb)
        xywh[:, 0] = ltrb[:, 0] + offset[0]
        xywh[:, 1] = ltrb[:, 1] + offset[1]
        xywh[:, 2] = ltrb[:, 2] - ltrb[:, 0]
        xywh[:, 3] = ltrb[:, 3] - ltrb[:, 1]
        if scale is not None:
            xywh *= np.array([scale[0], scale[1], scale[0], scale[1]])
        want_polys = 'segmentation' in parts
        want_kpts = 'keypoints' in parts
        polys, kpts = [], []
        for aid in aids.tolist():
            poly, pts = self.geometry(aid) if (want_polys or want_kpts) else (None, None)
            polys.append(_to_window(poly, offset, scale, warp) if want_polys else None)
            kpts.append(_to_window(pts, offset, scale, warp) if want_kpts else None)
        rel_kpts = kwimage.PointsList(kpts)
        rel_kpts.meta['classes'] = self.kp_classes
        return kwimage.Detections(
            data={'boxes': kwimage.Boxes(xywh, 'xywh'), 'keypoints': rel_kpts,
                  'segmentations': kwimage.PolygonList(polys), 'aids': aids, 'cids': cids},
            meta={'classes': classes, 'gid': gid, 'rel_frame_index': frame_index},
            datakeys=['aids', 'cids'], checks=False)


def annots_dict(frame_dets, legacy=True):
    """
    A sample's ``annots``: ``frame_dets`` (one ``Detections`` per frame) and,
    when ``legacy``, the original's flat keys over all frames.
    """
    annots = {'frame_dets': frame_dets}
    if not legacy:
        return annots
    import kwimage
    if len(frame_dets) == 1:
        data = frame_dets[0].data
        boxes, ssegs, kpts = data['boxes'], data['segmentations'], data['keypoints']
    else:
        boxes = kwimage.Boxes.concatenate([d.data['boxes'] for d in frame_dets])
        ssegs = kwimage.PolygonList([p for d in frame_dets for p in d.data['segmentations'].data])
        kpts = kwimage.PointsList([p for d in frame_dets for p in d.data['keypoints'].data])
        kpts.meta['classes'] = frame_dets[0].data['keypoints'].meta.get('classes', None)
    annots.update({
        'aids': np.concatenate([d.data['aids'] for d in frame_dets]),
        'cids': np.concatenate([d.data['cids'] for d in frame_dets]),
        'rel_frame_index': np.concatenate([np.full(len(d), d.meta['rel_frame_index'], dtype=np.int64)
                                           for d in frame_dets]),
        'rel_boxes': boxes, 'rel_ssegs': ssegs, 'rel_kpts': kpts,
    })
    return annots


def _to_window(geometry, offset, scale, warp=None):
    """A polygon or points (image space) in window coordinates, or None."""
    if geometry is None:
        return None
    if warp is not None:
        geometry = geometry.warp(warp)
    geometry = geometry.translate(offset)
    return geometry if scale is None else geometry.scale(scale)
