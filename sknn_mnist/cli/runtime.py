"""What the ``sknn-mnist`` commands share at run time: data, models, the run context.

This module imports numpy, scikit-learn and torch (through the package's datasets, model
and persistence modules): a command imports it at the top of its ``run``, once its cheap
argument checks (:mod:`~sknn_mnist.cli.common`) have passed, never at module level.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .. import datasets
from ..core.device import resolve_device
from ..io.persistence import ModelVersionWarning, load_model
from ..study.context import CancellationToken, RunContext
from ..study.distributed import DaskSession, SchedulerUnreachableError, dask_session
from ..study.models import get_model_spec, make_model, pipeline_params
from ..study.plan import Subsample, TooFewPerClassError, TooFewRowsError, plan_subsample
from ..study.progress import Progress
from .common import CLIError, cancel_on_ctrl_c, first_line, note, user_errors

__all__ = ["check_dataset", "check_device", "load_model_file", "load_split", "make_pipeline",
           "model_params", "n_features", "progress_bar", "read_rows", "row_errors",
           "run_context", "search_jobs", "train_rows"]


# -- checks that need the library -------------------------------------------------------------
def check_dataset(name: str) -> None:
    """A known dataset name, or CLIError (the message lists the known ones)."""
    try:
        datasets.get_spec(name)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def check_device(device: str) -> None:
    """An available device, or CLIError (``cuda`` without CUDA, ``cuda:N`` out of range)."""
    if device in ("auto", "cpu"):  # always available
        return
    try:
        resolve_device(device)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def model_params(model: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with pipeline keys (``clf__...``), checked against model ``model``."""
    try:
        return pipeline_params(make_model(model), params)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def make_pipeline(args: argparse.Namespace, params: dict[str, Any], **kwargs: Any) -> Any:
    """Build ``args.model``'s pipeline and validate its parameter values now, not minutes
    into a fit."""
    model = make_model(args.model, random_state=args.random_state, device=args.device,
                       **kwargs)
    model.set_params(**params)
    with user_errors():
        for _, step in model.steps:
            if hasattr(step, "_validate_params"):
                step._validate_params()
    clf = model.named_steps["clf"]
    if getattr(clf, "batch_norm", False) and getattr(clf, "batch_size", None) == 1:
        # torch cannot compute batch statistics of one row; say so before training.
        raise CLIError("batch_norm=True needs batch_size of at least 2")
    return model


def search_jobs(args: argparse.Namespace) -> int:
    """The model's rule for parallel fits (one at a time for a torch model on CUDA)."""
    try:
        jobs, _ = get_model_spec(args.model).search_n_jobs(args.n_jobs, args.device)
    except ValueError as exc:
        raise CLIError(str(exc)) from None
    return jobs


# -- data ----------------------------------------------------------------------------------------
def load_split(args: argparse.Namespace, subset: str) -> Any:
    """``args.dataset``'s ``subset`` (a Bunch), or a CLIError that says how to get it."""
    try:
        return datasets.load_dataset(args.dataset, subset=subset, data_home=args.data_home,
                                     idx_dir=args.idx_dir, progress=not args.quiet)
    except datasets.DatasetUnavailableError as exc:
        tried = "; ".join(getattr(exc, "attempts", None) or [])
        raise CLIError(f"dataset {args.dataset!r} is not available ({tried}); use --idx-dir "
                       "DIR (a folder with the four IDX .gz files) or --data-home DIR (a "
                       "filled cache), or go online once") from None
    except ValueError as exc:
        raise CLIError(str(exc).splitlines()[0]) from None


@contextlib.contextmanager
def row_errors() -> Iterator[None]:
    """A plan's row errors in the command line's words (``--max-train``, ``--cv``)."""
    try:
        yield
    except TooFewRowsError as exc:
        raise CLIError(f"{exc.rows} training rows cannot hold the {exc.n_classes} classes; "
                       f"use --max-train {exc.suggested} or more") from None
    except TooFewPerClassError as exc:
        raise CLIError(f"--cv {exc.cv} needs at least {exc.cv} rows of every class, but the "
                       f"{exc.rows} training rows have only {exc.smallest} of the rarest "
                       "class; use fewer folds or more rows (--max-train)") from None
    except ValueError as exc:  # a subsample scikit-learn cannot draw
        raise CLIError(first_line(exc)) from None


def train_rows(args: argparse.Namespace, *, cv: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The training rows of ``args.dataset``: all, or ``--max-train`` of them, checked to
    hold every class (``cv`` rows of each)."""
    train = load_split(args, "train")
    with row_errors():
        rows: Subsample = plan_subsample(train.target, getattr(args, "max_train", None),
                                         args.random_state)
        rows.check(cv)
    return rows.take(train.data, train.target)


def read_rows(path: Path) -> np.ndarray:
    """Pixel rows from a ``.npy`` or ``.csv`` file (optional header row), as a 2-D array.

    Raises
    ------
    CLIError
        Not a file, another type, unreadable, not numbers, or not finite.
    """
    if path.is_dir():
        raise CLIError(f"{path} is a folder; give a .npy or .csv file")
    if not path.is_file():
        raise CLIError(f"input file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise CLIError(f"{path}: unsupported file type {suffix!r}; use .npy or .csv")
    try:
        rows = np.load(path, allow_pickle=False) if suffix == ".npy" else _read_csv(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise CLIError(f"{path}: cannot read pixel rows ({first_line(exc)})") from None
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


def _read_csv(path: Path) -> np.ndarray:
    with path.open(newline="", encoding="utf-8") as fh:
        lines = [r for r in csv.reader(fh) if r]
    if lines and not _is_number(lines[0][0]):
        lines = lines[1:]  # a header row
    return np.array(lines, dtype=float)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# -- models --------------------------------------------------------------------------------------
def load_model_file(path: str, *, trust_pickle: bool = False) -> tuple[Any, dict[str, Any]]:
    """Load a model file, or a CLIError; version warnings become one ``warning:`` line."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelVersionWarning)
            model, meta = load_model(path, allow_pickle=trust_pickle, return_metadata=True)
    except FileNotFoundError:
        raise CLIError(f"model file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder, not a model file") from None
    except ValueError as exc:  # the persistence module's ModelFileError family
        raise CLIError(first_line(exc)) from None
    for w in caught:
        if issubclass(w.category, ModelVersionWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    return model, meta


def load_model_or_pretrained(name: str, *,
                             trust_pickle: bool = False) -> tuple[Any, dict[str, Any]]:
    """A model file (:func:`load_model_file`), or, when no such file exists, the pretrained
    model of that name (``mnist-mlp``, ``mnist-cnn``)."""
    from ..io.pretrained import PretrainedModelError, load_pretrained, pretrained_names

    if not Path(name).exists() and name in pretrained_names():
        try:
            return load_pretrained(name, return_metadata=True)
        except PretrainedModelError as exc:
            raise CLIError(first_line(exc)) from None
    if not Path(name).exists():
        known = ", ".join(pretrained_names())
        raise CLIError(f"model file not found: {name} (the pretrained models are: {known})")
    return load_model_file(name, trust_pickle=trust_pickle)


def n_features(model: Any) -> int | None:
    """The pixels per row a fitted model expects, if it says."""
    return getattr(model, "n_features_in_", None)


# -- how the work runs ---------------------------------------------------------------------------
def progress_bar(args: argparse.Namespace, total: int | None, desc: str) -> Progress:
    """A progress display counted in fits, shown unless ``--quiet``."""
    return Progress(total, desc, unit="fit", enabled=not args.quiet)


@contextlib.contextmanager
def _dask(args: argparse.Namespace) -> Iterator[DaskSession | None]:
    """The Dask session of --dask/--dask-local for the block, or None."""
    address, n_workers = getattr(args, "dask", None), getattr(args, "dask_local", None)
    if address is None and n_workers is None:
        yield None
        return
    with contextlib.ExitStack() as stack:
        try:
            session = stack.enter_context(dask_session(address, n_workers))
        except (SchedulerUnreachableError, ImportError) as exc:
            raise CLIError(str(exc)) from None
        note(args, f"fits run on the Dask cluster at {session.address} "
             f"({session.n_threads()} worker threads, {session.n_gpu_workers()} GPU workers)")
        yield session


@contextlib.contextmanager
def run_context(args: argparse.Namespace) -> Iterator[RunContext]:
    """The command's :class:`~sknn_mnist.study.context.RunContext` for the block.

    ``--n-jobs``, the Dask session of ``--dask``/``--dask-local`` (opened for the block), no
    progress sink yet (``context.replace(progress=bar)``), and a cancellation token that
    Ctrl-C cancels.
    """
    with cancel_on_ctrl_c(CancellationToken()) as token, _dask(args) as session:
        yield RunContext(n_jobs=getattr(args, "n_jobs", None), dask=session, cancel=token)
