"""The public loaders: try the cache, then an IDX folder, then OpenML, and build a ``Bunch``."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.utils import Bunch

from . import _config
from ._cache import cache_path, content_sha256, read_cache, write_cache
from ._errors import CacheCorruptError, DatasetUnavailableError
from ._idx import find_idx_files, load_idx_dir
from ._openml import OpenMLError, fetch_openml_arrays
from ._registry import DatasetSpec, get_spec

__all__ = ["SUBSETS", "load_dataset", "load_mnist"]

Subset = Literal["train", "test", "all"]
SUBSETS: tuple[str, ...] = ("train", "test", "all")
PathLike = str | os.PathLike[str]


@dataclass
class _Loaded:
    """The full dataset (train rows then test rows) and where it came from."""

    X: np.ndarray
    y: np.ndarray
    source: str
    origin: str
    cache_file: Path | None
    meta: dict[str, Any] = field(default_factory=dict)


def _try_write_cache(
    path: Path, X: np.ndarray, y: np.ndarray, spec: DatasetSpec, meta: dict[str, Any]
) -> tuple[Path | None, dict[str, Any]]:
    try:
        return path, write_cache(path, X, y, spec, meta=meta)
    except OSError as exc:
        # A read-only or full data_home must not cost the user the data they just loaded.
        warnings.warn(
            f"could not write the {spec.name!r} cache {path} ({exc}); the data is loaded "
            f"but the next load will read it again (set data_home= or "
            f"{_config.ENV_DATA_HOME} to a writable folder)",
            stacklevel=4,
        )
        return None, {**meta, "sha256": content_sha256(X, y.astype(np.uint8))}


def _load_bundled(spec: DatasetSpec) -> _Loaded:
    assert spec.bundled_loader is not None
    X, y = spec.bundled_loader()
    if X.shape != (spec.n_samples, spec.n_features):
        raise RuntimeError(f"bundled {spec.name!r} has shape {X.shape}, spec says otherwise")
    import sklearn

    origin = f"sklearn.datasets.load_digits (bundled with scikit-learn {sklearn.__version__})"
    if spec.name != "digits":
        origin = f"bundled loader {getattr(spec.bundled_loader, '__name__', '?')}"
    meta = {"sha256": content_sha256(X, y.astype(np.uint8))}
    return _Loaded(X, y, "bundled", origin, None, meta)


def _load_full(
    spec: DatasetSpec,
    *,
    data_home: PathLike | None,
    idx_dir: PathLike | None,
    download: bool,
    progress: bool | None,
    openml_url: str | None,
) -> _Loaded:
    if spec.bundled_loader is not None:
        return _load_bundled(spec)

    attempts: list[str] = []
    home = _config.get_data_home(data_home)
    path = cache_path(home, spec)

    # 1. Our own cache.
    try:
        X, y, meta = read_cache(path, spec)
        return _Loaded(X, y, "cache", str(meta.get("origin", "?")), path, meta)
    except FileNotFoundError:
        attempts.append(f"cache {path}: not found")
    except CacheCorruptError as exc:
        warnings.warn(f"ignoring corrupt cache, rebuilding it: {exc}", stacklevel=3)
        attempts.append(f"cache: corrupt, {exc}")

    # 2. IDX files.
    idx_path = _config.get_idx_dir(idx_dir)
    if spec.idx_files is None:
        pass
    elif idx_path is None:
        attempts.append(f"IDX files: no idx_dir given and {_config.ENV_IDX_DIR} is not set")
    else:
        found = find_idx_files(spec, idx_path)
        if found.directory is None:
            attempts.append(f"IDX files: {found.reason}")
        else:
            X, y = load_idx_dir(spec, found.directory, check_md5=False)
            meta = {
                "source": "idx",
                "origin": f"IDX files in {found.directory}",
                "source_checksums": {
                    f.filename: f.md5 for f in spec.idx_files if f.md5 is not None
                },
            }
            written, meta = _try_write_cache(path, X, y, spec, meta)
            return _Loaded(X, y, "idx", meta["origin"], written, meta)

    # 3. OpenML.
    if spec.openml_id is not None:
        base = _config.get_openml_url(openml_url)
        if not download:
            attempts.append(f"OpenML {base} (data id {spec.openml_id}): skipped, download=False")
        else:
            try:
                X, y, info = fetch_openml_arrays(
                    spec, net=_config.get_net_settings(base), progress=progress
                )
            except OpenMLError as exc:
                attempts.append(f"OpenML (data id {spec.openml_id}): {exc}")
            else:
                meta = {
                    "source": "openml",
                    "origin": f"OpenML data id {spec.openml_id} from {info['url']}",
                    "openml": info,
                    "source_checksums": {"arff_md5": info["md5"]},
                }
                written, meta = _try_write_cache(path, X, y, spec, meta)
                return _Loaded(X, y, "openml", meta["origin"], written, meta)

    raise DatasetUnavailableError(
        _unavailable_message(spec, attempts, home), dataset=spec.name, attempts=attempts
    ) from None


def _unavailable_message(spec: DatasetSpec, attempts: list[str], home: Path) -> str:
    lines = [f"dataset {spec.name!r} ({spec.title}) is not available. Tried, in order:"]
    lines += [f"  {i}. {a}" for i, a in enumerate(attempts, 1)]
    lines.append("To load it offline:")
    if spec.idx_files is not None:
        names = ", ".join(f.filename for f in spec.idx_files)
        lines.append(
            f"  - pass idx_dir=DIR (or set {_config.ENV_IDX_DIR}=DIR) to a folder holding "
            f"{names} (directly or in a sub-folder '{spec.name}/')"
        )
    lines.append(
        f"  - pass data_home=DIR (or set {_config.ENV_DATA_HOME}=DIR) to a cache folder "
        f"filled by an earlier load (looked in {home})"
    )
    if spec.openml_id is not None:
        lines.append(
            f"  - or, once online, let it download from OpenML ({_config.ENV_OPENML_URL} "
            "selects the server)"
        )
    lines.append("  - load_dataset('digits') ships with scikit-learn and needs no network")
    return "\n".join(lines)


def _descr(spec: DatasetSpec, loaded: _Loaded, subset: str) -> str:
    where = {
        "cache": f"cache {loaded.cache_file} (built from {loaded.origin})",
        "idx": loaded.origin,
        "openml": loaded.origin,
        "bundled": loaded.origin,
    }[loaded.source]
    return f"{spec.description}\n\nSubset: {subset}. Loaded from: {where}."


def _select(spec: DatasetSpec, subset: str) -> slice:
    if subset == "train":
        return slice(0, spec.n_train)
    if subset == "test":
        return slice(spec.n_train, spec.n_samples)
    return slice(0, spec.n_samples)


def load_dataset(
    name: str,
    *,
    subset: Subset = "train",
    data_home: PathLike | None = None,
    idx_dir: PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = False,
    download: bool = True,
    progress: bool | None = None,
    openml_url: str | None = None,
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
        Cache folder. Default ``$SKNN_MNIST_DATA``, else ``sknn_mnist`` under
        :func:`sklearn.datasets.get_data_home`.
    idx_dir : path-like, optional
        Folder holding the four ``*-ubyte.gz`` IDX files (directly or in a sub-folder named
        after the dataset). Default ``$SKNN_MNIST_IDX_DIR``.
    return_X_y : bool, default False
        Return ``(data, target)`` instead of a ``Bunch``.
    as_frame : bool, default False
        ``data`` as a pandas DataFrame and ``target`` as a Series (needs pandas); the
        ``Bunch`` then also has ``frame``.
    download : bool, default True
        Allow downloading from OpenML when there is no cache and no IDX files.
    progress : bool, optional
        Show a download progress bar (after the first second). Default: when stderr is a
        terminal.
    openml_url : str, optional
        OpenML server base URL. Default ``$SKNN_MNIST_OPENML_URL``, else
        ``https://api.openml.org``.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (n, n_features) uint8, ``target`` (n,) int64, ``images`` (n, h, w) uint8
        (a view of ``data``), ``feature_names``, ``target_names``, ``DESCR``, ``name``,
        ``subset``, ``source`` (``"cache"``, ``"idx"``, ``"openml"`` or ``"bundled"``),
        ``origin`` (where the data originally came from), ``cache_path`` (str or None),
        ``checksums`` (dict: ``sha256`` of the full dataset's arrays, plus the source file
        checksums), and ``frame`` when ``as_frame``. With ``return_X_y``: ``(data, target)``.

    Raises
    ------
    ValueError
        Unknown ``name`` (the message lists the known names) or ``subset``.
    DatasetUnavailableError
        No source could provide the data; the message lists what was tried and the offline
        options.
    DatasetFormatError
        IDX files or a download are malformed or fail their checksums.
    """
    spec = get_spec(name)
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {SUBSETS}, got {subset!r}")
    loaded = _load_full(
        spec,
        data_home=data_home,
        idx_dir=idx_dir,
        download=download,
        progress=progress,
        openml_url=openml_url,
    )
    sl = _select(spec, subset)
    data = loaded.X[sl]
    target = loaded.y[sl]
    images = data.reshape((data.shape[0], *spec.image_shape))
    feature_names = spec.get_feature_names()

    frame = None
    if as_frame:
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("as_frame=True needs pandas: pip install pandas") from None
        data = pd.DataFrame(data, columns=feature_names, copy=False)
        target = pd.Series(target, name="class")
        frame = pd.concat([data, target], axis=1)

    if return_X_y:
        return data, target

    checksums = {"sha256": loaded.meta.get("sha256")}
    checksums.update(loaded.meta.get("source_checksums", {}))
    bunch = Bunch(
        data=data,
        target=target,
        images=images,
        feature_names=feature_names,
        target_names=np.array(spec.target_names),
        DESCR=_descr(spec, loaded, subset),
        name=spec.name,
        subset=subset,
        source=loaded.source,
        origin=loaded.origin,
        cache_path=str(loaded.cache_file) if loaded.cache_file is not None else None,
        checksums=checksums,
    )
    if frame is not None:
        bunch.frame = frame
    return bunch


def load_mnist(
    *,
    subset: Subset = "train",
    data_home: PathLike | None = None,
    idx_dir: PathLike | None = None,
    return_X_y: bool = False,
    as_frame: bool = False,
    download: bool = True,
    progress: bool | None = None,
    openml_url: str | None = None,
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
    return load_dataset(
        "mnist",
        subset=subset,
        data_home=data_home,
        idx_dir=idx_dir,
        return_X_y=return_X_y,
        as_frame=as_frame,
        download=download,
        progress=progress,
        openml_url=openml_url,
    )
