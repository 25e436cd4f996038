"""``python -m sknn_mnist.datasets {info NAME [--data-home D] [--idx-dir D] | list}``.

The command lives in :mod:`sknn_mnist.cli.datasets` (also ``sknn-mnist datasets``).
"""

import sys

from ..cli.datasets import main

if __name__ == "__main__":
    sys.exit(main())
