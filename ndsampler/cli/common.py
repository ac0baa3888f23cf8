"""
What the subcommands share: the ``DATA``, ``--workdir`` and ``--backend``
arguments, loading a dataset, building a sampler, plain-text tables, and
turning bad input into one line on stderr and exit code 2.
"""
import argparse
import os
import sys

from ndsampler.errors import NdsamplerError

EXIT_OK = 0
#: The command ran and found problems (``validate``).
EXIT_PROBLEMS = 1
#: Bad input: a missing file, an unknown demo key or id, a bad size or backend.
EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """
    Input a command cannot use (exit code 2).

    Example:
        >>> try:
        ...     load_dataset('missing.kwcoco.json')
        ... except BadInput as ex:
        ...     print(EXIT_BAD_INPUT, ex)
        2 no such kwcoco file: 'missing.kwcoco.json'
    """


def add_command(subparsers, name, doc, run):
    """
    A subcommand's parser: the first line of ``doc`` is its summary, all
    of ``doc`` its description, and ``run(args)`` what it does.

    Example:
        >>> subparsers = argparse.ArgumentParser(prog='tool').add_subparsers(dest='command')
        >>> parser = add_command(subparsers, 'hello', 'Say hello.', run=len)
        >>> parser.prog, parser.description, parser.parse_args([]).run is len
        ('tool hello', 'Say hello.', True)
    """
    parser = subparsers.add_parser(name, help=doc.strip().splitlines()[0],
                                   description=doc.strip(),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(run=run)
    return parser


def add_data_argument(parser):
    """
    Add the positional ``DATA`` argument (a kwcoco file or demo key).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_data_argument(parser)
        >>> parser.parse_args(['shapes8']).data
        'shapes8'
    """
    parser.add_argument('data', metavar='DATA',
                        help='a kwcoco file, or a kwcoco demo key (shapes8, '
                             'vidshapes2-multispectral, ...)')


def add_workdir_argument(parser):
    """
    Add the required ``--workdir`` option.

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_workdir_argument(parser)
        >>> parser.parse_args(['--workdir', 'out']).workdir
        'out'
    """
    parser.add_argument('--workdir', required=True,
                        help='where the caches live (under <workdir>/_cache)')


def add_backend_argument(parser):
    """
    Add the ``--backend`` option (default ``auto``; ``none`` gives ``None``).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_backend_argument(parser)
        >>> parser.parse_args([]).backend, parser.parse_args(['--backend', 'none']).backend
        ('auto', None)
    """
    from ndsampler._backends import BACKENDS
    names = ', '.join(backend_label(name) for name in BACKENDS)
    parser.add_argument('--backend', default='auto', type=parse_backend,
                        help='{} (none: read the sources), or auto (cog when GDAL imports, '
                             'else npy); default: %(default)s'.format(names))


def add_window_argument(parser):
    """
    Add the required ``--window H W`` option (positive ints).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_window_argument(parser)
        >>> parser.parse_args(['--window', '64', '32']).window
        [64, 32]
    """
    parser.add_argument('--window', nargs=2, type=positive_int, required=True,
                        metavar=('H', 'W'), help='window height and width (pixels)')


def backend_label(backend_type):
    """
    A backend type as the command line spells it (the inverse of :func:`parse_backend`).

    Example:
        >>> backend_label(None), backend_label('npy')
        ('none', 'npy')
    """
    return 'none' if backend_type is None else backend_type


def parse_backend(text):
    """
    A ``--backend`` value as ``CocoSampler`` takes it (the library checks the name).

    Example:
        >>> parse_backend('none'), parse_backend('npy')
        (None, 'npy')
    """
    return None if text.lower() == 'none' else text


def positive_int(text):
    """
    An argparse type: an integer above zero.

    Example:
        >>> positive_int('3')
        3
        >>> positive_int('0')
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be positive, got 0
    """
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError('must be positive, got {}'.format(text))
    return value


def non_negative_int(text):
    """
    An argparse type: an integer, zero or above.

    Example:
        >>> non_negative_int('0'), non_negative_int('12')
        (0, 12)
    """
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError('must not be negative, got {}'.format(text))
    return value


def positive_float(text):
    """
    An argparse type: a number above zero.

    Example:
        >>> positive_float('0.5'), positive_float('2')
        (0.5, 2.0)
    """
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError('must be positive, got {}'.format(text))
    return value


def load_dataset(data):
    """
    The ``kwcoco.CocoDataset`` that ``DATA`` names: an existing file, or
    else a kwcoco demo key.  ``BadInput`` when it is neither.

    Example:
        >>> load_dataset('shapes2').n_images
        2
        >>> load_dataset('no/such/file.kwcoco.json')
        Traceback (most recent call last):
        ...
        ndsampler.cli.common.BadInput: no such kwcoco file: 'no/such/file.kwcoco.json'
    """
    import kwcoco
    # kwcoco has no error types of its own: what it raises on a malformed file
    # (ValueError, AttributeError, ...) or an unknown demo key (KeyError, a
    # bare Exception) all mean that DATA is bad.
    if os.path.exists(data):
        try:
            return kwcoco.CocoDataset(data)
        except Exception as ex:
            raise BadInput('cannot read kwcoco file {!r}: {}'.format(data, ex)) from None
    if os.sep in data or data.endswith(('.json', '.zip')):
        raise BadInput('no such kwcoco file: {!r}'.format(data))
    try:
        return kwcoco.CocoDataset.demo(data)
    except Exception as ex:
        raise BadInput('{!r} is neither a kwcoco file nor a kwcoco demo key ({})'.format(
            data, ex)) from None


def make_sampler(data, workdir=None, backend=None):
    """
    A ``CocoSampler`` over ``DATA`` (see :func:`load_dataset`).

    Example:
        >>> sampler = make_sampler('shapes2')
        >>> type(sampler).__name__, sampler.n_images
        ('CocoSampler', 2)
    """
    from ndsampler.coco_sampler import CocoSampler
    return CocoSampler(load_dataset(data), workdir=workdir, backend=backend)


def format_table(header, rows):
    """
    Plain text columns: numbers right-aligned, everything else left-aligned.

    Example:
        >>> rows = [['npy', 8, '9 MB'], ['cog', 12, '2 MB']]
        >>> print(format_table(['backend', 'files', 'size'], rows))
        backend  files  size
        npy          8  9 MB
        cog         12  2 MB
    """
    rows = [list(row) for row in rows]
    numeric = [all(isinstance(row[col], (int, float)) for row in rows)
               for col in range(len(header))]
    table = [[str(cell) for cell in row] for row in [header] + rows]
    widths = [max(len(row[col]) for row in table) for col in range(len(header))]
    return '\n'.join(
        '  '.join(cell.rjust(width) if right else cell.ljust(width)
                  for cell, width, right in zip(row, widths, numeric)).rstrip()
        for row in table)


def run_command(args):
    """
    Run the parsed subcommand; bad input is reported on one line of
    stderr and gives :data:`EXIT_BAD_INPUT`.

    Example:
        >>> def fail(args):
        ...     raise BadInput('no such thing')
        >>> run_command(argparse.Namespace(command='demo', run=lambda args: EXIT_OK))
        0
        >>> run_command(argparse.Namespace(command='demo', run=fail))  # stderr: the message
        2
    """
    try:
        return args.run(args)
    except (BadInput, NdsamplerError) as ex:
        message = ' '.join(str(ex).split())
        print('ndsampler {}: error: {}'.format(args.command, message), file=sys.stderr)
        return EXIT_BAD_INPUT
