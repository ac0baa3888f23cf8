"""A map-style dataset over a sampler's windows."""
import functools
import gc
import numbers
import os
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.utils.data

from ndsampler._backends.readers import copy_into
from ndsampler.coco_sampler import CocoSampler, annot_position
from ndsampler.torch.collate import _Item, _Packed
from ndsampler.window_annots import parse_with_annots, window_boxes


# -- plain values -----------------------------------------------------------------------

def _plain(value):
    """
    ``value`` with numpy scalars and arrays turned into Python numbers and
    lists, recursively through dicts, lists, tuples and slices: small to
    pickle, safe for any collate function, and equal across processes.

    Example:
        >>> # xdoctest: +REQUIRES(module:torch)
        >>> _plain({'a': np.int64(3), 'b': (slice(np.int64(0), 4), np.float32(0.5)),
        ...         'c': np.arange(2)})
        {'a': 3, 'b': (slice(0, 4, None), 0.5), 'c': [0, 1]}
    """
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    convert = _SCALARS.get(kind, None)
    if convert is not None:
        return convert(value)
    if kind is dict:
        return {key: val if type(val) in _PLAIN_TYPES else _plain(val)
                for key, val in value.items()}
    if kind is tuple:
        return tuple([val if type(val) in _PLAIN_TYPES else _plain(val) for val in value])
    if kind is slice:
        start, stop, step = value.start, value.stop, value.step
        if type(start) in _PLAIN_TYPES and type(stop) in _PLAIN_TYPES and type(step) in _PLAIN_TYPES:
            return value
        return slice(_plain(start), _plain(stop), _plain(step))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: _plain(val) for key, val in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(val) for val in value)
    if isinstance(value, list):
        return [_plain(val) for val in value]
    if isinstance(value, slice):
        return slice(_plain(value.start), _plain(value.stop), _plain(value.step))
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


#: Types :func:`_plain` returns as they are (exactly these: numpy scalars subclass some).
_PLAIN_TYPES = frozenset([int, float, str, bool, type(None)])
#: The numpy scalars of resolved targets, and their Python types.
_SCALARS = {np.float64: float, np.float32: float, np.int64: int, np.int32: int, np.bool_: bool}


def _numpy_dtype(dtype):
    """The numpy dtype of a torch dtype (``None`` stays; ``None`` without one, e.g. bfloat16)."""
    if dtype is None:
        return None
    try:
        return torch.empty(0, dtype=dtype).numpy().dtype
    except (TypeError, RuntimeError):
        return None


def _torch_dtype(dtype):
    """A ``torch.dtype`` from a torch dtype, a numpy dtype or its name; ``None`` stays."""
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    name = np.dtype(dtype).name
    out = getattr(torch, name, None)
    if not isinstance(out, torch.dtype):
        raise TypeError('no torch dtype for {!r}'.format(dtype))
    return out


# -- the dataset --------------------------------------------------------------------------

class _Unread(NamedTuple):
    """A window resolved but not read yet: its checked target, its
    :class:`~ndsampler.windows.SampleSpec` and its frames' handles."""
    target: dict
    spec: Any
    handles: list


class _PositiveTargets(object):
    """The sampler's positives as a lazy sequence of plain target dicts."""

    def __init__(self, sampler):
        self.sampler = sampler

    def __len__(self):
        return int(self.sampler.regions.n_positives)

    def __getitem__(self, index):
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError('positive index {} out of range for {} positives'.format(index, n))
        return _plain(self.sampler.regions.get_positive(index))


class SamplerDataset(torch.utils.data.Dataset):
    """
    A map-style dataset of a sampler's windows as tensors.

    Args:
        sampler (ndsampler.CocoSampler): what loads the windows.
        targets (Sequence[dict] | None): the target dicts item ``i`` loads;
            default: the sampler's positives (``sampler.regions.get_positive(i)``),
            looked up lazily.
        with_annots (bool | str | List[str]): passed to ``load_sample``; with
            segmentations in it (``True`` includes them) each item carries
            ``'segmentations'``.
        transform (callable | None): ``transform(sample) -> sample`` on the
            dict from ``load_sample``, before it becomes tensors (so it may
            change ``im`` and ``annots['frame_dets']`` together).
        dtype (str | numpy.dtype | torch.dtype | None): of ``'im'``; ``None``
            keeps the image's dtype. Values are not rescaled.

    ``ds[key]`` takes an int (index into ``targets``) or a target dict, and
    returns a dict:

    * ``'im'``: channels first, ``(C, H, W)``, or ``(C, T, H, W)`` for a video
      target, contiguous;
    * ``'boxes'``: float32 ``(N, 4)``, x1y1x2y2 in window pixels (the boxes
      of every frame of a video target, in frame order);
    * ``'class_idxs'``: int64 ``(N,)``, indices into ``sampler.classes``
      (-1 for a category the sampler does not know);
    * ``'aids'``: int64 ``(N,)``;
    * ``'tr'``: the resolved target, with plain Python values;
    * ``'segmentations'`` (with segmentations requested): a list of ``N``
      ``kwimage.MultiPolygon`` in window pixels (``None`` where an
      annotation has none).

    The dataset pickles with the sampler, which carries no open file: each
    DataLoader worker opens its own handles on first use, whatever the start
    method.

    Example:
        >>> # xdoctest: +REQUIRES(module:torch)
        >>> import ndsampler
        >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
        >>> item = SamplerDataset(sampler, targets=[{'aid': 3, 'window_dims': (64, 64)}])[0]
        >>> item['im'].shape, item['im'].dtype, item['aids'].tolist(), item['boxes'].shape
        (torch.Size([3, 64, 64]), torch.float32, [3], torch.Size([1, 4]))
        >>> sorted(item)
        ['aids', 'boxes', 'class_idxs', 'im', 'segmentations', 'tr']
    """

    def __init__(self, sampler, targets=None, *, with_annots=True, transform=None,
                 dtype='float32', freeze_gc=True, prepare=True):
        self.sampler = sampler
        self.targets = _PositiveTargets(sampler) if targets is None else targets
        self.with_annots = with_annots
        self.transform = transform
        self.dtype = _torch_dtype(dtype)
        self.freeze_gc = bool(freeze_gc)
        self._annot_parts = parse_with_annots(with_annots)  # an unknown part fails here
        self._want_ssegs = 'segmentation' in self._annot_parts
        # items read as arrays (and segmentations as the polygons alone),
        # skipping the sample dict's kwimage objects, when nothing needs that
        # dict (a sampler whose load_sample is its own always gets its own)
        self._arrays_only = (transform is None and isinstance(sampler, CocoSampler) and
                             type(sampler).load_sample is CocoSampler.load_sample)
        self._cid_to_idx = dict(self.sampler.classes.id_to_idx)
        ids = sorted(cid for cid in self._cid_to_idx if isinstance(cid, numbers.Integral))
        self._cid_keys = np.array(ids, dtype=np.int64)
        self._cid_vals = np.array([self._cid_to_idx[cid] for cid in ids] + [-1], dtype=np.int64)
        self._np_dtype = _numpy_dtype(self.dtype)
        self._pid = os.getpid()
        if prepare:
            self.prepare()

    def prepare(self):
        """
        Build, in this process, what each worker would otherwise build from
        the kwcoco dictionaries on first use, so that forked workers share
        it instead of each reading (and so copying) the dictionaries: the
        sampler's packed annotation index (boxes, category and annotation
        ids as numpy arrays) and, when ``with_annots`` asks for them, every
        image's polygons and keypoints as packed coordinate arrays.

        ``SamplerDataset(..., prepare=True)`` (the default) calls it.  It
        reads every annotation once (about 3 s and 110 MB for 400,000
        polygons); a spawned worker unpickles the sampler without these
        arrays and builds what it reads lazily, as before.

        Example:
            >>> # xdoctest: +REQUIRES(module:torch)
            >>> import ndsampler
            >>> dataset = SamplerDataset(ndsampler.CocoSampler.demo('shapes8', backend=None), prepare=False)
            >>> dataset.prepare()  # what prepare=True does in the constructor
            >>> len(dataset), dataset[0]['class_idxs'].tolist()
            (71, [5])
        """
        index = getattr(self.sampler, '_annot_index', None)
        if index is None or not hasattr(index, 'for_image'):
            return
        if getattr(index, '_spans', True) is None:
            index._pack()
        spans = getattr(index, '_spans', None)
        wanted = [name for name, part in (('polygons', 'segmentation'), ('keypoints', 'keypoints'))
                  if part in self._annot_parts]
        if not wanted or not spans:
            return
        for gid in spans:
            img = index.for_image(gid)
            for name in wanted:
                getattr(img, name)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, key):
        return self._to_item(*self._load(key))

    def __getitems__(self, keys):
        """
        The items of a batch (what a ``DataLoader`` asks for when this is
        defined): as ``[self[key] for key in keys]``, but laid out in one
        buffer as :func:`collate` lays out a batch: when the windows share a
        shape, each window is read straight into its row of the batch
        (channels first, converted; else read, then converted into it), and
        each ragged field is a view of its place, so that ``collate`` hands
        the batch on without copying it again.  In a DataLoader worker the
        buffer is in shared memory (see :class:`~ndsampler.torch.collate.BufferPool`).
        """
        loaded = [self._load(key, read=False) for key in keys]
        fields = [f for _, f, _ in loaded]
        spec = self._unread_batch_spec([im for im, _, _ in loaded])
        if spec is None:
            ims = [_image_array(self._read(im)) for im, _, _ in loaded]
            spec = self._batch_image_spec(ims)
            if spec is None:
                return [self._to_item(ims[i], fields[i], tr) for i, (_, _, tr) in enumerate(loaded)]
        else:
            ims = None  # read below, straight into the batch
        ragged = [key for key, value in fields[0].items() if isinstance(value, torch.Tensor)]
        plan = [('im', spec[0], [spec[1]] * len(loaded), True)]
        plan += [(key, fields[0][key].dtype, [tuple(f[key].shape) for f in fields], False)
                 for key in ragged]
        group = _Packed.allocate(plan, torch.utils.data.get_worker_info() is not None)
        rows = group.rows('im')
        for key in ragged:
            group.fill(key, [f[key] for f in fields])
        items = []
        for i, (unread, _, tr) in enumerate(loaded):
            if ims is None:
                self.sampler._read_spec(unread.target, unread.spec, unread.handles,
                                        rows[i].numpy().transpose(1, 2, 0))
                item = _Item({'im': rows[i]})
            else:
                item = _Item({'im': self._image_tensor(ims[i], rows[i])})
            for key, value in fields[i].items():
                item[key] = group.views[key][i] if key in group.views else value
            item['tr'] = _plain(dict(tr)) if tr is not None else None
            item._group, item._row = group, i
            items.append(item)
        return items

    def _load(self, key, read=True):
        """``(im, annotation fields, resolved target)`` of one item; without
        ``read``, ``im`` may be an :class:`_Unread` window (see :meth:`_read`)."""
        if isinstance(key, dict):
            target = key
        elif isinstance(key, numbers.Integral) or (
                isinstance(key, (np.ndarray, torch.Tensor)) and key.ndim == 0):
            target = self.targets[int(key)]
        else:
            raise TypeError('SamplerDataset keys are ints or target dicts, not {!r}'.format(
                type(key).__name__))
        if self._pid != os.getpid():
            self._enter_process()
        if self._arrays_only:
            return self._load_arrays(target, read)
        sample = self.sampler.load_sample(target, with_annots=self.with_annots)
        if self.transform is not None:
            sample = self.transform(sample)
        return (sample['im'], self._annot_fields(sample.get('annots')),
                sample.get('tr', sample.get('target')))

    def _load_arrays(self, target, read=True):
        """
        :meth:`_load` without the ``kwimage`` objects of a sample dict: the
        same pixels, boxes, ids, segmentations and resolved target as
        ``load_sample`` gives, read through the same steps (check, resolve
        and read once, one box query), for the items that need nothing else
        (no ``transform``); of the objects, only the segmentations' polygons
        are built.
        """
        sampler = self.sampler
        target_ = sampler._check_target(target)
        spec, handles = sampler._resolve(target_)
        sampler._fill_target(target_, spec)
        im = _Unread(target_, spec, handles)
        if read:
            im = self._read(im)
        if not self.with_annots:
            return im, self._annot_fields(None), target_
        found = window_boxes(sampler._annot_index, spec, segmentations=self._want_ssegs)
        xywh, aids, cids = found[0:3]
        if target_.get('legacy_annots', True):
            target_['annot_idx'] = annot_position(aids, target_.get('aid', None))
        fields = self._box_fields(_xywh_to_ltrb32(xywh), aids, cids)
        if self._want_ssegs:
            fields['segmentations'] = found[3]
        return im, fields, target_

    def _read(self, im):
        """The pixels of an :class:`_Unread` window (anything else as it is)."""
        if type(im) is _Unread:
            return self.sampler._read_spec(im.target, im.spec, im.handles)[0]
        return im

    def _unread_batch_spec(self, unread):
        """
        :meth:`_stack_spec` when every window of a batch can be read straight
        into its row of one buffer (2-D windows read as they are, with a
        finite padding constant), else None.
        """
        shapes, dtypes = [], []
        for im in unread:
            if type(im) is not _Unread or im.spec.video or im.target.get('dtype', None) is not None:
                return None
            handle, fill = im.handles[0], im.spec.fill
            if handle.warped or handle.missing or fill is None or fill != fill:
                return None
            shapes.append(im.spec.out_dims + (handle.nbands,))
            dtypes.append(handle.dtype)
        return self._stack_spec(shapes, dtypes)

    def _batch_image_spec(self, ims):
        """:meth:`_stack_spec` of the images of a batch (numpy arrays), else None."""
        if not ims or not all(isinstance(im, np.ndarray) and im.ndim in (3, 4) for im in ims):
            return None
        return self._stack_spec([im.shape for im in ims], [im.dtype for im in ims])

    def _stack_spec(self, shapes, dtypes):
        """``(torch dtype, (C, ...) shape)`` of one buffer for windows of
        ``(..., C)`` shapes and numpy dtypes, when they share a shape and
        convert to one dtype (``self.dtype``, else their own), else None."""
        if not shapes or len(set(shapes)) != 1:
            return None
        if self.dtype is None:
            if len(set(dtypes)) != 1:
                return None
            dtype = _torch_dtype_or_none(dtypes[0])
        else:
            dtype = self.dtype if self._np_dtype is not None else None
        if dtype is None:
            return None
        shape = shapes[0]
        return dtype, (shape[-1],) + tuple(shape[:-1])

    def _enter_process(self):
        """First item in a new process (a DataLoader worker)."""
        self._pid = os.getpid()
        if self.freeze_gc:
            # Everything this process inherited moves to the collector's
            # permanent generation (a constant-time list splice), so no
            # collection here ever walks, and so writes to, the parent's
            # objects: their pages stay shared with the parent.
            gc.freeze()

    # -- conversion -------------------------------------------------------------------
    def _image_tensor(self, im, out=None):
        """``im`` channels first, contiguous, of ``dtype``: one copy (numpy's,
        single-threaded, whatever torch's thread count), into ``out`` if given."""
        im = _image_array(im)
        if isinstance(im, np.ndarray):
            if im.ndim == 2:
                im = im[:, :, None]
            if im.ndim not in (3, 4):
                raise ValueError('expected an image (H, W, C) or a video (T, H, W, C), '
                                 'got shape {}'.format(im.shape))
            chw = im.transpose((im.ndim - 1,) + tuple(range(im.ndim - 1)))
            dtype = im.dtype if self.dtype is None else self._np_dtype
            if dtype is not None and _torch_dtype_or_none(dtype) is not None:
                if out is None:
                    out = torch.from_numpy(np.empty(chw.shape, dtype=dtype))
                _channels_first_into(out.numpy(), im)
                return out
            if not im.flags.writeable or any(st < 0 for st in im.strides):
                im = np.array(im, order='C')  # torch.from_numpy needs these; one copy
            im = torch.from_numpy(im)
        tensor = im
        if tensor.ndim == 2:
            tensor = tensor.unsqueeze(-1)
        if tensor.ndim == 3:
            tensor = tensor.permute(2, 0, 1)
        elif tensor.ndim == 4:
            tensor = tensor.permute(3, 0, 1, 2)
        else:
            raise ValueError('expected an image (H, W, C) or a video (T, H, W, C), '
                             'got shape {}'.format(tuple(tensor.shape)))
        if out is not None:
            return out.copy_(tensor)
        if self.dtype is not None and tensor.dtype != self.dtype:
            # conversion and layout in one copy
            return tensor.to(dtype=self.dtype, memory_format=torch.contiguous_format)
        return tensor.contiguous()

    def _annot_fields(self, annots):
        dets = annots.get('frame_dets') if annots else None
        if dets is None:
            dets = []
        elif not isinstance(dets, (list, tuple)):
            dets = [dets]
        boxes, aids, cids, ssegs = [], [], [], []
        for det in dets:
            if det is None or len(det) == 0:
                continue
            boxes.append(_ltrb32(det.boxes))
            aids.append(np.asarray(det.data['aids']).ravel())
            cids.append(np.asarray(det.data['cids']).ravel())
            if self._want_ssegs:
                found = det.data.get('segmentations', None)
                items = [None] * len(det) if found is None else list(found)
                ssegs.extend(_as_multi_polygon(s) for s in items)
        boxes = (np.concatenate(boxes, axis=0) if len(boxes) != 1 else boxes[0]) if boxes else \
            np.zeros((0, 4), dtype=np.float32)
        fields = self._box_fields(boxes, _joined(aids, np.int64), _joined(cids, np.int64))
        if self._want_ssegs:
            fields['segmentations'] = ssegs
        return fields

    def _box_fields(self, ltrb32, aids, cids):
        """The item's ``boxes``, ``class_idxs`` and ``aids`` tensors."""
        return {
            'boxes': torch.from_numpy(ltrb32),
            'class_idxs': torch.from_numpy(self._class_idxs(cids)),
            'aids': torch.from_numpy(np.asarray(aids, dtype=np.int64)),
        }

    def _class_idxs(self, cids):
        """int64 indices into ``sampler.classes`` of category ids (-1: unknown)."""
        if len(cids) <= 16:
            lookup = self._cid_to_idx
            return np.array([lookup.get(c, -1) for c in cids.tolist()], dtype=np.int64)
        if cids.dtype.kind in 'iu' and len(self._cid_keys):
            pos = np.searchsorted(self._cid_keys, cids)
            found = self._cid_keys.take(np.minimum(pos, len(self._cid_keys) - 1)) == cids
            return self._cid_vals.take(np.where(found, pos, len(self._cid_keys)))
        lookup = self._cid_to_idx
        return np.array([lookup.get(c, -1) for c in _plain(cids)], dtype=np.int64)

    def _to_item(self, im, fields, tr):
        item = {'im': self._image_tensor(im)}
        item.update(fields)
        item['tr'] = _plain(dict(tr)) if tr is not None else None
        return item


def _joined(arrays, dtype):
    """One array of ``arrays`` (a new one: torch takes it over)."""
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)


def _image_array(im):
    """An image as numpy (or the torch tensor it is): xarray gives its values."""
    if hasattr(im, 'values') and not isinstance(im, (np.ndarray, torch.Tensor)):  # xarray
        im = im.values
    if isinstance(im, torch.Tensor):
        return im
    return np.asarray(im)


def _channels_first_into(out, im):
    """
    Copy ``im`` (``(H, W, C)`` or ``(T, H, W, C)``) into ``out``
    (``(C, H, W)`` or ``(C, T, H, W)``, contiguous), converting the dtype,
    a frame at a time (see :func:`~ndsampler._backends.readers.copy_into`).
    """
    if im.ndim == 3:
        copy_into(out.transpose(1, 2, 0), im)
        return
    for t in range(im.shape[0]):
        copy_into(out[:, t].transpose(1, 2, 0), im[t])


@functools.lru_cache(maxsize=64)
def _torch_dtype_or_none(dtype):
    try:
        return _torch_dtype(dtype)
    except TypeError:
        return None


def _ltrb32(boxes):
    """float32 ``(N, 4)`` x1y1x2y2 of ``kwimage.Boxes`` (computed as kwimage does)."""
    data = boxes.data
    if boxes.format == 'xywh' and isinstance(data, np.ndarray) and data.ndim == 2:
        return _xywh_to_ltrb32(data)
    return np.asarray(boxes.to_ltrb().data, dtype=np.float32).reshape(-1, 4)


def _xywh_to_ltrb32(xywh):
    """float32 ``(N, 4)`` x1y1x2y2 of an ``(N, 4)`` xywh array (x2 = x + w, as kwimage)."""
    out = np.empty((len(xywh), 4), dtype=np.float32)
    out[:, 0:2] = xywh[:, 0:2]
    out[:, 2:4] = xywh[:, 0:2] + xywh[:, 2:4]
    return out


def _as_multi_polygon(sseg):
    """A ``kwimage.MultiPolygon`` from any kwimage segmentation (``None`` stays)."""
    if sseg is None:
        return None
    if hasattr(sseg, 'to_multi_polygon'):
        return sseg.to_multi_polygon()
    import kwimage
    return kwimage.Segmentation.coerce(sseg).to_multi_polygon()
