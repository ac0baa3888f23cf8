"""
A sampler wrapped in a torch Dataset gives the same batches with 0, 1 and 2
DataLoader workers, forked or spawned, as direct ``load_sample`` calls.

Each loader serves windows of one sampler per backend at once (a fresh
workdir each, so the workers also first-touch the caches): spawned workers
take seconds to import torch, and one loader per backend would triple that.
"""
import numpy as np
import pytest

from _workers import WindowDataset, window_targets
from conftest import BACKEND_PARAMS

torch = pytest.importorskip('torch')

#: (num_workers, multiprocessing context); 0 workers loads in this process.
LOADER_CONFIGS = [(0, None), (1, 'fork'), (2, 'fork'), (1, 'spawn'), (2, 'spawn')]
CONFIG_IDS = ['0-workers'] + ['{}-{}'.format(n, c) for n, c in LOADER_CONFIGS[1:]]
BATCH_SIZE = 4


def available_backends():
    """The backends of ``BACKEND_PARAMS`` whose marks do not skip them here."""
    from conftest import backend_available
    return [p.values[0] for p in BACKEND_PARAMS if backend_available(p)]


@pytest.fixture
def samplers(dset, tmp_path):
    import ndsampler
    return {str(b): ndsampler.CocoSampler(dset, workdir=tmp_path / str(b), backend=b)
            for b in available_backends()}


@pytest.fixture(scope='module')
def first_windows():
    """The windows the first configuration loaded, to compare the others with."""
    return []


@pytest.mark.parametrize('num_workers, context', LOADER_CONFIGS, ids=CONFIG_IDS)
def test_dataloader_batches_equal_direct_load_sample(samplers, num_workers, context, first_windows):
    targets = [dict(t, width=32, height=32) for t in window_targets(8, seed=5, gids=(1, 3))]
    items = [(key, t) for key in samplers for t in targets]
    for sampler in samplers.values():
        sampler.load_sample(targets[0])  # the parent has open handles before it forks
    loader = torch.utils.data.DataLoader(WindowDataset(samplers, items), batch_size=BATCH_SIZE,
                                         shuffle=False, num_workers=num_workers,
                                         multiprocessing_context=context)
    indices, windows, workers = [], [], []
    for index, batch, worker in loader:
        assert isinstance(batch, torch.Tensor) and batch.shape == (BATCH_SIZE, 32, 32, 3)
        indices.extend(index.tolist())
        windows.extend(batch.numpy())
        workers.extend(worker.tolist())
    assert indices == list(range(len(items)))
    assert set(workers) == ({-1} if num_workers == 0 else set(range(num_workers)))
    for (key, target), got in zip(items, windows):
        np.testing.assert_array_equal(got, samplers[key].load_sample(target, with_annots=False)['im'])
    # the same batches whatever the number of workers and the context
    if not first_windows:
        first_windows.extend(windows)
    assert len(windows) == len(first_windows) == 8 * len(samplers)
    for got, want in zip(windows, first_windows):
        np.testing.assert_array_equal(got, want)
