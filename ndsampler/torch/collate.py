"""Batches of dataset items: one shared buffer per batch, ragged fields as views."""
import collections
import math
import os
import sys
import weakref

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


class BufferPool(object):
    """
    This process's batch buffers, each reused once nothing holds the batch
    last made in it: a fresh buffer costs a page fault (and, in shared
    memory, a new segment) per 4 KiB on first write, about as much as
    filling it, every batch.

    * In the process that uses the batches (no DataLoader workers), a
      buffer is a numpy array the batch's tensors are made over, free again
      when only the pool refers to it.
    * In a DataLoader worker, the buffer is in shared memory and its batch
      is used in the main process: one byte per buffer in a small shared
      ``flags`` array says whether it is in use.  The worker sets it when it
      fills the buffer, and the main process clears it when the last tensor
      over the buffer's storage goes (:func:`_rebuild_batch`).  The flags
      travel with the worker's first batch only; later batches name them
      by a token.  A batch that leaves the main process again keeps its
      buffer out of use for good, as does one whose flags the main process
      never got.

    A forked child starts with an empty pool (the parent may be using its
    buffers).  At most ``max_buffers`` are kept; beyond them, or when none
    fits, buffers are allocated as before.
    """

    def __init__(self, max_buffers=8):
        self.max_buffers = max_buffers
        self._pid = None

    def _reset(self):
        self._pid = os.getpid()
        self.local, self.shared, self.flags = [], [], None

    def take(self, nbytes, shared):
        """``(buffer, release)``: a flat ``uint8`` tensor of ``nbytes``, and for
        a pooled shared buffer what lets the main process free it (see
        :meth:`release_args`)."""
        if self._pid != os.getpid():
            self._reset()
        if not shared:
            return self._take_local(nbytes), None
        return self._take_shared(nbytes)

    def _take_local(self, nbytes):
        pool = self.local
        for i in range(len(pool)):
            # 2: the pool's reference and getrefcount's argument
            if sys.getrefcount(pool[i]) == 2 and nbytes <= len(pool[i]) <= 2 * nbytes:
                return torch.from_numpy(pool[i][:nbytes])
        array = np.empty(_capacity(nbytes), dtype=np.uint8)
        self._keep(pool, array, lambda i: sys.getrefcount(pool[i]) == 2)
        return torch.from_numpy(array[:nbytes])

    def _take_shared(self, nbytes):
        if self.flags is None:
            self.flags = torch.zeros(self.max_buffers, dtype=torch.uint8).share_memory_()
            self.token = '{}-{}'.format(os.getpid(), id(self.flags))
            self.flags_sent = False
        flags, pool = self.flags.numpy(), self.shared
        for slot, buffer in enumerate(pool):
            if flags[slot] == 0 and nbytes <= len(buffer) <= 2 * nbytes:
                flags[slot] = 1
                return buffer[:nbytes], _Release(self, slot)
        buffer = _new_buffer(_capacity(nbytes), True)
        slot = self._keep(pool, buffer, lambda i: flags[i] == 0)
        if slot is None:
            self.flags_sent = False  # in case the main process never got them
            return buffer[:nbytes], None
        flags[slot] = 1
        return buffer[:nbytes], _Release(self, slot)

    def release_args(self, slot):
        """What a batch in buffer ``slot`` carries to the main process:
        ``(token, slot, flags)``, the flags themselves (one more shared
        segment to pass) only until they have been sent once."""
        flags = None if self.flags_sent else self.flags
        self.flags_sent = True
        return (self.token, slot, flags)

    def _keep(self, pool, buffer, is_free):
        """Put a new buffer in the pool (in place of a free one that did not
        fit, when full); its index, or None when every buffer is in use."""
        if len(pool) < self.max_buffers:
            pool.append(buffer)
            return len(pool) - 1
        for i in range(len(pool)):
            if is_free(i):
                pool[i] = buffer
                return i
        return None


def _capacity(nbytes):
    """Bytes to allocate for a batch of ``nbytes``: room for batches with a
    few more annotations, in 64 KiB steps."""
    return -(-(nbytes + nbytes // 16) // 65536) * 65536


class _Release(object):
    """A worker's pooled buffer, by slot, until its batch is sent."""

    def __init__(self, pool, slot):
        self.pool, self.slot = pool, slot


def _release(flags, slot):
    flags[slot] = 0


#: The flags of the DataLoader workers this process got batches from, by
#: token (a few bytes each; the oldest are forgotten first).
_WORKER_FLAGS = collections.OrderedDict()
_MAX_WORKER_FLAGS = 256


#: The batch buffers of this process.
POOL = BufferPool()


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

    def __init__(self, buffer, layout, release=None):
        self.buffer = buffer
        self.layout = layout
        self.release = release
        self.views, self._flat = {}, {}
        for key, (start, dtype, shapes, stacked) in layout.items():
            dtype = getattr(torch, dtype)
            numels = [math.prod(shape) for shape in shapes]
            flat = buffer[start:start + sum(numels) * dtype.itemsize].view(dtype)
            self._flat[key] = flat
            if stacked:
                self.views[key] = flat.view((len(shapes),) + tuple(shapes[0]))
            elif len({shape[1:] for shape in shapes}) == 1 and all(len(s) for s in shapes):
                # one split along the first dimension makes every view at once
                rows = flat.view((-1,) + tuple(shapes[0][1:]))
                self.views[key] = list(rows.split([shape[0] for shape in shapes]))
            else:
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
        buffer, release = POOL.take(max(start, _ALIGN), shared)
        return cls(buffer, layout, release)

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
        group = getattr(self, '_group', None)
        if group is not None and isinstance(group.release, weakref.finalize):
            # leaving the process that was to free it: never reuse the buffer
            group.release.detach()
        if not self._intact():
            return (_Batch, (dict(self),))
        plain = {key: value for key, value in self.items() if key not in group.layout}
        release = group.release
        release = release.pool.release_args(release.slot) if isinstance(release, _Release) else None
        group.release = None  # sent once
        return (_rebuild_batch, (list(self.keys()), plain, group.buffer, group.layout, release))


def _rebuild_batch(keys, plain, buffer, layout, release=None):
    """A :class:`_Batch` from what :meth:`_Batch.__reduce__` sent; with
    ``release = (token, slot, flags)`` the worker's slot is cleared when the
    last tensor over the buffer's storage goes (see :class:`BufferPool`)."""
    group = _Packed(buffer, layout)
    if release is not None:
        token, slot, flags = release
        if flags is not None:
            _WORKER_FLAGS[token] = flags.numpy()
            while len(_WORKER_FLAGS) > _MAX_WORKER_FLAGS:
                _WORKER_FLAGS.popitem(last=False)
        flags = _WORKER_FLAGS.get(token, None)
        if flags is not None:  # else the slot stays taken: the worker allocates anew
            group.release = weakref.finalize(buffer.untyped_storage(), _release, flags, slot)
    return _Batch.make(keys, plain, group)


# -- the sampler ----------------------------------------------------------------------------
