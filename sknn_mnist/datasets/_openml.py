"""OpenML through the ``openml`` package, converted once to this package's uint8 arrays.

``openml.datasets.get_dataset(id, download_data=True)`` reads the description, downloads and
caches the Parquet file (the md5-checked ARFF as fallback); ``get_data`` parses it. The user's
``openml.config`` (server, API key, cache, retry policy) applies, with three changes made for
the duration of the call only: the server of ``openml_url=`` / ``$SKNN_MNIST_OPENML_URL``;
the cache in ``<data_home>/openml`` unless the user configured one (``$OPENML_CACHE_DIR``,
config file, ``set_root_cache_directory``); at most ``$SKNN_MNIST_OPENML_RETRIES`` + 1
attempts per request (default 3, openml then waits 1 s and 2 s), so offline fails in seconds.

openml's requests carry no timeout of their own (openml 0.15 has no setting for one), so a
server that accepts a connection and never answers would hang the load. During the call,
openml's HTTP layer (``openml._api_calls``, which makes all of openml's ``requests`` calls)
sees a ``requests`` whose sessions default to :data:`TIMEOUT`; ``requests`` itself is not
touched, so other code using it in the process, in this thread or another, keeps its own
behaviour. One load at a time changes openml's process-wide settings (a lock).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import platform
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import ChecksumError, DatasetFormatError, DatasetUnavailableError
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


class _RequestsWithTimeout:
    """The ``requests`` module as openml's HTTP layer sees it during a load.

    Everything is ``requests``' own, except ``Session``: a subclass whose requests default to
    :data:`TIMEOUT` (read at each request) instead of waiting for ever.
    """

    def __init__(self, requests_module: Any) -> None:
        self._requests = requests_module

        class Session(requests_module.Session):
            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = TIMEOUT
                return super().request(method, url, *args, **kwargs)

        self.Session = Session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)


@contextlib.contextmanager
def _openml_requests_time_out() -> Iterator[None]:
    """Give openml's own requests (and only those) :data:`TIMEOUT` for the block."""
    api = importlib.import_module("openml._api_calls")
    real = getattr(api, "requests", None)
    if real is None:  # an openml that no longer calls requests: nothing to bound
        yield
        return
    api.requests = _RequestsWithTimeout(real)
    try:
        yield
    finally:
        api.requests = real


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
def _config(server: str | None, data_home: Path, progress: bool) -> Iterator[Any]:
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
            with _openml_requests_time_out():
                yield openml
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


def fetch_openml_arrays(
    spec: DatasetSpec, *, data_home: Path, openml_url: str | None, progress: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Download ``spec`` with ``openml`` and return uint8 ``X``, int64 ``y`` and metadata.

    Raises :class:`DatasetUnavailableError` (one line: no answer, HTTP or OpenML error after
    openml's retries, unknown dataset), :class:`ChecksumError` (the ARFF differs from the
    description's md5) or :class:`DatasetFormatError` (the download does not parse into the
    expected arrays; it is removed from openml's cache, so the next load downloads it again).
    """
    url = (openml_url or os.environ.get(ENV_OPENML_URL) or "").rstrip("/")
    # https://host -> https://host/api/v1/xml, openml's form; URLs in that form pass as they are
    with _config(url if "/api/" in url else url and url + "/api/v1/xml", data_home,
                 progress) as openml:
        import requests
        import urllib3

        where = f"OpenML {openml.config.server} (data id {spec.openml_id})"
        try:
            ds = openml.datasets.get_dataset(spec.openml_id, download_data=True)
        except openml.exceptions.OpenMLHashException as exc:
            raise ChecksumError(f"{where}: md5 mismatch: {exc}") from None
        except (openml.exceptions.PyOpenMLError, requests.RequestException,
                urllib3.exceptions.HTTPError, OSError) as exc:
            tries = openml.config.connection_n_retries
            raise DatasetUnavailableError(f"{where}: {_reason(exc)} (up to {tries} attempt"
                                          f"{'s' if tries > 1 else ''})") from None
        try:
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
