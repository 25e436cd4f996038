"""``sknn-mnist grid-search``: grid-search one model."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from .common import (
    CLIError,
    add_dask_args,
    add_dataset_args,
    add_model_arg,
    add_quiet,
    add_run_args,
    check_dataset_name,
    check_output_dir,
    cv_folds,
    first_line,
    note,
    user_errors,
)
from .params import check_grid

HELP = "grid-search one model"
DESCRIPTION = (
    "Grid search with K-fold CV (stratified, shuffled, seeded by --random-state: the folds "
    "compare uses) on the training set (the SVC on a stratified subsample); prints every "
    "candidate and the best.")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist grid-search``."""
    add_model_arg(p)
    add_dataset_args(p, required=False)
    p.add_argument("--param-grid", metavar="FILE",
                   help='JSON object of lists, e.g. {"C": [1, 10], "gamma": ["scale", 0.02]}; '
                   "tuples as lists: {\"hidden_layer_sizes\": [[100], [256, 128]]} "
                   "(default: the built-in grid)")
    p.add_argument("--quick", action="store_true", help="the tiny built-in grid")
    p.add_argument("--cv", type=cv_folds, default=3, metavar="K", help="folds (default: 3)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report and plot into DIR")
    add_run_args(p, n_jobs_help="fits run at once; a torch model uses 1 on CUDA")
    add_dask_args(p)
    add_quiet(p)


#: Largest --param-grid file read (a grid is a few hundred bytes).
MAX_GRID_BYTES = 2**20
#: Deepest nesting of a --param-grid file: an object of lists of tuples is 3 levels.
MAX_GRID_DEPTH = 8
#: Largest integer magnitude in a grid: beyond it scikit-learn's float arithmetic overflows.
_MAX_INT = 2**63


def _too_large(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return any(_too_large(v) for v in value)
    return isinstance(value, int) and abs(value) >= _MAX_INT


def read_grid_file(path: str) -> dict[str, list[Any]]:
    """Read and check a --param-grid JSON file (no scikit-learn needed: instant errors).

    A regular file of at most :data:`MAX_GRID_BYTES`, nested at most :data:`MAX_GRID_DEPTH`
    levels: a FIFO, a device or a deep file is refused without blocking or recursing.
    """
    from ..io.archive import ArchiveError, ArchiveLimits, check_json
    from ..io.inputs import NotARegularFileError, TooLargeFileError, read_bounded

    try:
        data = read_bounded(path, MAX_GRID_BYTES, "parameter grid file")
        check_json(data, f"--param-grid {path}", ArchiveLimits(max_json_depth=MAX_GRID_DEPTH))
        raw = json.loads(data)
    except FileNotFoundError:
        raise CLIError(f"parameter grid file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"--param-grid {path} is a folder; give a JSON file") from None
    except (NotARegularFileError, TooLargeFileError, ArchiveError) as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # not JSON, not UTF-8, an integer of thousands of digits
        raise CLIError(f"{path} is not valid JSON: {first_line(exc)}") from None
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) and v
                                                        for v in raw.values()):
        raise CLIError(f"{path} must hold a JSON object of non-empty lists, "
                       'e.g. {"C": [1, 10], "gamma": ["scale"]}')
    for key, values in raw.items():
        if _too_large(values):
            raise CLIError(f"{path}: a value of {key!r} is an integer too large to use")
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
    check_dataset_name(args.dataset)
    if raw_grid is not None:
        check_grid(args.model, raw_grid)

    # numpy, scikit-learn and torch take seconds to import: only now that the arguments
    # are checked (`--help` and argument errors stay instant).
    from sklearn.model_selection import ParameterGrid

    from ..study.compare import describe_folds, format_params, format_table, grid_search, make_folds
    from ..study.models import make_model, param_grid
    from ..study.plan import plan_comparison
    from ..study.reports import grid_search_report
    from . import runtime

    runtime.check_device(args.device)
    runtime.check_scoring(args.scoring)
    note(args, runtime.default_jobs(args))
    grid = (param_grid(args.model, quick=args.quick) if raw_grid is None else with_pipeline_keys(
        raw_grid, runtime.model_params(args.model, dict.fromkeys(raw_grid))))
    model = make_model(args.model, random_state=args.random_state, device=args.device)
    runtime.check_candidates(model, grid, args.dataset)
    n_jobs = runtime.search_jobs(args, work=len(ParameterGrid(grid)) * args.cv)
    train = runtime.load_split(args, "train")
    with runtime.row_errors():
        # One model's search: its grid and subsample rule; no quick cap on the rows.
        plan = plan_comparison(train.target, models=[args.model], quick=args.quick,
                               cv=args.cv, max_train=args.max_train,
                               param_grids={args.model: grid},
                               random_state=args.random_state, quick_max_train=None).validate()
    X, y = plan.grid_data(args.model, *plan.training_data(train.data, train.target))
    folds = make_folds(args.cv, args.random_state)
    desc = f"grid search of {args.model} on {len(y)} rows"
    with runtime.run_context(args, work=plan[args.model].grid_fits) as context, \
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
