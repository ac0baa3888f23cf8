"""
CocoSampler: random access to windows of a kwcoco dataset, with the
annotations that fall inside them.

A sample follows one path: the target dict is resolved to a pixel window
(:mod:`ndsampler.windows`), the frames layer reads it from the backend and
pads what leaves the image (:mod:`ndsampler.abstract_frames`), and the
annotation index shifts the overlapping annotations into window coordinates
(:mod:`ndsampler.window_annots`).

Example:
    >>> import ndsampler
    >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
    >>> sample = sampler.load_sample({'aid': 3})
    >>> sample['im'].shape
    (109, 51, 3)
    >>> sample['annots']['rel_boxes'].data.tolist()[0]
    [0.0, 0.0, 51.0, 109.0]
    >>> sample['params']['offset'].tolist()
    [-297, -307]
"""
import warnings

import kwarray  # NOQA: the original's examples use this module global
import kwimage
import numpy as np
import ubelt as ub

from ndsampler import space_time, windows
from ndsampler.abstract_sampler import AbstractSampler
from ndsampler.coco_frames import CocoFrames
from ndsampler.coco_regions import CocoRegions
from ndsampler.errors import InvalidTargetError, InvalidTargetTypeError, UnknownIdError
from ndsampler.utils.util_misc import HashIdentifiable
from ndsampler.window_annots import AnnotIndex, annots_dict, parse_with_annots

#: The original's private helper, kept at its module path for user code.
_center_extent_to_slice = windows.center_extent_to_slice

#: Target-key aliases added in 0.8.1, mapped to the keys used internally.
KEY_ALIASES = {'image_id': 'gid', 'image_ids': 'gids', 'video_id': 'vidid'}

#: Keyword arguments of ``load_sample`` that moved into the target.
DEPRECATED_KWARGS = ('pad', 'padkw', 'dtype', 'nodata')


class CocoSampler(AbstractSampler, HashIdentifiable, ub.NiceRepr):
    """
    Samples windows (and their annotations) from a ``kwcoco.CocoDataset``.

    Args:
        dset (kwcoco.CocoDataset): images and annotations.
        workdir (str | PathLike | None): where the frame caches live.
        autoinit (bool): build the frames layer now.
        backend (None | str | dict): ``None`` (read the sources), ``'npy'``,
            ``'cog'``, ``'auto'``, or ``{'type': ..., 'config': {...}}``.
        verbose (int): verbosity.

    Example:
        >>> import ndsampler, pickle
        >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend='npy')
        >>> sample = sampler.load_sample({'gid': 1, 'cx': 0, 'cy': 0, 'width': 10, 'height': 10})
        >>> sample['im'].shape, int(sample['im'][0:5, 0:5].max())
        ((10, 10, 3), 0)
        >>> clone = pickle.loads(pickle.dumps(sampler))
        >>> np.array_equal(clone.load_sample(sample['target'])['im'], sample['im'])
        True
    """

    def __init__(self, dset, workdir=None, autoinit=True, backend=None, verbose=0):
        self.dset = dset
        self.workdir = workdir
        self.backend = backend
        self.verbose = verbose
        self.frames = None
        self.regions = None
        self.kp_classes = None
        self._classes = None
        self._annot_index = None
        if autoinit:
            self._init()

    def _init(self):
        if self.workdir is None:
            self.workdir = ub.Path.appdir('ndsampler')
        self.frames = CocoFrames(self.dset, workdir=self.workdir, backend=self.backend,
                                 verbose=self.verbose)
        self.regions = CocoRegions(self.dset, workdir=self.workdir, verbose=self.verbose)
        self.kp_classes = self.dset.keypoint_categories()
        self._classes = self.dset.object_categories()
        self._annot_index = AnnotIndex(self.dset, self.kp_classes)

    def __nice__(self):
        return str(self.n_samples)

    def _depends(self):
        return [self.dset._build_hashid(), self.frames._backend]

    # -- construction helpers -------------------------------------------------
    @classmethod
    def demo(cls, key='shapes', workdir=None, backend=None, **kw):
        """
        A sampler over one of kwcoco's generated demo datasets.

        Example:
            >>> import ndsampler
            >>> ndsampler.CocoSampler.demo('shapes2', backend=None).n_images
            2
        """
        import kwcoco
        dset = kwcoco.CocoDataset.demo(key, **kw)
        if key == 'photos':
            dset.remove_annotations([aid for aid, ann in dset.anns.items()
                                     if ann.get('bbox', None) is None])
            if 'background' not in dset.index.name_to_cat:
                dset.add_category('background', id=0)
        if workdir is None:
            workdir = ub.Path.appdir('ndsampler')
        return cls(dset, workdir=workdir, backend=backend)

    @classmethod
    def coerce(cls, data, **kwargs):
        """
        A sampler from a sampler (returned as is), a dataset, or anything
        ``kwcoco.CocoDataset.coerce`` accepts (a path, a demo key).
        """
        if isinstance(data, cls):
            if kwargs:
                raise NotImplementedError('cannot apply {} to an existing sampler'.format(kwargs))
            return data
        import kwcoco
        return cls(kwcoco.CocoDataset.coerce(data), **kwargs)

    # -- properties -----------------------------------------------------------
    @property
    def classes(self):
        """The object categories (a kwcoco ``CategoryTree``)."""
        return self._classes

    @property
    def catgraph(self):
        """Deprecated alias of :attr:`classes`."""
        return self._classes

    def __len__(self):
        return self.n_samples

    def lookup_class_name(self, class_id):
        return self.dset.cats[class_id]['name']

    def lookup_class_id(self, class_name):
        return self.dset.index.name_to_cat[class_name]['id']

    # -- whole images ---------------------------------------------------------
    def load_image(self, image_id, cache=True):
        """A whole image (a read-only ``np.memmap`` with the npy backend)."""
        return self.frames.load_image(image_id, cache=cache)

    def load_annotations(self, image_id):
        """The annotation dicts of an image."""
        if image_id not in self.dset.imgs:
            raise UnknownIdError('unknown image id {!r}'.format(image_id))
        return [self.dset.anns[aid] for aid in self.dset.index.gid_to_aids[image_id]]

    def load_image_with_annots(self, image_id, cache=True):
        """``(image dict + 'imdata', annotation dicts)`` of one image."""
        img = dict(self.dset.imgs[image_id]) if image_id in self.dset.imgs else None
        if img is None:
            raise UnknownIdError('unknown image id {!r}'.format(image_id))
        img['imdata'] = self.load_image(image_id, cache=cache)
        return img, self.load_annotations(image_id)

    def load_target_annots(self, target):
        """Ids of the annotations that meet a target's ``space_slice``."""
        target = self._normalize_target_keys(target)
        gids = target.get('gids', None) or [target['gid']]
        sl_y, sl_x = target['space_slice']
        ltrb = (sl_x.start, sl_y.start, sl_x.stop, sl_y.stop)
        aids = []
        for gid in gids:
            boxes = self._annot_index.for_image(gid)
            aids.extend(boxes.aids[self._annot_index.overlapping_rows(gid, ltrb)].tolist())
        return aids

    # -- regions --------------------------------------------------------------
    def preselect(self, **kwargs):
        """Fix the positive and negative pools; see :meth:`CocoRegions.preselect`."""
        return self.regions.preselect(**kwargs)

    def new_sample_grid(self, task, window_dims, window_overlap=0):
        """Sliding-window targets; see :meth:`CocoRegions.new_sample_grid`."""
        return self.regions.new_sample_grid(task, window_dims, window_overlap)

    def load_item(self, index, with_annots=True, target=None, rng=None, **kw):
        """
        Sample ``index``: positives first, then preselected negatives.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sample = sampler.load_item(0, target={'window_dims': (64, 64)})
            >>> sample['im'].shape, int(sample['target']['aid'])
            ((64, 64, 3), 1)
        """
        if index < self.n_positives:
            return self.load_positive(index, with_annots=with_annots, target=target, rng=rng, **kw)
        return self.load_negative(index - self.n_positives, with_annots=with_annots,
                                  target=target, rng=rng, **kw)

    def load_positive(self, index=None, with_annots=True, target=None, rng=None, **kw):
        """A window centred on positive ``index`` (random when ``None``)."""
        target = self._region_target(self.regions.get_positive(index, rng=rng), target, kw)
        return self.load_sample(target, with_annots=with_annots, **kw)

    def load_negative(self, index=None, with_annots=True, target=None, rng=None, **kw):
        """A background window: negative ``index`` of the pool, or a fresh one."""
        target = self._region_target(self.regions.get_negative(index, rng=rng), target, kw)
        return self.load_sample(target, with_annots=with_annots, **kw)

    @staticmethod
    def _region_target(region, target, kw):
        if 'tr' in kw:
            warnings.warn('tr= is deprecated; pass target', FutureWarning)
            target = kw.pop('tr')
        if target:
            region.update(target)
        return region

    # -- sampling -------------------------------------------------------------
    def load_sample(self, target=None, with_annots=True, annot_ids=None,
                    visible_thresh=0.0, **kwargs):
        """
        Load the window a target describes, with its annotations.

        Args:
            target (dict): ``gid``/``image_id`` or ``aid``, plus a centre
                (``cx, cy`` with ``width, height`` or ``window_dims``) or
                ``slices``; optional ``pad``, ``padkw``, ``channels``,
                ``dtype``, ``nodata``, ``as_xarray``, ``legacy_target``,
                ``legacy_annots``.
            with_annots (bool | str | List[str]): which annotation parts to
                return (``'boxes+segmentation+keypoints'`` when True).
            annot_ids (List[int] | None): use these annotations instead of a
                spatial look-up.
            visible_thresh (float): drop annotations whose visible fraction
                of area is not above this.

        Returns:
            dict: ``im``, ``target`` (and its legacy alias ``tr``), ``params``,
            ``annots``, ``classes``, ``kp_classes``.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sample = sampler.load_sample({'gid': 1, 'slices': (slice(-5, 5), slice(10, 20))})
            >>> sample['im'].shape, sample['params']['st_dims']
            ((10, 10, 3), [(-5, 5), (10, 20)])
        """
        target = self._take_deprecated_kwargs(target, kwargs)
        target_ = self._infer_target_attributes(target)
        sample = self._load_slice(target_)
        if with_annots or annot_ids is not None:
            parts = with_annots if with_annots else True
            self._populate_overlap(sample, visible_thresh, parts, annot_ids)
        sample['classes'] = self._classes
        sample['kp_classes'] = self.kp_classes
        if target_.get('legacy_target', True):
            sample['tr'] = sample['target']
        return sample

    @staticmethod
    def _take_deprecated_kwargs(target, kwargs):
        kwargs = dict(kwargs)
        if 'tr' in kwargs:
            warnings.warn('load_sample(tr=...) is deprecated; pass target', FutureWarning)
            tr = kwargs.pop('tr')
            target = tr if target is None else target
        if target is None:
            raise InvalidTargetError('load_sample needs a target dict')
        moved = {key: kwargs.pop(key) for key in DEPRECATED_KWARGS if key in kwargs}
        if kwargs:
            raise TypeError('load_sample got unexpected keyword argument(s) {}'.format(sorted(kwargs)))
        if moved:
            warnings.warn('load_sample({}=...) is deprecated; put them in the target'.format(
                ', '.join(sorted(moved))), FutureWarning)
            target = dict(target, **moved)
        return target

    @staticmethod
    def _normalize_target_keys(target):
        if not isinstance(target, dict):
            raise InvalidTargetError('a target must be a dict, got {!r}'.format(target))
        target = dict(target)
        for alias, key in KEY_ALIASES.items():
            if alias in target:
                value = target.pop(alias)
                target.setdefault(key, value)
        return target

    def _infer_target_attributes(self, target, **kwargs):
        """A copy of the target with aliases resolved and ``aid`` expanded."""
        target_ = self._normalize_target_keys(target)
        if kwargs:
            target_.update(kwargs)
        aid = target_.get('aid', None)
        if aid is not None and not (isinstance(aid, (int, np.integer)) and aid < 0):  # -1: negative
            try:
                ann = self.dset.anns[aid]
            except (KeyError, TypeError):
                raise UnknownIdError('unknown annotation id aid={!r}'.format(aid)) from None
            target_.setdefault('gid', ann['image_id'])
            bbox = ann.get('bbox', None)
            has_window = any(target_.get(k, None) is not None for k in ('slices', 'space_slice'))
            if bbox is not None and not has_window:
                x, y, w, h = bbox
                target_.setdefault('cx', np.float64(x + w / 2.0))
                target_.setdefault('cy', np.float64(y + h / 2.0))
                target_.setdefault('width', np.float64(w))
                target_.setdefault('height', np.float64(h))
            target_.setdefault('category_id', ann.get('category_id', None))
        if all(target_.get(k, None) is None for k in ('gid', 'gids', 'vidid')):
            raise InvalidTargetError('no source object id(s) in target={!r}'.format(target))
        gid = target_.get('gid', None)
        if gid is not None:
            try:
                known = gid in self.dset.imgs
            except TypeError:
                raise InvalidTargetTypeError('target gid must be an id, got {!r}'.format(gid)) from None
            if not known:
                raise UnknownIdError('unknown image id gid={!r}'.format(gid))
        return target_

    def _load_slice(self, target_):
        if target_.get('gids', None) is None and target_.get('vidid', None) is None:
            return self._load_slice_2d(target_)
        return self._load_slice_3d(target_)

    def _load_slice_3d(self, target_):
        """A space-time window: frames stacked as ``(T, H, W, C)`` in video space."""
        video = space_time.resolve_frames(self.dset, target_)
        space_slice, window_dims = windows.resolve_space_slice(target_, video.video_dims)
        pad = windows.coerce_pad(target_.get('pad', None))
        y0, y1, x0, x1 = windows.padded_bounds(space_slice, pad)
        scale = windows.coerce_scale(target_.get('scale', None))
        nodata = target_.get('nodata', None)
        padkw = target_.get('padkw', None)
        if padkw is None and nodata in ('float', 'auto'):
            padkw = {'mode': 'constant', 'constant_values': np.nan}
        names = space_time.frame_channel_names(self.frames, video.gids, target_.get('channels', None))
        bounds = (y0, y1, x0, x1)
        jagged_meta = None
        if target_.get('use_native_scale', False) or not target_.get('finalize', True):
            im, jagged_meta = space_time.load_lazy_frames(self.dset, video.gids, names, bounds,
                                                          scale, nodata, target_)
        else:
            stack = [space_time.read_frame(self.dset, self.frames, gid, warp, names, bounds,
                                           padkw, scale, nodata)
                     for gid, warp in zip(video.gids, video.warps)]
            dtypes = {frame.dtype for frame in stack}
            common = np.result_type(*dtypes) if len(dtypes) > 1 else stack[0].dtype
            im = np.stack([frame.astype(common, copy=False) for frame in stack])
            if target_.get('dtype', None) is not None:
                im = im.astype(target_['dtype'], copy=False)
        target_.update({'gids': video.gids, 'vidid': video.vidid, 'space_dims': video.video_dims,
                        'data_dims': video.video_dims, 'space_slice': space_slice,
                        'time_slice': video.time_slice})
        target_['slices'] = (video.time_slice,) + space_slice if video.time_slice else space_slice
        if window_dims is not None:
            target_['window_dims'] = window_dims
        sx, sy = (1.0, 1.0) if scale is None else scale
        sample_from_video = kwimage.Affine.scale((sx, sy)) @ kwimage.Affine.translate((-x0, -y0))
        if target_.get('as_xarray', False) and jagged_meta is None:
            import xarray as xr
            coords = {'c': list(names)} if names is not None else {}
            im = xr.DataArray(im, dims=('t', 'y', 'x', 'c'), coords=coords)
        params = {
            'offset': np.array([-x0, -y0]),
            'tf_rel_to_abs': sample_from_video.inv().matrix,
            'sample_tlbr': kwimage.Boxes(np.array([x0, y0, x1, y1]), 'ltrb'),
            'st_dims': [(y0, y1), (x0, x1)],
            'data_dims': video.video_dims,
            'pad': pad,
            'request_chanspec': None if names is None else '|'.join(names),
            'frame_sample_from_grid_warps': [sample_from_video for _ in video.gids],
        }
        if scale is not None:
            params['scale'] = scale
        if jagged_meta:
            params['jagged_meta'] = jagged_meta
        return {'im': im, 'target': target_, 'params': params}

    def _load_slice_2d(self, target_):
        gid = target_['gid']
        scale = windows.coerce_scale(target_.get('scale', None))
        data_dims = self.frames.image_dims(gid)
        space_slice, window_dims = windows.resolve_space_slice(target_, data_dims)
        pad = windows.coerce_pad(target_.get('pad', None))
        y0, y1, x0, x1 = windows.padded_bounds(space_slice, pad)
        padkw = target_.get('padkw', None)
        if padkw is None and target_.get('nodata', None) in ('float', 'auto'):
            padkw = {'mode': 'constant', 'constant_values': np.nan}
        channels = target_.get('channels', None)
        im = self.frames.read_window(gid, y0, y1, x0, x1, channels, padkw, scale)
        dtype = target_.get('dtype', None)
        if dtype is not None:
            im = im.astype(dtype, copy=False)
        target_['space_dims'] = data_dims
        target_['data_dims'] = data_dims
        if window_dims is not None:
            target_['window_dims'] = window_dims
        target_['space_slice'] = space_slice
        target_['slices'] = space_slice
        if target_.get('as_xarray', False):
            im = self._as_xarray(im, gid, channels)
        sx, sy = (1.0, 1.0) if scale is None else scale
        params = {
            'offset': np.array([-x0, -y0]),
            'tf_rel_to_abs': np.array([[1.0 / sx, 0.0, x0], [0.0, 1.0 / sy, y0], [0.0, 0.0, 1.0]]),
            'sample_tlbr': kwimage.Boxes(np.array([x0, y0, x1, y1]), 'ltrb'),
            'st_dims': [(y0, y1), (x0, x1)],
            'data_dims': data_dims,
            'pad': pad,
        }
        if scale is not None:
            params['scale'] = scale
        return {'im': im, 'target': target_, 'params': params}

    def _as_xarray(self, im, gid, channels):
        import xarray as xr
        names = self.frames.band_plan(gid, channels).names
        coords = {'c': list(names)} if names is not None else {}
        return xr.DataArray(im, dims=('y', 'x', 'c'), coords=coords)

    def _populate_overlap(self, sample, visible_thresh=0.1, with_annots=True, annot_ids=None):
        """Add ``sample['annots']``: each frame's annotations in window coordinates."""
        target_ = sample['target']
        params = sample['params']
        x0, y0, x1, y1 = params['sample_tlbr'].data.tolist()
        parts = parse_with_annots(with_annots)
        gids = target_['gids'] if 'gids' in target_ else [target_['gid']]
        index = self._annot_index
        frame_dets = []
        for frame_index, gid in enumerate(gids):
            warp = None
            query = (x0, y0, x1, y1)
            if 'gids' in target_:
                warp = kwimage.Affine.coerce(self.dset.imgs[gid].get('warp_img_to_vid', None))
                if warp.isclose_identity():
                    warp = None
                else:
                    query = kwimage.Boxes(np.array([query], dtype=float), 'ltrb').warp(
                        warp.inv()).to_ltrb().data[0].tolist()
            if annot_ids is None:
                rows = index.overlapping_rows(gid, query, visible_thresh)
            else:
                rows = index.rows_of(gid, annot_ids)
            frame_dets.append(index.frame_detections(
                gid, rows, (-x0, -y0), parts, self._classes, frame_index=frame_index,
                scale=params.get('scale', None), warp=warp))
        legacy = target_.get('legacy_annots', True)
        annots = sample['annots'] = annots_dict(frame_dets, legacy)
        if legacy:
            aid = target_.get('aid', None)
            hits = np.flatnonzero(annots['aids'] == aid) if aid is not None else []
            target_['annot_idx'] = hits[0] if len(hits) else -1
        return sample


def _forward_to_regions(name, doc):
    return property(lambda self: getattr(self.regions, name), doc=doc)


for _name, _doc in [
        ('BACKGROUND_CLASS_ID', "Id of the 'background' category (0 when there is none)."),
        ('n_positives', 'Annotations with a bounding box (or the preselected ones).'),
        ('n_samples', 'Positives plus preselected negatives: ``len(sampler)``.'),
        ('n_annots', 'Annotations in the dataset.'),
        ('n_images', 'Images in the dataset.'),
        ('n_categories', 'Categories in the dataset.'),
        ('class_ids', 'Category ids.'),
        ('image_ids', 'Image ids, sorted.')]:
    setattr(CocoSampler, _name, _forward_to_regions(_name, _doc))
del _name, _doc
