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
:class:`CorruptModelFileError`, whose message says "corrupt or truncated" and names the
file; so do hostile ones: members beyond the size bounds of :mod:`sknn_mnist.io.archive`
(decompression bombs, arrays larger than their data, JSON nested too deep) and fitted states
that native code would index out of bounds (:mod:`sknn_mnist.io.validate`: forged tree
tables, SVC coefficients). A path that is not a regular file, or cannot be opened, raises
:class:`UnreadableModelFileError`. All these errors derive from :class:`ModelFileError` (a
:class:`ValueError`).

Files are written atomically (a temporary file beside the destination, then
:func:`os.replace`), with the permissions the user's umask gives a new file, and an existing
file is only replaced with ``overwrite=True``.
"""

from __future__ import annotations

import io
import json
import platform
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import joblib

from .._version import __version__
from .archive import (
    DEFAULT_LIMITS,
    ArchiveError,
    ArchiveLimits,
    check_archive,
    check_directory,
    check_json,
)
from .files import PathLike, atomic_path, final_estimator, write_bytes_atomic
from .inputs import NotARegularFileError, open_regular

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
    "UnreadableModelFileError",
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


class UnreadableModelFileError(ModelFileError, NotARegularFileError):
    """The path is not a regular file (a FIFO, a device, a socket) or cannot be opened."""


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
def _open_regular(path: Path) -> BinaryIO:
    """Open ``path`` if it is a regular file, without blocking on a FIFO.

    Raises
    ------
    FileNotFoundError
        No such file.
    IsADirectoryError
        A folder.
    UnreadableModelFileError
        Not a regular file (a FIFO, a device, a socket), or it cannot be opened (no
        permission, a symbolic-link loop, a name too long).
    """
    try:
        return open_regular(path, "model file")
    except NotARegularFileError as exc:
        raise UnreadableModelFileError(str(exc)) from None


def _format_of(head: bytes) -> str:
    if not head:
        return "empty"
    if head.startswith(_ZIP_MAGIC):
        return "skops"
    if head.startswith(_PICKLE_MAGIC):
        return "pickle"
    return "unknown"


def detect_format(path: PathLike) -> str:
    """Tell a model file's format from its first bytes, without parsing or loading it.

    Returns
    -------
    {'skops', 'pickle', 'empty', 'unknown'}
        ``'skops'`` for any zip archive (checked further on load), ``'pickle'`` for a
        pickle or a joblib-compressed stream.
    """
    with _open_regular(Path(path)) as f:
        return _format_of(f.read(8))


def _corrupt(path: Path, what: str, exc: BaseException | None = None) -> CorruptModelFileError:
    cause = f" ({type(exc).__name__}: {exc})" if exc is not None else ""
    return CorruptModelFileError(f"{path} is corrupt or truncated: {what}{cause}")


def _check_metadata(path: Path, metadata: dict[str, Any]) -> dict[str, Any]:
    """The entries the loader itself reads must have their types: nothing else is used."""
    versions = metadata.get("versions")
    if versions is not None and not (isinstance(versions, dict) and all(
            isinstance(v, str) for v in versions.values())):
        raise _corrupt(path, f"its metadata is invalid: 'versions' is {_short(versions)}, "
                       "not a mapping of names to version strings")
    return metadata


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_header(path: Path, header: Any) -> dict[str, Any]:
    if not (isinstance(header, dict) and header.get("format") == FORMAT):
        raise NotASknnMnistModelError(
            f"{path} is not a sknn_mnist model file (no sknn_mnist format marker)")
    version = header.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise _corrupt(path, f"invalid format version {_short(version)}")
    if version > FORMAT_VERSION:
        raise NotASknnMnistModelError(
            f"{path} uses sknn_mnist model file format {version}, newer than the "
            f"{FORMAT_VERSION} this sknn_mnist {__version__} reads; upgrade sknn_mnist")
    metadata = header.get("metadata")
    return _check_metadata(path, dict(metadata) if isinstance(metadata, dict) else {})


def _open_zip(file: BinaryIO, path: Path, limits: ArchiveLimits) -> zipfile.ZipFile:
    try:
        check_directory(file, limits)
        return zipfile.ZipFile(file)
    except ArchiveError as exc:
        raise _corrupt(path, str(exc)) from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, struct.error) as exc:
        raise _corrupt(path, "the zip archive cannot be read", exc) from exc


def _read_json(path: Path, archive: zipfile.ZipFile, name: str, limits: ArchiveLimits,
               max_bytes: int) -> Any:
    """Parse member ``name`` after checking its size and nesting (no recursion blow-up)."""
    size = archive.getinfo(name).file_size
    if size > max_bytes:  # a decompression bomb: never inflate it
        raise _corrupt(path, f"{name} claims {size} bytes, more than the {max_bytes} allowed")
    try:
        data = archive.read(name)
        check_json(data, name, limits)
        return json.loads(data)
    except ArchiveError as exc:
        raise _corrupt(path, str(exc)) from None
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, UnicodeDecodeError,
            RecursionError, RuntimeError, NotImplementedError) as exc:
        raise _corrupt(path, f"unreadable {name}", exc) from exc


def _read_header(path: Path, archive: zipfile.ZipFile, limits: ArchiveLimits) -> Any:
    names = set(archive.namelist())
    if "schema.json" not in names:
        raise NotASknnMnistModelError(
            f"{path} is a zip archive but not a skops model file (no schema.json)")
    if METADATA_MEMBER not in names:
        raise NotASknnMnistModelError(
            f"{path} is a skops file but was not written by sknn_mnist.save_model (no "
            f"{METADATA_MEMBER}); load it with skops.io.load if you trust it")
    return _read_json(path, archive, METADATA_MEMBER, limits,
                      min(_MAX_METADATA_BYTES, limits.max_json_bytes))


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
    IsADirectoryError
        A folder.
    UnreadableModelFileError
        Not a regular file, or it cannot be opened.
    PickleNotAllowedError
        A pickle-based (joblib) file: its metadata cannot be read without unpickling it;
        use ``load_model(path, allow_pickle=True, return_metadata=True)`` if you trust it.
    NotASknnMnistModelError, CorruptModelFileError
        Not one of our skops files, or a damaged one.
    """
    path = Path(path)
    with _open_regular(path) as f:
        fmt = _sniff(path, f)
        if fmt == "pickle":
            raise PickleNotAllowedError(
                f"{path} is a pickle-based (joblib) file: its metadata cannot be read "
                "without unpickling it, which can run code. If you trust it, use "
                "load_model(path, allow_pickle=True, return_metadata=True) "
                "(CLI: --trust-pickle)")
        with _open_zip(f, path, DEFAULT_LIMITS) as archive:
            header = _read_header(path, archive, DEFAULT_LIMITS)
    metadata = _check_header(path, header)
    metadata.setdefault("format", "skops")
    metadata["format_version"] = header.get("format_version", 1)
    return metadata


def _sniff(path: Path, file: BinaryIO) -> str:
    try:
        fmt = _format_of(file.read(8))
    except OSError as exc:
        raise UnreadableModelFileError(
            f"cannot read model file {path}: {exc.strerror or exc}") from None
    file.seek(0)
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
    stack = [node]
    while stack:  # iterative: a deep tree cannot exhaust the interpreter's stack
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        for child in getattr(node, "children", {}).values():
            items = child if isinstance(child, list) else (
                child.values() if isinstance(child, dict) else [child])
            stack.extend(item for item in items if hasattr(item, "children"))


def _schema_tree(path: Path, archive: zipfile.ZipFile, limits: ArchiveLimits) -> Any:
    """The skops node tree of the archive: nothing is imported or built yet."""
    from skops.io._audit import get_tree
    from skops.io._utils import read_schema

    schema = _read_json(path, archive, "schema.json", limits, limits.max_json_bytes)
    if not isinstance(schema, dict):
        raise _corrupt(path, f"its schema.json holds a {type(schema).__name__}, not an "
                       "object")
    try:
        schema, context = read_schema(archive)
    except (TypeError, ValueError) as exc:  # a protocol newer than this skops
        raise NotASknnMnistModelError(f"{path} cannot be read by skops "
                                      f"{_skops_version()}: {exc}") from exc
    except Exception as exc:  # the schema was checked: the archive changed under us
        raise _corrupt(path, "the skops archive is damaged", exc) from exc
    try:
        return get_tree(schema, context, trusted=None)
    except Exception as exc:  # nothing was built or imported: any failure is a bad schema
        raise _corrupt(path, "the skops schema is invalid", exc) from exc


def _audit(path: Path, tree: Any, trusted: Sequence[str]) -> None:
    """Refuse types that are neither ours nor trusted by the caller, before building any."""
    # skops' public API reports only the types it does not trust itself; the node tree
    # (built without importing or constructing anything) tells every object type.
    from skops.io._general import ObjectNode
    from skops.io._sklearn import ReduceNode

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


def _load_skops(path: Path, file: BinaryIO, trusted: Sequence[str],
                limits: ArchiveLimits) -> tuple[Any, dict[str, Any]]:
    from skops.io._audit import audit_tree

    # One open archive for the checks, the audit and the build: what is built is what was
    # checked, and every member is inflated by the checks before skops reads it.
    with _open_zip(file, path, limits) as archive:
        header = _read_header(path, archive, limits)
        metadata = _check_header(path, header)
        try:
            check_archive(archive, limits)
        except ArchiveError as exc:
            raise _corrupt(path, str(exc)) from None
        allowed = sorted(set(TRUSTED_TYPES) | _package_types() | set(trusted))
        tree = _schema_tree(path, archive, limits)
        _audit(path, tree, allowed)
        try:
            audit_tree(tree, trusted=allowed)  # skops' own audit, with the same list
            model = tree.construct()
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, OSError) as exc:
            raise _corrupt(path, "a member of the skops archive cannot be read", exc) from exc
        except Exception as exc:  # only audited types were built: the content is bad
            raise _corrupt(path, "the model cannot be rebuilt from it", exc) from exc
    from .validate import InconsistentModelError, check_model

    try:
        check_model(model)
    except InconsistentModelError as exc:
        raise _corrupt(path, str(exc)) from None
    except Exception as exc:  # a crafted attribute of an unexpected type
        raise _corrupt(path, "its fitted state is invalid", exc) from exc
    return model, metadata


def _load_pickle(path: Path, file: BinaryIO) -> tuple[Any, dict[str, Any]]:
    try:
        payload = joblib.load(file)
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
    max_bytes: int | None = None,
) -> Any:
    """Load a model saved by :func:`save_model`, running no code from the file by default.

    A skops file is checked before it is built (see the README, "Security and
    reliability"): every member is inflated once, in chunks, within ``max_bytes``; array
    headers must describe the data they hold; JSON is bounded in size and depth; only
    trusted types are built; and the fitted state of the scikit-learn and torch estimators
    is checked against the shapes native code will index (:mod:`sknn_mnist.io.validate`).

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
    max_bytes : int, optional
        Most bytes the members of a skops file may inflate to, all together (default
        :attr:`ArchiveLimits.max_bytes <sknn_mnist.io.archive.ArchiveLimits>`, 2 GiB).
        Loading needs at most about twice this much memory.

    Returns
    -------
    model or (model, metadata)

    Raises
    ------
    FileNotFoundError
        No such file.
    IsADirectoryError
        A folder.
    UnreadableModelFileError
        Not a regular file (a FIFO, a device), or it cannot be opened.
    PickleNotAllowedError
        A pickle-based file and ``allow_pickle`` is False.
    UntrustedTypesError
        A skops file with types outside the trusted ones; ``.types`` lists them.
    CorruptModelFileError
        An empty, truncated, damaged or inconsistent file, or one beyond the bounds.
    NotASknnMnistModelError
        Not a sknn_mnist model file, or a format version newer than this package reads.

    Warns
    -----
    ModelVersionWarning
        The file was written by another version of sknn_mnist, scikit-learn or torch.
    """
    from skops.io._utils import get_type_paths

    limits = DEFAULT_LIMITS if max_bytes is None else replace(DEFAULT_LIMITS,
                                                               max_bytes=int(max_bytes))
    path = Path(path)
    with _open_regular(path) as f:
        fmt = _sniff(path, f)
        if fmt == "pickle":
            if not allow_pickle:
                raise PickleNotAllowedError(
                    f"{path} is a pickle-based (joblib) file, and unpickling can run any "
                    "code it carries; sknn_mnist loads it only if you trust it: pass "
                    "allow_pickle=True (CLI: --trust-pickle). Better, share models as "
                    ".skops files, which load without pickle.")
            model, metadata = _load_pickle(path, f)
        else:
            model, metadata = _load_skops(path, f, get_type_paths(trusted), limits)
    _check_versions(path, metadata.get("versions") or {})
    return (model, metadata) if return_metadata else model
