"""The ``sknn-mnist`` command line (also ``python -m sknn_mnist``).

Subcommands: ``compare``, ``train``, ``evaluate``, ``cv``, ``grid-search``, ``predict``.
Run ``sknn-mnist SUBCOMMAND --help`` for each one's options.

Exit status: 0 on success; 2, with one line on stderr and no traceback, for a usage or input
error (unknown dataset or model, malformed ``param=value``, unknown parameter, missing or
foreign model file, wrong number of columns...); 130 when interrupted.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import csv
import json
import re
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._version import __version__
from .models import MODEL_NAMES, make_model, param_grid, pipeline_params

__all__ = ["main", "parse_params"]

_QUICK_MAX_TRAIN = 10_000
_NAME = re.compile(r"[A-Za-z_]\w*")
_BARE_WORD = re.compile(r"[A-Za-z_][\w.\-]*")


class CLIError(Exception):
    """A user error: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), so every user error reads the same."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- argument helpers ---------------------------------------------------------------------------
def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``name=value`` items; values are Python literals, bare words are strings.

    ``hidden_layer_sizes=(256,128)`` gives a tuple, ``max_iter=5`` an int,
    ``activation=tanh`` the string ``"tanh"``.

    Raises
    ------
    CLIError
        An item without ``=``, with an invalid name, or with a value that is neither a
        literal nor a bare word.
    """
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise CLIError(f"malformed parameter {item!r}: expected name=value, e.g. max_iter=5")
        text = text.strip()
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            if not _BARE_WORD.fullmatch(text):
                raise CLIError(
                    f"malformed parameter {item!r}: the value is not a Python literal "
                    "(quote strings with spaces, write tuples as (256,128))") from None
            value = text
        params[name] = value
    return params


def _model_params(model: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return pipeline_params(make_model(model), params)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _make(args: argparse.Namespace, params: dict[str, Any], **kwargs: Any) -> Any:
    """Build the pipeline and validate its parameter values now, not minutes into a fit."""
    model = make_model(args.model, random_state=args.random_state, device=args.device,
                       **kwargs)
    model.set_params(**params)
    with _user_errors():
        for _, step in model.steps:
            if hasattr(step, "_validate_params"):
                step._validate_params()
    return model


def _check_device(device: str) -> None:
    from ._device import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _load(args: argparse.Namespace, subset: str) -> Any:
    from .datasets import DatasetUnavailableError, load_dataset

    try:
        return load_dataset(args.dataset, subset=subset, data_home=args.data_home,
                            idx_dir=args.idx_dir, progress=not args.quiet)
    except DatasetUnavailableError as exc:
        tried = "; ".join(getattr(exc, "attempts", None) or [])
        raise CLIError(f"dataset {args.dataset!r} is not available ({tried}); use --idx-dir "
                       "DIR (a folder with the four IDX .gz files) or --data-home DIR (a "
                       "filled cache), or go online once") from None
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None


def _check_dataset(name: str) -> None:
    from .datasets import get_spec

    try:
        get_spec(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _train_split(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, Any]:
    from .compare import stratified_subsample

    train = _load(args, "train")
    X, y = stratified_subsample(train.data, train.target,  # noqa: N806
                                getattr(args, "max_train", None), args.random_state)
    return X, y, train


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _user_errors():
    """Turn scikit-learn's parameter validation errors raised during fit into CLIError."""
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        yield
    except InvalidParameterError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None


class _ProgressScorer:
    """A scorer that ticks a tqdm bar per call: progress for in-process CV and grid search."""

    def __init__(self, scoring: str, bar: Any):
        from sklearn.metrics import get_scorer

        self.scorer = get_scorer(scoring)
        self.name = scoring
        self.bar = bar

    def __repr__(self) -> str:  # reports name the scoring, not this wrapper
        return self.name

    __str__ = __repr__

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:  # noqa: N803
        score = self.scorer(estimator, X, y)
        self.bar.update()
        return score


def _scorer_and_bar(args: argparse.Namespace, total: int, desc: str):
    from tqdm.auto import tqdm

    # Ticks only happen in this process; with parallel workers the bar just shows the task.
    bar = tqdm(total=total if args.n_jobs == 1 else None, desc=desc, leave=False,
               disable=args.quiet, unit="fit")
    scoring = _ProgressScorer(args.scoring, bar) if args.n_jobs == 1 else args.scoring
    return scoring, bar


@contextlib.contextmanager
def _mlp_progress(model: Any, args: argparse.Namespace):
    """Per-epoch lines of the MLP on stderr (stdout stays for results) unless --quiet."""
    clf = model.named_steps["clf"]
    if args.quiet or args.model != "mlp" or clf.verbose:
        yield
        return
    clf.set_params(verbose=1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        clf.set_params(verbose=0)  # the saved model stays silent, as the user asked


# -- subcommands -------------------------------------------------------------------------------
def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare
    from .persistence import save_model
    from .reports import comparison_report

    _check_dataset(args.dataset)
    _check_device(args.device)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in MODEL_NAMES:
            raise CLIError(f"unknown model {m!r}; known models: {', '.join(MODEL_NAMES)}")
    out = Path(args.out) if args.out else _default_out(args.dataset)
    if out.exists() and any(out.iterdir()) and not args.overwrite:
        raise CLIError(f"output folder {out} is not empty; pass --overwrite or another --out")
    train = _load(args, "train")
    test = _load(args, "test")
    X, y = train.data, train.target  # noqa: N806
    max_train = args.max_train
    if max_train is None and args.quick and len(y) > _QUICK_MAX_TRAIN:
        max_train = _QUICK_MAX_TRAIN
        _note(args, f"--quick: training on a stratified subsample of {max_train} rows")
    from .compare import stratified_subsample

    X, y = stratified_subsample(X, y, max_train, args.random_state)  # noqa: N806
    start = time.perf_counter()
    with _user_errors():
        result = compare(X, y, test.data, test.target, models=models, quick=args.quick,
                         cv=args.cv, scoring=args.scoring, n_jobs=args.n_jobs,
                         device=args.device, random_state=args.random_state,
                         dataset=args.dataset, image_shape=tuple(train.images.shape[1:]),
                         progress=_progress(args),
                         learning_curve=not args.no_learning_curve)
    elapsed = time.perf_counter() - start
    report = comparison_report(result, out)
    written = report.write(out, stem="compare")
    best = result.best
    model_path = save_model(best.estimator, out / "best-model.joblib", dataset=args.dataset,
                            test_score=best.test_accuracy, overwrite=True,
                            metadata={"best_params": {k: repr(v)
                                                      for k, v in best.best_params.items()}})
    print(result)
    print(f"\nbest: {best.name} (test accuracy {best.test_accuracy:.4f}); "
          f"{elapsed:.1f} s in all")
    print(f"report: {written['html']} (also {written['md'].name}, {written['csv'].name})")
    print(f"best model: {model_path}")
    return 0


def _default_out(dataset: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path.cwd() / f"sknn-mnist-compare-{dataset}-{stamp}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    from sklearn.metrics import accuracy_score

    from .persistence import save_model

    _check_dataset(args.dataset)
    _check_device(args.device)
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} already exists; pass --overwrite to replace it")
    params = _model_params(args.model, parse_params(args.params))
    model = _make(args, params, n_jobs=args.n_jobs)
    X, y, _ = _train_split(args)  # noqa: N806
    test = _load(args, "test")
    _note(args, f"training {args.model} on {len(y)} rows of {args.dataset}...")
    start = time.perf_counter()
    with _user_errors(), _mlp_progress(model, args):
        model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    accuracy = float(accuracy_score(test.target, model.predict(test.data)))
    save_model(model, out, dataset=args.dataset, test_score=accuracy, overwrite=args.overwrite,
               metadata={"fit_seconds": fit_seconds, "n_train": int(len(y)),
                         "cli_params": {k: repr(v) for k, v in params.items()}})
    print(f"test accuracy: {accuracy:.4f}")
    print(f"fit seconds: {fit_seconds:.2f}")
    print(f"saved: {out}")
    return 0


def _load_model_file(path: str) -> tuple[Any, dict[str, Any]]:
    from .persistence import ModelVersionWarning, NotASknnMnistModelError, load_model

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelVersionWarning)
            model, meta = load_model(path, return_metadata=True)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except NotASknnMnistModelError as exc:
        raise CLIError(str(exc)) from None
    for w in caught:
        if issubclass(w.category, ModelVersionWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    return model, meta


def _n_features(model: Any) -> int | None:
    return getattr(model, "n_features_in_", None)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from sklearn.metrics import accuracy_score, classification_report

    model, meta = _load_model_file(args.model_file)
    _check_dataset(args.dataset)
    test = _load(args, "test")
    expected = _n_features(model)
    if expected is not None and expected != test.data.shape[1]:
        raise CLIError(f"the model expects {expected} features but dataset {args.dataset!r} "
                       f"has {test.data.shape[1]}; was it trained on "
                       f"{meta.get('dataset') or 'another dataset'}?")
    start = time.perf_counter()
    y_pred = model.predict(test.data)
    seconds = time.perf_counter() - start
    print(f"accuracy: {accuracy_score(test.target, y_pred):.4f}")
    print(f"predict seconds: {seconds:.2f} ({len(y_pred)} rows)")
    print()
    print(classification_report(test.target, y_pred, digits=4, zero_division=0))
    return 0


def _limit_mlp_jobs(args: argparse.Namespace) -> None:
    """One MLP fit at a time on a GPU (parallel fits would fight over it), as in compare."""
    from .compare import mlp_search_n_jobs

    if args.model == "mlp":
        args.n_jobs, _ = mlp_search_n_jobs(args.n_jobs, args.device)


def _cmd_cv(args: argparse.Namespace) -> int:
    from .reports import cross_validation_report

    _check_dataset(args.dataset)
    _check_device(args.device)
    params = _model_params(args.model, parse_params(args.params))
    model = _make(args, params)
    _limit_mlp_jobs(args)
    X, y, _ = _train_split(args)  # noqa: N806
    n_fits = args.cv * 2  # the progress scorer runs on the test and the train fold
    scoring, bar = _scorer_and_bar(args, n_fits, f"{args.cv}-fold CV of {args.model}")
    try:
        with _user_errors():
            report = cross_validation_report(
                model, X, y, cv=args.cv, scoring=scoring, n_jobs=args.n_jobs,
                name=args.model, dataset=args.dataset, out_dir=args.out,
                random_state=args.random_state)
    finally:
        bar.close()
    from .compare import format_table

    print(format_table(report.table("folds").rows))
    print()
    print(format_table(report.table("summary").rows))
    if args.out:
        written = report.write(args.out, stem="cv")
        print(f"\nreport: {written['html']}")
    return 0


def _read_grid(path: str | None, model: str, quick: bool) -> dict[str, list[Any]]:
    if path is None:
        return param_grid(model, quick=quick)
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CLIError(f"parameter grid file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CLIError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, list) and v
                                                        for v in raw.values()):
        raise CLIError(f"{path} must hold a JSON object of non-empty lists, "
                       'e.g. {"C": [1, 10], "gamma": ["scale"]}')
    # JSON has no tuples: hidden_layer_sizes=[[100], [256, 128]] means tuples of ints.
    grid = {k: [tuple(v) if isinstance(v, list) else v for v in values]
            for k, values in raw.items()}
    keys = _model_params(model, {k: None for k in grid})
    return {full: grid[short] for short, full in zip(grid, keys, strict=True)}


def _cmd_grid_search(args: argparse.Namespace) -> int:
    from sklearn.model_selection import ParameterGrid, StratifiedKFold

    from .compare import _search, format_params, format_table, stratified_subsample
    from .models import get_model_spec
    from .plots import plot_cv_param_scores
    from .reports import Report, Table, _cv_results_rows

    _check_dataset(args.dataset)
    _check_device(args.device)
    grid = _read_grid(args.param_grid, args.model, args.quick)
    X, y, _ = _train_split(args)  # noqa: N806
    spec = get_model_spec(args.model)
    subsample = spec.quick_grid_subsample if args.quick else spec.grid_subsample
    X, y = stratified_subsample(X, y, subsample, args.random_state)  # noqa: N806
    _limit_mlp_jobs(args)
    model = make_model(args.model, random_state=args.random_state, device=args.device)
    n_candidates = len(ParameterGrid(grid))
    scoring, bar = _scorer_and_bar(args, n_candidates * args.cv,
                                   f"grid search of {args.model}: {n_candidates} candidates")
    try:
        with _user_errors():
            search = _search(model, grid, X, y, scoring=scoring, n_jobs=args.n_jobs,
                             cv=StratifiedKFold(args.cv, shuffle=True,
                                                random_state=args.random_state))
    finally:
        bar.close()
    rows = _cv_results_rows(search.cv_results_)
    print(format_table(rows))
    print(f"\nbest: {format_params(search.best_params_)} "
          f"(mean CV {args.scoring} {search.best_score_:.4f}, {len(y)} rows)")
    if args.out:
        out = Path(args.out)
        image = plot_cv_param_scores(search.cv_results_, out / f"{args.model}-cv-params.png",
                                     score_name=args.scoring)
        report = Report(f"Grid search of {args.model} on {args.dataset}",
                        [Table("grid", f"{args.cv}-fold CV on {len(y)} rows", rows)],
                        {"Mean CV score per parameter": image},
                        [f"best: {format_params(search.best_params_)}"],
                        source=search.cv_results_)
        written = report.write(out, stem="grid-search")
        print(f"report: {written['html']}")
    return 0


def _read_rows(path: Path) -> np.ndarray:
    if not path.is_file():
        raise CLIError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            rows = np.load(path, allow_pickle=False)
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8") as fh:
                lines = [r for r in csv.reader(fh) if r]
            if lines and not _is_number(lines[0][0]):
                lines = lines[1:]  # a header row
            rows = np.array(lines, dtype=float)
        else:
            raise CLIError(f"{path}: unsupported file type {suffix!r}; use .npy or .csv")
    except ValueError as exc:
        raise CLIError(f"{path}: cannot read pixel rows ({exc})") from None
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    elif rows.ndim > 2:
        rows = rows.reshape(rows.shape[0], -1)  # a stack of images
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cmd_predict(args: argparse.Namespace) -> int:
    model, _ = _load_model_file(args.model_file)
    expected = _n_features(model)
    batches = [(path, _read_rows(Path(path))) for path in args.files]
    for path, rows in batches:
        if expected is not None and rows.shape[1] != expected:
            raise CLIError(f"{path} has {rows.shape[1]} columns but the model expects "
                           f"{expected} (one row of pixels per image)")
    for _, rows in batches:
        if len(rows):
            for label in model.predict(rows):
                print(label)
    return 0


# -- parser -------------------------------------------------------------------------------------
def _add_dataset_args(p: argparse.ArgumentParser, *, required: bool = True,
                      train: bool = True) -> None:
    from .datasets import list_datasets

    names = ", ".join(list_datasets())
    p.add_argument("--dataset", required=required, default=None if required else "digits",
                   metavar="NAME", help=f"dataset: {names}"
                   + ("" if required else " (default: digits)"))
    p.add_argument("--data-home", metavar="DIR", help="dataset cache folder")
    p.add_argument("--idx-dir", metavar="DIR",
                   help="folder with the four IDX .gz files (offline MNIST-style data)")
    if train:
        p.add_argument("--max-train", type=_positive_int, metavar="N",
                       help="train on a stratified subsample of N training rows")
        p.add_argument("--random-state", type=int, default=0, metavar="SEED",
                       help="seed of the models, folds and subsamples (default: 0)")


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def _add_run_args(p: argparse.ArgumentParser, *, n_jobs_help: str) -> None:
    p.add_argument("--n-jobs", type=int, default=-1, metavar="N", help=n_jobs_help)
    p.add_argument("--device", default="auto",
                   help="the MLP's device: auto (CUDA if available), cpu, cuda, cuda:N")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _cv_folds(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"--cv needs at least 2 folds, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``sknn-mnist`` argument parser."""
    parser = _Parser(prog="sknn-mnist",
                     description="Compare, train, evaluate and use digit classifiers: a "
                     "PyTorch MLP (skorch), an RBF SVC and a random forest.")
    parser.add_argument("--version", action="version", version=f"sknn_mnist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    models = ", ".join(MODEL_NAMES)
    params_help = ("classifier parameters as name=value, values as Python literals, e.g. "
                   "hidden_layer_sizes=(256,128) max_iter=5 activation=tanh")

    p = sub.add_parser("compare", help="grid-search, refit and test the three models",
                       description="Grid-search each model on the training set (stratified "
                       "K-fold CV), refit the best on the whole training set, test it on the "
                       "test set; print the table and write CSV/Markdown/HTML reports, plots "
                       "and the best model into --out.")
    _add_dataset_args(p, required=False)
    p.add_argument("--quick", action="store_true",
                   help="tiny grids (and at most 10000 training rows): a smoke test, or the "
                   "digits quick start in about a minute")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: ./sknn-mnist-compare-DATASET-TIMESTAMP)")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out folder")
    _add_run_args(p, n_jobs_help="grid-search fits run at once (-1: all cores; the MLP "
                  "uses 1 on CUDA) (default: -1)")
    p.add_argument("--cv", type=_cv_folds, default=3, metavar="K", help="CV folds (default: 3)")
    p.add_argument("--scoring", default="accuracy", help="CV scoring (default: accuracy)")
    p.add_argument("--models", default=",".join(MODEL_NAMES),
                   help=f"comma-separated subset of {models} (default: all)")
    p.add_argument("--no-learning-curve", action="store_true",
                   help="skip the extra MLP fit (10%% of the training rows held out) that "
                   "draws the learning curve with validation accuracy per epoch")
    _add_common(p)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("train", help="train one model and save it",
                       description="Train a model on the training set, print its test "
                       "accuracy and save it (joblib, with metadata).")
    p.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="MODEL",
                   help=f"one of {models}")
    _add_dataset_args(p)
    p.add_argument("--out", required=True, metavar="FILE", help="model file (.joblib)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    _add_run_args(p, n_jobs_help="the random forest's n_jobs (default: -1, all cores)")
    p.add_argument("params", nargs="*", metavar="param=value", help=params_help)
    _add_common(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="test accuracy and classification report of a model",
                       description="Print a saved model's accuracy and classification report "
                       "on a dataset's test set.")
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    _add_dataset_args(p, train=False)
    _add_common(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("cv", help="cross-validate one model",
                       description="K-fold cross-validation of a model on the training set: "
                       "per-fold scores and timings; with --out, CSV/Markdown/HTML reports.")
    p.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="MODEL",
                   help=f"one of {models}")
    _add_dataset_args(p)
    p.add_argument("--cv", type=_cv_folds, default=5, metavar="K", help="folds (default: 5)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report into DIR")
    _add_run_args(p, n_jobs_help="folds fitted at once (default: -1, all cores; "
                  "the MLP uses 1 on CUDA)")
    p.add_argument("params", nargs="*", metavar="param=value", help=params_help)
    _add_common(p)
    p.set_defaults(func=_cmd_cv)

    p = sub.add_parser("grid-search", help="grid-search one model",
                       description="Grid search with K-fold CV on the training set (the SVC "
                       "on a stratified subsample); prints every candidate and the best.")
    p.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="MODEL",
                   help=f"one of {models}")
    _add_dataset_args(p)
    p.add_argument("--param-grid", metavar="FILE",
                   help='JSON object of lists, e.g. {"C": [1, 10]} (default: the built-in grid)')
    p.add_argument("--quick", action="store_true", help="the tiny built-in grid")
    p.add_argument("--cv", type=_cv_folds, default=3, metavar="K", help="folds (default: 3)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report and plot into DIR")
    _add_run_args(p, n_jobs_help="fits run at once (default: -1, all cores; the MLP uses 1 "
                  "on CUDA)")
    _add_common(p)
    p.set_defaults(func=_cmd_grid_search)

    p = sub.add_parser("predict", help="predict the labels of pixel rows",
                       description="Print one predicted label per row of each FILE (.npy, or "
                       ".csv of pixel rows with an optional header), in order.")
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("files", nargs="+", metavar="FILE", help=".npy or .csv pixel rows")
    _add_common(p)
    p.set_defaults(func=_cmd_predict)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 2 on a user error, 130 when interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"sknn-mnist {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sknn-mnist {args.command}: interrupted", file=sys.stderr)
        return 130
