"""``sknn-mnist compare``: grid-search the models, choose the best by CV, test them."""

from __future__ import annotations

import argparse
import time
from datetime import datetime
from pathlib import Path

from ..study.models import DEFAULT_MODELS, MODEL_NAMES
from .common import (
    CLIError,
    add_dask_args,
    add_dataset_args,
    add_quiet,
    add_run_args,
    check_dataset_name,
    check_output_dir,
    check_output_file,
    cv_folds,
    note,
    user_errors,
    write_errors,
)

HELP = "grid-search the models, choose the best by CV, test them"
DESCRIPTION = (
    "Grid-search each model on the training set (stratified, shuffled K-fold CV), choose "
    "the best by cross-validation on the same rows and folds for every model, refit every "
    "model on the whole training set and test it once; print the table and write "
    "CSV/Markdown/HTML reports, plots and the best model into --out. The plan (rows, grid "
    "candidates x folds = fits) is printed before any training.")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist compare``."""
    add_dataset_args(p, required=False)
    p.add_argument("--quick", action="store_true",
                   help="tiny grids and at most 10000 training rows: a smoke test (measured "
                   "times: docs/compare.md, 'Measured times')")
    p.add_argument("--out", metavar="DIR",
                   help="output folder, created if missing (not the folders above it) "
                   "(default: ./sknn-mnist-compare-DATASET-TIMESTAMP)")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out folder")
    add_run_args(p, n_jobs_help="fits run at once; the torch models use 1 on CUDA")
    add_dask_args(p)
    p.add_argument("--cv", type=cv_folds, default=3, metavar="K", help="CV folds (default: 3)")
    p.add_argument("--scoring", default="accuracy",
                   help="CV scoring, used to choose the best model (default: accuracy)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated subset of {', '.join(MODEL_NAMES)} (default: "
                   f"{','.join(DEFAULT_MODELS)})")
    p.add_argument("--no-learning-curve", action="store_true",
                   help="skip the extra MLP fit (10%% of the training rows held out) that "
                   "draws the learning curve with validation accuracy per epoch")
    add_quiet(p)


def check_models(text: str) -> list[str]:
    """The model names of ``--models``: known, at least one, none twice."""
    models = [m.strip() for m in text.split(",") if m.strip()]
    if not models:
        raise CLIError(f"--models {text!r} names no model; e.g. --models {','.join(MODEL_NAMES)}")
    for m in models:
        if m not in MODEL_NAMES:
            raise CLIError(f"unknown model {m!r}; known models: {', '.join(MODEL_NAMES)}")
    if len(set(models)) < len(models):
        raise CLIError(f"--models {text!r} names a model twice")
    return models


def default_out(dataset: str) -> Path:
    """``./sknn-mnist-compare-DATASET-TIMESTAMP``, made unique with a ``-2``, ``-3``..."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path.cwd() / f"sknn-mnist-compare-{dataset}-{stamp}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def run(args: argparse.Namespace) -> int:
    """Plan, run and report the comparison; save the best model."""
    models = check_models(args.models)
    check_dataset_name(args.dataset)
    out = check_output_dir(args.out or default_out(args.dataset), overwrite=args.overwrite)
    model_path = check_output_file(out / "best-model.skops", overwrite=True, what="model file")

    # numpy, scikit-learn and torch take seconds to import: only now that the arguments
    # are checked (`--help` and argument errors stay instant).
    from ..io.persistence import save_model
    from ..study.compare import compare
    from ..study.plan import plan_comparison
    from ..study.reports import comparison_report
    from . import runtime

    runtime.check_device(args.device)
    runtime.check_scoring(args.scoring)
    train = runtime.load_split(args, "train")
    test = runtime.load_split(args, "test")
    with runtime.row_errors():
        plan = plan_comparison(train.target, models=models, quick=args.quick, cv=args.cv,
                               max_train=args.max_train,
                               random_state=args.random_state).validate()
    note(args, f"{plan.describe()}\n  {runtime.default_jobs(args)}")
    start = time.perf_counter()
    with runtime.run_context(args, work=plan.n_fits) as context, \
            runtime.progress_bar(args, plan.n_fits, "compare") as bar, user_errors():
        result = compare(train.data, train.target, test.data, test.target, plan=plan,
                         context=context.replace(progress=bar), scoring=args.scoring,
                         device=args.device,
                         dataset=args.dataset, image_shape=tuple(train.images.shape[1:]),
                         learning_curve=not args.no_learning_curve)
    elapsed = time.perf_counter() - start
    best = result.best
    # The model first: it took the time to make; the report can be made again from it.
    with write_errors("model file", model_path):
        save_model(best.estimator, model_path, dataset=args.dataset,
                   test_score=best.test_accuracy, cv_score=best.selection_cv_mean,
                   overwrite=True,
                   metadata={"best_params": {k: repr(v) for k, v in best.best_params.items()},
                             "selection": "best selection CV score (same rows and folds "
                                          "for every model); test accuracy never used to "
                                          "choose"})
    with write_errors("report in", out):
        written = comparison_report(result, out).write(out, stem="compare")
    print(result)
    print(f"\nbest: {best.name}, chosen by selection CV {args.scoring} "
          f"{best.selection_cv_mean:.4f} ({result.selection_rows} rows, {result.folds}); "
          f"test accuracy {best.test_accuracy:.4f}; {elapsed:.1f} s in all")
    print(f"report: {written['html']} (also {written['md'].name}, {written['csv'].name})")
    print(f"best model: {model_path}")
    return 0
