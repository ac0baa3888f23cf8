"""
Space-time targets: which frames a video target covers, the video-space
size, and each frame's image-to-video warp.

Example:
    >>> import kwcoco
    >>> from ndsampler.space_time import resolve_frames
    >>> dset = kwcoco.CocoDataset.demo('vidshapes2')
    >>> frames = resolve_frames(dset, {'vidid': 1, 'time_slice': slice(1, 2)})
    >>> frames.gids, frames.video_dims
    ([2], (600, 600))
"""
from collections import namedtuple

import kwimage
import numpy as np

from ndsampler.abstract_frames import ALL_CHANNELS
from ndsampler.errors import InvalidTargetError, UnknownIdError

#: The frames of a space-time target: image ids in time order, the video id
#: (or None), the ``(h, w)`` of video space, the time slice, and each
#: frame's 3x3 image-to-video matrix (``None`` where it is the identity),
#: and the original's ``data_dims``: ``(frames in the video, h, w)``,
#: ``(1, h, w)`` for one image outside a video, else ``None``.
VideoFrames = namedtuple('VideoFrames', ['gids', 'vidid', 'video_dims', 'time_slice', 'warps',
                                         'data_dims'])


def video_gids(dset, vidid):
    """A video's image ids in frame order."""
    if vidid not in dset.index.videos:
        raise UnknownIdError('unknown video id vidid={!r}'.format(vidid))
    gids = list(dset.index.vidid_to_gids[vidid])
    return sorted(gids, key=lambda gid: dset.imgs[gid].get('frame_index', 0))


def resolve_frames(dset, target):
    """
    The :data:`VideoFrames` of a target with ``vidid`` (and ``time_slice``)
    or ``gids``.

    Raises:
        UnknownIdError: an unknown video or image id.
        InvalidTargetError: a time slice outside the video, or frames of
            different videos.
    """
    gids = target.get('gids', None)
    vidid = target.get('vidid', None)
    time_slice = target.get('time_slice', None)
    slices = target.get('slices', None)
    if time_slice is None and isinstance(slices, tuple) and len(slices) == 3:
        time_slice = slices[0]
    if gids is None:
        all_gids = video_gids(dset, vidid)
        time_slice = slice(0, len(all_gids)) if time_slice is None else time_slice
        if not isinstance(time_slice, slice) or time_slice.step not in (None, 1):
            raise InvalidTargetError("target['time_slice'] must be a slice without a step, "
                                     'got {!r}'.format(time_slice))
        start = 0 if time_slice.start is None else time_slice.start
        stop = len(all_gids) if time_slice.stop is None else time_slice.stop
        if not (0 <= start < stop <= len(all_gids)):
            raise InvalidTargetError(
                'time_slice {!r} is outside video {} of {} frames (time padding is not '
                'supported)'.format(time_slice, vidid, len(all_gids)))
        gids = all_gids[start:stop]
        time_slice = slice(start, stop)
    else:
        gids = list(gids)
        if not gids:
            raise InvalidTargetError("target['gids'] is empty")
        for gid in gids:
            if gid not in dset.imgs:
                raise UnknownIdError('unknown image id gid={!r}'.format(gid))
        vidids = {dset.imgs[gid].get('video_id', None) for gid in gids}
        if len(vidids) > 1:
            raise InvalidTargetError('gids {} belong to different videos {}'.format(gids, vidids))
        vidid = vidids.pop() if vidid is None else vidid
        time_slice = slice(0, len(gids)) if time_slice is None else time_slice
    if vidid is not None:
        video = dset.index.videos[vidid]
        video_dims = (video['height'], video['width'])
        data_dims = (len(dset.index.vidid_to_gids[vidid]),) + video_dims
    else:
        img = dset.imgs[gids[0]]
        video_dims = (img['height'], img['width'])
        data_dims = (1,) + video_dims if len(gids) == 1 else None
    warps = []
    for gid in gids:
        warp = kwimage.Affine.coerce(dset.imgs[gid].get('warp_img_to_vid', None))
        warps.append(None if warp.isclose_identity() else warp.matrix)
    return VideoFrames(gids, vidid, video_dims, time_slice, warps, data_dims)


def load_lazy_frames(frames, spec, target):
    """
    ``finalize=False``: one delayed image per frame.  ``use_native_scale``:
    per frame, each asset's window at its own resolution (a jagged list),
    with ``jagged_meta`` per frame: ``gid``, ``channels`` (codes) and
    ``chans`` (kwcoco specs) of the parts, ``warps`` (each part's warp from
    the window to its native grid), ``align`` (the original's: the same
    computed with ``squash_nans``, which delayed_image normalises by the
    part's size) and ``grid_to_part_warps`` (from video space to the window,
    the spec's ``scale`` included).
    ``realign_native='largest'`` resizes a frame's parts to its largest one
    and stacks them.
    """
    if not target.get('use_native_scale', False):
        return [frames.delayed_window(spec, index) for index in range(len(spec.gids))], None
    finalize = target.get('finalize', True)
    realign = target.get('realign_native', None)
    if realign not in (None, False, 'largest'):
        raise InvalidTargetError("realign_native must be None or 'largest', got {!r}".format(realign))
    grid_to_window = kwimage.Affine(spec.space_to_window())
    out, meta = [], []
    for index, gid in enumerate(spec.gids):
        crop = frames.delayed_window(spec, index, scaled=False)
        crop = crop.optimize()
        parts, warps = crop.undo_warps(remove=['scale'], return_warps=True)
        align = crop.undo_warps(remove=['scale'], squash_nans=True, return_warps=True)[1]
        if spec.scale is not None:
            parts = [part.warp({'scale': spec.scale}) for part in parts]
        meta.append({'gid': gid, 'channels': [part.channels.spec for part in parts],
                     'chans': [part.channels for part in parts], 'align': list(align),
                     'warps': list(warps), 'grid_to_part_warps': [grid_to_window for _ in parts]})
        if not finalize:
            out.append(parts)
            continue
        arrays = [np.asarray(part.finalize()) for part in parts]
        if realign == 'largest':
            arrays = realign_to_largest(arrays)
        out.append(arrays)
    return out, meta


def realign_to_largest(arrays):
    """Resize ``(h, w, c)`` arrays to the largest one's size and stack their channels."""
    import cv2
    h, w = max((a.shape[0:2] for a in arrays), key=lambda hw: hw[0] * hw[1])
    return np.concatenate([
        a if a.shape[0:2] == (h, w) else
        cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR).reshape(h, w, -1)
        for a in arrays], axis=2)


def frame_channel_names(frames, gids, channels):
    """
    Channel names of a space-time sample: those of ``channels`` (a
    :func:`~ndsampler.abstract_frames.channel_code`), or, without one, the
    union over the frames of all their channels (``None`` when a frame does
    not name its channels).
    """
    if channels is not None and channels != ALL_CHANNELS:
        from delayed_image.channel_spec import ChannelSpec
        return ChannelSpec.coerce(channels).fuse().normalize().as_list()
    names = []
    for gid in gids:
        frame_names = frames.band_plan(gid, ALL_CHANNELS).names
        if frame_names is None:
            return None
        names.extend(n for n in frame_names if n not in names)
    return names
