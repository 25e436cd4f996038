"""``python -m sknn_mnist.datasets {info NAME [--data-home D] [--idx-dir D] | list}``."""

import sys

from ._info import main

if __name__ == "__main__":
    sys.exit(main())
