"""``python -m ndsampler``: the command line of :mod:`ndsampler.cli`."""
import sys

from ndsampler.cli import main

if __name__ == '__main__':
    sys.exit(main())
