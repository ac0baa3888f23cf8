"""
Load one window and save it.

The window is in an image (--gid, with --cx --cy --width --height, or the
whole image without them) or around an annotation (--aid: its box, unless the
window options say otherwise).  --out ending in .png or .jpg writes the window
with its annotations drawn; .npy writes the pixels exactly as
CocoSampler.load_sample returns them.
"""
import os

import numpy as np

from ndsampler.cli import common

IMAGE_SUFFIXES = ('.png', '.jpg', '.jpeg')
ARRAY_SUFFIX = '.npy'
#: The window's target keys (and options) with what they mean.
WINDOW_KEYS = {'cx': 'centre x', 'cy': 'centre y', 'width': 'width', 'height': 'height'}


def add_parser(subparsers):
    parser = common.add_command(subparsers, 'sample', __doc__, run)
    common.add_data_argument(parser)
    common.add_workdir_argument(parser)
    common.add_backend_argument(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument('--gid', type=int, help='image id')
    which.add_argument('--aid', type=int, help='annotation id')
    for key, meaning in WINDOW_KEYS.items():
        parser.add_argument('--' + key, type=float, help='window {} (pixels)'.format(meaning))
    parser.add_argument('--channels', help="kwcoco channel code, e.g. 'r|g|b' or 'B1|B8'")
    parser.add_argument('--out', required=True,
                        help='output file: .png/.jpg (annotations drawn) or .npy (raw pixels)')


def build_target(args):
    """
    The ``load_sample`` target of the parsed options.

    Example:
        >>> import argparse
        >>> args = argparse.Namespace(gid=None, aid=3, cx=None, cy=None, width=64.0,
        ...                           height=64.0, channels=None)
        >>> build_target(args)
        {'aid': 3, 'width': 64.0, 'height': 64.0}
    """
    target = {'gid': args.gid} if args.gid is not None else {'aid': args.aid}
    window = {key: getattr(args, key) for key in WINDOW_KEYS if getattr(args, key) is not None}
    if args.gid is not None and 0 < len(window) < len(WINDOW_KEYS):
        raise common.BadInput('with --gid give all of --cx --cy --width --height, '
                              'or none of them (the whole image)')
    target.update(window)
    if args.channels:
        target['channels'] = args.channels
    return target


def displayable(im):
    """
    A window as three bands a PNG can hold: the first three (the first
    repeated when there are fewer), stretched to [0, 1] unless already
    ``uint8``, NaN shown black.

    Example:
        >>> displayable(np.full((2, 2, 5), 7.0, np.float32)).shape
        (2, 2, 3)
    """
    import kwimage
    bands = im[..., 0:3] if im.shape[2] >= 3 else np.repeat(im[..., 0:1], 3, axis=2)
    if bands.dtype == np.uint8:
        return bands
    return np.nan_to_num(kwimage.normalize_intensity(bands.astype(np.float32)))


def run(args):
    """
    Example:
        >>> import tempfile, ubelt as ub
        >>> from ndsampler.cli import main
        >>> dpath = ub.Path(tempfile.mkdtemp())
        >>> exit_code = main(['sample', 'shapes8', '--workdir', str(dpath), '--backend', 'npy',
        ...                   '--aid', '3', '--out', str(dpath / 'window.png')])
        wrote ...window.png: 109 x 51 (h x w) window of image 2, 1 annotations
        >>> exit_code
        0
    """
    import kwimage
    from ndsampler.demo import draw_sample
    suffix = os.path.splitext(args.out)[1].lower()
    if suffix not in IMAGE_SUFFIXES + (ARRAY_SUFFIX,):
        raise common.BadInput('--out must end in {} or {}, got {!r}'.format(
            '/'.join(IMAGE_SUFFIXES), ARRAY_SUFFIX, args.out))
    sampler = common.make_sampler(args.data, args.workdir, args.backend)
    sample = sampler.load_sample(build_target(args))
    if suffix == ARRAY_SUFFIX:
        np.save(args.out, sample['im'])
    else:
        kwimage.imwrite(args.out, draw_sample(dict(sample, im=displayable(sample['im']))))
    height, width = sample['im'].shape[0:2]
    print('wrote {}: {} x {} (h x w) window of image {}, {} annotations'.format(
        args.out, height, width, sample['target']['gid'], len(sample['annots']['aids'])))
    return common.EXIT_OK
