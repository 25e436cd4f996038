"""``sknn-mnist export``: a saved pipeline as an ONNX graph."""

from __future__ import annotations

import argparse

from .common import CLIError, add_trust_pickle, check_model_path, check_output_file

HELP = "export a saved pipeline to ONNX"
DESCRIPTION = (
    "Write a saved pipeline (scaler and MLP or CNN) as an ONNX graph with outputs 'label' "
    "and 'probabilities' (needs the onnx extra: pip install 'sknn_mnist[onnx]').")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist export``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("out_file", metavar="OUT_FILE", help="the ONNX file to write (.onnx)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT_FILE")
    add_trust_pickle(p)


def run(args: argparse.Namespace) -> int:
    """Write the ONNX graph of a saved pipeline."""
    out = check_output_file(args.out_file, overwrite=args.overwrite, what="ONNX file")
    check_model_path(args.model_file)
    # torch and onnx take seconds to import (onnx is an optional extra: its absence is a
    # one-line error, before the model is loaded): only now that the output is checked.
    try:
        from ..io.onnx import export_onnx
    except ImportError as exc:
        raise CLIError(str(exc)) from None
    from . import runtime

    model, _ = runtime.load_model_file(args.model_file, trust_pickle=args.trust_pickle)
    try:
        export_onnx(model, out, overwrite=args.overwrite)
    except ImportError as exc:  # onnx missing: the message says which extra to install
        raise CLIError(str(exc)) from None
    except TypeError as exc:  # a step or layer the export does not support
        raise CLIError(str(exc)) from None
    print(f"exported: {out}")
    return 0
