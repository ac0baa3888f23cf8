"""
Sliding-window grids over a dataset, for inference and evaluation.

Windows slide with ``keepbound=True`` (the last window is flush with the far
edge) and ``allow_overshoot=True`` (an image smaller than the window gets one
window, zero-padded when sampled), so every pixel of every image is covered.

As in the original, ``positives_indexes`` and ``negatives_indexes`` are
**1-based** indices into ``targets``.

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
import numpy as np

from ndsampler.annot_index import AnnotIndex, intersection_areas


def grid_slices(data_dims, window_dims, window_overlap=0.0):
    """``(y, x)`` slices of the sliding windows over an image (``'full'``: one)."""
    if isinstance(window_dims, str):
        if window_dims != 'full':
            raise ValueError("window_dims must be (h, w) or 'full', got {!r}".format(window_dims))
        return [tuple(slice(0, int(d)) for d in data_dims)]
    slider = kwarray.SlidingWindow(tuple(int(d) for d in data_dims), tuple(window_dims),
                                   overlap=window_overlap, keepbound=True, allow_overshoot=True)
    return list(slider)


def _annot_index(dset, isect_index, use_annots):
    """The shared box index (of a ``FrameIntersectionIndex`` or given as is), or None."""
    if not use_annots:
        return None
    if isect_index is None:
        return AnnotIndex(dset)
    return getattr(isect_index, 'annot_index', isect_index)


def new_image_sample_grid(dset, window_dims, window_overlap=0.0, classes_of_interest=None,
                          ignore_coverage_thresh=0.6, negative_classes={'ignore', 'background'},
                          use_annots=True, legacy=True, verbose=1, isect_index=None):
    """
    A grid of ``{gid, slices, aids}`` targets over every image.

    A window is positive when it meets an annotation whose category is not
    in ``negative_classes`` (and is in ``classes_of_interest`` when given);
    otherwise it is negative, unless ``'ignore'`` boxes cover more than
    ``ignore_coverage_thresh`` of it, in which case it is neither.
    ``isect_index`` (a ``FrameIntersectionIndex`` or ``AnnotIndex``) shares
    an existing index.
    """
    index = _annot_index(dset, isect_index, use_annots)
    cid_to_name = {cid: cat['name'] for cid, cat in dset.cats.items()}
    targets, positives, negatives = [], [], []
    for gid in sorted(dset.imgs):
        img = dset.imgs[gid]
        for slices in grid_slices((img['height'], img['width']), window_dims, window_overlap):
            sl_y, sl_x = slices
            ltrb = (float(sl_x.start), float(sl_y.start), float(sl_x.stop), float(sl_y.stop))
            aids, names, coverage = [], [], 0.0
            if index is not None:
                boxes = index.for_image(gid)
                rows = index.overlapping_rows(gid, ltrb)
                aids = boxes.aids[rows].tolist()
                names = [cid_to_name.get(cid) for cid in boxes.cids[rows].tolist()]
                ignore = rows[[name == 'ignore' for name in names]] if rows.size else rows
                if ignore.size:
                    area = (ltrb[2] - ltrb[0]) * (ltrb[3] - ltrb[1])
                    coverage = min(1.0, float(intersection_areas(boxes.ltrb[ignore], ltrb).sum() / area))
            targets.append({'gid': gid, 'slices': slices, 'aids': aids})
            if any(name not in negative_classes and
                   (classes_of_interest is None or name in classes_of_interest)
                   for name in names):
                positives.append(len(targets))
            elif coverage <= ignore_coverage_thresh:
                negatives.append(len(targets))
    return _grid(targets, positives, negatives, legacy, verbose)


def new_video_sample_grid(dset, window_dims, window_overlap=0.0, negative_classes={'ignore', 'background'},
                          use_annots=True, legacy=True, verbose=1, isect_index=None):
    """
    A grid of ``{vidid, time_slice, space_slice, gids, aids}`` targets over
    every video, with ``window_dims = (T, H, W)`` in video space.  A video
    shorter than ``T`` frames gets windows over all its frames.
    """
    import kwimage
    from ndsampler.space_time import video_gids
    index = _annot_index(dset, isect_index, use_annots)
    cid_to_name = {cid: cat['name'] for cid, cat in dset.cats.items()}
    targets, positives, negatives = [], [], []
    for vidid in sorted(dset.index.videos):
        gids = video_gids(dset, vidid)
        video = dset.index.videos[vidid]
        if not gids:
            continue
        if isinstance(window_dims, str):
            dims = (len(gids), video['height'], video['width'])
        else:
            dims = (min(window_dims[0], len(gids)),) + tuple(window_dims[1:])
        slider = kwarray.SlidingWindow((len(gids), video['height'], video['width']), dims,
                                       overlap=window_overlap, keepbound=True, allow_overshoot=True)
        for time_slice, sl_y, sl_x in slider:
            frame_gids = gids[time_slice]
            ltrb = np.array([[sl_x.start, sl_y.start, sl_x.stop, sl_y.stop]], dtype=np.float64)
            aids = []
            for gid in frame_gids if index is not None else []:
                warp = kwimage.Affine.coerce(dset.imgs[gid].get('warp_img_to_vid', None))
                query = kwimage.Boxes(ltrb, 'ltrb').warp(warp.inv()).to_ltrb().data[0]
                rows = index.overlapping_rows(gid, tuple(query.tolist()))
                aids.extend(index.for_image(gid).aids[rows].tolist())
            targets.append({'vidid': vidid, 'time_slice': time_slice,
                            'space_slice': (sl_y, sl_x), 'gids': frame_gids, 'aids': aids})
            names = [cid_to_name.get(dset.anns[aid].get('category_id', None)) for aid in aids]
            if any(name not in negative_classes for name in names):
                positives.append(len(targets))
            else:
                negatives.append(len(targets))
    return _grid(targets, positives, negatives, legacy, verbose)


def _grid(targets, positives, negatives, legacy, verbose):
    """The grid dict; ``positives``/``negatives`` are 1-based indices, as in the original."""
    if verbose:
        print('Found {} targets, {} positives, {} negatives'.format(
            len(targets), len(positives), len(negatives)))
    grid = {'targets': targets, 'positives_indexes': positives, 'negatives_indexes': negatives}
    if legacy:
        grid['positives'] = [targets[i - 1] for i in positives]
        grid['negatives'] = [targets[i - 1] for i in negatives]
    return grid
