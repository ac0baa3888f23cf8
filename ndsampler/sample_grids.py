"""
Sliding-window grids over a dataset, for inference and evaluation.

The two functions are also importable from :mod:`ndsampler.coco_regions`
(where the original defines them) and are what
:meth:`CocoRegions.new_sample_grid` calls.

Windows slide with ``keepbound=True`` (the last window is flush with the far
edge) and ``allow_overshoot=True`` (an image smaller than the window gets one
window, zero-padded when sampled), so every pixel of every image is covered.
Images and videos are visited in dataset order; a target's ``aids`` are
sorted.  As in the original, ``positives_indexes`` and ``negatives_indexes``
are **1-based** indices into ``targets`` (``targets[i - 1]``).

Example:
    >>> import kwcoco
    >>> from ndsampler.sample_grids import new_image_sample_grid
    >>> dset = kwcoco.CocoDataset.demo('shapes8')
    >>> grid = new_image_sample_grid(dset, (256, 256), verbose=0)
    >>> len(grid['targets']), grid['targets'][2]['slices']
    (72, (slice(0, 256, None), slice(344, 600, None)))
    >>> len(grid['positives_indexes']) + len(grid['negatives_indexes'])
    72
"""
import kwarray
import kwimage
import numpy as np

from ndsampler.annot_index import AnnotIndex, intersection_areas

def grid_slices(data_dims, window_dims, window_overlap=0.0):
    """
    The sliding windows over an array of ``data_dims`` (one window of the
    whole array when ``window_dims == 'full'``).

    Example:
        >>> grid_slices((5, 7), (4, 4))
        [(slice(0, 4, None), slice(0, 4, None)), (slice(0, 4, None), slice(3, 7, None)), (slice(1, 5, None), slice(0, 4, None)), (slice(1, 5, None), slice(3, 7, None))]
        >>> grid_slices((5, 7), 'full')
        [(slice(0, 5, None), slice(0, 7, None))]
    """
    full_dims = [int(d) for d in data_dims]
    if isinstance(window_dims, str):
        if window_dims != 'full':
            raise ValueError("window_dims must be a size or 'full', got {!r}".format(window_dims))
        window_dims = full_dims
    slider = kwarray.SlidingWindow(full_dims, window_dims, overlap=window_overlap,
                                   keepbound=True, allow_overshoot=True)
    return list(slider)


def _annot_index(dset, isect_index):
    """The box index to query: that of a ``FrameIntersectionIndex``, an
    ``AnnotIndex`` given as is, or a new one."""
    if isect_index is None:
        return AnnotIndex(dset)
    return getattr(isect_index, 'annot_index', isect_index)


def _image_dims(dset, image_dims):
    from ndsampler.isect_indexer import ImageSizes
    sizes = ImageSizes.coerce(dset, image_dims)

    def dims_of(gid):
        dims = sizes(gid)
        if dims is None:
            raise ValueError(
                'the size of image {} is unknown: its dict has no width/height, and '
                'neither image_dims nor its main file tells it'.format(gid))
        return dims
    return dims_of


def union_area(ltrb):
    """
    Area of the union of ``(N, 4)`` ltrb boxes.

    Example:
        >>> union_area(np.array([[0, 0, 4, 4], [2, 2, 6, 6], [10, 10, 11, 11]], float))
        29.0
    """
    ltrb = np.asarray(ltrb, dtype=np.float64).reshape(-1, 4)
    ltrb = ltrb[(ltrb[:, 2] > ltrb[:, 0]) & (ltrb[:, 3] > ltrb[:, 1])]
    if len(ltrb) == 0:
        return 0.0
    xs = np.unique(ltrb[:, [0, 2]])
    ys = np.unique(ltrb[:, [1, 3]])
    # which elementary cell (between consecutive distinct xs / ys) each box covers
    cover = np.zeros((len(ys) - 1, len(xs) - 1), dtype=bool)
    x0 = np.searchsorted(xs, ltrb[:, 0])
    x1 = np.searchsorted(xs, ltrb[:, 2])
    y0 = np.searchsorted(ys, ltrb[:, 1])
    y1 = np.searchsorted(ys, ltrb[:, 3])
    for a, b, c, d in zip(y0.tolist(), y1.tolist(), x0.tolist(), x1.tolist()):
        cover[a:b, c:d] = True
    cell_areas = np.diff(ys)[:, None] * np.diff(xs)[None, :]
    return float(cell_areas[cover].sum())


def _mostly_ignored(ignore_ltrb, window_ltrb, thresh):
    """
    Does the union of the ``ignore`` boxes cover more than ``thresh`` of the
    window?  Tested as the original does: a bound from the boxes' whole
    areas first, then the best single box, then the union.
    """
    wl, wt, wr, wb = window_ltrb
    window_area = (wr - wl) * (wb - wt)
    denom = window_area if window_area != 0 else 1.0
    areas = (ignore_ltrb[:, 2] - ignore_ltrb[:, 0]) * (ignore_ltrb[:, 3] - ignore_ltrb[:, 1])
    if not areas.sum() / window_area > thresh:
        return False
    if intersection_areas(ignore_ltrb, window_ltrb).max() / denom > thresh:
        return True
    if len(ignore_ltrb) > 1:
        clipped = np.stack([np.maximum(ignore_ltrb[:, 0], wl), np.maximum(ignore_ltrb[:, 1], wt),
                            np.minimum(ignore_ltrb[:, 2], wr), np.minimum(ignore_ltrb[:, 3], wb)],
                           axis=1)
        return union_area(clipped) / window_area > thresh
    return False


def new_image_sample_grid(dset, window_dims, window_overlap=0.0,
                          classes_of_interest=None, ignore_coverage_thresh=0.6,
                          negative_classes={'ignore', 'background'},
                          use_annots=True, legacy=True, verbose=1,
                          *, isect_index=None, image_dims=None):
    """
    Sliding windows over every image, as ``{'gid', 'slices', 'aids'}`` targets.

    Args:
        dset (kwcoco.CocoDataset): the dataset.
        window_dims (Tuple[int, int] | str): ``(h, w)``, or ``'full'`` for
            one window per image.
        window_overlap (float): fraction of overlap between neighbours.
        classes_of_interest (Collection[str] | None): when given, a window
            is positive only if it meets one of these categories.
        ignore_coverage_thresh (float): windows whose area is covered by
            ``'ignore'`` boxes for more than this fraction are left out of
            the grid (falsy: keep every window).
        negative_classes (Collection[str]): categories that do not make a
            window positive (when ``classes_of_interest`` is not given).
        use_annots (bool): when False, ``aids`` is ``None`` and every window
            is a negative.
        legacy (bool): also return the ``'positives'`` and ``'negatives'``
            target lists.
        verbose (int): print counts.
        isect_index (FrameIntersectionIndex | AnnotIndex | None): an
            existing box index of ``dset`` to share (keyword only).
        image_dims (Callable | Mapping | None): ``(h, w)`` of images whose
            dicts lack ``width``/``height`` (keyword only; see
            :class:`ndsampler.isect_indexer.ImageSizes`).

    Returns:
        Dict: ``targets``, ``positives_indexes`` and ``negatives_indexes``
        (1-based), and with ``legacy`` ``positives`` and ``negatives``.
        Category names are compared in lower case.

    Example:
        >>> import kwcoco
        >>> from ndsampler.coco_regions import new_image_sample_grid
        >>> dset = kwcoco.CocoDataset.demo('shapes2')
        >>> grid = new_image_sample_grid(dset, (300, 300), verbose=0)
        >>> grid['targets'][0]
        {'gid': 1, 'slices': (slice(0, 300, None), slice(0, 300, None)), 'aids': [1, 3, 4, 9, 14]}
        >>> grid['positives_indexes'], grid['negatives_indexes']
        ([1, 2, 3, 4, 5, 6, 7, 8], [])
    """
    dims_of = _image_dims(dset, image_dims)
    index = _annot_index(dset, isect_index) if use_annots else None
    cid_to_name = {cid: str(cat.get('name', '')).lower() for cid, cat in dset.cats.items()}
    targets, is_positive_flags = [], []
    for gid in dset.imgs.keys():
        slider = grid_slices(dims_of(gid), window_dims, window_overlap)
        if index is not None:
            img_boxes = index.for_image(gid)
        for region in slider:
            y_sl, x_sl = region
            if index is None:
                aids = None
                is_positive = False
            else:
                window = (float(x_sl.start), float(y_sl.start), float(x_sl.stop), float(y_sl.stop))
                rows = index.overlapping_rows(gid, window)
                aids = img_boxes.aids[rows].tolist()
                names = [cid_to_name.get(cid) for cid in img_boxes.cids[rows].tolist()]
                if ignore_coverage_thresh:
                    ignore_rows = rows[[name == 'ignore' for name in names]] if len(rows) else rows
                    if len(ignore_rows) and _mostly_ignored(
                            img_boxes.ltrb[ignore_rows], window, ignore_coverage_thresh):
                        continue
                if classes_of_interest:
                    is_positive = any(name in classes_of_interest for name in names)
                elif negative_classes:
                    is_positive = any(name not in negative_classes for name in names)
                else:
                    is_positive = bool(aids)
            targets.append({'gid': gid, 'slices': region, 'aids': aids})
            is_positive_flags.append(is_positive)
    return _grid(targets, is_positive_flags, use_annots, legacy, verbose)


def new_video_sample_grid(dset, window_dims=None, window_overlap=0.0,
                          space_dims=None, time_dim=None,
                          classes_of_interest=None, ignore_coverage_thresh=0.6,
                          negative_classes={'ignore', 'background'},
                          use_annots=True, legacy=True, verbose=1,
                          *, isect_index=None, image_dims=None):
    """
    Sliding space-time windows over every video, as ``{'vidid',
    'time_slice', 'space_slice', 'gids', 'aids'}`` targets in video space.

    A window is positive when any of its frames has an annotation whose box
    meets it (the window warped into each frame's image space); categories
    are not considered, so ``negative_classes`` and
    ``ignore_coverage_thresh`` have no effect, and ``space_dims`` /
    ``time_dim`` are accepted and unused, as in the original.

    Args:
        dset (kwcoco.CocoDataset): the dataset.
        window_dims (Tuple[int, int, int] | str): ``(t, h, w)``, or
            ``'full'`` for one window per video.  A window longer than the
            video keeps its ``time_slice`` (e.g. ``slice(0, 5)`` over 3
            frames) and lists the frames there are.
        classes_of_interest: not supported (``NotImplementedError``).
        use_annots (bool): when False, ``aids`` is ``None`` and every window
            is a negative.
        isect_index, image_dims: keyword only, as for
            :func:`new_image_sample_grid` (``image_dims`` is used for a
            video without ``width``/``height``: its first frame's size).

    Returns:
        Dict: as :func:`new_image_sample_grid`.

    Example:
        >>> import kwcoco
        >>> from ndsampler.coco_regions import new_video_sample_grid
        >>> dset = kwcoco.CocoDataset.demo('vidshapes2', num_frames=3)
        >>> grid = new_video_sample_grid(dset, (2, 128, 128), verbose=0)
        >>> len(grid['targets'])
        100
        >>> target = grid['targets'][0]
        >>> target['vidid'], target['time_slice'], target['gids']
        (1, slice(0, 2, None), [1, 2])
    """
    if classes_of_interest:
        raise NotImplementedError('classes_of_interest is not supported for video grids')
    index = _annot_index(dset, isect_index) if use_annots else None
    dims_of = None
    warps = {}

    def img_from_vid(gid):
        warp = warps.get(gid, None)
        if warp is None:
            img_to_vid = dset.index.imgs[gid].get('warp_img_to_vid', None)
            warp = warps[gid] = kwimage.Affine.coerce(img_to_vid).inv()
        return warp

    targets, is_positive_flags = [], []
    for vidid, video in dset.index.videos.items():
        gids = list(dset.index.vidid_to_gids.get(vidid, []))
        height, width = video.get('height', None), video.get('width', None)
        if (height is None or width is None) and gids:
            dims_of = dims_of or _image_dims(dset, image_dims)
            height, width = dims_of(gids[0])
        full_dims = [len(gids), height, width]
        window_dims_ = full_dims if window_dims == 'full' else window_dims
        slider = kwarray.SlidingWindow(full_dims, window_dims_, overlap=window_overlap,
                                       keepbound=True, allow_overshoot=True)
        for t_sl, y_sl, x_sl in slider:
            region_gids = gids[t_sl]
            if index is None:
                aids = None
            else:
                aids = []
                vid_box = kwimage.Boxes.from_slice((y_sl, x_sl))
                for gid in region_gids:
                    img_box = vid_box.warp(img_from_vid(gid)).to_ltrb().data[0]
                    rows = index.overlapping_rows(gid, tuple(float(v) for v in img_box))
                    aids.extend(index.for_image(gid).aids[rows].tolist())
                aids.sort()
            targets.append({'vidid': vidid, 'time_slice': t_sl, 'space_slice': (y_sl, x_sl),
                            'gids': region_gids, 'aids': aids})
            is_positive_flags.append(bool(aids))
    return _grid(targets, is_positive_flags, use_annots, legacy, verbose)


def _grid(targets, is_positive_flags, use_annots, legacy, verbose):
    """The grid dict (indexes 1-based, as in the original)."""
    positive_idxs = [i + 1 for i, flag in enumerate(is_positive_flags) if flag]
    negative_idxs = [i + 1 for i, flag in enumerate(is_positive_flags) if not flag]
    if verbose:
        print('Found {} targets'.format(len(targets)))
        if use_annots:
            print('Found {} positives'.format(len(positive_idxs)))
            print('Found {} negatives'.format(len(negative_idxs)))
    grid = {'targets': targets, 'positives_indexes': positive_idxs,
            'negatives_indexes': negative_idxs}
    if legacy:
        grid['positives'] = [targets[i - 1] for i in positive_idxs]
        grid['negatives'] = [targets[i - 1] for i in negative_idxs]
    return grid
