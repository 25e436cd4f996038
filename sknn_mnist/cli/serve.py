"""``sknn-mnist serve``: a local web page to try models with a mouse, a finger or a photo."""

from __future__ import annotations

import argparse
import sys

from .common import CLIError, add_trust_pickle, positive_int

HELP = "a local web page to try models by drawing or with photos"
DESCRIPTION = ("Serve a page where you draw a digit (or drop a photo of one, or of a "
               "number) and see each model's answer and probabilities as you draw. MODELs "
               "are model files or pretrained models (mnist-mlp, mnist-cnn); none: both "
               "pretrained models. Binds 127.0.0.1 unless --host says otherwise; Ctrl-C "
               "stops it.")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0..65535 (0: any free port), got {value}")
    return value


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist serve``."""
    p.add_argument("models", nargs="*", metavar="MODEL",
                   help="model files or pretrained models (default: mnist-mlp and mnist-cnn), "
                        "shown side by side")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 "
                        "makes the page reachable from the network)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0: any free)")
    p.add_argument("--max-upload-mb", type=positive_int, default=16, metavar="MB",
                   help="largest upload accepted, in MiB (default 16)")
    add_trust_pickle(p)


def run(args: argparse.Namespace) -> int:
    """Load the models (errors before anything is bound), then serve until Ctrl-C."""
    try:
        from ..serve import ServeLimits, load_served_models, serve
    except ImportError as exc:  # the serve extra is not installed
        raise CLIError(f"the page needs the serve extra: pip install 'sknn_mnist[serve]' "
                       f"({exc})") from None
    from ..io.pretrained import PretrainedModelError
    from .runtime import load_model_or_pretrained

    models = {}
    for spec in args.models or ["mnist-mlp", "mnist-cnn"]:
        model, _ = load_model_or_pretrained(spec, trust_pickle=args.trust_pickle)
        models[spec] = model
    try:
        served = load_served_models(models)
    except (TypeError, ValueError, PretrainedModelError) as exc:
        raise CLIError(str(exc)) from None

    def announce(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(f"serving {', '.join(m.name for m in served)} on http://{shown}:{port}/ "
              "(Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        serve(served, args.host, args.port, limits=ServeLimits(
            max_body=args.max_upload_mb * 2**20), ready=announce)
    except OSError as exc:
        raise CLIError(f"cannot serve on {args.host}:{args.port}: "
                       f"{exc.strerror or exc}") from None
    return 0
