"""Batches of dataset items: one shared buffer per batch, ragged fields as views."""
import math
import os
import sys
import threading
import weakref

import numpy as np
import torch
import torch.utils.data

from ndsampler._locks import pid_alive

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

    A buffer is a numpy array, and a batch's tensors are made over a slice
    of it (``torch.from_numpy``), so the array is free again when only the
    pool refers to it.  In a DataLoader worker the array is in shared
    memory, and the batch is used in the main process:

    * the worker sends the segment and a small shared ``flags`` array to
      the main process once (it keeps them, by the worker's token), and
      then only ``(token, slot, size)`` per batch: no shared memory is
      passed per batch;
    * ``flags[slot]`` is set when a batch in the buffer is sent, and the
      main process clears it when the last tensor over that batch goes
      (:func:`_rebuild_batch`); the main process also marks in ``flags``
      what it has received, and the worker sends it again until it has;
    * a batch that leaves the worker any other way (another collate
      function, plain pickling) is copied into a new segment by torch, as
      any tensor not already in shared memory is, so nothing else ever
      sees a pooled buffer.

    A forked child starts with an empty pool (the parent may be using its
    buffers).  At most ``max_buffers`` are kept (in practice a worker holds
    its prefetched batches plus one or two); beyond them, or when none fits,
    buffers are allocated as before.  The main process keeps a worker's
    segments until a batch from a newer worker finds it exited.
    """

    def __init__(self, max_buffers=8):
        self.max_buffers = max_buffers
        self._pid = None

    def _reset(self):
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.pools = {False: [], True: []}
        self.segments, self.flags, self.token = {}, None, None

    def take(self, nbytes, shared):
        """``(buffer, slot)``: a flat ``uint8`` tensor of ``nbytes``, and its
        slot in the shared pool (None for a buffer of this process only)."""
        if self._pid != os.getpid():
            self._reset()
        with self._lock:  # threads taking at once must not get one buffer
            return self._take(nbytes, shared)

    def _take(self, nbytes, shared):
        if shared and self.flags is None:
            self.count = self.max_buffers  # slots of the flags, fixed once shared
            self.flags = torch.zeros(2 * self.count + 1, dtype=torch.uint8).share_memory_()
            self.token = (os.getpid(), id(self.flags))
        pool = self.pools[shared]
        for slot in range(len(pool)):
            if self._free(pool, slot, shared) and nbytes <= len(pool[slot]) <= 2 * nbytes:
                return torch.from_numpy(pool[slot][:nbytes]), slot if shared else None
        capacity = _capacity(nbytes)
        segment = _new_buffer(capacity, True) if shared else None
        array = np.empty(capacity, dtype=np.uint8) if segment is None else segment.numpy()
        slot = self._keep(pool, array, shared)
        if slot is None and shared:
            return segment[:nbytes], None  # sent as torch sends shared memory
        if slot is None or not shared:
            return torch.from_numpy(array[:nbytes]), None
        self.segments[slot] = segment
        self.flags.numpy()[self.count + slot] = 0  # a new segment: to be sent again
        return torch.from_numpy(array[:nbytes]), slot

    def _free(self, pool, slot, shared):
        # 2: the pool's reference and getrefcount's argument
        return sys.getrefcount(pool[slot]) == 2 and not (shared and self.flags.numpy()[slot])

    def _keep(self, pool, array, shared):
        """Put a new buffer in the pool (in place of a free one that did not
        fit, when full); its slot, or None when every buffer is in use."""
        if len(pool) < (self.count if shared else self.max_buffers):
            pool.append(array)
            return len(pool) - 1
        for slot in range(len(pool)):
            if self._free(pool, slot, shared):
                pool[slot] = array
                return slot
        return None

    def send(self, slot, nbytes):
        """
        What a batch in shared buffer ``slot`` carries to the main process,
        and the buffer marked in use: ``(token, slot, nbytes, flags,
        segment)``, where ``flags`` and ``segment`` are None once the main
        process has them.
        """
        flags, count = self.flags.numpy(), self.count
        flags[slot] = 1
        return (self.token, slot, nbytes, None if flags[2 * count] else self.flags,
                None if flags[count + slot] else self.segments[slot])


def _capacity(nbytes):
    """Bytes to allocate for a batch of ``nbytes``: room for batches with a
    few more annotations, in 64 KiB steps."""
    return -(-(nbytes + nbytes // 16) // 65536) * 65536


def _release(flags, slot):
    flags[slot] = 0


#: What the main process keeps of each DataLoader worker's pool, by token:
#: ``{'flags': array, 'segments': {slot: array}}``.
_WORKER_POOLS = {}
os.register_at_fork(after_in_child=_WORKER_POOLS.clear)


def _worker_buffer(release):
    """
    In the main process, the buffer of a batch a worker sent as ``(token,
    slot, nbytes, flags, segment)`` (see :meth:`BufferPool.send`): a tensor
    over the worker's segment, whose slot is cleared when its last tensor
    goes.  What the worker sends once is kept, and acknowledged in
    ``flags``; the pools of workers that have exited are dropped.
    """
    token, slot, nbytes, flags, segment = release
    pool = _WORKER_POOLS.get(token, None)
    if pool is None:
        for key in [key for key in _WORKER_POOLS if not pid_alive(key[0])]:
            del _WORKER_POOLS[key]
        pool = _WORKER_POOLS[token] = {'flags': None, 'segments': {}}
    if flags is not None:
        pool['flags'] = flags.numpy()
    flags = pool['flags']
    if segment is not None:
        pool['segments'][slot] = segment.numpy()
    if flags is None or slot not in pool['segments']:
        raise RuntimeError('DataLoader worker {} sent a batch in a shared buffer this process '
                           'never received (slot {})'.format(token[0], slot))
    count = (len(flags) - 1) // 2
    flags[2 * count] = 1
    if segment is not None:
        flags[count + slot] = 1
    view = pool['segments'][slot][:nbytes]
    weakref.finalize(view, _release, flags, slot)
    return torch.from_numpy(view)


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

    def __init__(self, buffer, layout, slot=None):
        self.buffer = buffer
        self.layout = layout
        self.slot = slot  # in this worker's pool of shared buffers, until sent
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
        buffer, slot = POOL.take(max(start, _ALIGN), shared)
        return cls(buffer, layout, slot)

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
        if group.slot is not None and POOL.flags is not None:
            release, buffer = POOL.send(group.slot, group.buffer.numel()), None
            group.slot = None  # sent once
        else:
            release, buffer = None, group.buffer
        return (_rebuild_batch, (list(self.keys()), plain, buffer, group.layout, release))


def _rebuild_batch(keys, plain, buffer, layout, release=None):
    """A :class:`_Batch` from what :meth:`_Batch.__reduce__` sent: its buffer,
    or what names a DataLoader worker's pooled buffer (see :class:`BufferPool`)."""
    if release is not None:
        buffer = _worker_buffer(release)
    return _Batch.make(keys, plain, _Packed(buffer, layout))


# -- the sampler ----------------------------------------------------------------------------
