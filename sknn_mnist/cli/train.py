"""``sknn-mnist train``: train one model, print its test accuracy, save it."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

from ..study.models import get_model_spec
from .common import (
    DEFAULT_DATASET,
    add_dataset_args,
    add_model_arg,
    add_params_arg,
    add_quiet,
    add_run_args,
    cap_jobs,
    check_dataset_name,
    check_output_file,
    note,
    parse_params,
    user_errors,
    write_errors,
)
from .params import check_params

HELP = "train one model and save it"
DESCRIPTION = ("Train a model on the training set, print its test accuracy and save it (with "
               "metadata).")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist train``."""
    add_model_arg(p)
    # None until run: the output says when the default was used.
    add_dataset_args(p, required=False, default=None,
                     default_help=f"default: {DEFAULT_DATASET}")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="model file (.skops; checked before training; its folder is "
                   "created if missing, not the folders above it)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    add_run_args(p, n_jobs_help="the random forest's n_jobs")
    add_params_arg(p)
    add_quiet(p)


@contextlib.contextmanager
def epoch_lines(model: Any, args: argparse.Namespace) -> Iterator[None]:
    """Per-epoch lines of a torch model on stderr (stdout stays for results) unless --quiet."""
    clf = model.named_steps["clf"]
    if args.quiet or not get_model_spec(args.model).uses_device or clf.verbose:
        yield
        return
    clf.set_params(verbose=1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        clf.set_params(verbose=0)  # the saved model stays silent, as the user asked


def run(args: argparse.Namespace) -> int:
    """Train, test once, save; a fit cut short by Ctrl-C saves nothing."""
    out = check_output_file(args.out, overwrite=args.overwrite, what="model file")
    params = parse_params(args.params)
    defaulted = args.dataset is None
    if defaulted:
        args.dataset = DEFAULT_DATASET
    check_dataset_name(args.dataset)
    check_params(args.model, params)

    # numpy, scikit-learn and torch take seconds to import: only now that the arguments
    # are checked (`--help` and argument errors stay instant).
    from sklearn.metrics import accuracy_score

    from ..io.persistence import save_model
    from . import runtime

    runtime.check_device(args.device)
    jobs = runtime.default_jobs(args)
    params = runtime.model_params(args.model, params)
    model = runtime.make_pipeline(args, params, n_jobs=cap_jobs(args.n_jobs))
    X, y = runtime.train_rows(args)
    test = runtime.load_split(args, "test")
    if get_model_spec(args.model).own_n_jobs:
        note(args, jobs)
    note(args, f"training {args.model} on {len(y)} rows of {args.dataset}...")
    start = time.perf_counter()
    with runtime.run_context(args) as context:
        with user_errors(), epoch_lines(model, args):
            model.fit(X, y)
        context.check()  # a half-trained model is never saved
    fit_seconds = time.perf_counter() - start
    with user_errors():
        accuracy = float(accuracy_score(test.target, model.predict(test.data)))
    with write_errors("model file", out):
        save_model(model, out, dataset=args.dataset, test_score=accuracy,
                   overwrite=args.overwrite,
                   metadata={"fit_seconds": fit_seconds, "n_train": int(len(y)),
                             "cli_params": {k: repr(v) for k, v in params.items()}})
    print(f"dataset: {args.dataset}" + (" (the default; --dataset NAME for another)"
                                        if defaulted else ""))
    print(f"test accuracy: {accuracy:.4f}")
    print(f"fit seconds: {fit_seconds:.2f}")
    print(f"saved: {out}")
    return 0
