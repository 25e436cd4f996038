"""``sknn-mnist datasets`` and ``python -m sknn_mnist.datasets``: list and describe datasets.

``info NAME`` loads a dataset (building the cache or downloading if needed) and prints its
source, shapes, class counts and checksums; ``list`` lists the known datasets. As
``python -m sknn_mnist.datasets`` (:func:`main`) an error is ``error: ...`` on stderr with
exit status 1, as it always was; as ``sknn-mnist datasets``, one line with status 2, like
every ``sknn-mnist`` command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from .common import CLIError

HELP = "list the known datasets, or load one and describe it"
DESCRIPTION = "MNIST-style datasets: cache, IDX, OpenML."

# The environment variables' names, spelled out: importing the datasets package to read
# them would import numpy and scikit-learn just to print --help (a test checks they agree).
ENV_DATA_HOME = "SKNN_MNIST_DATA"
ENV_IDX_DIR = "SKNN_MNIST_IDX_DIR"
ENV_OPENML_URL = "SKNN_MNIST_OPENML_URL"


def setup(p: argparse.ArgumentParser) -> None:
    """The sub-commands ``info`` and ``list`` (``args.datasets_command``)."""
    sub = p.add_subparsers(dest="datasets_command", metavar="COMMAND", required=True)
    info = sub.add_parser("info", help="load a dataset and print its source, shapes, class "
                          "counts and checksums (building the cache or downloading if needed)")
    info.add_argument("name", help="dataset name: mnist, fashion-mnist, kmnist, digits... "
                      "(`list` shows them all)")
    info.add_argument("--data-home", metavar="DIR", help=f"cache folder (${ENV_DATA_HOME})")
    info.add_argument("--idx-dir", metavar="DIR",
                      help=f"folder with the IDX .gz files (default ${ENV_IDX_DIR})")
    info.add_argument("--openml-url", metavar="URL",
                      help=f"OpenML server (default ${ENV_OPENML_URL}, else openml's config)")
    info.add_argument("--no-download", action="store_true",
                      help="never use the network (cache/IDX only)")
    info.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")
    sub.add_parser("list", help="list the known datasets")


def run(args: argparse.Namespace) -> int:
    """List the datasets, or print one's summary (as text or JSON)."""
    # numpy and scikit-learn (the datasets package) take a second to import: `--help`
    # stays instant.
    from ..datasets import (
        DATASETS,
        DatasetFormatError,
        DatasetUnavailableError,
        dataset_summary,
        format_dataset_info,
    )

    if args.datasets_command == "list":
        for name, spec in sorted(DATASETS.items()):
            print(f"{name:<14} {spec.title}: {spec.n_train} train / {spec.n_test} test, "
                  f"{spec.image_shape[0]}x{spec.image_shape[1]}")
        return 0
    try:
        summary = dataset_summary(args.name, data_home=args.data_home, idx_dir=args.idx_dir,
                                  download=not args.no_download,
                                  progress=False if args.quiet else None,
                                  openml_url=args.openml_url)
    except (DatasetUnavailableError, DatasetFormatError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    print(json.dumps(summary, indent=2) if args.json else format_dataset_info(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m sknn_mnist.datasets`` (sub-commands ``info`` and ``list``)."""
    parser = argparse.ArgumentParser(prog="python -m sknn_mnist.datasets",
                                     description=DESCRIPTION)
    setup(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sknn_mnist.datasets``: return the exit status (an error is one message,
    no traceback, status 1)."""
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except CLIError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
