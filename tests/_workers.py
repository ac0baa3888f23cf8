"""Functions and classes used in child processes by the tests (importable by spawn)."""
import _optional_deps

_optional_deps.apply()  # a spawned child hides what its parent hid, before it unpickles a sampler

import numpy as np  # NOQA: E402


def load_windows(sampler_bytes, targets):
    """Unpickle a sampler, load each target, return the windows."""
    import pickle
    sampler = pickle.loads(sampler_bytes)
    return [sampler.load_sample(t, with_annots=False)['im'] for t in targets]


def window_targets(n, seed, gids=(1, 2, 3)):
    rng = np.random.default_rng(seed)
    targets = []
    for _ in range(n):
        targets.append({'gid': int(rng.choice(gids)), 'cx': int(rng.integers(-20, 420)),
                        'cy': int(rng.integers(-20, 320)), 'width': int(rng.integers(4, 90)),
                        'height': int(rng.integers(4, 90))})
    return targets


class WindowDataset:
    """
    A map-style dataset for ``torch.utils.data.DataLoader`` (which needs only
    ``__len__`` and ``__getitem__``) over windows of several samplers: item
    ``i`` of ``items = [(sampler key, target), ...]`` is ``(i, window, worker
    id)``, the worker id being -1 in the main process.  Defined here, without
    importing torch, so spawned workers can unpickle it.
    """

    def __init__(self, samplers, items):
        self.samplers = samplers
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        from torch.utils.data import get_worker_info
        info = get_worker_info()
        key, target = self.items[index]
        im = self.samplers[key].load_sample(target, with_annots=False)['im']
        return index, im, -1 if info is None else info.id
