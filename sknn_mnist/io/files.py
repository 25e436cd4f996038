"""Small helpers shared by the reports, plots, persistence and dataset cache: one home each.

- :data:`PathLike`: the path type every public function accepts.
- :func:`atomic_path` / :func:`atomic_write` / :func:`write_text_atomic` /
  :func:`write_bytes_atomic`: write a file
  through a temporary file in the same folder and :func:`os.replace`, so that a crash or a
  Ctrl-C never leaves a half-written file in place of a good one.
- :func:`final_estimator`: the last step of a pipeline (or the estimator itself).
- :func:`square_shape`: ``(s, s)`` when a row of pixels is a square image.

Only the standard library is imported here: the CLI imports this module before it knows
whether it needs numpy, scikit-learn or torch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "PathLike",
    "atomic_path",
    "atomic_write",
    "final_estimator",
    "square_shape",
    "write_bytes_atomic",
    "write_text_atomic",
]

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def atomic_path(path: PathLike, *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; when the block succeeds, move it to ``path``.

    For writers that want a file name (``joblib.dump``, ``np.save``, ``fig.savefig``). The
    file gets the permissions of any new file of the user (``0o666 & ~umask``), not
    ``mkstemp``'s 0600. If the block raises anything (``KeyboardInterrupt`` included), the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        The file to create or replace.
    make_parents : bool, default=True
        Create missing parent folders.
    """
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    # os.umask can only be read by setting it; set it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "wb", *, encoding: str = "utf-8",
                 make_parents: bool = True) -> Iterator[IO[Any]]:
    """Open a file object that replaces ``path`` only when the block succeeds.

    Parameters
    ----------
    path : path-like
        The file to create or replace.
    mode : {'wb', 'w'}, default='wb'
        Binary or text (text: ``encoding``, newlines written as given).
    encoding : str, default='utf-8'
    make_parents : bool, default=True
        Create missing parent folders.

    Yields
    ------
    file object
        See :func:`atomic_path` for what happens on success and on failure.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    with atomic_path(path, make_parents=make_parents) as tmp:
        if mode == "w":
            fh: IO[Any] = open(tmp, "w", encoding=encoding, newline="")
        else:
            fh = open(tmp, "wb")
        with fh:  # closes whichever of the two was opened
            yield fh


def write_text_atomic(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; return ``path`` as a Path."""
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return Path(path)


def write_bytes_atomic(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; return ``path`` as a Path."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def final_estimator(model: Any) -> Any:
    """The last step of a :class:`~sklearn.pipeline.Pipeline`, or ``model`` itself."""
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def square_shape(n_features: int) -> tuple[int, int] | None:
    """``(s, s)`` when ``n_features`` is a perfect square ``s * s``, else None."""
    side = int(round(n_features**0.5))
    return (side, side) if side > 0 and side * side == n_features else None
