"""A minimal OpenML client (stdlib ``urllib``) for MNIST-style datasets.

Why not :func:`sklearn.datasets.fetch_openml`? It is a fine general loader, but for this
package it gets four things wrong:

* **Server URL.** scikit-learn hard-codes ``https://api.openml.org`` in private module
  constants, so a mirror, a proxy or a local test server needs monkeypatching. Here the base
  URL is the documented ``SKNN_MNIST_OPENML_URL`` environment variable (or ``openml_url=``),
  which is also how the tests exercise the real download path against a local HTTP server.
* **Failure behaviour.** scikit-learn retries every ``URLError`` with a fixed delay, including
  "connection refused" and DNS failures, and then surfaces a raw ``urllib`` traceback. Here
  only transient errors (HTTP 5xx, timeouts, connection resets, short reads) are retried,
  with short exponential backoff (``SKNN_MNIST_OPENML_RETRIES`` / ``_BACKOFF``); HTTP 4xx,
  refused connections and unknown hosts fail at once, and every failure becomes one line in
  a :class:`~sknn_mnist.datasets.DatasetUnavailableError` that also lists the offline options.
* **Speed and memory.** scikit-learn parses the ARFF with ``liac-arff`` (per-value Python,
  tens of seconds for MNIST) or pandas, into float64 data. Here the dense ARFF is parsed by a
  small numpy-based parser (:mod:`._arff`) straight into uint8 pixels and int labels.
* **Caching.** scikit-learn caches the compressed ARFF and re-parses it on every call; here
  the parsed arrays go into this package's checksummed ``.npz`` cache, so later loads take a
  fraction of a second.

Protocol used: ``GET {server}/api/v1/json/data/{id}`` returns
``{"data_set_description": {"file_id": ..., "md5_checksum": ...,
"default_target_attribute": ...}}``; the ARFF is ``GET {server}/data/v1/download/{file_id}``
(requested with ``Accept-Encoding: gzip``) and its md5 - of the uncompressed file - is
checked against the published one.
"""

from __future__ import annotations

import errno
import functools
import gzip
import hashlib
import http.client
import json
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from ._arff import parse_arff_pixels
from ._errors import ArffFormatError, ChecksumError
from ._registry import DatasetSpec

__all__ = ["NetSettings", "OpenMLError", "fetch_description", "fetch_openml_arrays"]

T = TypeVar("T")

_CHUNK = 1 << 20
_USER_AGENT = "sknn_mnist-datasets (python urllib)"


class OpenMLError(OSError):
    """A request to OpenML failed; the message is one self-explanatory line."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class NetSettings:
    """How to talk to OpenML.

    Parameters
    ----------
    base_url : str
        Server base, e.g. ``https://api.openml.org`` (no trailing slash).
    timeout : float
        Connect timeout in seconds: how long an unreachable server may take to fail.
    read_timeout : float
        Timeout in seconds for each read once connected (a busy server may be slow).
    retries : int
        Retries after a transient error (HTTP 5xx, timeout, reset, short read).
    backoff : float
        First retry delay in seconds, doubled for each further retry.
    """

    base_url: str
    timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5


def _describe(exc: BaseException, net: NetSettings) -> tuple[str, bool]:
    """Return a one-line description of a network error and whether it is transient."""
    if isinstance(exc, urllib.error.HTTPError):
        reason = exc.reason if isinstance(exc.reason, str) else ""
        return f"HTTP {exc.code} {reason}".strip(), exc.code >= 500
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, BaseException):
            return _describe(reason, net)
        return f"URL error: {reason}", False
    if isinstance(exc, (TimeoutError, socket.timeout)):
        limits = f"connect timeout {net.timeout:g} s, read timeout {net.read_timeout:g} s"
        return f"timed out ({limits})", True
    if isinstance(exc, ConnectionRefusedError):
        # Nothing listens there: retrying cannot help and would only delay the error.
        return "connection refused (server down or no network)", False
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve host ({exc.strerror or exc})", False
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({exc.verify_message})", False
    if isinstance(exc, (ConnectionError, http.client.HTTPException)):
        # Resets, aborts, RemoteDisconnected, IncompleteRead: the server went away mid-way.
        return f"connection lost ({type(exc).__name__}: {exc})".replace(" ()", ""), True
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"network unreachable ({exc.strerror})", False
    return f"{type(exc).__name__}: {exc}", False


def _with_retries(fn: Callable[[], T], *, url: str, net: NetSettings) -> T:
    attempt = 0
    while True:
        try:
            return fn()
        except (OSError, http.client.HTTPException) as exc:
            msg, transient = _describe(exc, net)
            if not transient or attempt >= net.retries:
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise OpenMLError(f"{url}: {msg}{tries}", transient=transient) from None
            time.sleep(net.backoff * (2**attempt))
            attempt += 1


class _HTTPConnection(http.client.HTTPConnection):
    """Connects with urllib's (short) timeout, then reads with a longer one."""

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()
        # An unreachable server should fail within seconds, but a busy one may take longer
        # than that to start answering or between two blocks of a 120 MB download.
        self.sock.settimeout(self._read_timeout)


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS version of :class:`_HTTPConnection` (the TLS handshake uses the connect timeout)."""

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()
        self.sock.settimeout(self._read_timeout)


def _opener(read_timeout: float) -> urllib.request.OpenerDirector:
    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(functools.partial(_HTTPConnection, read_timeout=read_timeout), req)

    class HTTPSHandler(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            conn = functools.partial(_HTTPSConnection, read_timeout=read_timeout)
            return self.do_open(conn, req, context=self._context)

    # build_opener keeps its defaults (proxies from the environment, redirects) and uses
    # these two in place of the standard HTTP(S) handlers.
    return urllib.request.build_opener(HTTPHandler, HTTPSHandler)


def _open(url: str, *, net: NetSettings, accept: str) -> http.client.HTTPResponse:
    req = urllib.request.Request(
        url,
        headers={"User-Agent": _USER_AGENT, "Accept": accept, "Accept-Encoding": "gzip"},
    )
    return _opener(net.read_timeout).open(req, timeout=net.timeout)


def _read_body(resp: http.client.HTTPResponse, *, progress: bool, desc: str) -> tuple[bytes, str]:
    total_hdr = resp.headers.get("Content-Length")
    total = int(total_hdr) if total_hdr and total_hdr.isdigit() else None
    encoding = (resp.headers.get("Content-Encoding") or "").lower()
    from tqdm import tqdm

    chunks: list[bytes] = []
    received = 0
    # delay=1: the bar only appears for downloads that take more than a second.
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=desc,
        disable=not progress,
        delay=1.0,
        leave=False,
    ) as bar:
        while True:
            block = resp.read(_CHUNK)
            if not block:
                break
            chunks.append(block)
            received += len(block)
            bar.update(len(block))
    if total is not None and received != total:
        raise http.client.IncompleteRead(b"", total - received)
    return b"".join(chunks), encoding


def _get(
    url: str, *, net: NetSettings, accept: str, progress: bool = False, desc: str = ""
) -> bytes:
    def once() -> bytes:
        with _open(url, net=net, accept=accept) as resp:
            body, encoding = _read_body(resp, progress=progress, desc=desc)
        if encoding == "gzip" or body[:2] == b"\x1f\x8b":
            try:
                body = gzip.decompress(body)
            except (EOFError, OSError, zlib.error) as exc:
                # A cut gzip stream is a transfer problem: worth another attempt.
                raise http.client.IncompleteRead(b"", None) from exc
        return body

    return _with_retries(once, url=url, net=net)


def fetch_description(net: NetSettings, data_id: int) -> dict[str, Any]:
    """Return OpenML's ``data_set_description`` for ``data_id``.

    Raises
    ------
    OpenMLError
        Network or HTTP failure, or a reply that is not the expected JSON.
    """
    url = f"{net.base_url}/api/v1/json/data/{data_id}"
    body = _get(url, net=net, accept="application/json")
    try:
        desc = json.loads(body)["data_set_description"]
        int(desc["file_id"])
    except (ValueError, KeyError, TypeError):
        raise OpenMLError(
            f"{url}: unexpected reply (not an OpenML data description with a file_id)"
        ) from None
    return desc


def fetch_openml_arrays(
    spec: DatasetSpec,
    *,
    net: NetSettings,
    progress: bool | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Download ``spec``'s ARFF from OpenML, verify its md5 and parse it.

    Parameters
    ----------
    spec : DatasetSpec
        Must have an ``openml_id``.
    net : NetSettings
        Server URL, timeouts and retry policy.
    progress : bool, optional
        Show a progress bar (only once a download has lasted a second). Default: when
        stderr is a terminal.

    Returns
    -------
    X : numpy.ndarray
        uint8 ``(n_samples, n_features)`` in OpenML's row order (training rows first).
    y : numpy.ndarray
        int64 labels.
    info : dict
        ``url``, ``data_id``, ``md5``, ``name``, ``version`` for the cache metadata.

    Raises
    ------
    OpenMLError
        Network/HTTP failure (after retries for transient ones).
    ChecksumError
        The ARFF's md5 differs from the one OpenML publishes.
    ArffFormatError
        The ARFF does not parse into the expected arrays.
    """
    if spec.openml_id is None:
        raise ValueError(f"dataset {spec.name!r} is not on OpenML")
    if progress is None:
        progress = sys.stderr is not None and sys.stderr.isatty()
    desc = fetch_description(net, spec.openml_id)
    file_url = f"{net.base_url}/data/v1/download/{int(desc['file_id'])}"
    content = _get(
        file_url,
        net=net,
        accept="*/*",
        progress=progress,
        desc=f"{spec.name} (OpenML {spec.openml_id})",
    )
    published = str(desc.get("md5_checksum") or "").lower()
    got = hashlib.md5(content, usedforsecurity=False).hexdigest()
    if published and got != published:
        raise ChecksumError(
            f"{file_url}: md5 mismatch: OpenML publishes {published}, download has {got}"
        )
    target = str(desc.get("default_target_attribute") or "class").split(",")[0]
    X, y = parse_arff_pixels(
        content,
        target=target,
        n_features=spec.n_features,
        n_classes=spec.n_classes,
        source=file_url,
    )
    if X.shape[0] != spec.n_samples:
        raise ArffFormatError(
            f"{file_url}: {X.shape[0]} rows, expected {spec.n_samples} "
            f"({spec.n_train} train + {spec.n_test} test)"
        )
    info = {
        "url": file_url,
        "data_id": spec.openml_id,
        "md5": got,
        "md5_verified": bool(published),
        "name": desc.get("name"),
        "version": desc.get("version"),
    }
    return X, y, info
