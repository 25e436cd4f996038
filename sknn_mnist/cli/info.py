"""``sknn-mnist info``: a model file's metadata, without loading the model.

A ``.skops`` file's metadata is read with a JSON parser: the model is not loaded and nothing
in the file runs. A pickle-based (joblib) file is refused unless ``--trust-pickle`` is given
(then it is loaded, and its metadata shown).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .common import CLIError, add_trust_pickle, first_line

HELP = "show a model file's metadata without loading it"
DESCRIPTION = (
    "Print the metadata of a saved model (versions, dataset, features, classes, scores, "
    "creation time, training device). A .skops file is not loaded: the metadata is read "
    "as JSON. A pickle-based file needs --trust-pickle.")

# Keys shown first, in this order; the others follow alphabetically.
_FIRST = ("format", "format_version", "estimator_class", "model_class", "dataset",
          "n_features_in", "classes", "test_score", "cv_score", "created", "training_device",
          "versions", "params")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist info``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
    add_trust_pickle(p)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return " ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def format_metadata(metadata: dict[str, Any]) -> str:
    """``key: value`` lines, the important keys first."""
    keys = [k for k in _FIRST if k in metadata]
    keys += sorted(k for k in metadata if k not in keys)
    width = max((len(k) for k in keys), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(metadata[k])}" for k in keys)


def run(args: argparse.Namespace) -> int:
    """Print a model file's metadata without loading the model."""
    # numpy and scikit-learn (the persistence module) take a while to import: `--help`
    # stays instant.
    from ..io.persistence import PickleNotAllowedError, load_model, read_metadata

    path = args.model_file
    try:
        try:
            metadata = read_metadata(path)
        except PickleNotAllowedError:
            if not args.trust_pickle:
                raise
            _, metadata = load_model(path, allow_pickle=True, return_metadata=True)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder, not a model file") from None
    except ValueError as exc:  # the persistence module's ModelFileError family
        raise CLIError(first_line(exc)) from None
    if args.json:
        print(json.dumps(metadata, indent=2, default=str))
    else:
        print(format_metadata(metadata))
    return 0
