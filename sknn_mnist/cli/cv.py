"""``sknn-mnist cv``: cross-validate one model."""

from __future__ import annotations

import argparse

from .common import (
    add_dask_args,
    add_dataset_args,
    add_model_arg,
    add_params_arg,
    add_quiet,
    add_run_args,
    check_dataset_name,
    check_output_dir,
    cv_folds,
    note,
    parse_params,
    user_errors,
)
from .params import check_params

HELP = "cross-validate one model"
DESCRIPTION = (
    "K-fold cross-validation (stratified, shuffled, seeded by --random-state) of a model on "
    "the training set: per-fold scores and timings; with --out, CSV/Markdown/HTML reports.")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist cv``."""
    add_model_arg(p)
    add_dataset_args(p, required=False)
    p.add_argument("--cv", type=cv_folds, default=5, metavar="K", help="folds (default: 5)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report into DIR")
    add_run_args(p, n_jobs_help="folds fitted at once; a torch model uses 1 on CUDA")
    add_dask_args(p)
    add_params_arg(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    """Cross-validate; print the folds and the summary; write the report with --out."""
    out = check_output_dir(args.out) if args.out else None
    params = parse_params(args.params)
    check_dataset_name(args.dataset)
    check_params(args.model, params)

    # numpy, scikit-learn and torch take seconds to import: only now that the arguments
    # are checked (`--help` and argument errors stay instant).
    from ..study.compare import format_table
    from ..study.reports import cross_validation_report
    from . import runtime

    runtime.check_device(args.device)
    runtime.check_scoring(args.scoring)
    note(args, runtime.default_jobs(args))
    params = runtime.model_params(args.model, params)
    model = runtime.make_pipeline(args, params)
    n_jobs = runtime.search_jobs(args, work=args.cv)
    X, y = runtime.train_rows(args, cv=args.cv)
    desc = f"{args.cv}-fold CV of {args.model} on {len(y)} rows"
    with runtime.run_context(args, work=args.cv) as context, \
            runtime.progress_bar(args, args.cv, desc) as bar, user_errors():
        # return_train_score=False: one scorer call (one tick) per fitted fold.
        report = cross_validation_report(
            model, X, y, cv=args.cv, scoring=args.scoring, n_jobs=n_jobs, name=args.model,
            dataset=args.dataset, out_dir=out, random_state=args.random_state,
            return_train_score=False, context=context.replace(progress=bar))
    print(format_table(report.table("folds").rows))
    print()
    print(format_table(report.table("summary").rows))
    if out is not None:
        written = report.write(out, stem="cv")
        print(f"\nreport: {written['html']}")
    return 0
