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
from ndsampler.abstract_frames import ALL_CHANNELS, channel_code
from ndsampler.abstract_sampler import AbstractSampler
from ndsampler.coco_frames import CocoFrames
from ndsampler.coco_regions import CocoRegions
from ndsampler.errors import InvalidTargetError, InvalidTargetTypeError, UnknownIdError
from ndsampler.utils.util_misc import HashIdentifiable
from ndsampler.window_annots import AnnotIndex, sample_annots, window_aids

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
        self.kp_classes = self.dset.keypoint_categories()
        self._classes = self.dset.object_categories()
        self._annot_index = AnnotIndex(self.dset, self.kp_classes)
        self.regions = CocoRegions(self.dset, workdir=self.workdir, verbose=self.verbose,
                                   annot_index=self._annot_index, image_dims=self._frame_dims)

    def _frame_dims(self, gid):
        """``(h, w)`` of an image from its pixels, for image dicts without a size."""
        return self.frames.open(gid).dims

    def __nice__(self):
        return str(self.n_samples)

    def _depends(self):
        """
        What ``hashid`` hashes: the dataset's kwcoco content hash (its images,
        annotations and categories as JSON, file names as written; not the
        pixels, ``bundle_dpath`` or ``workdir``) and the normalised backend
        config (``'auto'`` as resolved).  Stable across processes and runs.
        """
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

        Example:
            >>> import kwcoco, ndsampler
            >>> sampler = ndsampler.CocoSampler.coerce(kwcoco.CocoDataset.demo('shapes2'))
            >>> ndsampler.CocoSampler.coerce(sampler) is sampler, sampler.n_images
            (True, 2)
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
        """
        The object categories (a kwcoco ``CategoryTree``).

        Example:
            >>> import ndsampler
            >>> classes = ndsampler.CocoSampler.demo('shapes8', backend=None).classes
            >>> len(classes), classes.idx_to_node[0:3]
            (6, ['background', 'star', 'vector'])
        """
        return self._classes

    @property
    def catgraph(self):
        """
        Deprecated alias of :attr:`classes`.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sampler.catgraph is sampler.classes
            True
        """
        return self._classes

    def __len__(self):
        return self.n_samples

    def lookup_class_name(self, class_id):
        """
        The name of the category with id ``class_id``.

        Example:
            >>> import ndsampler
            >>> ndsampler.CocoSampler.demo('shapes8', backend=None).lookup_class_name(3)
            'star'
        """
        return self.dset.cats[class_id]['name']

    def lookup_class_id(self, class_name):
        """
        The id of the category named ``class_name``.

        Example:
            >>> import ndsampler
            >>> ndsampler.CocoSampler.demo('shapes8', backend=None).lookup_class_id('star')
            3
        """
        return self.dset.index.name_to_cat[class_name]['id']

    # -- whole images ---------------------------------------------------------
    def load_image(self, image_id, cache=True):
        """
        A whole image (a read-only ``np.memmap`` with the npy backend).

        Example:
            >>> import ndsampler, ubelt as ub
            >>> workdir = ub.Path.appdir('ndsampler/doctest/coco_sampler').ensuredir()
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', workdir=workdir, backend='npy')
            >>> image = sampler.load_image(1)
            >>> image.shape, type(image).__name__, image.flags.writeable
            ((600, 600, 3), 'memmap', False)
        """
        return self.frames.load_image(image_id, cache=cache)

    def load_annotations(self, image_id):
        """
        The annotation dicts of an image.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> [(ann['id'], ann['category_id']) for ann in sampler.load_annotations(1)]
            [(1, 7)]
        """
        if image_id not in self.dset.imgs:
            raise UnknownIdError('unknown image id {!r}'.format(image_id))
        return [self.dset.anns[aid] for aid in self.dset.index.gid_to_aids[image_id]]

    def load_image_with_annots(self, image_id, cache=True):
        """
        ``(image dict + 'imdata', annotation dicts)`` of one image.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> img, anns = sampler.load_image_with_annots(2)
            >>> img['id'], img['imdata'].shape, len(anns)
            (2, (600, 600, 3), 11)
        """
        img = dict(self.dset.imgs[image_id]) if image_id in self.dset.imgs else None
        if img is None:
            raise UnknownIdError('unknown image id {!r}'.format(image_id))
        img['imdata'] = self.load_image(image_id, cache=cache)
        return img, self.load_annotations(image_id)

    def load_target_annots(self, target):
        """
        Ids of the annotations that :meth:`load_sample` returns for a target
        (the same window, in the same frames).

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sampler.load_target_annots({'gid': 2, 'slices': (slice(300, 420), slice(290, 350))})
            [3]
        """
        return window_aids(self._annot_index, self._resolve(self._check_target(target))[0])

    # -- regions --------------------------------------------------------------
    def preselect(self, **kwargs):
        """
        Fix the positive and negative pools; see
        :meth:`ndsampler.coco_regions.CocoRegions.preselect`.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sampler.preselect(n_pos=3, n_neg=2, window_dims=(64, 64), rng=0)
            (3, 2)
            >>> len(sampler), int(sampler.load_item(4)['target']['aid'])
            (5, -1)
        """
        return self.regions.preselect(**kwargs)

    def new_sample_grid(self, task, window_dims, window_overlap=0):
        """
        Sliding-window targets; see
        :meth:`ndsampler.coco_regions.CocoRegions.new_sample_grid`.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> grid = sampler.new_sample_grid('image_detection', (300, 300))
            Found 32 targets
            Found 29 positives
            Found 3 negatives
            >>> sampler.load_sample(grid['targets'][0])['im'].shape
            (300, 300, 3)
        """
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
        """
        A window centred on positive ``index`` (random when ``None``).

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sample = sampler.load_positive(2, target={'window_dims': (32, 32)})
            >>> sample['im'].shape, int(sample['target']['aid'])
            ((32, 32, 3), 3)
        """
        target = self._region_target(self.regions.get_positive(index, rng=rng), target, kw)
        return self.load_sample(target, with_annots=with_annots, **kw)

    def load_negative(self, index=None, with_annots=True, target=None, rng=None, **kw):
        """
        A background window: negative ``index`` of the pool, or a fresh one.

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> sample = sampler.load_negative(rng=0, target={'window_dims': (32, 32)})
            >>> sample['im'].shape, sample['target']['aid'], len(sample['annots']['aids'])
            ((32, 32, 3), -1, 0)
        """
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
        if kwargs or target is None:
            target = self._take_deprecated_kwargs(target, kwargs)
        target_ = self._check_target(target)
        sample, spec = self._load_window(target_)
        if with_annots or annot_ids is not None:
            self._populate_overlap(sample, visible_thresh, with_annots or True, annot_ids, spec)
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
        if 'image_id' in target or 'image_ids' in target or 'video_id' in target:
            for alias, key in KEY_ALIASES.items():
                if alias in target:
                    value = target.pop(alias)
                    target.setdefault(key, value)
        return target

    def _infer_target_attributes(self, target, **kwargs):
        """
        The target with everything :meth:`load_sample` would infer filled
        in: ids (``gid`` of an ``aid``, ``gids`` of a video), ``space_slice``,
        ``slices``, ``window_dims``, ``space_dims``, ``data_dims``.  Loading
        the returned target gives the same window, even after its ``width``
        or ``height`` is changed (its ``space_slice`` takes precedence).

        Example:
            >>> import ndsampler
            >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
            >>> target_ = sampler._infer_target_attributes({'gid': 1, 'cx': 60, 'cy': 40, 'width': 40, 'height': 30})
            >>> target_['space_slice'], target_['window_dims'], target_['space_dims']
            ((slice(25, 55, None), slice(40, 80, None)), (30, 40), (600, 600))
        """
        target_ = self._check_target(target, **kwargs)
        self._fill_target(target_, self._resolve(target_)[0])
        return target_

    def _check_target(self, target, **kwargs):
        """A copy of the target with aliases resolved, ``aid`` expanded and ids checked."""
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
            has_window = (target_.get('slices', None) is not None or
                          target_.get('space_slice', None) is not None)
            if bbox is not None and not has_window:
                x, y, w, h = bbox
                target_.setdefault('cx', np.float64(x + w / 2.0))
                target_.setdefault('cy', np.float64(y + h / 2.0))
                target_.setdefault('width', np.float64(w))
                target_.setdefault('height', np.float64(h))
            target_.setdefault('category_id', ann.get('category_id', None))
        gid = target_.get('gid', None)
        if gid is None and target_.get('gids', None) is None and target_.get('vidid', None) is None:
            raise InvalidTargetError('no source object id(s) in target={!r}'.format(target))
        if gid is not None:
            try:
                known = gid in self.dset.imgs
            except TypeError:
                raise InvalidTargetTypeError('target gid must be an id, got {!r}'.format(gid)) from None
            if not known:
                raise UnknownIdError('unknown image id gid={!r}'.format(gid))
        return target_

    def _load_slice(self, target_):
        """The window of an inferred target: ``{'im', 'target', 'params'}``."""
        return self._load_window(target_)[0]

    # The original's names for the 2-D and space-time halves of one path.
    _load_slice_2d = _load_slice_3d = _load_slice

    def _resolve(self, target_):
        """
        The target's :class:`~ndsampler.windows.SampleSpec` and the frames'
        open handles (``None`` for frames read through a warp or lazily).
        """
        channels = target_.get('channels', None)
        if channels is not None and type(channels) is not str:
            channels = channel_code(channels)
        if target_.get('gids', None) is None and target_.get('vidid', None) is None:
            gid = target_['gid']
            handle = self.frames.open(gid, channels)
            return windows.resolve_sample(target_, handle.dims, (gid,), channels), [handle]
        video = space_time.resolve_frames(self.dset, target_)
        names = space_time.frame_channel_names(self.frames, video.gids, channels)
        channels = ALL_CHANNELS if names is None else '|'.join(names)
        spec = windows.resolve_sample(target_, video.video_dims, video.gids, channels, video=True,
                                      vidid=video.vidid, time_slice=video.time_slice,
                                      frame_warps=video.warps, data_dims=video.data_dims)
        lazy = target_.get('use_native_scale', False) or not target_.get('finalize', True)
        handles = [None if lazy or warp is not None else self.frames.open(gid, channels, True)
                   for gid, warp in zip(video.gids, video.warps)]
        return spec, handles

    def _load_window(self, target_):
        """:meth:`_load_slice` and the sample's spec: resolve once, read once."""
        spec, handles = self._resolve(target_)
        im, jagged_meta = self._read_spec(target_, spec, handles)
        self._fill_target(target_, spec)
        if target_.get('as_xarray', False) and jagged_meta is None:
            im = self._as_xarray(im, spec, handles)
        return {'im': im, 'target': target_, 'params': self._params(spec, jagged_meta)}, spec

    def _read_spec(self, target_, spec, handles, out=None):
        """
        ``(im, jagged_meta)``: the pixels of a resolved target, into ``out``
        if given (see :meth:`Frames.read`; not with a target's ``dtype`` or
        native-scale video frames).  :meth:`load_sample` and
        ``ndsampler.torch`` share it, after :meth:`_resolve`.
        """
        if spec.video and (target_.get('use_native_scale', False) or
                           not target_.get('finalize', True)):
            return space_time.load_lazy_frames(self.frames, spec, target_)
        im = self.frames.read(spec, handles, out)
        dtype = target_.get('dtype', None)
        if dtype is not None:
            im = im.astype(dtype, copy=False)
        return im, None

    @staticmethod
    def _fill_target(target_, spec):
        """Record what the target resolved to, under the original's keys."""
        target_['space_dims'] = spec.space_dims
        target_['data_dims'] = spec.data_dims
        if spec.window_dims is not None:
            target_['window_dims'] = spec.window_dims
        target_['space_slice'] = spec.space_slice
        if not spec.video:
            target_['slices'] = spec.space_slice
            return
        target_['gids'] = list(spec.gids)
        target_['vidid'] = spec.vidid
        target_['time_slice'] = spec.time_slice
        target_['slices'] = (spec.time_slice,) + spec.space_slice

    @staticmethod
    def _params(spec, jagged_meta=None):
        """The sample's ``params``: where the window lies in its image or video."""
        y0, y1, x0, x1 = spec.box
        params = {
            'offset': np.array((-x0, -y0)),
            'tf_rel_to_abs': spec.window_to_space(),
            'sample_tlbr': kwimage.Boxes(np.array((x0, y0, x1, y1)), 'ltrb', canonical=True),
            'st_dims': [(y0, y1), (x0, x1)],
            'data_dims': spec.data_dims,
            'pad': spec.pad,
        }
        if spec.video:
            params['request_chanspec'] = None if spec.channels == ALL_CHANNELS else spec.channels
            sample_from_video = kwimage.Affine(spec.space_to_window())
            params['frame_sample_from_grid_warps'] = [sample_from_video for _ in spec.gids]
        if spec.scale is not None:
            params['scale'] = spec.scale
        if jagged_meta:
            params['jagged_meta'] = jagged_meta
        return params

    def _as_xarray(self, im, spec, handles):
        import xarray as xr
        if spec.video:
            names = None if spec.channels == ALL_CHANNELS else spec.channels.split('|')
        else:
            names = handles[0].names
        coords = {'c': list(names)} if names is not None else {}
        dims = ('t', 'y', 'x', 'c') if spec.video else ('y', 'x', 'c')
        return xr.DataArray(im, dims=dims, coords=coords)

    def _populate_overlap(self, sample, visible_thresh=0.1, with_annots=True, annot_ids=None,
                          spec=None):
        """Add ``sample['annots']``: each frame's annotations in window coordinates."""
        target_ = sample['target']
        if spec is None:
            spec = self._resolve(target_)[0]
        legacy = target_.get('legacy_annots', True)
        annots = sample['annots'] = sample_annots(
            self._annot_index, spec, with_annots, self._classes, visible_thresh, annot_ids, legacy)
        if legacy:
            target_['annot_idx'] = annot_position(annots['aids'], target_.get('aid', None))
        return sample


def annot_position(aids, aid):
    """
    The target's ``annot_idx``: where its ``aid`` is among a sample's
    annotation ids (the first place), or -1.

    Example:
        >>> int(annot_position(np.array([4, 9, 9]), 9)), annot_position(np.array([4]), 7)
        (1, -1)
    """
    if aid is None:
        return -1
    if len(aids) <= 64:  # a list scan costs less than numpy's calls here
        try:
            return np.intp(aids.tolist().index(aid))
        except ValueError:
            return -1
    hits = (aids == aid).nonzero()[0]
    return hits[0] if len(hits) else -1


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
