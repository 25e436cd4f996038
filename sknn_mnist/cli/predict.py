"""``sknn-mnist predict``: one predicted label per row of pixels."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import CLIError, add_quiet, add_trust_pickle, user_errors

HELP = "predict the labels of pixel rows"
DESCRIPTION = "Print one predicted label per row of each FILE, in order."


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist predict``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help=".npy (an array of shape (n_rows, n_pixels) or (n_rows, h, w)) or "
                   ".csv (one row of n_pixels numbers per line, optional header)")
    add_trust_pickle(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    """Read every file first (their errors before the model loads), then predict."""
    # numpy, scikit-learn and torch take seconds to import: `--help` and argument errors
    # stay instant.
    from . import runtime

    batches = [(path, runtime.read_rows(Path(path))) for path in args.files]
    model, _ = runtime.load_model_file(args.model_file, trust_pickle=args.trust_pickle)
    expected = runtime.n_features(model)
    for path, rows in batches:
        if expected is not None and rows.shape[1] != expected:
            raise CLIError(f"{path} has {rows.shape[1]} columns but the model expects "
                           f"{expected} (one row of pixels per image)")
    for _, rows in batches:
        if len(rows):
            with user_errors():
                labels = model.predict(rows)
            for label in labels:
                print(label)
    return 0
