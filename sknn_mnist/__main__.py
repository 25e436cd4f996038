"""``python -m sknn_mnist``: the same command line as ``sknn-mnist``."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
