"""
Check the cache of every source file of DATA in the work directory.

Reports each cache that is missing, stale (built from an older version of its
source) or corrupt (truncated, overwritten), and each source that cannot be
read.  --fix rebuilds the caches.  Exit code 1 when a problem remains.
"""
import ubelt as ub

from ndsampler.cli import common
from ndsampler.errors import SourceReadError

#: The status of a source file that does not exist (no cache can be built).
NO_SOURCE = 'no source'


def add_parser(subparsers):
    parser = common.add_command(subparsers, 'validate', __doc__, run)
    common.add_data_argument(parser)
    common.add_workdir_argument(parser)
    common.add_backend_argument(parser)
    parser.add_argument('--fix', action='store_true', help='rebuild what is not ok')


def cache_statuses(frames):
    """``{source path: status}``: ``'ok'``, ``'missing'``, ``'stale'``,
    ``'corrupt'`` (see ``Backend.cache_status``) or :data:`NO_SOURCE`."""
    fpaths = ub.unique(part.fpath for gid in frames.image_ids
                       for part in frames._lookup_parts(gid))
    statuses = {}
    for fpath in ub.ProgIter(list(fpaths), desc='check caches', verbose=1):
        try:
            statuses[fpath] = frames.backend.cache_status(fpath)
        except SourceReadError:
            statuses[fpath] = NO_SOURCE
    return statuses


def problems_of(statuses):
    """The entries of :func:`cache_statuses` that are not ``'ok'``."""
    return {fpath: status for fpath, status in statuses.items() if status != 'ok'}


def run(args):
    """
    Example:
        >>> import tempfile
        >>> from ndsampler.cli import main
        >>> workdir = tempfile.mkdtemp()
        >>> argv = ['validate', 'shapes2', '--workdir', workdir, '--backend', 'npy']
        >>> exit_code = main(argv)
        ...
        missing  ...
        2 source files: 2 missing
        >>> exit_code
        1
        >>> exit_code = main(argv + ['--fix'])
        ...
        2 source files: 2 ok
        >>> exit_code
        0
    """
    frames = common.make_sampler(args.data, args.workdir, args.backend).frames
    statuses = cache_statuses(frames)
    problems = problems_of(statuses)
    fixable = [fpath for fpath, status in problems.items() if status != NO_SOURCE]
    if args.fix and fixable:
        for fpath in ub.ProgIter(fixable, desc='rebuild caches', verbose=1):
            frames.backend.build_cache(fpath)
        statuses = cache_statuses(frames)
        problems = problems_of(statuses)
    width = max(map(len, problems.values()), default=0)
    for fpath, status in problems.items():
        print('{}  {}'.format(status.ljust(width), fpath))
    counts = ub.dict_hist(statuses.values())
    print('{} source files: {}'.format(len(statuses), ', '.join(
        '{} {}'.format(count, status) for status, count in sorted(counts.items()))))
    return common.EXIT_PROBLEMS if problems else common.EXIT_OK
