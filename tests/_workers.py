"""Functions run in child processes by the tests (importable by spawn)."""
import numpy as np


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
