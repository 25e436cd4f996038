"""Save and load trained models with joblib, together with metadata.

A saved file holds one dict: a format marker, the model, and metadata (package and library
versions, dataset, parameters, test score, creation time). :func:`load_model` checks the
marker, so a file that is not a sknn_mnist model fails with :class:`NotASknnMnistModelError`
instead of an obscure unpickling error, and warns with :class:`ModelVersionWarning` when the
file was written by another version of sknn_mnist, scikit-learn or torch.

Files are written atomically (temporary file in the same folder, then :func:`os.replace`),
and an existing file is only replaced with ``overwrite=True``.

Security: like every pickle, a model file can run code when loaded. Only load files you
trust.
"""

from __future__ import annotations

import os
import platform
import re
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib

from ._version import __version__

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ModelVersionWarning",
    "NotASknnMnistModelError",
    "library_versions",
    "load_model",
    "save_model",
]

PathLike = str | os.PathLike[str]

#: Marker stored in every file, checked on load.
FORMAT = "sknn_mnist.model"
#: Layout of the saved dict; bumped when it changes incompatibly.
FORMAT_VERSION = 1


class NotASknnMnistModelError(ValueError):
    """The file is not a model saved by :func:`save_model`."""


class ModelVersionWarning(UserWarning):
    """The model was saved by another version of sknn_mnist or of a library it depends on."""


def library_versions() -> dict[str, str]:
    """Versions that matter for unpickling: sknn_mnist, scikit-learn, torch, skorch, numpy."""
    import numpy
    import sklearn

    versions = {"sknn_mnist": __version__, "scikit-learn": sklearn.__version__,
                "numpy": numpy.__version__, "python": platform.python_version()}
    for name in ("torch", "skorch"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:  # svm/rf models do not need them
            versions[name] = "not installed"
    return versions


def _final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _params(model: Any) -> dict[str, str]:
    clf = _final_estimator(model)
    get_params = getattr(clf, "get_params", None)
    if get_params is None:
        return {}
    # repr: metadata must stay readable without unpickling arbitrary objects.
    return {k: repr(v) for k, v in get_params(deep=False).items()}


def save_model(
    model: Any,
    path: PathLike,
    *,
    dataset: str | None = None,
    test_score: float | None = None,
    metadata: dict[str, Any] | None = None,
    overwrite: bool = False,
    compress: int = 3,
) -> Path:
    """Save a fitted model (or pipeline) with its metadata, atomically.

    Parameters
    ----------
    model : estimator
        A fitted scikit-learn estimator or pipeline.
    path : path-like
        Destination, conventionally ``*.joblib``.
    dataset : str, optional
        Name of the dataset it was trained on.
    test_score : float, optional
        Its test accuracy.
    metadata : dict, optional
        More entries for the metadata (they override the automatic ones).
    overwrite : bool, default=False
        Replace an existing file. Without it an existing file raises, so that a model the
        user may not be able to retrain is never lost silently.
    compress : int, default=3
        joblib zlib compression level (0-9); random forests shrink several-fold.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    clf = _final_estimator(model)
    classes = getattr(clf, "classes_", None)
    meta: dict[str, Any] = {
        "versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "model_class": type(model).__name__,
        "estimator_class": f"{type(clf).__module__}.{type(clf).__qualname__}",
        "params": _params(model),
        "dataset": dataset,
        "test_score": None if test_score is None else float(test_score),
        "n_features_in": getattr(model, "n_features_in_", getattr(clf, "n_features_in_", None)),
        "classes": None if classes is None else [c.item() if hasattr(c, "item") else c
                                                 for c in classes],
    }
    meta.update(metadata or {})
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": meta,
               "model": model}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        joblib.dump(payload, tmp, compress=compress)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _version_tuple(version: str) -> tuple[int, ...]:
    release = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(p) for p in release.group(0).split(".")) if release else ()


def _check_versions(path: Path, saved: dict[str, str]) -> None:
    current = library_versions()
    for name in ("sknn_mnist", "scikit-learn", "torch"):
        old, new = saved.get(name), current.get(name)
        if old is None or old == new or new == "not installed":
            continue
        relation = "a newer" if _version_tuple(old) > _version_tuple(new) else "an older"
        warnings.warn(
            f"{path} was saved with {name} {old}, {relation} version than the installed "
            f"{new}; it may load or predict incorrectly. Retrain it, or install "
            f"{name}=={old} to use it safely.",
            ModelVersionWarning, stacklevel=3)


def load_model(path: PathLike, *, return_metadata: bool = False) -> Any:
    """Load a model saved by :func:`save_model`.

    Parameters
    ----------
    path : path-like
    return_metadata : bool, default=False
        Also return the metadata dict.

    Returns
    -------
    model or (model, metadata)

    Raises
    ------
    FileNotFoundError
        No such file.
    NotASknnMnistModelError
        The file is not a sknn_mnist model (not a joblib file, or another object).

    Warns
    -----
    ModelVersionWarning
        The file was written by another version of sknn_mnist, scikit-learn or torch.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        payload = joblib.load(path)
    except Exception as exc:  # any unpickling failure means "not one of our files"
        raise NotASknnMnistModelError(
            f"{path} is not a sknn_mnist model file (joblib could not read it: "
            f"{type(exc).__name__})") from exc
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT
            and "model" in payload):
        raise NotASknnMnistModelError(
            f"{path} is not a sknn_mnist model file (it holds a {type(payload).__name__}, "
            "not a model saved by sknn_mnist.save_model)")
    metadata = dict(payload.get("metadata") or {})
    if payload.get("format_version", 0) > FORMAT_VERSION:
        warnings.warn(
            f"{path} uses model file format {payload['format_version']}, newer than the "
            f"{FORMAT_VERSION} this sknn_mnist {__version__} writes; upgrade sknn_mnist.",
            ModelVersionWarning, stacklevel=2)
    _check_versions(path, metadata.get("versions") or {})
    model = payload["model"]
    return (model, metadata) if return_metadata else model
