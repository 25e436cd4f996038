"""The model-file subcommands of ``sknn-mnist``: ``info`` and ``export``, and ``--trust-pickle``.

``sknn-mnist info MODEL`` prints a skops model's metadata read with a JSON parser: the model
is not loaded and nothing in the file runs. ``sknn-mnist export MODEL OUT.onnx`` writes the
ONNX graph of a saved pipeline. Pickle-based (joblib) files are refused by every command
unless ``--trust-pickle`` is given.

Only the standard library is imported at module level: ``sknn-mnist --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["add_trust_pickle", "cmd_export", "cmd_info", "format_metadata", "setup_export",
           "setup_info"]

_TRUST_PICKLE_HELP = ("load a pickle-based (.joblib/.pkl) model file; unpickling runs any "
                      "code the file carries, so only for files you trust (default: refuse "
                      "them; .skops files load without pickle)")

# Keys shown first by `info`, in this order; the others follow alphabetically.
_FIRST = ("format", "format_version", "estimator_class", "model_class", "dataset",
          "n_features_in", "classes", "test_score", "cv_score", "created", "training_device",
          "versions", "params")


def add_trust_pickle(p: argparse.ArgumentParser) -> None:
    """Add ``--trust-pickle`` (``args.trust_pickle``) to a subcommand that loads a model."""
    p.add_argument("--trust-pickle", action="store_true", help=_TRUST_PICKLE_HELP)


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


def _metadata(path: str, trust_pickle: bool) -> dict[str, Any]:
    from ..io.persistence import PickleNotAllowedError, load_model, read_metadata
    from .main import CLIError

    try:
        try:
            return read_metadata(path)
        except PickleNotAllowedError:
            if not trust_pickle:
                raise
            _, metadata = load_model(path, allow_pickle=True, return_metadata=True)
            return metadata
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder, not a model file") from None
    except ValueError as exc:  # the persistence module's ModelFileError family
        raise CLIError(str(exc).splitlines()[0]) from None


def cmd_info(args: argparse.Namespace) -> int:
    """Print a model file's metadata without loading the model."""
    metadata = _metadata(args.model_file, args.trust_pickle)
    if args.json:
        print(json.dumps(metadata, indent=2, default=str))
    else:
        print(format_metadata(metadata))
    return 0


def setup_info(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sknn-mnist info``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON")
    add_trust_pickle(p)
    p.set_defaults(func=cmd_info)


def cmd_export(args: argparse.Namespace) -> int:
    """Write the ONNX graph of a saved pipeline."""
    from .main import CLIError, _load_model_file, check_output_file

    out = check_output_file(args.out_file, overwrite=args.overwrite, what="ONNX file")
    try:
        from ..io.onnx import export_onnx
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    model, _ = _load_model_file(args.model_file, trust_pickle=args.trust_pickle)
    try:
        export_onnx(model, out, overwrite=args.overwrite)
    except ImportError as exc:  # onnx missing: the message says which extra to install
        raise CLIError(str(exc)) from None
    except TypeError as exc:  # a step or layer the export does not support
        raise CLIError(str(exc)) from None
    print(f"exported: {out}")
    return 0


def setup_export(p: argparse.ArgumentParser) -> None:
    """Arguments of ``sknn-mnist export``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("out_file", metavar="OUT_FILE", help="the ONNX file to write (.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT_FILE")
    add_trust_pickle(p)
    p.set_defaults(func=cmd_export)
