"""
Training with PyTorch: a map-style dataset over a sampler's windows, a
collate function for ragged annotations, and a sampler of target dicts that
balances positives, negatives and categories and shards an epoch across
distributed ranks.

Nothing else in :mod:`ndsampler` imports torch; this module needs it::

    pip install torch

Example:
    >>> # xdoctest: +REQUIRES(module:torch)
    >>> import ndsampler
    >>> from ndsampler.torch import SamplerDataset, RegionSampler, collate
    >>> import torch
    >>> sampler = ndsampler.CocoSampler.demo('shapes8', backend=None)
    >>> dataset = SamplerDataset(sampler)
    >>> regions = RegionSampler(sampler, num_samples=8, window_dims=(64, 64), seed=0)
    >>> loader = torch.utils.data.DataLoader(dataset, batch_size=4, sampler=regions,
    ...                                      collate_fn=collate)
    >>> batch = next(iter(loader))
    >>> tuple(batch['im'].shape), batch['im'].dtype
    ((4, 3, 64, 64), torch.float32)
    >>> len(batch['boxes']), batch['boxes'][0].shape[1]
    (4, 4)
"""
try:
    import torch  # noqa: F401 (checks that torch is there)
except ImportError as _ex:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        'ndsampler.torch needs PyTorch, which could not be imported ({}). '
        'Install it with `pip install torch` (see https://pytorch.org/get-started/locally/ '
        'for CPU-only and CUDA builds); the rest of ndsampler works without it.'.format(_ex)
    ) from _ex

from ndsampler.torch.collate import collate  # noqa: E402
from ndsampler.torch.dataset import SamplerDataset  # noqa: E402
from ndsampler.torch.regions import RegionSampler  # noqa: E402

__all__ = ['SamplerDataset', 'RegionSampler', 'collate']
