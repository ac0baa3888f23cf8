"""
Frames of a kwcoco dataset: each image's main file and its assets.

An image is either one file (``file_name``, with optional ``channels``) or a
set of assets (``auxiliary`` / ``assets``), each with its own channels and an
optional ``warp_aux_to_img``.  Assets aligned with the image take the
backend's fast path; warped ones are resampled through kwcoco.  A
``file_name`` that is a URL (``http(s)://``, ``s3://``, ``gs://``,
``/vsicurl/`` ...) is read remotely (:mod:`ndsampler.remote`) and never joined
with the bundle directory; an image without ``width`` / ``height`` takes
its size from the file's header.

Example:
    >>> import kwcoco
    >>> from ndsampler.coco_frames import CocoFrames
    >>> dset = kwcoco.CocoDataset.demo('shapes2')
    >>> frames = CocoFrames(dset, backend=None)
    >>> frames.load_region(1, (slice(0, 10), slice(0, 20))).shape
    (10, 20, 3)
"""
import os

import numpy as np

from ndsampler.abstract_frames import ALL_CHANNELS, Frames, Part
from ndsampler.errors import UnknownIdError
from ndsampler.remote import join_source


def channel_names(code):
    """
    The band names of a kwcoco channel code, or ``None`` without one.

    Example:
        >>> channel_names('red|B:2'), channel_names(None)
        (['red', 'B.0', 'B.1'], None)
    """
    if not code:
        return None
    from delayed_image.channel_spec import FusedChannelSpec
    return FusedChannelSpec.coerce(code).normalize().as_list()


class CocoFrames(Frames):
    """
    The frames of a kwcoco dataset's images (see the module docstring).

    Args:
        dset (kwcoco.CocoDataset): the dataset whose images to serve.
        backend: see :class:`ndsampler.abstract_frames.Frames`; ``'auto'``
            by default here (``None`` when made by ``CocoSampler``).

    Example:
        >>> import kwcoco
        >>> frames = CocoFrames(kwcoco.CocoDataset.demo('vidshapes1-multispectral'), backend=None)
        >>> frames.open(1).names, frames.load_region(1, channels='B1|B11').shape
        (['B1', 'B8', 'B8a', 'B10', 'B11'], (600, 600, 2))
    """

    def __init__(self, dset, hashid_mode='PATH', workdir=None, verbose=0,
                 backend='auto'):
        super().__init__(hashid_mode=hashid_mode, workdir=workdir, backend=backend)
        self.dset = dset
        self.verbose = verbose
        self._parts = {}

    def __getstate__(self):
        state = super().__getstate__()
        state['_parts'] = {}
        return state

    @property
    def image_ids(self):
        """
        The dataset's image ids, in its order.

        Example:
            >>> import kwcoco
            >>> CocoFrames(kwcoco.CocoDataset.demo('shapes8'), backend=None).image_ids
            [1, 2, 3, 4, 5, 6, 7, 8]
        """
        return list(self.dset.imgs.keys())

    def _lookup_parts(self, image_id):
        parts = self._parts.get(image_id, None)
        if parts is None:
            parts = self._parts[image_id] = self._build_parts(image_id)
        return parts

    def _build_parts(self, image_id):
        import kwimage
        try:
            img = self.dset.imgs[image_id]
        except KeyError:
            raise UnknownIdError('unknown image id {!r}'.format(image_id)) from None
        bundle = os.fspath(self.dset.bundle_dpath)
        parts = []
        if img.get('file_name', None):
            parts.append(Part(join_source(bundle, img['file_name']),
                              channel_names(img.get('channels', None)), True, True))
        for asset in (img.get('auxiliary', None) or []) + (img.get('assets', None) or []):
            warp = kwimage.Affine.coerce(asset.get('warp_aux_to_img', None))
            same_size = (asset.get('width', img.get('width')) == img.get('width') and
                         asset.get('height', img.get('height')) == img.get('height'))
            parts.append(Part(join_source(bundle, asset['file_name']),
                              channel_names(asset.get('channels', None)),
                              bool(warp.isclose_identity() and same_size), False))
        if not parts:
            raise UnknownIdError('image {!r} has no file_name and no assets'.format(image_id))
        return parts

    def _build_pathinfo(self, image_id):
        """The original's per-image record of files by channel (see :mod:`ndsampler._pathinfo`)."""
        from ndsampler._pathinfo import build_pathinfo
        return build_pathinfo(self, image_id)

    def _lookup_pathinfo(self, image_id):
        """:meth:`_build_pathinfo`, memoised per image."""
        cache = self.__dict__.setdefault('_id_to_pathinfo', {})
        if image_id not in cache:
            cache[image_id] = self._build_pathinfo(image_id)
        return cache[image_id]

    def _warped_dims(self, image_id):
        img = self.dset.imgs[image_id]
        if img.get('height') is None or img.get('width') is None:
            parts = self._lookup_parts(image_id)
            main = next((p for p in parts if p.main), parts[0])
            reader = self.backend.open(main.fpath)  # the size from the file's header
            return (reader.height, reader.width)
        return (img['height'], img['width'])

    def delayed_window(self, spec, index, scaled=True):
        """
        Frame ``index`` of a sample as a kwcoco delayed image (nothing is
        read yet): the assets warped into image space (video space for a
        video sample), cropped to the padded window and (when ``scaled``)
        resampled by the spec's scale.

        Example:
            >>> import kwcoco
            >>> from ndsampler.windows import resolve_sample
            >>> frames = CocoFrames(kwcoco.CocoDataset.demo('shapes8'), backend=None)
            >>> spec = resolve_sample({'slices': (slice(-2, 8), slice(0, 10)), 'scale': 0.5},
            ...                       (600, 600), (1,))
            >>> unscaled = frames.delayed_window(spec, 0, scaled=False)
            >>> frames.delayed_window(spec, 0).finalize().shape, unscaled.dsize
            ((5, 5, 3), (10, 10))
        """
        y0, y1, x0, x1 = spec.box
        channels = None if spec.channels == ALL_CHANNELS else spec.channels
        delayed = self.dset.coco_image(spec.gids[index]).imdelay(
            channels=channels, space='video' if spec.video else 'image',
            nodata_method='float' if spec.nodata else None)
        window = delayed.crop((slice(y0, y1), slice(x0, x1)), clip=False, wrap=False)
        return window if spec.scale is None or not scaled else window.scale(spec.scale)

    def _read_warped(self, spec, index):
        return np.asarray(self.delayed_window(spec, index).finalize())
