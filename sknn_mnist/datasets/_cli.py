"""Command line for the datasets subpackage: ``python -m sknn_mnist.datasets info NAME``.

The project CLI can reuse it: ``configure_parser(subparsers.add_parser("datasets"))`` and
then ``run(args)`` gives ``sknn-mnist datasets info NAME`` the same options and output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._config import ENV_DATA_HOME, ENV_IDX_DIR, ENV_OPENML_URL
from ._errors import DatasetFormatError, DatasetUnavailableError
from ._info import dataset_summary, format_dataset_info
from ._registry import DATASETS, list_datasets

__all__ = ["build_parser", "configure_parser", "main", "run"]


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``info`` and ``list`` sub-commands to ``parser``."""
    sub = parser.add_subparsers(dest="datasets_command", metavar="COMMAND", required=True)

    info = sub.add_parser(
        "info",
        help="load a dataset and print its source, shapes, class counts and checksums",
        description="Load a dataset (building the cache or downloading if needed) and print "
        "its source, shapes, class counts and checksums.",
    )
    info.add_argument("name", help=f"dataset name: {', '.join(list_datasets())}")
    info.add_argument(
        "--data-home", metavar="DIR", default=None, help=f"cache folder (default ${ENV_DATA_HOME})"
    )
    info.add_argument(
        "--idx-dir",
        metavar="DIR",
        default=None,
        help=f"folder with the IDX .gz files (default ${ENV_IDX_DIR})",
    )
    info.add_argument(
        "--openml-url",
        metavar="URL",
        default=None,
        help=f"OpenML server (default ${ENV_OPENML_URL})",
    )
    info.add_argument(
        "--no-download", action="store_true", help="never use the network (cache/IDX only)"
    )
    info.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    info.add_argument("--json", action="store_true", help="print the summary as JSON")

    sub.add_parser("list", help="list the known datasets")
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser of ``python -m sknn_mnist.datasets``."""
    return configure_parser(
        argparse.ArgumentParser(
            prog="python -m sknn_mnist.datasets",
            description="MNIST-style datasets: cache, IDX files, OpenML.",
        )
    )


def run(args: argparse.Namespace) -> int:
    """Execute parsed arguments; return the exit status (errors go to stderr, no traceback)."""
    if args.datasets_command == "list":
        for name in list_datasets():
            spec = DATASETS[name]
            print(
                f"{name:<14} {spec.title}: {spec.n_train} train / {spec.n_test} test, "
                f"{spec.image_shape[0]}x{spec.image_shape[1]}"
            )
        return 0
    try:
        summary = dataset_summary(
            args.name,
            data_home=args.data_home,
            idx_dir=args.idx_dir,
            download=not args.no_download,
            progress=False if args.quiet else None,
            openml_url=args.openml_url,
        )
    except (DatasetUnavailableError, DatasetFormatError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(format_dataset_info(summary))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m sknn_mnist.datasets``."""
    return run(build_parser().parse_args(argv))
