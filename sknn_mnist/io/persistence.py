"""Save and load trained models: skops by default, joblib (pickle) only on explicit trust.

Two formats, told apart by the file's *content*, never by its name:

- **skops** (the default, ``*.skops``): a zip archive written by :mod:`skops.io`, which stores
  objects as JSON and ``.npy`` members and rebuilds them without pickle. :func:`save_model`
  adds a member ``sknn_mnist.json`` with the metadata (versions, dataset, features, classes,
  scores, creation time, training device), so :func:`read_metadata` reads it with a JSON
  parser, without loading the model. :func:`load_model` rebuilds only the types this package
  writes (:data:`TRUSTED_TYPES`: our classifiers and scalers and the scikit-learn types our
  pipelines use) and refuses any other with :class:`UntrustedTypesError`, which lists them;
  pass ``trusted=[...]`` to accept more.
- **joblib** (``*.joblib``, ``*.pkl``): a pickle, which runs whatever code the file carries
  when it is loaded. :func:`load_model` refuses it with :class:`PickleNotAllowedError` unless
  the caller passes ``allow_pickle=True`` (CLI: ``--trust-pickle``).

Damaged files (empty, truncated, random bytes, broken archives) raise
:class:`CorruptModelFileError`, whose message says "corrupt or truncated". All these errors
derive from :class:`ModelFileError` (a :class:`ValueError`).

Files are written atomically (a temporary file beside the destination, then
:func:`os.replace`), with the permissions the user's umask gives a new file, and an existing
file is only replaced with ``overwrite=True``.
"""

from __future__ import annotations

import io
import json
import platform
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import joblib

from .._version import __version__
from .files import PathLike, atomic_path, final_estimator, write_bytes_atomic

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA_MEMBER",
    "TRUSTED_TYPES",
    "CorruptModelFileError",
    "ModelFileError",
    "ModelVersionWarning",
    "NotASknnMnistModelError",
    "PickleNotAllowedError",
    "UntrustedTypesError",
    "detect_format",
    "library_versions",
    "load_model",
    "read_metadata",
    "save_model",
]

#: Marker stored in every file, checked on load.
FORMAT = "sknn_mnist.model"
#: Layout of the saved metadata and joblib payload; bumped when it changes incompatibly.
#: 1: joblib only; 2: skops with a metadata member, joblib with the same payload as 1.
FORMAT_VERSION = 2
#: Name of the metadata member inside a skops archive.
METADATA_MEMBER = "sknn_mnist.json"

#: Classes rebuilt from a skops file without ``trusted=`` whatever model it holds: the
#: pipeline and the scalers users put in front of a classifier. The classifiers and what
#: they hold come from the registry of model kinds (:mod:`sknn_mnist.registry`), so a model
#: that can be compared can be saved and loaded; ``Tree`` (the forest's) is not trusted by
#: skops itself, and every tree's tables are checked on load.
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.MinMaxScaler",
    "sklearn.preprocessing._data.StandardScaler",
)

#: Largest metadata member read: ours are a few kB.
_MAX_METADATA_BYTES = 16 * 2**20
_PICKLE_SUFFIXES = {".joblib", ".pkl", ".pickle"}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# Starts of the files joblib writes: a pickle (protocol 2-5) or one of its compressors.
_PICKLE_MAGIC = (
    b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05",  # pickle PROTO opcode
    b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda",  # zlib (joblib's default)
    b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x5d\x00\x00", b"\x04\x22\x4d\x18",  # gz bz2 xz
    b"ZF",  # joblib < 0.10
)


class ModelFileError(ValueError):
    """A model file cannot be loaded: base of this module's errors."""


class NotASknnMnistModelError(ModelFileError):
    """The file is not a model saved by :func:`save_model`."""


class CorruptModelFileError(NotASknnMnistModelError):
    """The file is empty, truncated or damaged."""


class PickleNotAllowedError(ModelFileError):
    """The file is a pickle, and the caller did not say that they trust it."""


class UntrustedTypesError(ModelFileError):
    """A skops file holds types this package does not rebuild without ``trusted=``.

    Attributes
    ----------
    types : list of str
        The unexpected types, fully qualified.
    """

    def __init__(self, message: str, types: Sequence[str]):
        super().__init__(message)
        self.types = list(types)


class ModelVersionWarning(UserWarning):
    """The model was saved by another version of sknn_mnist or of a library it depends on."""


def library_versions() -> dict[str, str]:
    """Versions that matter for loading: sknn_mnist, scikit-learn, torch, skorch, skops, numpy."""
    import numpy
    import sklearn

    versions = {"sknn_mnist": __version__, "scikit-learn": sklearn.__version__,
                "numpy": numpy.__version__, "python": platform.python_version()}
    for name in ("torch", "skorch", "skops"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:  # svm/rf models do not need them
            versions[name] = "not installed"
    return versions


# -- writing -------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    """``value`` as JSON data: numbers, strings, lists, dicts; anything else as its repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:  # numpy scalar
        return _jsonable(value.item())
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    return repr(value)


def _params(model: Any) -> dict[str, str]:
    clf = final_estimator(model)
    get_params = getattr(clf, "get_params", None)
    if get_params is None:
        return {}
    # repr: metadata is plain text, never objects that need loading.
    return {k: repr(v) for k, v in get_params(deep=False).items()}


def _metadata(model: Any, fmt: str, *, dataset: str | None, test_score: float | None,
              cv_score: float | None, extra: Mapping[str, Any] | None) -> dict[str, Any]:
    clf = final_estimator(model)
    classes = getattr(clf, "classes_", None)
    names = getattr(model, "feature_names_in_", None)
    meta: dict[str, Any] = {
        "format": fmt,
        "versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model_class": type(model).__name__,
        "estimator_class": f"{type(clf).__module__}.{type(clf).__qualname__}",
        "params": _params(model),
        "dataset": dataset,
        "test_score": None if test_score is None else float(test_score),
        "cv_score": None if cv_score is None else float(cv_score),
        "n_features_in": getattr(model, "n_features_in_", getattr(clf, "n_features_in_", None)),
        "feature_names": None if names is None else list(names),
        "classes": None if classes is None else list(classes),
        "training_device": getattr(clf, "device_", None),
    }
    meta.update(extra or {})
    return _jsonable(meta)


def _skops_bytes(model: Any, metadata: dict[str, Any], compress: int) -> bytes:
    import skops.io as sio

    compression = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    data = sio.dumps(model, compression=compression,
                     compresslevel=compress if compress else None)
    buffer = io.BytesIO(data)
    # The metadata is one more member of skops' zip: skops ignores members it does not
    # reference, and readers get the metadata with a JSON parser alone.
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(
            {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": metadata},
            indent=1))
    return buffer.getvalue()


def save_model(
    model: Any,
    path: PathLike,
    *,
    format: str | None = None,
    dataset: str | None = None,
    test_score: float | None = None,
    cv_score: float | None = None,
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
        Destination, conventionally ``*.skops``.
    format : {'skops', 'joblib'}, optional
        File format. By default ``'joblib'`` for a name ending in ``.joblib``, ``.pkl`` or
        ``.pickle``, else ``'skops'``. A joblib file is a pickle: loading it needs
        ``allow_pickle=True``.
    dataset : str, optional
        Name of the dataset it was trained on.
    test_score, cv_score : float, optional
        Its test accuracy and cross-validation score.
    metadata : dict, optional
        More metadata entries (they override the automatic ones). Stored as JSON: values
        that are not numbers, strings, lists or dicts are stored as their ``repr``.
    overwrite : bool, default=False
        Replace an existing file. Without it an existing file raises, so that a model the
        user may not be able to retrain is never lost silently.
    compress : int, default=3
        zlib compression level (0-9); random forests shrink several-fold.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    ValueError
        Unknown ``format``.
    """
    path = Path(path)
    if format is None:
        format = "joblib" if path.suffix.lower() in _PICKLE_SUFFIXES else "skops"
    if format not in ("skops", "joblib"):
        raise ValueError(f"unknown model file format {format!r}; use 'skops' or 'joblib'")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    meta = _metadata(model, format, dataset=dataset, test_score=test_score,
                     cv_score=cv_score, extra=metadata)
    if format == "skops":
        write_bytes_atomic(path, _skops_bytes(model, meta, compress))
    else:
        payload = {"format": FORMAT, "format_version": FORMAT_VERSION, "metadata": meta,
                   "model": model}
        with atomic_path(path) as tmp:
            joblib.dump(payload, tmp, compress=compress)
    return path


# -- reading -------------------------------------------------------------------------------
def detect_format(path: PathLike) -> str:
    """Tell a model file's format from its first bytes, without parsing or loading it.

    Returns
    -------
    {'skops', 'pickle', 'empty', 'unknown'}
        ``'skops'`` for any zip archive (checked further on load), ``'pickle'`` for a
        pickle or a joblib-compressed stream.
    """
    with open(path, "rb") as f:
        head = f.read(8)
    if not head:
        return "empty"
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if head.startswith(_PICKLE_MAGIC):
        return "pickle"
    return "unknown"


def _corrupt(path: Path, what: str, exc: BaseException | None = None) -> CorruptModelFileError:
    cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return CorruptModelFileError(f"{path} is corrupt or truncated: {what}{cause}")


def _check_header(path: Path, header: Any) -> dict[str, Any]:
    if not (isinstance(header, dict) and header.get("format") == FORMAT):
        raise NotASknnMnistModelError(
            f"{path} is not a sknn_mnist model file (no sknn_mnist format marker)")
    version = header.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _corrupt(path, f"invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise NotASknnMnistModelError(
            f"{path} uses sknn_mnist model file format {version}, newer than the "
            f"{FORMAT_VERSION} this sknn_mnist {__version__} reads; upgrade sknn_mnist")
    metadata = header.get("metadata")
    return dict(metadata) if isinstance(metadata, dict) else {}


def _open_zip(file: Any, path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise _corrupt(path, "the zip archive cannot be read", exc) from exc


def _read_header(path: Path, archive: zipfile.ZipFile) -> dict[str, Any]:
    names = set(archive.namelist())
    if "schema.json" not in names:
        raise NotASknnMnistModelError(
            f"{path} is a zip archive but not a skops model file (no schema.json)")
    if METADATA_MEMBER not in names:
        raise NotASknnMnistModelError(
            f"{path} is a skops file but was not written by sknn_mnist.save_model (no "
            f"{METADATA_MEMBER}); load it with skops.io.load if you trust it")
    size = archive.getinfo(METADATA_MEMBER).file_size
    if size > _MAX_METADATA_BYTES:  # a decompression bomb: never inflate it
        raise _corrupt(path, f"{METADATA_MEMBER} claims {size} bytes")
    try:
        header = json.loads(archive.read(METADATA_MEMBER))
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise _corrupt(path, f"unreadable {METADATA_MEMBER}", exc) from exc
    return header


def read_metadata(path: PathLike) -> dict[str, Any]:
    """Read a model file's metadata without loading the model or running any of its code.

    Parameters
    ----------
    path : path-like
        A skops file written by :func:`save_model`.

    Returns
    -------
    dict
        The metadata, with ``'format'`` (``'skops'``) and ``'format_version'``.

    Raises
    ------
    FileNotFoundError
        No such file.
    PickleNotAllowedError
        A pickle-based (joblib) file: its metadata cannot be read without unpickling it;
        use ``load_model(path, allow_pickle=True, return_metadata=True)`` if you trust it.
    NotASknnMnistModelError, CorruptModelFileError
        Not one of our skops files, or a damaged one.
    """
    path = _existing(path)
    fmt = _sniff(path)
    if fmt == "pickle":
        raise PickleNotAllowedError(
            f"{path} is a pickle-based (joblib) file: its metadata cannot be read without "
            "unpickling it, which can run code. If you trust it, use "
            "load_model(path, allow_pickle=True, return_metadata=True) (CLI: --trust-pickle)")
    with _open_zip(path, path) as archive:
        header = _read_header(path, archive)
    metadata = _check_header(path, header)
    metadata.setdefault("format", "skops")
    metadata["format_version"] = header.get("format_version", 1)
    return metadata


def _existing(path: PathLike) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    return path


def _sniff(path: Path) -> str:
    fmt = detect_format(path)
    if fmt == "empty":
        raise _corrupt(path, "the file is empty")
    if fmt == "unknown":
        raise CorruptModelFileError(
            f"{path} is not a model file, or it is corrupt or truncated: its content is "
            "neither a skops archive nor a joblib/pickle file")
    return fmt


def _package_types() -> set[str]:
    """Fully qualified names of the types of every registered model kind."""
    from ..registry import trusted_types

    return trusted_types()


def _walk(node: Any, seen: set[int]) -> Iterable[Any]:
    """Every node of a skops tree (the same children skops audits), each once."""
    if id(node) in seen:
        return
    seen.add(id(node))
    yield node
    for child in getattr(node, "children", {}).values():
        items = child if isinstance(child, list) else (
            child.values() if isinstance(child, dict) else [child])
        for item in items:
            if hasattr(item, "children"):
                yield from _walk(item, seen)


def _audit(path: Path, archive: zipfile.ZipFile, trusted: Sequence[str]) -> None:
    """Refuse types that are neither ours nor trusted by the caller, before building any."""
    # skops' public API reports only the types it does not trust itself; the node tree
    # (built without importing or constructing anything) tells every object type.
    from skops.io._audit import get_tree
    from skops.io._general import ObjectNode
    from skops.io._sklearn import ReduceNode
    from skops.io._utils import read_schema

    try:
        schema, context = read_schema(archive)
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError,
            KeyError) as exc:
        raise _corrupt(path, "the skops archive is damaged", exc) from exc
    except (TypeError, ValueError) as exc:  # a protocol newer than this skops
        raise NotASknnMnistModelError(f"{path} cannot be read by skops "
                                      f"{_skops_version()}: {exc}") from exc
    try:
        tree = get_tree(schema, context, trusted=None)
    except Exception as exc:  # nothing was built or imported: any failure is a bad schema
        raise _corrupt(path, "the skops schema is invalid", exc) from exc
    unexpected = set(tree.get_unsafe_set())
    # skops trusts every scikit-learn estimator by default; we trust only those our
    # pipelines use, so objects are checked against our list too.
    for node in _walk(tree, set()):
        if isinstance(node, ObjectNode | ReduceNode):
            unexpected.add(f"{node.module_name}.{node.class_name}")
    unexpected -= set(trusted)
    if unexpected:
        names = sorted(unexpected)
        raise UntrustedTypesError(
            f"{path} holds types that sknn_mnist does not load without being told to trust "
            f"them: {', '.join(names)}. If you trust the file, pass trusted={names!r} to "
            "load_model.", names)


def _skops_version() -> str:
    import skops

    return skops.__version__


def _check_trees(path: Path, model: Any) -> None:
    """Bounds-check decision-tree tables: scikit-learn indexes them without checks."""
    import numpy as np
    from sklearn.tree._tree import Tree

    stack, seen = [model], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tree):
            n = obj.node_count
            left, right, feature = obj.children_left, obj.children_right, obj.feature
            leaf = left == -1
            ok = (n >= 1 and len(left) == n and obj.value.shape[0] == n
                  and np.all((leaf & (right == -1)) | (~leaf & (left > 0) & (left < n)
                                                       & (right > 0) & (right < n)))
                  and np.all(leaf | ((feature >= 0) & (feature < obj.n_features))))
            if not ok:
                raise _corrupt(path, "a decision tree's node table is inconsistent")
            continue
        if isinstance(obj, list | tuple):
            stack.extend(obj)
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif hasattr(obj, "__dict__") and type(obj).__module__.startswith("sklearn."):
            stack.extend(vars(obj).values())


def _load_skops(path: Path, trusted: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    import skops.io as sio

    # One open file for the audit and the load: what is loaded is what was audited.
    with open(path, "rb") as f:
        with _open_zip(f, path) as archive:
            header = _read_header(path, archive)
            metadata = _check_header(path, header)
            allowed = sorted(set(TRUSTED_TYPES) | _package_types() | set(trusted))
            _audit(path, archive, allowed)
        f.seek(0)
        try:
            # skops audits again, with the same list, before it builds anything.
            model = sio.load(f, trusted=allowed)
        except (zipfile.BadZipFile, EOFError, KeyError, OSError) as exc:
            raise _corrupt(path, "a member of the skops archive cannot be read", exc) from exc
        except Exception as exc:  # only audited types were built: the content is bad
            raise _corrupt(path, "the model cannot be rebuilt from it", exc) from exc
    _check_trees(path, model)
    return model, metadata


def _load_pickle(path: Path) -> tuple[Any, dict[str, Any]]:
    try:
        payload = joblib.load(path)
    except (ImportError, AttributeError) as exc:  # a class this environment does not have
        raise NotASknnMnistModelError(
            f"{path} cannot be loaded here: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # a pickle/joblib header, then a stream joblib cannot read
        raise _corrupt(path, "joblib could not read it", exc) from exc
    if not (isinstance(payload, dict) and "model" in payload):
        raise NotASknnMnistModelError(
            f"{path} is not a sknn_mnist model file (it holds a {type(payload).__name__}, "
            "not a model saved by sknn_mnist.save_model)")
    metadata = _check_header(path, payload)
    metadata.setdefault("format", "joblib")
    return payload["model"], metadata


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


def load_model(
    path: PathLike,
    *,
    trusted: Sequence[str | type] | None = None,
    allow_pickle: bool = False,
    return_metadata: bool = False,
) -> Any:
    """Load a model saved by :func:`save_model`, running no code from the file by default.

    Parameters
    ----------
    path : path-like
        A skops or joblib file; the format is read from the content, not the name.
    trusted : list of str or type, optional
        More types to rebuild from a skops file, besides :data:`TRUSTED_TYPES` and the
        package's own classes (the error for an untrusted file lists their names).
    allow_pickle : bool, default=False
        Load a pickle-based (joblib) file. Unpickling runs whatever code the file carries:
        pass True only for files you trust.
    return_metadata : bool, default=False
        Also return the metadata dict.

    Returns
    -------
    model or (model, metadata)

    Raises
    ------
    FileNotFoundError
        No such file.
    PickleNotAllowedError
        A pickle-based file and ``allow_pickle`` is False.
    UntrustedTypesError
        A skops file with types outside the trusted ones; ``.types`` lists them.
    CorruptModelFileError
        An empty, truncated or damaged file.
    NotASknnMnistModelError
        Not a sknn_mnist model file, or a format version newer than this package reads.

    Warns
    -----
    ModelVersionWarning
        The file was written by another version of sknn_mnist, scikit-learn or torch.
    """
    from skops.io._utils import get_type_paths

    path = _existing(path)
    fmt = _sniff(path)
    if fmt == "pickle":
        if not allow_pickle:
            raise PickleNotAllowedError(
                f"{path} is a pickle-based (joblib) file, and unpickling can run any code it "
                "carries; sknn_mnist loads it only if you trust it: pass allow_pickle=True "
                "(CLI: --trust-pickle). Better, share models as .skops files, which load "
                "without pickle.")
        model, metadata = _load_pickle(path)
    else:
        model, metadata = _load_skops(path, get_type_paths(trusted))
    _check_versions(path, metadata.get("versions") or {})
    return (model, metadata) if return_metadata else model
