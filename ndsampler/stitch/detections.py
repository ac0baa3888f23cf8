"""Window detections back in image pixels, merged across windows."""
import numpy as np

from ndsampler.errors import StitchError
from ndsampler.stitch.windowing import _window


def _edge_touch(tlbr, win, tol):
    """Per box, does it touch each side (left, top, right, bottom) of window ``win``."""
    y0, y1, x0, x1 = win
    return np.stack([tlbr[:, 0] <= x0 + tol, tlbr[:, 1] <= y0 + tol,
                     tlbr[:, 2] >= x1 - tol, tlbr[:, 3] >= y1 - tol], axis=1)


def stitch_detections(parts, *, iou_thresh=0.5, image_dims=None, edge_tol=1.0,
                      contain_thresh=0.7, perclass=True):
    """
    Window detections to one set of detections in image pixels.

    Args:
        parts (Iterable[Tuple[slices | dict, kwimage.Detections]]): each
            window's ``(y, x)`` slices in image pixels, or its target dict
            (``space_slice`` / ``slices`` with ``pad`` and ``scale``, as the
            targets of ``sampler.new_sample_grid`` are), and its detections
            in window pixels (boxes, and any segmentations / keypoints).
        iou_thresh (float): boxes overlapping more than this are duplicates;
            non-maximum suppression keeps the highest score.
        image_dims (Tuple[int, int] | None): ``(H, W)`` of the image.  An
            edge of a window is on the image border when it is at or beyond
            the border; without ``image_dims`` the border is the extent of
            all windows.
        edge_tol (float): a box within this many image pixels of an inner
            window edge is cut by it.
        contain_thresh (float): a cut box is dropped when at least this
            fraction of it lies inside an uncut box of the same class from
            another window (a neighbour sees the object whole).
        perclass (bool): suppress duplicates within each class only.

    Returns:
        kwimage.Detections: in image pixels (``scores`` are ones when the
        windows had none), with a ``'window_index'`` data column.

    A box cut by an inner edge that no other window sees whole (an object
    larger than the overlap between windows) is kept and takes part in the
    suppression like any other.

    Example:
        >>> import kwimage, numpy as np
        >>> from ndsampler.stitch import stitch_detections
        >>> truth = kwimage.Boxes(np.array([[40., 10, 60, 30]]), 'ltrb')
        >>> def window_dets(x0):  # a perfect model on the window x0:x0+64
        ...     b = truth.translate((-x0, 0)).clip(0, 0, 64, 64)
        ...     return kwimage.Detections(boxes=b, scores=np.ones(1))
        >>> parts = [((slice(0, 64), slice(0, 64)), window_dets(0)),
        ...          ((slice(0, 64), slice(32, 96)), window_dets(32))]
        >>> out = stitch_detections(parts, image_dims=(64, 96))
        >>> out.boxes.to_ltrb().data.tolist()
        [[40.0, 10.0, 60.0, 30.0]]
    """
    import kwimage
    windows, dets_list = [], []
    for item, dets in parts:
        y0, y1, x0, x1, sx, sy = _window(item, image_dims)
        windows.append((y0, y1, x0, x1))
        if sx != 1.0 or sy != 1.0:
            dets = dets.scale((1.0 / sx, 1.0 / sy))
        if x0 or y0:
            dets = dets.translate((x0, y0))
        dets_list.append(dets)
    keep_nonempty = [i for i, d in enumerate(dets_list) if len(d)]
    if not keep_nonempty:
        classes = next((d.classes for d in dets_list if d.classes is not None), None)
        return kwimage.Detections(boxes=kwimage.Boxes(np.zeros((0, 4)), 'ltrb'),
                                  scores=np.zeros(0), class_idxs=np.zeros(0, dtype=np.int64),
                                  classes=classes)
    win_arr = np.array(windows, dtype=np.float64)
    if image_dims is not None:
        by0, by1, bx0, bx1 = 0, image_dims[0], 0, image_dims[1]
    else:
        by0, by1 = win_arr[:, 0].min(), win_arr[:, 1].max()
        bx0, bx1 = win_arr[:, 2].min(), win_arr[:, 3].max()

    ltrbs, cut, owner, cls = [], [], [], []
    for i in keep_nonempty:
        d = dets_list[i]
        y0, y1, x0, x1 = windows[i]
        tlbr = d.boxes.to_ltrb().data.astype(np.float64)
        inner = np.array([x0 > bx0, y0 > by0, x1 < bx1, y1 < by1])
        touch = _edge_touch(tlbr, (y0, y1, x0, x1), edge_tol)
        ltrbs.append(tlbr)
        cut.append((touch & inner[None, :]).any(axis=1))
        owner.append(np.full(len(d), i))
        ci = d.data.get('class_idxs', None)
        cls.append(np.full(len(d), -1) if ci is None else np.asarray(ci))
    ltrb = np.concatenate(ltrbs)
    cut = np.concatenate(cut)
    owner = np.concatenate(owner)
    cls = np.concatenate(cls)
    merged = kwimage.Detections.concatenate([dets_list[i] for i in keep_nonempty])
    if merged.data.get('scores', None) is None:
        merged.data['scores'] = np.ones(len(merged), dtype=np.float32)
    merged.data['window_index'] = owner

    keep = np.ones(len(ltrb), dtype=bool)
    cut_idx = np.where(cut)[0]
    whole_idx = np.where(~cut)[0]
    if len(cut_idx) and len(whole_idx):
        a, b = ltrb[cut_idx], ltrb[whole_idx]
        iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) -
                     np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
        ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) -
                     np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
        area = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-12)
        frac = iw * ih / area[:, None]
        ok = (owner[cut_idx][:, None] != owner[whole_idx][None, :]) & (frac >= contain_thresh)
        if perclass:
            ok &= cls[cut_idx][:, None] == cls[whole_idx][None, :]
        keep[cut_idx[ok.any(axis=1)]] = False
    merged = merged.compress(keep)
    if len(merged) > 1:
        import warnings
        with warnings.catch_warnings():  # kwimage warns that its C extension is missing
            warnings.simplefilter('ignore', UserWarning)
            merged = merged.non_max_supress(
                thresh=iou_thresh, impl='numpy',
                perclass=perclass and merged.data.get('class_idxs', None) is not None)
    return merged


def add_predictions(dset, gid, dets, *, category_ids=None, score_key='score', extra=None):
    """
    Add detections in image pixels to a :class:`kwcoco.CocoDataset` as
    annotations of image ``gid``, with their scores.

    Categories: ``category_ids`` (one per detection) when given; else the
    names ``dets.classes[class_idx]``, created in ``dset`` when missing; else
    none.  Segmentations and keypoints are kept when ``dets`` has them.

    Args:
        extra (dict | None): more keys for every annotation (e.g.
            ``{'source': 'model-v1'}``).

    Returns:
        List[int]: the new annotation ids.

    Example:
        >>> import kwcoco, kwimage, numpy as np
        >>> from ndsampler.stitch import add_predictions
        >>> dset = kwcoco.CocoDataset()
        >>> gid = dset.add_image(file_name='x.png', width=64, height=64)
        >>> dets = kwimage.Detections(boxes=kwimage.Boxes(np.array([[1., 2, 10, 20]]), 'ltrb'),
        ...                           scores=np.array([0.9]), class_idxs=np.array([0]),
        ...                           classes=['cat'])
        >>> aids = add_predictions(dset, gid, dets)
        >>> ann = dset.anns[aids[0]]
        >>> ann['bbox'], round(ann['score'], 3), dset.cats[ann['category_id']]['name']
        ([1.0, 2.0, 9.0, 18.0], 0.9, 'cat')
    """
    n = len(dets)
    xywh = dets.boxes.to_xywh().data
    scores = dets.data.get('scores', None)
    class_idxs = dets.data.get('class_idxs', None)
    if category_ids is not None:
        category_ids = list(category_ids)
        if len(category_ids) != n:
            raise StitchError('category_ids needs one id per detection')
    elif class_idxs is not None and dets.classes is not None:
        names = list(dets.classes)
        cid_of = {}
        category_ids = []
        for ci in np.asarray(class_idxs).tolist():
            if ci is None or ci < 0:
                category_ids.append(None)
                continue
            if ci not in cid_of:
                cid_of[ci] = dset.ensure_category(names[int(ci)])
            category_ids.append(cid_of[ci])
    segs = dets.data.get('segmentations', None)
    kpts = dets.data.get('keypoints', None)
    aids = []
    for i in range(n):
        ann = {'image_id': gid, 'bbox': [float(v) for v in xywh[i]]}
        if category_ids is not None and category_ids[i] is not None:
            ann['category_id'] = int(category_ids[i])
        if scores is not None:
            ann[score_key] = float(scores[i])
        if segs is not None and segs[i] is not None:
            ann['segmentation'] = segs[i].to_coco(style='new')
        if kpts is not None and kpts[i] is not None:
            ann['keypoints'] = kpts[i].to_coco(style='new')
        if extra:
            ann.update(extra)
        aids.append(dset.add_annotation(**ann))
    return aids
