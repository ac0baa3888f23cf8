"""
Build the cache of every image of DATA in the work directory.

Each source file is converted once for the backend (npy: a memory-mappable
array, cog: a tiled GeoTIFF, ...), with a progress bar; caches that are
already up to date are kept.  With the none backend there is nothing to build.
"""
from ndsampler.cli import common


def add_parser(subparsers):
    parser = common.add_command(subparsers, 'prepare', __doc__, run)
    common.add_data_argument(parser)
    common.add_workdir_argument(parser)
    common.add_backend_argument(parser)
    parser.add_argument('--workers', type=common.non_negative_int, default=0,
                        help='threads building caches (0: this thread); default: %(default)s')


def run(args):
    """
    Example:
        >>> import tempfile
        >>> from ndsampler.cli import main
        >>> argv = ['prepare', 'shapes2', '--workdir', tempfile.mkdtemp(), '--backend', 'npy']
        >>> exit_code = main(argv)
        ...
        2 images ready in the 'npy' cache at ...
        >>> exit_code
        0
    """
    sampler = common.make_sampler(args.data, args.workdir, args.backend)
    sampler.frames.prepare(workers=args.workers)
    if sampler.frames.cache_dpath is not None:
        print('{} images ready in the {!r} cache at {}'.format(
            sampler.n_images, sampler.frames.backend.type, sampler.frames.cache_dpath))
    return common.EXIT_OK
