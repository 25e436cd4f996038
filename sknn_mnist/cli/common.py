"""What the ``sknn-mnist`` commands share: errors, the parser, early checks, arguments.

Only the standard library and light modules of this package are imported here (and by the
command modules at their top): ``--help`` and argument errors must be instant. numpy,
scikit-learn and torch are imported at the top of a command's ``run``, after its cheap
checks, with :mod:`~sknn_mnist.cli.runtime` (the helpers that need them). This module never
imports a command module.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import difflib
import os
import re
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ..registry import MODEL_SPECS
from ..study.models import MODEL_NAMES

if TYPE_CHECKING:
    from ..study.context import CancellationToken

__all__ = [
    "PARAMS_EXAMPLE",
    "CLIError",
    "Parser",
    "add_dask_args",
    "add_dataset_args",
    "add_model_arg",
    "add_params_arg",
    "add_quiet",
    "add_run_args",
    "add_trust_pickle",
    "cancel_on_ctrl_c",
    "cap_jobs",
    "check_dataset_name",
    "check_model_path",
    "check_output_dir",
    "check_output_file",
    "cv_folds",
    "first_line",
    "n_jobs",
    "note",
    "parse_params",
    "positive_int",
    "seed",
    "torch_models",
    "unrecognized_arguments",
    "usable_cores",
    "user_errors",
    "write_errors",
]

_NAME = re.compile(r"[A-Za-z_]\w*")
_BARE_WORD = re.compile(r"[A-Za-z_][\w.\-]*")
#: Shown in --help and the README; quoted, because bash reads (256,128) as a subshell.
PARAMS_EXAMPLE = "'hidden_layer_sizes=(256,128)' max_iter=5 activation=tanh"

_TRUST_PICKLE_HELP = ("load a pickle-based (.joblib/.pkl) model file; unpickling runs any "
                      "code the file carries, so only for files you trust (default: refuse "
                      "them; .skops files load without pickle)")


class CLIError(Exception):
    """A user error: reported as one line on stderr with exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), so every user error reads the same.

    The error names this parser's own help: a subcommand's parser points to
    ``sknn-mnist COMMAND --help``.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def unrecognized_arguments(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """argparse's "unrecognized arguments" message for ``parser`` (a subcommand's), with the
    closest option it has when the first unknown word is an option (``--datset``:
    ``did you mean --dataset?``)."""
    message = f"unrecognized arguments: {' '.join(extras)}"
    option = next((word.partition("=")[0] for word in extras if word.startswith("-")), None)
    if option is None:
        return message
    known = [name for action in parser._actions for name in action.option_strings]
    close = difflib.get_close_matches(option, known, n=1, cutoff=0.6)
    return f"{message}; did you mean {close[0]}?" if close else message


# -- user errors --------------------------------------------------------------------------------
def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Errors caused by the user's values (a parameter, a row of data) as one-line CLIErrors.

    scikit-learn's and the estimator's validation raise ValueError or TypeError with a
    message that says what is wrong; a parameter so large that the network cannot be built
    raises MemoryError or OverflowError.
    """
    try:
        yield
    except (ValueError, TypeError, OverflowError) as exc:
        raise CLIError(first_line(exc)) from None
    except MemoryError as exc:
        raise CLIError(first_line(exc) if str(exc).strip() else "out of memory: are the "
                       "layer sizes or the batch size far too large?") from None


@contextlib.contextmanager
def write_errors(what: str, path: str | os.PathLike[str]) -> Iterator[None]:
    """An error writing ``path`` (the disk filled up, the folder went away since it was
    checked) as one CLIError line."""
    try:
        yield
    except OSError as exc:
        raise CLIError(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def note(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr (stdout stays for results), unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def cancel_on_ctrl_c(token: CancellationToken) -> Iterator[CancellationToken]:
    """Ctrl-C (SIGINT) cancels ``token`` and still raises ``KeyboardInterrupt`` in the block.

    A training loop may swallow the ``KeyboardInterrupt`` and return a half-trained model:
    the cancelled token (checked after each fit and before each score) stops the run anyway.
    From the first Ctrl-C on, warnings are not shown: the command exits with status 130 and
    saves nothing, so the advice of a stopping run (resume an interrupted fit with
    ``partial_fit``) does not apply.
    """
    if threading.current_thread() is not threading.main_thread():
        yield token  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        token.cancel()
        warnings.simplefilter("ignore")  # undone by catch_warnings below
        raise KeyboardInterrupt

    with warnings.catch_warnings():
        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield token
        finally:
            signal.signal(signal.SIGINT, previous)


# -- early checks: everything that can be checked before loading data or training ------------
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


def _try_write(folder: Path, what: str, path: Path) -> None:
    """Create and remove a file in ``folder``: the only test that tells (``os.access``
    says yes to root everywhere, also in ``/proc`` and on a read-only mount)."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".sknn-mnist-write-test-")
    except OSError as exc:
        raise CLIError(f"cannot write {what} {path}: {exc.strerror or exc} in {folder}"
                       ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(name)


def _check_writable_parent(path: Path, what: str, *, created: Path) -> None:
    """``created`` (``path``'s folder, or the folder ``path`` itself) may be missing: it is
    made when the result is written, but nothing above it is (a mistyped ``--out
    /nonexistent/dir/x.skops`` would otherwise make ``/nonexistent`` as root)."""
    base = created if created.exists() else created.parent
    if not base.exists():
        parent = next((p for p in base.parents if p.exists()), None)
        if parent is not None and not parent.is_dir():
            raise CLIError(f"cannot write {what} {path}: {parent} is a file, not a folder")
        raise CLIError(f"cannot write {what} {path}: folder {base} does not exist (only the "
                       f"last level, {created.name}, is created; make the others first)")
    if not base.is_dir():
        raise CLIError(f"cannot write {what} {path}: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise CLIError(f"cannot write {what} {path}: no write permission in {base}")
    _try_write(base, what, path)


def check_output_file(path: str | os.PathLike[str], *, overwrite: bool,
                      what: str = "file") -> Path:
    """Check that ``path`` can be written (before any expensive work); return it as a Path.

    Raises
    ------
    CLIError
        ``path`` is a folder, exists without ``overwrite``, or its folder cannot be written
        (a file in the way, no permission, a read-only or virtual file system: a file is
        created there and removed to know). Its folder may be missing (it is created when
        the file is written), but not the folder above it.
    """
    out = Path(path)
    # abspath folds "x/.." the way the OS will: a name ending in ".." is a folder.
    if out.is_dir() or Path(os.path.abspath(out)).is_dir() or str(path).endswith(os.sep):
        raise CLIError(f"{what} {out} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise CLIError(f"{out} already exists; pass --overwrite to replace it")
    _check_writable_parent(out, what, created=Path(os.path.abspath(out)).parent)
    return out


def check_output_dir(path: str | os.PathLike[str], *, overwrite: bool = True,
                     what: str = "output folder") -> Path:
    """Check that folder ``path`` can be created or written into; nothing is created yet.

    Raises
    ------
    CLIError
        ``path`` is a file, is not empty without ``overwrite``, or cannot be written; or
        the folder that would hold it does not exist (only ``path`` itself is created).
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CLIError(f"{what} {out} is a file, not a folder")
    if out.is_dir():
        if not overwrite and any(out.iterdir()):
            raise CLIError(f"{what} {out} is not empty; pass --overwrite or another --out")
        if not os.access(out, os.W_OK | os.X_OK):
            raise CLIError(f"cannot write into {what} {out}: no write permission")
        _try_write(out, what, out)
        return out
    _check_writable_parent(out, what, created=Path(os.path.abspath(out)))
    return out


def check_dataset_name(name: str) -> None:
    """A known dataset name, or CLIError listing the known ones.

    The datasets' registry imports numpy but not scikit-learn: a mistyped name is refused
    in a fraction of a second, before the training stack is imported.
    """
    from .. import datasets

    try:
        datasets.get_spec(name)
    except ValueError as exc:
        raise CLIError(first_line(exc)) from None


def check_model_path(path: str, *, pretrained: bool = False) -> None:
    """A model file that exists (a broken link counts: loading then names it), or
    CLIError; with ``pretrained``, a pretrained model's name is accepted too. Loading
    reports everything else."""
    if os.path.lexists(path):
        return
    if not pretrained:
        raise CLIError(f"model file not found: {path}")
    from ..io.pretrained import pretrained_names

    if path not in pretrained_names():
        raise CLIError(f"model file not found: {path} (the pretrained models are: "
                       f"{', '.join(pretrained_names())})")


# -- argument types -----------------------------------------------------------------------------
def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


#: Largest seed numpy's legacy RandomState (scikit-learn's random_state) takes.
MAX_SEED = 2**32 - 1


def seed(text: str) -> int:
    """argparse type: a ``random_state`` seed, 0 to 2**32 - 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must be between 0 and 2**32 - 1, got {text}")
    return value


def n_jobs(text: str) -> int:
    """argparse type: joblib's ``n_jobs`` (any integer but 0)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs run nothing: use 1, N, or -1 for all cores")
    return value


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, else the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cap_jobs(requested: int | None, work: int | None = None) -> int | None:
    """``--n-jobs`` capped at the cores and at ``work`` tasks: asking for 64 workers for 3
    fits on 2 cores starts 2 processes, not 66. Negative values count from the cores as
    in joblib (-1: all of them); None stays None (one process)."""
    if requested is None:
        return None
    cores = usable_cores()
    jobs = min(requested, cores) if requested > 0 else max(cores + 1 + requested, 1)
    return max(1, min(jobs, work)) if work is not None else jobs


def cv_folds(text: str) -> int:
    """argparse type: a number of CV folds (at least 2)."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"--cv needs at least 2 folds, got {value}")
    return value


# -- shared arguments ---------------------------------------------------------------------------
#: The dataset ``compare`` and ``train`` use when no ``--dataset`` is given.
DEFAULT_DATASET = "digits"


def add_dataset_args(p: argparse.ArgumentParser, *, required: bool = True,
                     default: str | None = DEFAULT_DATASET, default_help: str | None = None,
                     train: bool = True) -> None:
    """``--dataset``, ``--data-home``, ``--idx-dir``; with ``train``, ``--max-train`` and
    ``--random-state``.

    ``--dataset`` is required, or defaults to ``default`` (``None``: the command decides,
    e.g. ``evaluate`` takes the model file's own), described by ``default_help``.
    """
    # The names are not listed here: that would import the datasets package (and numpy)
    # just to print --help. An unknown name's error lists them.
    if not required and default_help is None:
        default_help = f"default: {default}"
    p.add_argument("--dataset", required=required, default=None if required else default,
                   metavar="NAME", help="dataset: digits (bundled, offline), mnist, "
                   "fashion-mnist, kmnist...; `sknn-mnist datasets list` lists them"
                   + ("" if required else f" ({default_help})"))
    p.add_argument("--data-home", metavar="DIR", help="dataset cache folder")
    p.add_argument("--idx-dir", metavar="DIR",
                   help="folder with the four IDX .gz files (offline MNIST-style data)")
    if train:
        p.add_argument("--max-train", type=positive_int, metavar="N",
                       help="train on a stratified subsample of N training rows")
        p.add_argument("--random-state", type=seed, default=0, metavar="SEED",
                       help="seed of the models, folds and subsamples (default: 0)")


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``/``-q``."""
    p.add_argument("--quiet", "-q", action="store_true", help="no progress output")


def torch_models() -> list[str]:
    """The compared models that train with torch on a ``--device`` (from the registry)."""
    return [name for name, spec in MODEL_SPECS.items() if spec.compared and spec.uses_device]


#: What ``--n-jobs`` does when it is not given (``args.n_jobs`` is then None until the
#: command's run replaces it: ``runtime.default_jobs``).
N_JOBS_DEFAULT_HELP = ("default: the cores no other process is busy on when the command "
                       "starts, at least 1, as printed; -1: all cores")


def add_run_args(p: argparse.ArgumentParser, *, n_jobs_help: str) -> None:
    """``--n-jobs`` (default None: chosen from the free cores at run time) and
    ``--device``."""
    p.add_argument("--n-jobs", type=n_jobs, default=None, metavar="N",
                   help=f"{n_jobs_help} ({N_JOBS_DEFAULT_HELP})")
    names = torch_models()
    p.add_argument("--device", default="auto",
                   help=f"device of the torch models ({', '.join(names)}): auto (CUDA if "
                   "available), cpu, cuda, cuda:N; the other models ignore it")


def add_dask_args(p: argparse.ArgumentParser) -> None:
    """``--dask ADDRESS`` or ``--dask-local N``."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--dask", metavar="ADDRESS",
                       help="run the fits on a running Dask cluster, e.g. tcp://HOST:8786 "
                       "(needs the dask extra; see docs/dask.md)")
    group.add_argument("--dask-local", type=positive_int, metavar="N",
                       help="run the fits on a local Dask cluster of N single-threaded "
                       "worker processes, started for this run")


def add_model_arg(p: argparse.ArgumentParser) -> None:
    """``--model`` (required)."""
    p.add_argument("--model", required=True, choices=MODEL_NAMES, metavar="MODEL",
                   help=f"one of {', '.join(MODEL_NAMES)}")


def add_params_arg(p: argparse.ArgumentParser) -> None:
    """Positional ``param=value`` items (``args.params``)."""
    p.add_argument("params", nargs="*", metavar="param=value",
                   help="classifier parameters as name=value, values as Python literals; "
                   f"quote tuples for the shell, e.g. {PARAMS_EXAMPLE}")


def add_trust_pickle(p: argparse.ArgumentParser) -> None:
    """``--trust-pickle`` (``args.trust_pickle``), for a command that loads a model."""
    p.add_argument("--trust-pickle", action="store_true", help=_TRUST_PICKLE_HELP)
