"""
Measure how many windows per second the sampler loads from DATA.

Loads random --window H W windows (a random image, a random centre, up to a
quarter window past the edge) with their annotations for --seconds, in this
process or in --workers processes at once (each gets a pickled copy of the
sampler).  Caches are built and one window is loaded first, so the clock
measures sampling only.
"""
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ndsampler.cli import common


def add_parser(subparsers):
    parser = common.add_command(subparsers, 'bench', __doc__, run)
    common.add_data_argument(parser)
    common.add_workdir_argument(parser)
    common.add_backend_argument(parser)
    common.add_window_argument(parser)
    parser.add_argument('--seconds', type=common.positive_float, default=5.0,
                        help='how long to sample; default: %(default)s')
    parser.add_argument('--workers', type=common.non_negative_int, default=0,
                        help='processes sampling at once (0: this process); '
                             'default: %(default)s')


def random_targets(sampler, window_dims, seed):
    """
    An endless stream of random targets of ``window_dims = (h, w)``.

    Example:
        >>> import ndsampler
        >>> sampler = ndsampler.CocoSampler.demo('shapes2', backend=None)
        >>> target = next(random_targets(sampler, (32, 48), seed=0))
        >>> target['height'], target['width']
        (32, 48)
    """
    rng = np.random.default_rng(seed)
    height, width = window_dims
    gids = sampler.image_ids
    while True:
        gid = gids[rng.integers(len(gids))]
        img_h, img_w = sampler.frames.open(gid).dims
        yield {'gid': gid, 'width': width, 'height': height,
               'cx': int(rng.integers(-width // 4, img_w + width // 4 + 1)),
               'cy': int(rng.integers(-height // 4, img_h + height // 4 + 1))}


def sample_for(sampler, window_dims, seconds, seed):
    """Load random windows for ``seconds``, after one that is not timed (it
    pays for lazy imports and indexes); return ``(count, elapsed seconds)``."""
    targets = random_targets(sampler, window_dims, seed)
    sampler.load_sample(next(targets))
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        sampler.load_sample(next(targets))
        count += 1
    return count, time.perf_counter() - start


def run(args):
    """
    Example:
        >>> import tempfile
        >>> from ndsampler.cli import main
        >>> argv = ['bench', 'shapes2', '--workdir', tempfile.mkdtemp(), '--backend', 'npy',
        ...         '--window', '64', '64', '--seconds', '0.2']
        >>> exit_code = main(argv)
        ...
        backend  window  workers  seconds  samples  samples/s
        npy      64x64         0      0.2 ...
        >>> exit_code
        0
    """
    sampler = common.make_sampler(args.data, args.workdir, args.backend)
    sampler.frames.prepare()
    window_dims = tuple(args.window)
    if args.workers == 0:
        results = [sample_for(sampler, window_dims, args.seconds, seed=0)]
    else:
        with ProcessPoolExecutor(args.workers) as pool:
            jobs = [pool.submit(sample_for, sampler, window_dims, args.seconds, seed)
                    for seed in range(args.workers)]
            results = [job.result() for job in jobs]
    count = sum(count for count, _ in results)
    rate = sum(count / elapsed for count, elapsed in results)
    print(common.format_table(
        ['backend', 'window', 'workers', 'seconds', 'samples', 'samples/s'],
        [[common.backend_label(sampler.frames.backend.type), '{}x{}'.format(*window_dims), args.workers,
          args.seconds, count, round(rate, 1)]]))
    return common.EXIT_OK
