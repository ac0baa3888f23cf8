"""
The ``ndsampler`` command line (``docs/cli.rst``): ``prepare``, ``sample``,
``grid``, ``validate``, ``info`` and ``bench``, one module each.

Exit codes: 0 success, 1 the command ran and found problems (``validate``),
2 bad input (one line on stderr).

Example:
    >>> import tempfile
    >>> from ndsampler.cli import main
    >>> exit_code = main(['grid', 'shapes8', '--window', '256', '256'])
    72 windows (62 positive, 10 negative)
    >>> exit_code
    0
    >>> main(['sample', 'shapes8', '--workdir', tempfile.mkdtemp(), '--gid', '999',
    ...       '--out', 'window.npy'])
    2
"""
import argparse

from ndsampler.cli import bench, grid, info, prepare, sample, validate
from ndsampler.cli.common import run_command

COMMANDS = [prepare, sample, grid, validate, info, bench]


def build_parser():
    """
    The top-level parser, with one subparser per command.

    Example:
        >>> args = build_parser().parse_args(['grid', 'shapes8', '--window', '256', '128'])
        >>> args.command, args.data, args.window
        ('grid', 'shapes8', [256, 128])
    """
    import ndsampler
    parser = argparse.ArgumentParser(
        prog='ndsampler',
        description='Fast random access to windows of the images of a kwcoco dataset.',
        epilog='Exit codes: 0 success, 1 problems found (validate), 2 bad input.')
    parser.add_argument('--version', action='version', version=ndsampler.__version__)
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv=None):
    """
    Parse ``argv`` (default ``sys.argv[1:]``), run the command, return its exit code.

    Example:
        >>> exit_code = main(['grid', 'shapes2', '--window', '600', '600'])
        2 windows (2 positive, 0 negative)
        >>> exit_code
        0
    """
    return run_command(build_parser().parse_args(argv))
