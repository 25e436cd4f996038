"""OpenML through the ``openml`` package, converted once to this package's uint8 arrays.

``openml.datasets.get_dataset(id, download_data=True)`` reads the description, downloads and
caches the Parquet file (the md5-checked ARFF as fallback); ``get_data`` parses it. The user's
``openml.config`` (server, API key, cache, retry policy) applies, with three changes made for
the duration of the call only: the server of ``openml_url=`` / ``$SKNN_MNIST_OPENML_URL``;
the cache in ``<data_home>/openml`` unless the user configured one (``$OPENML_CACHE_DIR``,
config file, ``set_root_cache_directory``); at most ``$SKNN_MNIST_OPENML_RETRIES`` + 1
attempts per request (default 3, openml then waits 1 s and 2 s), so offline fails in seconds.

openml's requests carry no timeout of their own (openml 0.15 has no setting for one), so a
server that accepts a connection and never answers would hang the load, and one that
trickles or sends gigabytes would be read for ever. During the call, openml's HTTP layer
(``openml._api_calls``, which makes all of openml's ``requests`` and ``minio`` calls) sees
views of ``requests`` and ``minio`` whose connections read within one
:class:`~sknn_mnist.datasets._http.DownloadBudget` for the whole load: :data:`TIMEOUT` to
connect and per read, a total deadline and a byte limit (``$SKNN_MNIST_DOWNLOAD_TIMEOUT``,
``$SKNN_MNIST_DOWNLOAD_MAX_BYTES``); ``requests`` and ``minio`` themselves are not touched,
so other code using them in the process, in this thread or another, keeps its own
behaviour. One load at a time changes openml's process-wide settings (a lock). A Parquet
file's footer is checked against the dataset's shape before pandas parses it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import ChecksumError, DatasetFormatError, DatasetUnavailableError
from ._http import DownloadBudget, DownloadLimitError, bounded_openml_http
from ._registry import DatasetSpec

__all__ = ["ENV_OPENML_RETRIES", "ENV_OPENML_URL", "fetch_openml_arrays"]

ENV_OPENML_URL = "SKNN_MNIST_OPENML_URL"
ENV_OPENML_RETRIES = "SKNN_MNIST_OPENML_RETRIES"
DEFAULT_RETRIES = 2
TIMEOUT = (3.0, 30.0)  # seconds to connect, and for each read of openml's API requests


def _attempts() -> int:
    raw = os.environ.get(ENV_OPENML_RETRIES, "").strip() or str(DEFAULT_RETRIES)
    if not raw.isdigit():
        raise ValueError(f"environment variable {ENV_OPENML_RETRIES}={raw!r} must be an "
                         "integer >= 0")
    return int(raw) + 1


#: One load at a time changes openml's settings (module globals of ``openml.config``).
_OPENML_LOCK = threading.Lock()


def _openml_default_cache() -> Path:
    """openml's default cache folder, as its documentation gives it.

    ``$XDG_CACHE_HOME/openml`` (default ``~/.cache/openml``) on Linux, ``~/.openml``
    elsewhere; the config file's ``cachedir``, ``$OPENML_CACHE_DIR`` and
    ``openml.config.set_root_cache_directory`` change it.
    """
    if platform.system().lower() != "linux":
        return Path("~", ".openml")
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg, "openml") if xdg else Path("~", ".cache", "openml")


@contextlib.contextmanager
def _config(server: str | None, data_home: Path,
            progress: bool) -> Iterator[tuple[Any, DownloadBudget]]:
    import openml

    cfg = openml.config
    with _OPENML_LOCK:
        saved = cfg.get_config_as_dict()
        # openml has no public "did the user choose a cache" flag: a cache folder other than
        # its documented default, or the environment variable, means they did.
        user_cache = bool(os.environ.get(cfg.OPENML_CACHE_DIR_ENV_VAR)) or Path(
            saved["cachedir"]).expanduser().resolve() != _openml_default_cache(
            ).expanduser().resolve()
        made = next((d for d in (data_home, data_home / "openml") if not d.exists()), None)
        try:
            if server:
                cfg.server = server
            if not user_cache:
                cfg.set_root_cache_directory(data_home / "openml")
            cfg.connection_n_retries = _attempts()
            cfg.show_progress = progress
            budget = DownloadBudget.from_environment(*TIMEOUT)
            with bounded_openml_http(budget):
                yield openml, budget
        finally:
            cfg.server, cfg.show_progress = saved["server"], saved["show_progress"]
            cfg.set_root_cache_directory(saved["cachedir"])
            cfg.retry_policy, cfg.connection_n_retries = (saved["retry_policy"],
                                                          saved["connection_n_retries"])
            if made is not None and not any(p.is_file() for p in made.rglob("*")):
                shutil.rmtree(made, ignore_errors=True)  # a failed download leaves no folders


def _reason(exc: BaseException) -> str:
    text, reasons = str(exc), {"Connection refused": "connection refused (server down?)",
                               "NameResolution": "cannot resolve the host (no network?)",
                               "Network is unreachable": "network unreachable",
                               "timed out": f"no answer (timed out; limits {TIMEOUT} s)"}
    return next((r for needle, r in reasons.items() if needle in text),
                f"{type(exc).__name__}: {' '.join(text.split())}"[:300])


def _to_arrays(X: Any, y: Any, spec: DatasetSpec, where: str) -> tuple[np.ndarray, np.ndarray]:
    names = spec.get_feature_names()
    if set(names) <= set(X.columns):
        X = X[names]  # OpenML's column order is not a promise; the names are
    X = X.to_numpy()
    if X.shape != (spec.n_samples, spec.n_features):
        raise DatasetFormatError(f"{where}: data of shape {X.shape}, expected "
                                 f"{(spec.n_samples, spec.n_features)} ({spec.n_train} train + "
                                 f"{spec.n_test} test rows)")
    X_u8 = X.astype(np.uint8)
    # One comparison catches NaN, fractions and values outside 0..255 (they wrap in uint8).
    if X.dtype.kind not in "iuf" or not np.array_equal(X_u8, X):
        raise DatasetFormatError(f"{where}: pixels are not integers in 0..255")
    try:
        labels = np.asarray(y, dtype=str).astype(np.int64)
    except ValueError:
        raise DatasetFormatError(f"{where}: labels are not integers") from None
    if labels.size and not 0 <= labels.min() <= labels.max() < spec.n_classes:
        raise DatasetFormatError(f"{where}: labels outside 0..{spec.n_classes - 1}")
    return np.ascontiguousarray(X_u8), labels


def _get_dataset(openml: Any, spec: DatasetSpec, where: str, budget: DownloadBudget) -> Any:
    """openml's dataset (description and data file downloaded), or one-line errors."""
    from xml.parsers.expat import ExpatError

    import requests
    import urllib3

    tries = openml.config.connection_n_retries
    attempts = f"up to {tries} attempt{'s' if tries > 1 else ''}"
    try:
        return openml.datasets.get_dataset(spec.openml_id, download_data=True)
    except DownloadLimitError as exc:
        raise DatasetUnavailableError(f"{where}: {exc}") from None
    except openml.exceptions.OpenMLHashException as exc:
        raise ChecksumError(f"{where}: md5 mismatch: {exc}") from None
    except (openml.exceptions.PyOpenMLError, requests.RequestException,
            urllib3.exceptions.HTTPError, OSError) as exc:
        if isinstance(exc.__cause__, ExpatError) and budget.last.status == 200:
            raise _not_openml(where, budget, exc) from None  # openml's "malformed XML"
        raise DatasetUnavailableError(f"{where}: {_reason(exc)} ({attempts})") from None
    except (ExpatError, KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # openml indexes the XML it parsed without checking it: an HTML page, foreign XML
        # or an error page of another shape fails in its hands.
        raise _not_openml(where, budget, exc) from None


def _not_openml(where: str, budget: DownloadBudget,
                exc: BaseException) -> DatasetUnavailableError:
    answer = budget.last.describe() or f"{type(exc).__name__}: {str(exc)[:100]}"
    return DatasetUnavailableError(f"{where}: the server's answer is not OpenML's ({answer})")


def _check_data_file(ds: Any, spec: DatasetSpec, where: str) -> None:
    """A downloaded Parquet file must hold the spec's rows and columns before it is parsed.

    Its footer says how many rows and columns it has and how large they are once
    decompressed; pandas would allocate whatever it says.
    """
    if not ds.parquet_file or not Path(ds.parquet_file).is_file():
        return
    import pyarrow.parquet as pq

    meta = pq.read_metadata(ds.parquet_file)
    columns = spec.n_features + 1  # the pixels and the class
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if meta.num_rows != spec.n_samples or meta.num_columns != columns:
        raise DatasetFormatError(
            f"{where}: data of shape {(meta.num_rows, meta.num_columns - 1)}, expected "
            f"{(spec.n_samples, spec.n_features)} ({spec.n_train} train + {spec.n_test} test "
            "rows) in the Parquet file")
    if inflated > 16 * spec.n_samples * columns + 2**20:  # 8-byte values, twice over
        raise DatasetFormatError(f"{where}: the Parquet file inflates to {inflated:,} bytes, "
                                 f"far more than {spec.n_samples} rows of {columns} values")


def fetch_openml_arrays(
    spec: DatasetSpec, *, data_home: Path, openml_url: str | None, progress: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Download ``spec`` with ``openml`` and return uint8 ``X``, int64 ``y`` and metadata.

    Raises :class:`DatasetUnavailableError` (one line: no answer, HTTP or OpenML error after
    openml's retries, unknown dataset, an answer that is not OpenML's, the download's
    deadline or byte limit passed), :class:`ChecksumError` (the ARFF differs from the
    description's md5) or :class:`DatasetFormatError` (the download does not parse into the
    expected arrays; it is removed from openml's cache, so the next load downloads it again).
    """
    url = (openml_url or os.environ.get(ENV_OPENML_URL) or "").rstrip("/")
    # https://host -> https://host/api/v1/xml, openml's form; URLs in that form pass as they are
    with _config(url if "/api/" in url else url and url + "/api/v1/xml", data_home,
                 progress) as (openml, budget):
        where = f"OpenML {openml.config.server} (data id {spec.openml_id})"
        ds = _get_dataset(openml, spec, where, budget)
        try:
            _check_data_file(ds, spec, where)
            X, y, _, _ = ds.get_data(target=ds.default_target_attribute or "class")
            X, y = _to_arrays(X, y, spec, where)
        except Exception as exc:  # openml wraps a bad Parquet file in a bare Exception
            data_file = ds.parquet_file or ds.data_file
            if data_file:  # keep openml from serving the same bad file again
                shutil.rmtree(Path(data_file).parent, ignore_errors=True)
            if isinstance(exc, DatasetFormatError):
                raise
            cause = exc.__cause__ or exc
            raise DatasetFormatError(f"{where}: the downloaded data is unusable ("
                                     f"{type(cause).__name__}: {str(cause)[:200]}); removed "
                                     "from openml's cache, the next load downloads it again"
                                     ) from None
        info = {"server": openml.config.server, "data_id": spec.openml_id, "name": ds.name,
                "version": ds.version, "md5": ds.md5_checksum,
                "file": "parquet" if ds.parquet_file else "arff",
                "openml_cache": openml.config.get_cache_directory()}
    return X, y, info
