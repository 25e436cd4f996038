"""``python -m sknn_mnist.datasets info NAME [--data-home D] [--idx-dir D]``."""

from __future__ import annotations

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
