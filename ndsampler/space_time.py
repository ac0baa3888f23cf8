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

from ndsampler.errors import InvalidTargetError, UnknownIdError

#: The frames of a space-time target: image ids in time order, the video id
#: (or None), the ``(h, w)`` of video space, and each frame's
#: image-to-video warp (``None`` where it is the identity).
VideoFrames = namedtuple('VideoFrames', ['gids', 'vidid', 'video_dims', 'time_slice', 'warps'])


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
    if vidid is not None:
        video = dset.index.videos[vidid]
        video_dims = (video['height'], video['width'])
    else:
        img = dset.imgs[gids[0]]
        video_dims = (img['height'], img['width'])
    warps = []
    for gid in gids:
        warp = kwimage.Affine.coerce(dset.imgs[gid].get('warp_img_to_vid', None))
        warps.append(None if warp.isclose_identity() else warp)
    return VideoFrames(gids, vidid, video_dims, time_slice, warps)
