"""Batches of dataset items: one shared buffer per batch, ragged fields as views."""
import math

import numpy as np
import torch
import torch.utils.data

#: Fields of a dataset item that :func:`collate` stacks into one tensor.
STACKED_FIELDS = ('im',)


def collate(batch):
    """
    Collate :class:`SamplerDataset` items: ``'im'`` is stacked into one
    tensor (``(B, C, H, W)`` or ``(B, C, T, H, W)``: windows of a batch must
    share a size); every other field (``'boxes'``, ``'class_idxs'``,
    ``'aids'``, ``'segmentations'``, ``'tr'``, ...) becomes a list with one
    entry per item, so the number of annotations may differ.

    All tensors of a batch live in one byte buffer: ``'im'`` is its first
    part, and each ragged tensor field (a field whose values are all
    tensors, such as ``'boxes'``, ``'class_idxs'`` and ``'aids'``) is a
    list of contiguous views of their own part, of their own dtype and
    shape.  A batch then crosses from a DataLoader worker to the main
    process as one shared-memory segment instead of one per tensor (about
    50 for a batch of 16), and its views are rebuilt on arrival.  In a
    worker the buffer is allocated in shared memory directly, and items from
    :meth:`SamplerDataset.__getitems__` already sit in it, so the batch is
    not copied at all.

    Use it as ``DataLoader(..., collate_fn=collate)``.

    Example:
        >>> # xdoctest: +REQUIRES(module:torch)
        >>> items = [{'im': torch.zeros(3, 4, 4), 'aids': torch.tensor([1, 2])},
        ...          {'im': torch.ones(3, 4, 4), 'aids': torch.tensor([], dtype=torch.int64)}]
        >>> out = collate(items)
        >>> tuple(out['im'].shape), [len(a) for a in out['aids']]
        ((2, 3, 4, 4), [2, 0])
        >>> out['aids'][0].untyped_storage().data_ptr() == out['aids'][1].untyped_storage().data_ptr()
        True
    """
    batch = list(batch)
    if not batch:
        return {}
    keys = list(batch[0].keys())
    group = _Packed.of_items(batch, keys)
    if group is not None:
        fields = {key: [item[key] for item in batch] for key in keys if key not in group.views}
        return _Batch.make(keys, fields, group)
    plan, fields = [], {}
    for key in keys:
        values = [item[key] for item in batch]
        if key in STACKED_FIELDS:
            values = [v if isinstance(v, torch.Tensor) else torch.as_tensor(v) for v in values]
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise ValueError('cannot stack {!r} of different shapes {}: give the targets '
                                 'one window size (window_dims)'.format(key, sorted(shapes)))
            if _packable(values):
                plan.append((key, values[0].dtype, [tuple(v.shape) for v in values], True))
            else:
                values = torch.stack(values, dim=0)
        elif values and all(isinstance(v, torch.Tensor) for v in values) and _packable(values):
            plan.append((key, values[0].dtype, [tuple(v.shape) for v in values], False))
        fields[key] = values
    if not plan:
        return _Batch((key, fields[key]) for key in keys)
    group = _Packed.allocate(plan, torch.utils.data.get_worker_info() is not None)
    for key, _, _, _ in plan:
        group.fill(key, fields.pop(key))
    return _Batch.make(keys, fields, group)


def _packable(values):
    """Whether tensors can be copied into a packed buffer: CPU, strided, one
    dtype, not requiring grad."""
    first = values[0]
    return all(v.device.type == 'cpu' and v.layout == torch.strided and not v.requires_grad
               and v.dtype == first.dtype for v in values)


def _new_buffer(nbytes, shared):
    """A flat ``uint8`` tensor of ``nbytes``, in shared memory when ``shared``."""
    if shared:
        try:
            storage = torch.UntypedStorage._new_shared(nbytes)
        except (AttributeError, RuntimeError):  # pragma: no cover - older or exotic builds
            return torch.empty(nbytes, dtype=torch.uint8).share_memory_()
        return torch.empty(0, dtype=torch.uint8).set_(storage, 0, (nbytes,))
    return torch.empty(nbytes, dtype=torch.uint8)


#: Byte alignment of each field's part of a packed buffer.
_ALIGN = 64


def _contiguous_strides(shape):
    strides, step = [], 1
    for dim in reversed(shape):
        strides.append(step)
        step *= dim
    return tuple(reversed(strides))


class _Packed(object):
    """
    The tensors of one batch in one byte buffer.  ``layout`` maps each field
    to ``(start byte, dtype name, per-sample shapes, stacked)``: its samples
    lie one after the other from ``start``; a stacked field (``'im'``) is one
    ``(B, ...)`` tensor, a ragged one a list of per-sample views.
    """

    def __init__(self, buffer, layout):
        self.buffer = buffer
        self.layout = layout
        self.views, self._flat = {}, {}
        for key, (start, dtype, shapes, stacked) in layout.items():
            dtype = getattr(torch, dtype)
            numels = [math.prod(shape) for shape in shapes]
            flat = buffer[start:start + sum(numels) * dtype.itemsize].view(dtype)
            self._flat[key] = flat
            if stacked:
                self.views[key] = flat.view((len(shapes),) + tuple(shapes[0]))
                continue
            offset, field = start // dtype.itemsize, []
            for shape, numel in zip(shapes, numels):
                field.append(flat.as_strided(shape, _contiguous_strides(shape), offset))
                offset += numel
            self.views[key] = field

    @classmethod
    def allocate(cls, plan, shared):
        """A new buffer for ``plan``: ``(key, torch dtype, shapes, stacked)`` per field."""
        layout, start = {}, 0
        for key, dtype, shapes, stacked in plan:
            layout[key] = (start, str(dtype).replace('torch.', ''), [tuple(s) for s in shapes],
                           bool(stacked))
            nbytes = sum(math.prod(shape) for shape in shapes) * dtype.itemsize
            start += -(-nbytes // _ALIGN) * _ALIGN
        return cls(_new_buffer(max(start, _ALIGN), shared), layout)

    def rows(self, key):
        """The per-sample views of a field (rows of a stacked one)."""
        view = self.views[key]
        return list(view.unbind(0)) if self.layout[key][3] else view

    def fill(self, key, values):
        """Copy the samples' tensors into the field's place."""
        if self.layout[key][3]:
            values = [v.numpy() for v in values] if self._numpy_ok(key) else values
            if isinstance(values[0], np.ndarray):
                np.stack(values, out=self.views[key].numpy())  # single-threaded copy
            else:
                torch.stack(values, dim=0, out=self.views[key])
        elif self._flat[key].numel():
            torch.cat([v.reshape(-1) for v in values], out=self._flat[key])

    def _numpy_ok(self, key):
        try:
            self._flat[key][:0].numpy()
            return True
        except (TypeError, RuntimeError):   # bfloat16 and the like
            return False

    @staticmethod
    def of_items(batch, keys):
        """The group of items made by :meth:`SamplerDataset.__getitems__`, when
        ``batch`` is that whole group, in order and untouched; else None."""
        first = batch[0]
        group = getattr(first, '_group', None)
        if group is None or len(batch) != len(group.layout['im'][2]):
            return None
        rows = None
        for i, item in enumerate(batch):
            if getattr(item, '_group', None) is not group or item._row != i or \
                    list(item.keys()) != keys:
                return None
        for key in group.layout:
            field = group.views[key]
            if group.layout[key][3]:
                rows = [item[key] for item in batch]
                start = field.storage_offset()
                step = field[0].numel()
                if any(r.untyped_storage().data_ptr() != field.untyped_storage().data_ptr()
                       or r.storage_offset() != start + i * step or r.shape != field.shape[1:]
                       for i, r in enumerate(rows)):
                    return None
            elif any(item[key] is not field[i] for i, item in enumerate(batch)):
                return None
        return group


class _Item(dict):
    """An item of :meth:`SamplerDataset.__getitems__`: a dict that knows its
    place (``_group``, ``_row``) in its batch's buffer."""


class _Batch(dict):
    """
    A collated batch: a dict whose tensors are views of one byte buffer
    (:class:`_Packed`).  It pickles as the buffer and its layout (one
    tensor, however many samples) plus the other fields, and is rebuilt as
    the same views; if a packed field was replaced or changed since, it
    pickles as a plain dict of its values.
    """

    @classmethod
    def make(cls, keys, fields, group):
        batch = cls((key, group.views[key] if key in group.views else fields[key])
                    for key in keys)
        batch._group = group
        batch._made = {key: (batch[key], list(batch[key]) if isinstance(batch[key], list)
                             else None) for key in group.views}
        return batch

    def _intact(self):
        """Whether the packed fields still hold the views :meth:`make` put there."""
        made = getattr(self, '_made', None)
        if made is None:
            return False
        for key, (value, items) in made.items():
            if self.get(key, None) is not value:
                return False
            if items is not None and (len(value) != len(items) or any(
                    a is not b for a, b in zip(value, items))):
                return False
        return True

    def __reduce__(self):
        if not self._intact():
            return (_Batch, (dict(self),))
        group = self._group
        plain = {key: value for key, value in self.items() if key not in group.layout}
        return (_rebuild_batch, (list(self.keys()), plain, group.buffer, group.layout))


def _rebuild_batch(keys, plain, buffer, layout):
    """A :class:`_Batch` from what :meth:`_Batch.__reduce__` sent."""
    return _Batch.make(keys, plain, _Packed(buffer, layout))


# -- the sampler ----------------------------------------------------------------------------
