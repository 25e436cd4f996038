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
import os
import re
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from .._version import __version__

# Only the standard library and light modules here: `--help` and argument errors must be
# instant. numpy, scikit-learn and torch are imported by the subcommand that needs them.
from ..study.interrupt import catch_sigint, raise_if_interrupted
from ..study.models import DEFAULT_MODELS, MODEL_NAMES, get_model_spec, param_grid, pipeline_params
from .model_commands import add_trust_pickle, setup_export, setup_info

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CLIError", "build_parser", "check_output_dir", "check_output_file", "main",
           "parse_params"]

_QUICK_MAX_TRAIN = 10_000
_NAME = re.compile(r"[A-Za-z_]\w*")
_BARE_WORD = re.compile(r"[A-Za-z_][\w.\-]*")
#: Shown in --help and the README; quoted, because bash reads (256,128) as a subshell.
_PARAMS_EXAMPLE = "'hidden_layer_sizes=(256,128)' max_iter=5 activation=tanh"


class CLIError(Exception):
    """A user error: reported as one line on stderr with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), so every user error reads the same."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# -- argument helpers ---------------------------------------------------------------------------
def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """Parse ``name=value`` items; values are Python literals, bare words are strings.

    ``hidden_layer_sizes=(256,128)`` gives a tuple (quote it in bash), ``max_iter=5`` an int,
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
    from ..study.models import make_model

    try:
        return pipeline_params(make_model(model), params)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _make(args: argparse.Namespace, params: dict[str, Any], **kwargs: Any) -> Any:
    """Build the pipeline and validate its parameter values now, not minutes into a fit."""
    from ..study.models import make_model

    model = make_model(args.model, random_state=args.random_state, device=args.device,
                       **kwargs)
    model.set_params(**params)
    with _user_errors():
        for _, step in model.steps:
            if hasattr(step, "_validate_params"):
                step._validate_params()
    clf = model.named_steps["clf"]
    if getattr(clf, "batch_norm", False) and getattr(clf, "batch_size", None) == 1:
        # torch cannot compute batch statistics of one row; say so before training.
        raise CLIError("batch_norm=True needs batch_size of at least 2")
    return model


# -- early checks: everything that can be checked before loading data or training ------------
def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_writable_parent(path: Path, what: str) -> None:
    base = _nearest_existing(path.parent)
    if not base.is_dir():
        raise CLIError(f"cannot write {what} {path}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write {what} {path}: no write permission in {base}")


def check_output_file(path: str | os.PathLike[str], *, overwrite: bool,
                      what: str = "file") -> Path:
    """Check that ``path`` can be written (before any expensive work); return it as a Path.

    Raises
    ------
    CLIError
        ``path`` is a folder, exists without ``overwrite``, or its folder cannot be written
        (a file in the way, no permission).
    """
    out = Path(path)
    # abspath folds "x/.." the way the OS will: a name ending in ".." is a folder.
    if out.is_dir() or Path(os.path.abspath(out)).is_dir() or str(path).endswith(os.sep):
        raise CLIError(f"{what} {out} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise CLIError(f"{out} already exists; pass --overwrite to replace it")
    _check_writable_parent(out, what)
    return out


def check_output_dir(path: str | os.PathLike[str], *, overwrite: bool = True,
                     what: str = "output folder") -> Path:
    """Check that folder ``path`` can be created or written into; nothing is created yet.

    Raises
    ------
    CLIError
        ``path`` is a file, is not empty without ``overwrite``, or cannot be written.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{what} {out} is a file, not a folder")
    if out.is_dir():
        if not overwrite and any(out.iterdir()):
            raise CLIError(f"{what} {out} is not empty; pass --overwrite or another --out")
        if not os.access(out, os.W_OK | os.X_OK):
            raise CLIError(f"cannot write into {what} {out}: no write permission")
        return out
    _check_writable_parent(out, what)
    return out


def _check_device(device: str) -> None:
    if device in ("auto", "cpu"):  # always available: no need to import torch to know it
        return
    from ..core.device import resolve_device

    try:
        resolve_device(device)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _check_dataset(name: str) -> None:
    from ..datasets import get_spec

    try:
        get_spec(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def _check_models(text: str) -> list[str]:
    models = [m.strip() for m in text.split(",") if m.strip()]
    if not models:
        raise CLIError(f"--models {text!r} names no model; e.g. --models {','.join(MODEL_NAMES)}")
    for m in models:
        if m not in MODEL_NAMES:
            raise CLIError(f"unknown model {m!r}; known models: {', '.join(MODEL_NAMES)}")
    if len(set(models)) < len(models):
        raise CLIError(f"--models {text!r} names a model twice")
    return models


def _check_rows(y: np.ndarray, n_rows: Sequence[int | None], cv: int | None,
                random_state: int | None) -> None:
    """Enough rows for the subsamples and enough of each class for ``cv`` folds."""
    import numpy as np

    from ..study.compare import stratified_subsample

    n_classes = len(np.unique(y))
    for n in n_rows:
        if n is not None and n < len(y) and n < n_classes:
            raise CLIError(f"{n} training rows cannot hold the {n_classes} classes; "
                           f"use --max-train {max(n_classes * (cv or 1), 10 * n_classes)} "
                           "or more")
        if cv is None:
            continue
        _, y_sub = stratified_subsample(np.zeros((len(y), 0)), y, n, random_state)
        smallest = int(np.min(np.unique(y_sub, return_counts=True)[1]))
        if smallest < cv:
            raise CLIError(f"--cv {cv} needs at least {cv} rows of every class, but the "
                           f"{len(y_sub)} training rows have only {smallest} of the rarest "
                           f"class; use fewer folds or more rows (--max-train)")


def _load(args: argparse.Namespace, subset: str) -> Any:
    from ..datasets import DatasetUnavailableError, load_dataset

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


def _train_split(args: argparse.Namespace, *, cv: int | None = None,
                 subsamples: Sequence[int | None] = ()) -> tuple[np.ndarray, np.ndarray, Any]:
    from ..study.compare import stratified_subsample

    train = _load(args, "train")
    max_train = getattr(args, "max_train", None)
    _check_rows(train.target, [max_train], cv, args.random_state)
    X, y = stratified_subsample(train.data, train.target,  # noqa: N806
                                max_train, args.random_state)
    if subsamples:
        _check_rows(y, subsamples, cv, args.random_state)
    return X, y, train


def _note(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Errors caused by the user's values (a parameter, a row of data) as one-line CLIErrors.

    scikit-learn's and the estimator's validation raise ValueError or TypeError with a
    message that says what is wrong; a parameter so large that the network cannot be built
    raises MemoryError or OverflowError.
    """
    try:
        yield
    except (ValueError, TypeError, OverflowError) as exc:
        raise CLIError(_first_line(exc)) from None
    except MemoryError as exc:
        raise CLIError(_first_line(exc) if str(exc).strip() else "out of memory: are the "
                       "layer sizes or the batch size far too large?") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _progress_bar(args: argparse.Namespace, total: int | None, desc: str) -> Any:
    from ..study.progress import Progress

    return Progress(total, desc, unit="fit", enabled=not args.quiet)


@contextlib.contextmanager
def _epoch_lines(model: Any, args: argparse.Namespace) -> Iterator[None]:
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


@contextlib.contextmanager
def _dask(args: argparse.Namespace) -> Iterator[None]:
    """Run the block's fits on the Dask cluster of --dask/--dask-local, when given."""
    address, n_workers = getattr(args, "dask", None), getattr(args, "dask_local", None)
    if address is None and n_workers is None:
        yield
        return
    from ..study.distributed import SchedulerUnreachableError, dask_backend

    with contextlib.ExitStack() as stack:
        try:
            session = stack.enter_context(dask_backend(address, n_workers))
        except (SchedulerUnreachableError, ImportError) as exc:
            raise CLIError(str(exc)) from None
        _note(args, f"fits run on the Dask cluster at {session.address} "
              f"({session.n_threads()} worker threads, {session.n_gpu_workers()} GPU workers)")
        yield


def _search_jobs(args: argparse.Namespace) -> int:
    """The model's rule for parallel fits (one at a time for a torch model on CUDA)."""
    try:
        jobs, _ = get_model_spec(args.model).search_n_jobs(args.n_jobs, args.device)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return jobs


# -- subcommands -------------------------------------------------------------------------------
def _cmd_compare(args: argparse.Namespace) -> int:
    models = _check_models(args.models)
    out = check_output_dir(args.out or _default_out(args.dataset), overwrite=args.overwrite)
    model_path = check_output_file(out / "best-model.skops", overwrite=True, what="model file")
    _check_dataset(args.dataset)
    _check_device(args.device)

    from ..io.persistence import save_model
    from ..study.compare import compare, stratified_subsample
    from ..study.reports import comparison_report

    train = _load(args, "train")
    test = _load(args, "test")
    max_train = args.max_train
    if max_train is None and args.quick and len(train.target) > _QUICK_MAX_TRAIN:
        max_train = _QUICK_MAX_TRAIN
        _note(args, f"--quick: training on a stratified subsample of {max_train} rows")
    subsamples = [get_model_spec(m).subsample(args.quick) for m in models]
    _check_rows(train.target, [max_train], args.cv, args.random_state)
    X, y = stratified_subsample(train.data, train.target,  # noqa: N806
                                max_train, args.random_state)
    _check_rows(y, subsamples, args.cv, args.random_state)
    start = time.perf_counter()
    with _dask(args), _user_errors():
        result = compare(X, y, test.data, test.target, models=models, quick=args.quick,
                         cv=args.cv, scoring=args.scoring, n_jobs=args.n_jobs,
                         device=args.device, random_state=args.random_state,
                         dataset=args.dataset, image_shape=tuple(train.images.shape[1:]),
                         progress=not args.quiet,
                         learning_curve=not args.no_learning_curve)
    elapsed = time.perf_counter() - start
    raise_if_interrupted()
    report = comparison_report(result, out)
    written = report.write(out, stem="compare")
    best = result.best
    save_model(best.estimator, model_path, dataset=args.dataset,
               test_score=best.test_accuracy, cv_score=best.selection_cv_mean, overwrite=True,
               metadata={"best_params": {k: repr(v) for k, v in best.best_params.items()},
                         "selection": "best selection CV score (same rows and folds for "
                                      "every model); test accuracy never used to choose"})
    print(result)
    print(f"\nbest: {best.name}, chosen by selection CV {args.scoring} "
          f"{best.selection_cv_mean:.4f} ({result.selection_rows} rows, {result.folds}); "
          f"test accuracy {best.test_accuracy:.4f}; {elapsed:.1f} s in all")
    print(f"report: {written['html']} (also {written['md'].name}, {written['csv'].name})")
    print(f"best model: {model_path}")
    return 0


def _default_out(dataset: str) -> Path:
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path.cwd() / f"sknn-mnist-compare-{dataset}-{stamp}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def _cmd_train(args: argparse.Namespace) -> int:
    out = check_output_file(args.out, overwrite=args.overwrite, what="model file")
    params = parse_params(args.params)
    _check_dataset(args.dataset)
    _check_device(args.device)
    params = _model_params(args.model, params)
    model = _make(args, params, n_jobs=args.n_jobs)

    from sklearn.metrics import accuracy_score

    from ..io.persistence import save_model

    X, y, _ = _train_split(args)  # noqa: N806
    test = _load(args, "test")
    _note(args, f"training {args.model} on {len(y)} rows of {args.dataset}...")
    start = time.perf_counter()
    with _user_errors(), _epoch_lines(model, args):
        model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    raise_if_interrupted()  # a half-trained model is never saved
    with _user_errors():
        accuracy = float(accuracy_score(test.target, model.predict(test.data)))
    save_model(model, out, dataset=args.dataset, test_score=accuracy, overwrite=args.overwrite,
               metadata={"fit_seconds": fit_seconds, "n_train": int(len(y)),
                         "cli_params": {k: repr(v) for k, v in params.items()}})
    print(f"test accuracy: {accuracy:.4f}")
    print(f"fit seconds: {fit_seconds:.2f}")
    print(f"saved: {out}")
    return 0


def _load_model_file(path: str, *, trust_pickle: bool = False) -> tuple[Any, dict[str, Any]]:
    from ..io.persistence import ModelVersionWarning, load_model

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelVersionWarning)
            model, meta = load_model(path, allow_pickle=trust_pickle, return_metadata=True)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder, not a model file") from None
    except ValueError as exc:  # the persistence module's ModelFileError family
        raise CLIError(_first_line(exc)) from None
    for w in caught:
        if issubclass(w.category, ModelVersionWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    return model, meta


def _n_features(model: Any) -> int | None:
    return getattr(model, "n_features_in_", None)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    _check_dataset(args.dataset)
    model, meta = _load_model_file(args.model_file, trust_pickle=args.trust_pickle)

    from sklearn.metrics import accuracy_score, classification_report

    test = _load(args, "test")
    expected = _n_features(model)
    if expected is not None and expected != test.data.shape[1]:
        raise CLIError(f"the model expects {expected} features but dataset {args.dataset!r} "
                       f"has {test.data.shape[1]}; was it trained on "
                       f"{meta.get('dataset') or 'another dataset'}?")
    start = time.perf_counter()
    with _user_errors():
        y_pred = model.predict(test.data)
    seconds = time.perf_counter() - start
    print(f"accuracy: {accuracy_score(test.target, y_pred):.4f}")
    print(f"predict seconds: {seconds:.2f} ({len(y_pred)} rows)")
    print()
    print(classification_report(test.target, y_pred, digits=4, zero_division=0))
    return 0


def _cmd_cv(args: argparse.Namespace) -> int:
    out = check_output_dir(args.out) if args.out else None
    params = parse_params(args.params)
    _check_dataset(args.dataset)
    _check_device(args.device)
    params = _model_params(args.model, params)
    model = _make(args, params)
    n_jobs = _search_jobs(args)

    from ..study.compare import format_table
    from ..study.progress import counted_fits
    from ..study.reports import cross_validation_report

    X, y, _ = _train_split(args, cv=args.cv)  # noqa: N806
    bar = _progress_bar(args, args.cv, f"{args.cv}-fold CV of {args.model} on {len(y)} rows")
    with _dask(args), bar, counted_fits(args.scoring, bar) as scoring, _user_errors():
        # return_train_score=False: one scorer call (one tick) per fitted fold.
        report = cross_validation_report(
            model, X, y, cv=args.cv, scoring=scoring, n_jobs=n_jobs, name=args.model,
            dataset=args.dataset, out_dir=out, random_state=args.random_state,
            return_train_score=False)
    print(format_table(report.table("folds").rows))
    print()
    print(format_table(report.table("summary").rows))
    if out is not None:
        written = report.write(out, stem="cv")
        print(f"\nreport: {written['html']}")
    return 0


def _read_grid_file(path: str) -> dict[str, list[Any]]:
    """Read and check a --param-grid JSON file (no scikit-learn needed: instant errors)."""
    import json

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


def _grid(grid: dict[str, list[Any]] | None, model: str, quick: bool) -> dict[str, list[Any]]:
    """The user's grid with pipeline keys (checked against the model), or the built-in one."""
    if grid is None:
        return param_grid(model, quick=quick)
    keys = _model_params(model, {k: None for k in grid})
    return {full: grid[short] for short, full in zip(grid, keys, strict=True)}


def _cmd_grid_search(args: argparse.Namespace) -> int:
    out = check_output_dir(args.out) if args.out else None
    raw_grid = _read_grid_file(args.param_grid) if args.param_grid else None
    _check_dataset(args.dataset)
    _check_device(args.device)
    grid = _grid(raw_grid, args.model, args.quick)
    n_jobs = _search_jobs(args)
    spec = get_model_spec(args.model)

    from sklearn.model_selection import ParameterGrid

    from ..study.compare import describe_folds, format_params, format_table, grid_search, make_folds
    from ..study.compare import stratified_subsample as subsample
    from ..study.models import make_model
    from ..study.progress import counted_fits
    from ..study.reports import grid_search_report

    rows = spec.subsample(args.quick)
    X, y, _ = _train_split(args, cv=args.cv, subsamples=[rows])  # noqa: N806
    X, y = subsample(X, y, rows, args.random_state)  # noqa: N806
    model = make_model(args.model, random_state=args.random_state, device=args.device)
    n_fits = args.cv * len(ParameterGrid(grid))
    bar = _progress_bar(args, n_fits, f"grid search of {args.model} on {len(y)} rows")
    folds = make_folds(args.cv, args.random_state)
    with _dask(args), bar, counted_fits(args.scoring, bar) as scoring, _user_errors():
        search = grid_search(model, grid, X, y, scoring=scoring, n_jobs=n_jobs, cv=folds)
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


def _read_rows(path: Path) -> np.ndarray:
    import csv

    import numpy as np

    if path.is_dir():
        raise CLIError(f"{path} is a folder; give a .npy or .csv file")
    if not path.is_file():
        raise CLIError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise CLIError(f"{path}: unsupported file type {suffix!r}; use .npy or .csv")
    try:
        if suffix == ".npy":
            rows = np.load(path, allow_pickle=False)
        else:
            with path.open(newline="", encoding="utf-8") as fh:
                lines = [r for r in csv.reader(fh) if r]
            if lines and not _is_number(lines[0][0]):
                lines = lines[1:]  # a header row
            rows = np.array(lines, dtype=float)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise CLIError(f"{path}: cannot read pixel rows ({_first_line(exc)})") from None
    if rows.dtype.kind not in "biuf":
        raise CLIError(f"{path}: pixel rows must be numbers, got dtype {rows.dtype}")
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    elif rows.ndim > 2:
        rows = rows.reshape(rows.shape[0], -1)  # a stack of images
    if rows.dtype.kind == "f" and not np.isfinite(rows).all():
        r, c = np.argwhere(~np.isfinite(rows))[0]
        raise CLIError(f"{path}: row {r + 1}, column {c + 1} is {rows[r, c]}; pixel values "
                       "must be finite numbers")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _cmd_predict(args: argparse.Namespace) -> int:
    batches = [(path, _read_rows(Path(path))) for path in args.files]
    model, _ = _load_model_file(args.model_file, trust_pickle=args.trust_pickle)
    expected = _n_features(model)
    for path, rows in batches:
        if expected is not None and rows.shape[1] != expected:
            raise CLIError(f"{path} has {rows.shape[1]} columns but the model expects "
                           f"{expected} (one row of pixels per image)")
    for _, rows in batches:
        if len(rows):
            with _user_errors():
                labels = model.predict(rows)
            for label in labels:
                print(label)
    return 0


# -- parser -------------------------------------------------------------------------------------
def _add_dataset_args(p: argparse.ArgumentParser, *, required: bool = True,
                      train: bool = True) -> None:
    # The names are not listed here: that would import the datasets package (and
    # scikit-learn) just to print --help. An unknown name's error lists them.
    p.add_argument("--dataset", required=required, default=None if required else "digits",
                   metavar="NAME", help="dataset: digits (bundled, offline), mnist, "
                   "fashion-mnist, kmnist...; `python -m sknn_mnist.datasets list` lists them"
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
    p.add_argument("--n-jobs", type=_n_jobs, default=-1, metavar="N", help=n_jobs_help)
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


def _add_dask_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument("--dask", metavar="ADDRESS",
                       help="run the fits on a running Dask cluster, e.g. tcp://HOST:8786 "
                       "(needs the dask extra; see docs/dask.md)")
    group.add_argument("--dask-local", type=_positive_int, metavar="N",
                       help="run the fits on a local Dask cluster of N single-threaded "
                       "worker processes, started for this run")


def _n_jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs run nothing: use 1, N, or -1 for all cores")
    return value


def _cv_folds(text: str) -> int:
    value = _positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"--cv needs at least 2 folds, got {value}")
    return value


#: (name, help, description, function that adds the options and sets ``func``). Other
#: modules' subcommands are added to this list, or with :func:`add_subcommand`.
Subcommand = tuple[str, str, str, Callable[[argparse.ArgumentParser], None]]


def _setup_compare(p: argparse.ArgumentParser) -> None:
    _add_dataset_args(p, required=False)
    p.add_argument("--quick", action="store_true",
                   help="tiny grids and at most 10000 training rows: a smoke test (measured "
                   "times: docs/compare.md, 'Measured times')")
    p.add_argument("--out", metavar="DIR",
                   help="output folder (default: ./sknn-mnist-compare-DATASET-TIMESTAMP)")
    p.add_argument("--overwrite", action="store_true", help="allow a non-empty --out folder")
    _add_run_args(p, n_jobs_help="fits run at once (-1: all cores; the MLP uses 1 on "
                  "CUDA) (default: -1)")
    _add_dask_args(p)
    p.add_argument("--cv", type=_cv_folds, default=3, metavar="K", help="CV folds (default: 3)")
    p.add_argument("--scoring", default="accuracy",
                   help="CV scoring, used to choose the best model (default: accuracy)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"comma-separated subset of {', '.join(MODEL_NAMES)} (default: "
                   f"{','.join(DEFAULT_MODELS)})")
    p.add_argument("--no-learning-curve", action="store_true",
                   help="skip the extra MLP fit (10%% of the training rows held out) that "
                   "draws the learning curve with validation accuracy per epoch")
    _add_common(p)
    p.set_defaults(func=_cmd_compare)


def _add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="MODEL",
                   help=f"one of {', '.join(MODEL_NAMES)}")


def _add_params_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("params", nargs="*", metavar="param=value",
                   help="classifier parameters as name=value, values as Python literals; "
                   f"quote tuples for the shell, e.g. {_PARAMS_EXAMPLE}")


def _setup_train(p: argparse.ArgumentParser) -> None:
    _add_model_arg(p)
    _add_dataset_args(p)
    p.add_argument("--out", required=True, metavar="FILE",
                   help="model file (.skops; checked before training)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    _add_run_args(p, n_jobs_help="the random forest's n_jobs (default: -1, all cores)")
    _add_params_arg(p)
    _add_common(p)
    p.set_defaults(func=_cmd_train)


def _setup_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    _add_dataset_args(p, train=False)
    add_trust_pickle(p)
    _add_common(p)
    p.set_defaults(func=_cmd_evaluate)


def _setup_cv(p: argparse.ArgumentParser) -> None:
    _add_model_arg(p)
    _add_dataset_args(p)
    p.add_argument("--cv", type=_cv_folds, default=5, metavar="K", help="folds (default: 5)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report into DIR")
    _add_run_args(p, n_jobs_help="folds fitted at once (default: -1, all cores; "
                  "the MLP uses 1 on CUDA)")
    _add_dask_args(p)
    _add_params_arg(p)
    _add_common(p)
    p.set_defaults(func=_cmd_cv)


def _setup_grid_search(p: argparse.ArgumentParser) -> None:
    _add_model_arg(p)
    _add_dataset_args(p)
    p.add_argument("--param-grid", metavar="FILE",
                   help='JSON object of lists, e.g. {"C": [1, 10], "gamma": ["scale", 0.02]}; '
                   "tuples as lists: {\"hidden_layer_sizes\": [[100], [256, 128]]} "
                   "(default: the built-in grid)")
    p.add_argument("--quick", action="store_true", help="the tiny built-in grid")
    p.add_argument("--cv", type=_cv_folds, default=3, metavar="K", help="folds (default: 3)")
    p.add_argument("--scoring", default="accuracy", help="scoring (default: accuracy)")
    p.add_argument("--out", metavar="DIR", help="write the report and plot into DIR")
    _add_run_args(p, n_jobs_help="fits run at once (default: -1, all cores; the MLP uses 1 "
                  "on CUDA)")
    _add_dask_args(p)
    _add_common(p)
    p.set_defaults(func=_cmd_grid_search)


def _setup_predict(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help=".npy (an array of shape (n_rows, n_pixels) or (n_rows, h, w)) or "
                   ".csv (one row of n_pixels numbers per line, optional header)")
    add_trust_pickle(p)
    _add_common(p)
    p.set_defaults(func=_cmd_predict)


SUBCOMMANDS: list[Subcommand] = [
    ("compare", "grid-search the models, choose the best by CV, test them",
     "Grid-search each model on the training set (stratified, shuffled K-fold CV), choose "
     "the best by cross-validation on the same rows and folds for every model, refit every "
     "model on the whole training set and test it once; print the table and write "
     "CSV/Markdown/HTML reports, plots and the best model into --out.", _setup_compare),
    ("train", "train one model and save it",
     "Train a model on the training set, print its test accuracy and save it (with "
     "metadata).", _setup_train),
    ("evaluate", "test accuracy and classification report of a model",
     "Print a saved model's accuracy and classification report on a dataset's test set.",
     _setup_evaluate),
    ("cv", "cross-validate one model",
     "K-fold cross-validation (stratified, shuffled, seeded by --random-state) of a model on "
     "the training set: per-fold scores and timings; with --out, CSV/Markdown/HTML reports.",
     _setup_cv),
    ("grid-search", "grid-search one model",
     "Grid search with K-fold CV (stratified, shuffled, seeded by --random-state: the folds "
     "compare uses) on the training set (the SVC on a stratified subsample); prints every "
     "candidate and the best.", _setup_grid_search),
    ("predict", "predict the labels of pixel rows",
     "Print one predicted label per row of each FILE, in order.", _setup_predict),
    ("info", "show a model file's metadata without loading it",
     "Print the metadata of a saved model (versions, dataset, features, classes, scores, "
     "creation time, training device). A .skops file is not loaded: the metadata is read "
     "as JSON. A pickle-based file needs --trust-pickle.", setup_info),
    ("export", "export a saved pipeline to ONNX",
     "Write a saved pipeline (scaler and MLP or CNN) as an ONNX graph with outputs 'label' "
     "and 'probabilities' (needs the onnx extra: pip install 'sknn_mnist[onnx]').",
     setup_export),
]


def build_parser() -> argparse.ArgumentParser:
    """The ``sknn-mnist`` argument parser: one subparser per entry of :data:`SUBCOMMANDS`."""
    parser = _Parser(prog="sknn-mnist",
                     description="Compare, train, evaluate and use digit classifiers: a "
                     "PyTorch MLP (skorch), an RBF SVC and a random forest.")
    parser.add_argument("--version", action="version", version=f"sknn_mnist {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, help_text, description, setup in SUBCOMMANDS:
        setup(sub.add_parser(name, help=help_text, description=description))
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
        0 on success, 2 on a user error (:class:`CLIError`, one line on stderr), 130 when
        interrupted (Ctrl-C; nothing half-trained is saved).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    try:
        with catch_sigint(), warnings.catch_warnings():
            # The CLI exits 130 and saves nothing: the estimator's advice to resume an
            # interrupted fit with partial_fit does not apply here.
            warnings.filterwarnings("ignore", message="Training was interrupted")
            return args.func(args)
    except CLIError as exc:
        print(f"sknn-mnist {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sknn-mnist {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`sknn-mnist evaluate ... | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
