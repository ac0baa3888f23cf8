"""
The original's per-image "pathinfo" record (``CocoFrames._build_pathinfo``):
where an image's files are, by channel, and where their caches go.

The structure mirrors ndsampler 0.8.1::

    {'id': image_id,
     'channels': {<channel code as written in the dataset (None if absent)>: {
         'file_name': <as in the dataset>, 'channels': <code>,
         'norm_channels': <normalised code or None>,
         'warp_aux_to_img': <for auxiliary / asset files>,
         'path': <bundle_dpath joined with file_name; a URL as it is>,
         'hashid': <cache key>, 'hashid_mode': 'PATH' | 'PIXELS',
         'cache': <cache file path>,   # these three only with an on-disk cache
         'cache_type': None | 'npy' | 'cog'}},
     'default': <the image's own channel code>,
     'width': ..., 'height': ...,
     'norm_to_chan_lut': {<normalised code>: <code>}}

The cache key is the backend's (the source file's identity and
modification stamp, or its bytes for ``hashid_mode='PIXELS'``), not the
original's hash of the relative file name; it is ``None`` (and so is
``cache``) when the source is missing.

Example:
    >>> import kwcoco
    >>> from ndsampler.coco_frames import CocoFrames
    >>> from ndsampler._pathinfo import build_pathinfo
    >>> frames = CocoFrames(kwcoco.CocoDataset.demo('shapes2'), backend=None)
    >>> info = build_pathinfo(frames, 1)
    >>> sorted(info), list(info['channels']), info['norm_to_chan_lut']
    (['channels', 'default', 'height', 'id', 'norm_to_chan_lut', 'width'], ['rgb'], {'r|g|b': 'rgb'})
    >>> chan = info['channels']['rgb']
    >>> sorted(chan), chan['cache_type'], chan['path'].endswith('img_00001.png')
    (['cache_type', 'channels', 'file_name', 'norm_channels', 'path'], None, True)
"""
import os
import warnings

from ndsampler.errors import UnknownIdError
from ndsampler.remote import join_source


def build_pathinfo(frames, image_id):
    """
    The pathinfo dict of one image of a :class:`~ndsampler.coco_frames.CocoFrames`.

    Example:
        >>> import kwcoco
        >>> from ndsampler.coco_frames import CocoFrames
        >>> dset = kwcoco.CocoDataset.demo('vidshapes1-multispectral', num_frames=1)
        >>> frames = CocoFrames(dset, backend='npy')
        >>> info = build_pathinfo(frames, 1)
        >>> list(info['channels']), info['default'], (info['width'], info['height'])
        (['B1', 'B8', 'B8a', 'B10', 'B11'], None, (600, 600))
        >>> b8 = info['channels']['B8']
        >>> b8['warp_aux_to_img'], b8['cache_type'], b8['cache'].endswith('.npy')
        ({'scale': 6.0, 'type': 'affine'}, 'npy', True)
    """
    try:
        img = frames.dset.imgs[image_id]
    except KeyError:
        raise UnknownIdError('unknown image id {!r}'.format(image_id)) from None
    root = os.fspath(frames.dset.bundle_dpath)
    default_channels = img.get('channels', None)
    channels, norm_to_chan = {}, {}
    if img.get('file_name', None) is not None:
        norm = _normalise_channels(default_channels)
        norm_to_chan[norm] = default_channels
        channels[default_channels] = {'file_name': img['file_name'],
                                      'channels': default_channels, 'norm_channels': norm}
    for asset in (img.get('auxiliary', None) or []) + (img.get('assets', None) or []):
        code = asset.get('channels', None)
        norm = _normalise_channels(code)
        norm_to_chan[norm] = code
        channels[code] = {'file_name': asset['file_name'], 'channels': code,
                          'norm_channels': norm, 'warp_aux_to_img': _warp_aux_to_img(asset)}
    for chan in channels.values():
        _populate_chan_info(frames, chan, root)
    return {'id': image_id, 'channels': channels, 'default': default_channels,
            'width': img.get('width', None), 'height': img.get('height', None),
            'norm_to_chan_lut': norm_to_chan}


def _normalise_channels(code):
    if code is None:
        return None
    from delayed_image.channel_spec import FusedChannelSpec
    return FusedChannelSpec.coerce(code).normalize().spec


def _warp_aux_to_img(asset):
    """``warp_aux_to_img``, or the inverse of the older ``warp_img_to_aux`` /
    ``base_to_aux`` (deprecated) as ``{'type': 'affine', 'matrix': ...}``."""
    warp = asset.get('warp_aux_to_img', None)
    if warp is not None:
        return warp
    inverse = asset.get('warp_img_to_aux', None)
    if inverse is None and asset.get('base_to_aux', None) is not None:
        warnings.warn('base_to_aux is deprecated; store warp_aux_to_img instead',
                      DeprecationWarning)
        inverse = asset['base_to_aux']
    if inverse is None:
        return None
    import kwimage
    return {'type': 'affine', 'matrix': kwimage.Affine.coerce(inverse).inv().matrix.tolist()}


def _populate_chan_info(frames, chan, root=''):
    """Add ``path`` and the cache fields of the frames' backend to ``chan``."""
    fpath = join_source(root, chan['file_name'])
    chan['path'] = fpath
    backend = frames.backend
    if hasattr(backend, 'cache_fpath_of'):
        try:
            cache, key = backend.cache_fpath_of(fpath)
        except OSError:
            cache = key = None
        chan['hashid'] = key
        chan['hashid_mode'] = backend.hashid_mode
        chan['cache'] = cache
    chan['cache_type'] = frames._backend['type']
    return chan
