"""What the ``sknn-mnist`` commands share at run time: data, models, the run context.

This module imports numpy, scikit-learn and torch (through the package's datasets, model
and persistence modules): a command imports it at the top of its ``run``, once its cheap
argument checks (:mod:`~sknn_mnist.cli.common`) have passed, never at module level.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .. import datasets
from ..core.device import resolve_device
from ..io.inputs import NotARegularFileError, file_size, open_regular
from ..io.persistence import ModelVersionWarning, load_model
from ..study.context import CancellationToken, RunContext
from ..study.distributed import (
    ClusterLostError,
    DaskSession,
    SchedulerUnreachableError,
    dask_session,
)
from ..study.models import get_model_spec, make_model, pipeline_params
from ..study.plan import Subsample, TooFewPerClassError, TooFewRowsError, plan_subsample
from ..study.progress import Progress
from .common import CLIError, cancel_on_ctrl_c, cap_jobs, first_line, note, user_errors

__all__ = ["MAX_CSV_BYTES", "MAX_NPY_BYTES", "check_candidates", "check_dataset",
           "check_device", "check_scoring", "default_jobs", "load_model_file", "load_split",
           "make_pipeline", "model_params", "n_features", "progress_bar", "read_rows",
           "row_errors", "run_context", "search_jobs", "train_rows"]

#: Largest ``.npy`` file of pixel rows ``predict`` reads (MNIST's 70,000 rows as float64:
#: 0.4 GiB).
MAX_NPY_BYTES = 2 * 2**30
#: Largest ``.csv`` file of pixel rows (parsed row by row: about 2.5 bytes of memory per
#: byte of text).
MAX_CSV_BYTES = 256 * 2**20
#: Largest magnitude a pixel value may have: the models compute in float32.
_MAX_PIXEL = float(np.finfo(np.float32).max)


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
    into a fit: against the constraints, and (:func:`check_candidates`) the network they
    describe for ``args.dataset``'s images, built on torch's meta device."""
    model = make_model(args.model, random_state=args.random_state, device=args.device,
                       **kwargs)
    model.set_params(**params)
    check_candidates(model, {}, args.dataset)
    return model


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _check_network(clf: Any, dataset: str) -> None:
    """Build the network for ``dataset`` on torch's meta device (no memory): shapes that do
    not fit the images, and networks too large for this machine, are refused now."""
    import torch

    from ..core.heads import head_for_targets

    spec = datasets.get_spec(dataset)
    n_classes = len(spec.target_names)
    n_outputs = head_for_targets(False, n_classes).n_outputs(n_classes)
    try:
        with torch.device("meta"):
            module = clf._build_module(spec.n_features, n_outputs)
    except (ValueError, TypeError, OverflowError, RuntimeError, MemoryError) as exc:
        raise CLIError(first_line(exc)) from None
    n_weights = sum(p.numel() for p in module.parameters())
    # Weights, gradients and two Adam moments, in float32: a lower bound of training's need.
    need, have = 4 * 4 * n_weights, _physical_memory()
    if have is not None and need > have:
        raise CLIError(f"the network has {n_weights:,} weights: training it needs at least "
                       f"{need / 2**30:,.1f} GiB, more than this machine's "
                       f"{have / 2**30:,.1f} GiB; use smaller layers")


def _check_pipeline(model: Any, dataset: str | None) -> None:
    with user_errors():
        for _, step in model.steps:
            if hasattr(step, "_validate_params"):
                step._validate_params()
            if hasattr(step, "_check_params"):  # the torch classifiers' own checks
                step._check_params()
    clf = model.named_steps["clf"]
    if getattr(clf, "batch_norm", False) and getattr(clf, "batch_size", None) == 1:
        # torch cannot compute batch statistics of one row; say so before training.
        raise CLIError("batch_norm=True needs batch_size of at least 2")
    if isinstance(getattr(clf, "device", None), str):
        check_device(clf.device)
    if dataset is not None and hasattr(clf, "_build_module"):
        _check_network(clf, dataset)


def check_candidates(model: Any, grid: Mapping[str, list[Any]], dataset: str | None) -> None:
    """Check ``model`` and every value of ``grid`` (pipeline keys), each on its own.

    Parameter errors (constraints, the device, the network's shape and size for
    ``dataset``'s images) come before any data is loaded. Every value is tried on the
    model alone, not every combination: a grid of many keys has too many of those.
    """
    from sklearn.base import clone

    _check_pipeline(model, dataset)
    for key, values in grid.items():
        for value in values:
            candidate = clone(model)
            with user_errors():
                candidate.set_params(**{key: value})
            try:
                _check_pipeline(candidate, dataset)
            except CLIError as exc:
                raise CLIError(f"grid value {key.removeprefix('clf__')}={value!r}: "
                               f"{exc}") from None


def check_scoring(scoring: str) -> None:
    """A scoring name scikit-learn knows, or CLIError (before any data or work)."""
    from sklearn.metrics import get_scorer

    try:
        get_scorer(scoring)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"--scoring {scoring!r}: {first_line(exc)}") from None


def search_jobs(args: argparse.Namespace, work: int | None = None) -> int:
    """The model's rule for parallel fits (one at a time for a torch model on CUDA), at most
    one per core and per task of ``work``."""
    try:
        jobs, _ = get_model_spec(args.model).search_n_jobs(cap_jobs(args.n_jobs, work),
                                                          args.device)
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

    Only a regular file is read (a FIFO or a device is refused without blocking), at most
    :data:`MAX_NPY_BYTES` / :data:`MAX_CSV_BYTES`, and a ``.npy`` header must describe the
    data that follows it before anything is allocated.

    Raises
    ------
    CLIError
        Not a regular file, another type, too large, unreadable, not numbers, a single
        number, or not finite float32 values.
    """
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".csv"):
        raise CLIError(f"{path}: unsupported file type {suffix!r}; use .npy or .csv")
    try:
        with open_regular(path, "input file") as f:
            limit = MAX_NPY_BYTES if suffix == ".npy" else MAX_CSV_BYTES
            if file_size(f) > limit:
                raise CLIError(f"{path} holds {file_size(f):,} bytes, more than the "
                               f"{limit:,} a file of pixel rows may hold")
            rows = _read_npy(path, f) if suffix == ".npy" else _read_csv(path, f)
    except FileNotFoundError:
        raise CLIError(f"input file not found: {path}") from None
    except IsADirectoryError:
        raise CLIError(f"{path} is a folder; give a .npy or .csv file") from None
    except NotARegularFileError as exc:
        raise CLIError(str(exc)) from None
    except (ValueError, UnicodeDecodeError, OSError, csv.Error) as exc:
        raise CLIError(f"{path}: cannot read pixel rows ({first_line(exc)})") from None
    return _as_pixel_rows(path, rows)


def _as_pixel_rows(path: Path, rows: np.ndarray) -> np.ndarray:
    if rows.dtype.kind not in "biuf":
        raise CLIError(f"{path}: pixel rows must be numbers, got dtype {rows.dtype}")
    if rows.ndim == 0:
        raise CLIError(f"{path} holds a single number, not rows of pixels")
    if rows.ndim == 1:
        rows = rows.reshape(1, -1)
    elif rows.ndim > 2:
        rows = rows.reshape(rows.shape[0], math.prod(rows.shape[1:]))  # a stack of images
    if rows.dtype.kind == "f":
        bad = ~np.isfinite(rows)
        with np.errstate(invalid="ignore"):
            bad |= np.abs(rows) > _MAX_PIXEL
        if bad.any():
            r, c = np.argwhere(bad)[0]
            raise CLIError(f"{path}: row {r + 1}, column {c + 1} is {rows[r, c]}; pixel "
                           "values must be finite numbers of float32 range")
    return rows


def _read_npy(path: Path, f: BinaryIO) -> np.ndarray:
    """``np.load`` of ``f`` once its header is known to describe the bytes it holds."""
    fmt = np.lib.format
    version = fmt.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(f)
    else:  # 3.0 (utf-8 field names): no public reader
        shape, _, dtype = fmt._read_array_header(f, version)
    if dtype.hasobject:
        raise CLIError(f"{path}: pixel rows must be numbers, got dtype {dtype}")
    claimed, held = math.prod(shape) * dtype.itemsize, file_size(f) - f.tell()
    if claimed > held:
        raise CLIError(f"{path} claims an array of shape {shape} ({claimed:,} bytes) but "
                       f"holds {held:,} bytes; it is truncated or damaged")
    f.seek(0)
    return np.load(f, allow_pickle=False)


def _read_csv(path: Path, f: BinaryIO) -> np.ndarray:
    """Rows parsed one at a time (a list of strings per value would take 20x the file)."""
    rows: list[np.ndarray] = []
    text = io.TextIOWrapper(f, encoding="utf-8", newline="")
    for line, record in enumerate(csv.reader(text), start=1):
        if not record:
            continue
        if not rows and not _is_number(record[0]):
            continue  # a header row
        try:
            values = np.array(record, dtype=float)
        except ValueError:
            raise CLIError(f"{path}: line {line} holds a value that is not a number") from None
        if rows and len(values) != len(rows[0]):
            raise CLIError(f"{path}: line {line} has {len(values)} values, the first row "
                           f"{len(rows[0])}")
        rows.append(values)
    return np.vstack(rows) if rows else np.empty((0, 0))


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
    except OSError as exc:  # a pickle trusted with --trust-pickle that cannot be read
        raise CLIError(f"cannot read model file {path}: {exc.strerror or exc}") from None
    for w in caught:
        if issubclass(w.category, ModelVersionWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    return model, meta


def load_model_or_pretrained(name: str, *,
                             trust_pickle: bool = False) -> tuple[Any, dict[str, Any]]:
    """A model file (:func:`load_model_file`), or, when no such file exists, the pretrained
    model of that name (``mnist-mlp``, ``mnist-cnn``)."""
    from ..io.pretrained import PretrainedModelError, load_pretrained, pretrained_names

    # lexists: a broken link or a link loop is a path that exists, which loading then
    # names precisely, not a missing file.
    present = os.path.lexists(name)
    if not present and name in pretrained_names():
        try:
            return load_pretrained(name, return_metadata=True)
        except PretrainedModelError as exc:
            raise CLIError(first_line(exc)) from None
    if not present:
        known = ", ".join(pretrained_names())
        raise CLIError(f"model file not found: {name} (the pretrained models are: {known})")
    return load_model_file(name, trust_pickle=trust_pickle)


def n_features(model: Any) -> int | None:
    """The pixels per row a fitted model expects, if it says."""
    return getattr(model, "n_features_in_", None)


# -- how the work runs ---------------------------------------------------------------------------
def default_jobs(args: argparse.Namespace) -> str:
    """Choose ``--n-jobs`` when it was not given, and say how it was chosen.

    The default is the cores that no other process is busy on right now, at least one
    (the thread policy's measurement, :func:`sknn_mnist.core.threads.free_cores`): on a
    busy machine, workers beyond the free cores wait for time slices and the run is slower
    than with fewer (measured in issue 25: digits ``compare --quick`` took 15.9 s with all
    cores against 10.5 s with one, beside 2.4 busy ones).

    Returns
    -------
    str
        ``n_jobs: 1 (the free cores: 2 cores, 1 busy with other processes; --n-jobs N
        chooses)``, or ``n_jobs: N (--n-jobs)`` when it was given.
    """
    if args.n_jobs is not None:
        return f"n_jobs: {args.n_jobs} (--n-jobs)"
    from ..core.threads import default_policy

    # One busy sample for both numbers (the policy keeps it for a second).
    cores, busy, free = (default_policy.usable_cores(), default_policy.busy(),
                         default_policy.free_cores())
    args.n_jobs = free
    return (f"n_jobs: {free} (the free cores: {cores} cores, {busy} busy with other "
            "processes; --n-jobs N chooses)")


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
        try:
            yield session
        except ClusterLostError as exc:
            raise CLIError(str(exc)) from None


@contextlib.contextmanager
def run_context(args: argparse.Namespace, work: int | None = None) -> Iterator[RunContext]:
    """The command's :class:`~sknn_mnist.study.context.RunContext` for the block.

    ``--n-jobs`` (at most one worker per core and per task of ``work``), the Dask session
    of ``--dask``/``--dask-local`` (opened for the block), no progress sink yet
    (``context.replace(progress=bar)``), and a cancellation token that Ctrl-C cancels.
    """
    jobs = cap_jobs(getattr(args, "n_jobs", None), work)
    with cancel_on_ctrl_c(CancellationToken()) as token, _dask(args) as session:
        yield RunContext(n_jobs=jobs, dask=session, cancel=token)
