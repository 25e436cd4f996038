"""The public loaders: the cache, else an IDX folder, else OpenML; the result as a ``Bunch``."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from ._cache import cache_path, content_sha256, read_cache, write_cache
from ._errors import CacheCorruptError, ChecksumError, DatasetUnavailableError
from ._idx import find_idx_files, load_idx_dir
from ._openml import ENV_OPENML_URL, fetch_openml_arrays
from ._registry import DatasetSpec, get_spec

if TYPE_CHECKING:  # imported when a dataset is loaded: checking a name needs no scikit-learn
    from sklearn.utils import Bunch

__all__ = ["ENV_DATA_HOME", "ENV_IDX_DIR", "SUBSETS", "get_data_home", "load_dataset",
           "load_mnist"]

Subset = Literal["train", "test", "all"]
SUBSETS: tuple[str, ...] = ("train", "test", "all")
PathLike = str | os.PathLike[str]
ENV_DATA_HOME = "SKNN_MNIST_DATA"
ENV_IDX_DIR = "SKNN_MNIST_IDX_DIR"


def get_data_home(data_home: PathLike | None = None) -> Path:
    """The cache folder: the argument, else ``$SKNN_MNIST_DATA``, else ``sknn_mnist`` under
    scikit-learn's data home (``$SCIKIT_LEARN_DATA``, default ``~/scikit_learn_data``).

    Unlike :func:`sklearn.datasets.get_data_home` this creates nothing: the cache writer does,
    so an unwritable home costs only the cache, not the load."""
    home = data_home or os.environ.get(ENV_DATA_HOME) or None
    if home is None:
        sk_home = os.environ.get("SCIKIT_LEARN_DATA") or os.path.join("~", "scikit_learn_data")
        return Path(sk_home).expanduser().resolve() / "sknn_mnist"
    return Path(home).expanduser().resolve()


class _Loaded(NamedTuple):  # the full dataset (train then test rows) and where it came from
    X: np.ndarray
    y: np.ndarray
    source: str
    origin: str
    cache_file: Path | None
    meta: dict[str, Any]


def _fresh(path: Path, X: np.ndarray, y: np.ndarray, spec: DatasetSpec, source: str,
           meta: dict[str, Any]) -> _Loaded:
    """Check freshly read arrays against the pinned checksum, then cache them if possible."""
    sha = content_sha256(X, y.astype(np.uint8))
    if spec.sha256 is not None and sha != spec.sha256:
        raise ChecksumError(f"{meta['origin']}: arrays' sha256 {sha} differs from the one "
                            f"pinned in the registry for {spec.name!r} ({spec.sha256})")
    try:
        return _Loaded(X, y, source, meta["origin"], path, write_cache(path, X, y, spec, meta=meta))
    except OSError as exc:
        # A read-only or full data_home must not cost the user the data they just loaded.
        warnings.warn(f"could not write the {spec.name!r} cache {path} ({exc}); the data is "
                      f"loaded but the next load will read it again (set data_home= or "
                      f"{ENV_DATA_HOME} to a writable folder)", stacklevel=5)
        return _Loaded(X, y, source, meta["origin"], None, {**meta, "sha256": sha})


def _load_full(spec: DatasetSpec, *, data_home: PathLike | None, idx_dir: PathLike | None,
               download: bool, progress: bool | None, openml_url: str | None) -> _Loaded:
    if spec.bundled_loader is not None:
        return _bundled(spec)
    attempts: list[str] = []  # what each source said, for the error message
    home = get_data_home(data_home)
    path = cache_path(home, spec)
    loaded = (_from_cache(path, spec, attempts)  # 1. our cache
              or _from_idx(path, spec, idx_dir, attempts)  # 2. IDX files
              or _from_openml(path, spec, home, attempts, download=download,  # 3. OpenML
                              progress=progress, openml_url=openml_url))
    if loaded is None:
        raise DatasetUnavailableError(_unavailable_message(spec, attempts, home),
                                      dataset=spec.name, attempts=attempts) from None
    return loaded


def _bundled(spec: DatasetSpec) -> _Loaded:
    X, y = spec.bundled_loader()  # type: ignore[misc]
    if X.shape != (spec.n_samples, spec.n_features):
        raise RuntimeError(f"bundled {spec.name!r} has shape {X.shape}, spec says otherwise")
    origin = f"{spec.title}, bundled with the dependencies (no download, no cache)"
    sha = content_sha256(X, y.astype(np.uint8))
    return _Loaded(X, y, "bundled", origin, None, {"sha256": sha})


# The sources below return None (and say why in ``attempts``) when they do not have the data.
# Their warnings' stacklevel counts: user -> load_dataset -> _load_full -> source -> warn.


def _from_cache(path: Path, spec: DatasetSpec, attempts: list[str]) -> _Loaded | None:
    try:
        X, y, meta = read_cache(path, spec)
        return _Loaded(X, y, "cache", str(meta.get("origin", "?")), path, meta)
    except IsADirectoryError:
        warnings.warn(f"the cache path {path} is a directory, not a cache file; remove it or "
                      "pass another data_home", stacklevel=4)
        attempts.append(f"cache {path}: is a directory, not a cache file")
    except FileNotFoundError:
        attempts.append(f"cache {path}: not found")
    except CacheCorruptError as exc:
        warnings.warn(f"ignoring corrupt cache, rebuilding it: {exc}", stacklevel=4)
        attempts.append(f"cache: corrupt, {exc}")
    return None


def _from_idx(path: Path, spec: DatasetSpec, idx_dir: PathLike | None,
              attempts: list[str]) -> _Loaded | None:
    if spec.idx_files is None:
        return None
    idx_path = idx_dir or os.environ.get(ENV_IDX_DIR) or None
    if idx_path is None:
        attempts.append(f"IDX files: no idx_dir given and {ENV_IDX_DIR} is not set")
        return None
    found, reason = find_idx_files(spec, Path(idx_path).expanduser().resolve())
    if found is None:
        attempts.append(f"IDX files: {reason}")
        return None
    X, y = load_idx_dir(spec, found)
    meta = {"source": "idx", "origin": f"IDX files in {found}",
            "source_checksums": {f.filename: f.md5 for f in spec.idx_files if f.md5}}
    return _fresh(path, X, y, spec, "idx", meta)


def _from_openml(path: Path, spec: DatasetSpec, home: Path, attempts: list[str], *,
                 download: bool, progress: bool | None,
                 openml_url: str | None) -> _Loaded | None:
    if spec.openml_id is None:
        return None
    if not download:
        attempts.append(f"OpenML (data id {spec.openml_id}): skipped, download=False")
        return None
    tty = sys.stderr is not None and sys.stderr.isatty()
    try:
        X, y, info = fetch_openml_arrays(spec, data_home=home, openml_url=openml_url,
                                         progress=tty if progress is None else progress)
    except DatasetUnavailableError as exc:
        attempts.append(str(exc))
        return None
    meta = {"source": "openml", "openml": info,
            "origin": f"OpenML data id {spec.openml_id} ({info['file']}) from "
                      f"{info['server']}",
            "source_checksums": {"openml_md5": info["md5"]} if info["md5"] else {}}
    return _fresh(path, X, y, spec, "openml", meta)


def _unavailable_message(spec: DatasetSpec, attempts: list[str], home: Path) -> str:
    lines = [f"dataset {spec.name!r} ({spec.title}) is not available. Tried, in order:"]
    lines += [f"  {i}. {a}" for i, a in enumerate(attempts, 1)]
    lines.append("To load it offline:")
    if spec.idx_files is not None:
        names = ", ".join(f.filename for f in spec.idx_files)
        lines.append(f"  - pass idx_dir=DIR (or set {ENV_IDX_DIR}=DIR) to a folder holding "
                     f"{names} (directly or in a sub-folder '{spec.name}/')")
    lines.append(f"  - pass data_home=DIR (or set {ENV_DATA_HOME}=DIR) to a cache folder "
                 f"filled by an earlier load (looked in {home})")
    if spec.openml_id is not None:
        lines.append(f"  - or, once online, let it download from OpenML ({ENV_OPENML_URL} or "
                     "openml.config selects the server)")
    return "\n".join([*lines, "  - load_dataset('digits') ships with scikit-learn and needs no "
                            "network"])


def load_dataset(
    name: str, *, subset: Subset = "train", data_home: PathLike | None = None,
    idx_dir: PathLike | None = None, return_X_y: bool = False, as_frame: bool = False,
    download: bool = True, progress: bool | None = None, openml_url: str | None = None,
) -> Bunch | tuple[Any, Any]:
    """Load a registered dataset: from the cache, else IDX files, else OpenML.

    Parameters
    ----------
    name : str
        One of :func:`list_datasets`: ``"mnist"``, ``"fashion-mnist"``, ``"kmnist"``,
        ``"digits"`` (bundled with scikit-learn, never needs the network).
    subset : {"train", "test", "all"}, default "train"
        The standard split; ``"all"`` is the training rows followed by the test rows.
    data_home : path-like, optional
        Cache folder (see :func:`get_data_home`); openml's own cache goes to
        ``data_home/openml`` unless the user configured one.
    idx_dir : path-like, optional
        Folder holding the four ``*-ubyte.gz`` IDX files (directly or in a sub-folder named
        after the dataset). Default ``$SKNN_MNIST_IDX_DIR``.
    return_X_y, as_frame : bool, default False
        Return ``(data, target)`` instead of a ``Bunch``; ``data`` as a pandas DataFrame and
        ``target`` as a Series (the ``Bunch`` then also has ``frame``).
    download : bool, default True
        Allow downloading from OpenML when there is no cache and no IDX files.
    progress : bool, optional
        Show openml's download progress bar. Default: when stderr is a terminal.
    openml_url : str, optional
        OpenML server, e.g. ``https://www.openml.org``. Default ``$SKNN_MNIST_OPENML_URL``,
        else ``openml.config.server``.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (n, n_features) uint8, ``target`` (n,) int64, ``images`` (n, h, w) uint8
        (a view of ``data``), ``feature_names``, ``target_names``, ``DESCR``, ``name``,
        ``subset``, ``source`` (``"cache"``, ``"idx"``, ``"openml"`` or ``"bundled"``),
        ``origin`` (where the data originally came from), ``cache_path`` (str or None),
        ``checksums`` (``sha256`` of the full dataset's arrays, plus the source file
        checksums), and ``frame`` when ``as_frame``. With ``return_X_y``: ``(data, target)``.

    Raises
    ------
    ValueError
        Unknown ``name`` (the message lists the known names) or ``subset``.
    DatasetUnavailableError
        No source had the data; the message lists what was tried and the offline options.
    DatasetFormatError
        IDX files, a cache rebuild or a download are malformed or fail their checksums.
    """
    spec = get_spec(name)
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    loaded = _load_full(spec, data_home=data_home, idx_dir=idx_dir, download=download,
                        progress=progress, openml_url=openml_url)
    sl = {"train": slice(0, spec.n_train), "test": slice(spec.n_train, spec.n_samples),
          "all": slice(0, spec.n_samples)}[subset]
    data, target = loaded.X[sl], loaded.y[sl]
    images = data.reshape((data.shape[0], *spec.image_shape))
    feature_names = spec.get_feature_names()
    frame = None
    if as_frame:
        import pandas as pd

        data = pd.DataFrame(data, columns=feature_names, copy=False)
        target = pd.Series(target, name="class")
        frame = pd.concat([data, target], axis=1)
    if return_X_y:
        return data, target
    where = (f"cache {loaded.cache_file} (built from {loaded.origin})"
             if loaded.source == "cache" else loaded.origin)
    from sklearn.utils import Bunch

    bunch = Bunch(
        data=data, target=target, images=images, feature_names=feature_names,
        target_names=np.array(spec.target_names), name=spec.name, subset=subset,
        DESCR=f"{spec.description}\n\nSubset: {subset}. Loaded from: {where}.",
        source=loaded.source, origin=loaded.origin,
        cache_path=str(loaded.cache_file) if loaded.cache_file is not None else None,
        checksums={"sha256": loaded.meta.get("sha256"), **loaded.meta.get("source_checksums",
                                                                          {})},
    )
    if frame is not None:
        bunch.frame = frame
    return bunch


def load_mnist(
    *, subset: Subset = "train", data_home: PathLike | None = None,
    idx_dir: PathLike | None = None, return_X_y: bool = False, as_frame: bool = False,
    download: bool = True, progress: bool | None = None, openml_url: str | None = None,
) -> Bunch | tuple[Any, Any]:
    """Load MNIST (60,000 train / 10,000 test images of 28x28 uint8 pixels).

    Same as ``load_dataset("mnist", ...)``; see :func:`load_dataset` for the parameters.

    Examples
    --------
    >>> from sknn_mnist.datasets import load_mnist
    >>> X, y = load_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, X.dtype  # doctest: +SKIP
    ((60000, 784), dtype('uint8'))
    """
    return load_dataset("mnist", **locals())
