"""A sampler wrapped in a torch Dataset works with DataLoader workers."""
import numpy as np
import pytest

torch = pytest.importorskip('torch')


class WindowDataset(torch.utils.data.Dataset):
    def __init__(self, sampler, targets):
        self.sampler = sampler
        self.targets = targets

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return torch.from_numpy(self.sampler.load_sample(self.targets[index])['im'])


@pytest.mark.parametrize('context', ['fork', 'spawn'])
def test_dataloader_workers_return_the_serial_windows(sampler, context):
    from _workers import window_targets
    targets = [dict(t, width=32, height=32) for t in window_targets(24, seed=5, gids=(1, 3))]
    sampler.load_sample(targets[0])  # the parent has open handles before forking
    dataset = WindowDataset(sampler, targets)
    loader = torch.utils.data.DataLoader(dataset, batch_size=4, num_workers=2,
                                         multiprocessing_context=context)
    batches = torch.cat(list(loader)).numpy()
    serial = np.stack([dataset[i].numpy() for i in range(len(dataset))])
    np.testing.assert_array_equal(batches, serial)
