"""
The sliding-window grid that covers every pixel of DATA.

Windows of --window H W slide over every image (--frames T: over every video,
T frames at a time), overlapping by --overlap; the last window is flush with
the far edge.  Positive and negative windows alike are kept.  Prints the number
of windows and, with --out, writes the grid as JSON: its targets (each slice
as [start, stop]; ndsampler.cli.grid.target_from_json reads one back for
load_sample) and the 1-based positives_indexes and negatives_indexes.
"""
import json

import numpy as np

from ndsampler.cli import common

#: Target keys whose values are a tuple of slices, and the one that is a slice.
SLICES_KEYS = ('slices', 'space_slice')
SLICE_KEY = 'time_slice'


def add_parser(subparsers):
    parser = common.add_command(subparsers, 'grid', __doc__, run)
    common.add_data_argument(parser)
    common.add_window_argument(parser)
    parser.add_argument('--frames', type=common.positive_int, metavar='T',
                        help='sweep videos, T frames per window, instead of images')
    parser.add_argument('--overlap', type=float, default=0.0,
                        help='fraction of a window shared with its neighbour, in [0, 1); '
                             'default: %(default)s')
    parser.add_argument('--out', help='write the grid here as JSON')


def grid_json_default(value):
    """
    ``json.dump``'s ``default``: slices as ``[start, stop]``, numpy numbers as numbers.

    Example:
        >>> json.dumps({'slices': (slice(0, 64), slice(32, 96))}, default=grid_json_default)
        '{"slices": [[0, 64], [32, 96]]}'
    """
    if isinstance(value, slice):
        return [value.start, value.stop]
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError('cannot write {!r} as JSON'.format(value))


def target_from_json(target):
    """
    A grid target read back from the JSON file, ready for ``load_sample``.

    Example:
        >>> target_from_json({'gid': 1, 'slices': [[0, 64], [32, 96]], 'aids': [2]})
        {'gid': 1, 'slices': (slice(0, 64, None), slice(32, 96, None)), 'aids': [2]}
    """
    target = dict(target)
    for key in SLICES_KEYS:
        if key in target:
            target[key] = tuple(slice(*pair) for pair in target[key])
    if SLICE_KEY in target:
        target[SLICE_KEY] = slice(*target[SLICE_KEY])
    return target


def run(args):
    """
    Example:
        >>> from ndsampler.cli import main
        >>> exit_code = main(['grid', 'vidshapes1', '--window', '128', '128', '--frames', '2'])
        25 windows (11 positive, 14 negative)
        >>> exit_code
        0
    """
    if not 0 <= args.overlap < 1:
        raise common.BadInput('--overlap must be in [0, 1), got {}'.format(args.overlap))
    sampler = common.make_sampler(args.data)
    if args.frames is None:
        task, window_dims = 'image_detection', tuple(args.window)
    else:
        task, window_dims = 'video_detection', (args.frames,) + tuple(args.window)
    grid = sampler.regions.new_sample_grid(task, window_dims, args.overlap,
                                           verbose=0, legacy=False)
    print('{} windows ({} positive, {} negative)'.format(
        len(grid['targets']), len(grid['positives_indexes']), len(grid['negatives_indexes'])))
    if args.out:
        with open(args.out, 'w') as file:
            json.dump(grid, file, default=grid_json_default)
    return common.EXIT_OK
