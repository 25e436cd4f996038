"""``sknn-mnist grid-search``: grid-search one model."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .common import (
    CLIError,
    add_dask_args,
    add_dataset_args,
    add_model_arg,
    add_quiet,
    add_run_args,
    check_output_dir,
    cv_folds,
    user_errors,
)

HELP = "grid-search one model"
DESCRIPTION = (
    "Grid search with K-fold CV (stratified, shuffled, seeded by --random-state: the folds "
    "compare uses) on the training set (the SVC on a stratified subsample); prints every "
    "candidate and the best.")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist grid-search``."""
    add_model_arg(p)
    add_dataset_args(p)
    p.add_argument("--param-grid", metavar="FILE",
                   help='JSON object of lists, e.g. {"C": [1, 10], "gamma": ["scale", 0.02]}; '
                   "tuples as lists: {\"hidden_layer_sizes\": [[100], [256, 128]]} "
                   "(default: the built-in grid)")
    p.add_argument("--quick", action="store_true", help="the tiny built-in grid")
    p.add_argument("--cv", type=cv_folds, default=3, metavar="K", help="folds (default: 3)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report and plot into DIR")
    add_run_args(p, n_jobs_help="fits run at once (default: -1, all cores; the MLP uses 1 "
                 "on CUDA)")
    add_dask_args(p)
    add_quiet(p)


def read_grid_file(path: str) -> dict[str, list[Any]]:
    """Read and check a --param-grid JSON file (no scikit-learn needed: instant errors)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CLIError(f"parameter grid file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"--param-grid {path} is a folder; give a JSON file") from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) and v
                                                        for v in raw.values()):
        raise CLIError(f"{path} must hold a JSON object of non-empty lists, "
                       'e.g. {"C": [1, 10], "gamma": ["scale"]}')
    # JSON has no tuples: hidden_layer_sizes=[[100], [256, 128]] means tuples of ints.
    return {k: [tuple(v) if isinstance(v, list) else v for v in values]
            for k, values in raw.items()}


def with_pipeline_keys(grid: Mapping[str, list[Any]],
                       keys: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The user's grid under the pipeline keys ``keys`` (short name to ``clf__name``,
    in the grid's order)."""
    return {full: grid[short] for short, full in zip(grid, keys, strict=True)}


def run(args: argparse.Namespace) -> int:
    """Search; print every candidate and the best; write the report with --out."""
    out = check_output_dir(args.out) if args.out else None
    raw_grid = read_grid_file(args.param_grid) if args.param_grid else None

    # numpy, scikit-learn and torch take seconds to import: only now that the arguments
    # are checked (`--help` and argument errors stay instant).
    from ..study.compare import describe_folds, format_params, format_table, grid_search, make_folds
    from ..study.models import make_model, param_grid
    from ..study.plan import plan_comparison
    from ..study.reports import grid_search_report
    from . import runtime

    runtime.check_dataset(args.dataset)
    runtime.check_device(args.device)
    grid = (param_grid(args.model, quick=args.quick) if raw_grid is None else with_pipeline_keys(
        raw_grid, runtime.model_params(args.model, dict.fromkeys(raw_grid))))
    n_jobs = runtime.search_jobs(args)
    train = runtime.load_split(args, "train")
    with runtime.row_errors():
        # One model's search: its grid and subsample rule; no quick cap on the rows.
        plan = plan_comparison(train.target, models=[args.model], quick=args.quick,
                               cv=args.cv, max_train=args.max_train,
                               param_grids={args.model: grid},
                               random_state=args.random_state, quick_max_train=None).validate()
    X, y = plan.grid_data(args.model, *plan.training_data(train.data, train.target))
    model = make_model(args.model, random_state=args.random_state, device=args.device)
    folds = make_folds(args.cv, args.random_state)
    desc = f"grid search of {args.model} on {len(y)} rows"
    with runtime.run_context(args) as context, \
            runtime.progress_bar(args, plan[args.model].grid_fits, desc) as bar, user_errors():
        search = grid_search(model, grid, X, y, scoring=args.scoring, n_jobs=n_jobs, cv=folds,
                             context=context.replace(progress=bar))
    report = grid_search_report(search, folds, name=args.model, dataset=args.dataset,
                                n_rows=len(y), scoring=args.scoring, out_dir=out)
    print(format_table(report.table("grid").rows))
    print(f"\nbest: {format_params(search.best_params_)} "
          f"(mean CV {args.scoring} {search.best_score_:.4f}, {len(y)} rows, "
          f"{describe_folds(folds)})")
    if out is not None:
        written = report.write(out, stem="grid-search")
        print(f"report: {written['html']}")
    return 0
