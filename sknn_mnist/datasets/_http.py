"""Bounded HTTP for one dataset download: a total deadline and a byte limit, on every socket.

openml makes its requests through ``requests`` (the dataset description, the ARFF file) and
``minio`` (the Parquet file), both on ``urllib3``. Their own timeouts bound each socket read,
not a download: a server that trickles one byte a second (in the headers or the body) is
read for ever, and a body of gigabytes, or a gzip bomb that inflates 1,000 times, is read
into memory or onto the disk. During a load, :func:`bounded_openml_http` gives openml's
HTTP layer (``openml._api_calls``, and nothing else in the process) views of ``requests``
and ``minio`` whose connections come from :class:`DownloadBudget`'s pools:

- every connection's socket reads through the budget: each read waits at most the time
  left before the load's deadline (:attr:`DownloadBudget.timeout`, from the first request),
  and every byte received counts against :attr:`DownloadBudget.max_bytes`;
- every response counts its body *after* content decoding (gzip, deflate) against the same
  limit, so a bomb stops at the limit, not at its inflated size;
- a new connection after the deadline fails at once, so retries (openml's, urllib3's,
  minio's) end too.

Going past a bound raises :class:`DownloadLimitError`. It is deliberately not an
``OSError``: urllib3, requests, minio and openml retry on those, and it must go straight up
to :func:`~sknn_mnist.datasets._openml.fetch_openml_arrays`, which reports it as a
:class:`~sknn_mnist.datasets.DatasetUnavailableError`.

The limits are read from ``$SKNN_MNIST_DOWNLOAD_TIMEOUT`` (seconds, default
:data:`DEFAULT_TIMEOUT`) and ``$SKNN_MNIST_DOWNLOAD_MAX_BYTES`` (default
:data:`DEFAULT_MAX_BYTES`).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_TIMEOUT", "ENV_DOWNLOAD_MAX_BYTES",
           "ENV_DOWNLOAD_TIMEOUT", "DownloadBudget", "DownloadLimitError", "LastResponse",
           "bounded_openml_http"]

ENV_DOWNLOAD_TIMEOUT = "SKNN_MNIST_DOWNLOAD_TIMEOUT"
ENV_DOWNLOAD_MAX_BYTES = "SKNN_MNIST_DOWNLOAD_MAX_BYTES"
#: Seconds a whole load may spend downloading (MNIST's Parquet file is 16 MB).
DEFAULT_TIMEOUT = 600.0
#: Bytes a whole load may download, counted on the wire and again after decoding (MNIST's
#: ARFF, the largest file a load may need, inflates to about 120 MB).
DEFAULT_MAX_BYTES = 512 * 2**20
#: Characters of a server's answer kept for error messages.
_SNIPPET = 120


class DownloadLimitError(Exception):
    """A download went past the load's deadline or byte limit (see :class:`DownloadBudget`)."""


def _env_number(name: str, default: float, kind: type) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if not value > 0:
        raise ValueError(f"environment variable {name}={raw!r} must be a positive "
                         f"{'integer' if kind is int else 'number'}")
    return value


@dataclass
class LastResponse:
    """What the server last answered: its status, content type and first characters."""

    url: str = ""
    status: int | None = None
    content_type: str = ""
    snippet: str = ""

    def describe(self) -> str:
        """``HTTP 500 (text/html): '<html>...'``, or "" when nothing was answered."""
        if self.status is None:
            return ""
        kind = f" ({self.content_type})" if self.content_type else ""
        text = f": {self.snippet!r}" if self.snippet else ""
        return f"HTTP {self.status}{kind}{text}"


@dataclass
class DownloadBudget:
    """The time and bytes one dataset load may spend on HTTP, from its first request.

    Parameters
    ----------
    timeout : float
        Seconds for the whole load (every request, retries included).
    max_bytes : int
        Bytes for the whole load, received and (separately) after content decoding.
    connect_timeout, read_timeout : float
        Seconds to connect, and the longest wait for one read (within the deadline).
    """

    timeout: float
    max_bytes: int
    connect_timeout: float = 3.0
    read_timeout: float = 30.0
    received: int = 0
    decoded: int = 0
    last: LastResponse = field(default_factory=LastResponse)
    _start: float | None = None

    @classmethod
    def from_environment(cls, connect_timeout: float = 3.0,
                         read_timeout: float = 30.0) -> DownloadBudget:
        """The limits of ``$SKNN_MNIST_DOWNLOAD_TIMEOUT`` / ``_MAX_BYTES`` or the defaults."""
        return cls(timeout=float(_env_number(ENV_DOWNLOAD_TIMEOUT, DEFAULT_TIMEOUT, float)),
                   max_bytes=int(_env_number(ENV_DOWNLOAD_MAX_BYTES, DEFAULT_MAX_BYTES, int)),
                   connect_timeout=connect_timeout, read_timeout=read_timeout)

    def remaining(self) -> float:
        """Seconds left (the clock starts at the first call)."""
        if self._start is None:
            self._start = time.monotonic()
        return self.timeout - (time.monotonic() - self._start)

    def check_time(self) -> float:
        """Seconds left, or :class:`DownloadLimitError` when none are."""
        left = self.remaining()
        if left <= 0:
            raise DownloadLimitError(
                f"the download took longer than {self.timeout:g} s (set "
                f"{ENV_DOWNLOAD_TIMEOUT} to allow more)")
        return left

    def add(self, n: int, *, decoded: bool) -> None:
        """Count ``n`` bytes received (or decoded); past the limit, DownloadLimitError."""
        if decoded:
            self.decoded += n
        else:
            self.received += n
        if max(self.received, self.decoded) > self.max_bytes:
            what = "inflated to" if self.decoded > self.received else "sent"
            raise DownloadLimitError(
                f"the server {what} more than {self.max_bytes:,} bytes (set "
                f"{ENV_DOWNLOAD_MAX_BYTES} to allow more)")


# -- sockets and responses -----------------------------------------------------------------
class _BudgetReader(io.RawIOBase):
    """A socket's reads, each within the time left and counted against the budget."""

    def __init__(self, sock: Any, budget: DownloadBudget) -> None:
        super().__init__()
        self._sock, self._budget = sock, budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._budget.check_time()
        self._sock.settimeout(min(self._budget.read_timeout, left))
        try:
            n = self._sock.recv_into(buffer)
        except TimeoutError:
            self._budget.check_time()  # the deadline, rather than the read timeout
            raise
        self._budget.add(n, decoded=False)
        return n


class _BudgetSocket:
    """A connected socket whose file reads go through :class:`_BudgetReader`."""

    def __init__(self, sock: Any, budget: DownloadBudget) -> None:
        self._sock, self._budget = sock, budget

    def makefile(self, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "r" not in mode or "w" in mode:
            return self._sock.makefile(mode, *args, **kwargs)
        return io.BufferedReader(_BudgetReader(self._sock, self._budget))

    def recv_into(self, buffer: Any, *args: Any) -> int:
        return _BudgetReader(self._sock, self._budget).readinto(buffer)

    def recv(self, size: int, *args: Any) -> bytes:
        buffer = bytearray(size)
        return bytes(buffer[:self.recv_into(buffer)])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def _count_decoded(response: Any, budget: DownloadBudget) -> None:
    """Count a urllib3 response's body after decoding: its reading methods, wrapped."""
    read, read1, chunked = response.read, response.read1, response.read_chunked

    def bounded_read(*args: Any, **kwargs: Any) -> bytes:
        data = read(*args, **kwargs)
        budget.add(len(data), decoded=True)
        return data

    def bounded_read1(*args: Any, **kwargs: Any) -> bytes:
        data = read1(*args, **kwargs)
        budget.add(len(data), decoded=True)
        return data

    def bounded_chunked(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        for data in chunked(*args, **kwargs):
            budget.add(len(data), decoded=True)
            yield data

    response.read, response.read1, response.read_chunked = (bounded_read, bounded_read1,
                                                            bounded_chunked)


def _pool_classes(budget: DownloadBudget) -> dict[str, type]:
    """urllib3 connection pools whose connections read within ``budget``."""
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
    from urllib3.connection import HTTPConnection, HTTPSConnection

    class _Bounded:
        def connect(self) -> None:
            left = budget.check_time()
            timeout = self.timeout  # type: ignore[attr-defined]
            if not isinstance(timeout, int | float) or timeout > left:
                self.timeout = min(budget.connect_timeout, left)  # type: ignore[attr-defined]
            super().connect()  # type: ignore[misc]
            self.sock = _BudgetSocket(self.sock, budget)  # type: ignore[attr-defined]

        def getresponse(self) -> Any:
            response = super().getresponse()  # type: ignore[misc]
            _count_decoded(response, budget)
            return response

    class _HTTP(_Bounded, HTTPConnection):
        pass

    class _HTTPS(_Bounded, HTTPSConnection):
        pass

    class _HTTPPool(HTTPConnectionPool):
        ConnectionCls = _HTTP

    class _HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPS

    return {"http": _HTTPPool, "https": _HTTPSPool}


# -- the views openml's HTTP layer sees ------------------------------------------------------
class _RequestsView:
    """The ``requests`` module, except ``Session``: bounded, with a default timeout, and
    recording the last answer."""

    def __init__(self, requests_module: Any, budget: DownloadBudget) -> None:
        self._requests = requests_module
        pools = _pool_classes(budget)
        adapters = requests_module.adapters

        class Adapter(adapters.HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = pools

            def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
                manager = super().proxy_manager_for(proxy, **kwargs)
                manager.pool_classes_by_scheme = pools
                return manager

        class Session(requests_module.Session):
            def __init__(self) -> None:
                super().__init__()
                for prefix in ("http://", "https://"):
                    self.mount(prefix, Adapter())

            def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                if kwargs.get("timeout") is None:
                    kwargs["timeout"] = (budget.connect_timeout, budget.read_timeout)
                response = super().request(method, url, *args, **kwargs)
                budget.last = LastResponse(url, response.status_code,
                                           response.headers.get("Content-Type", ""))
                if not kwargs.get("stream"):
                    budget.last.snippet = " ".join(response.text[:_SNIPPET].split())
                return response

        self.Session = Session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._requests, name)


class _MinioView:
    """The ``minio`` module, except ``Minio``: its HTTP client bounded."""

    def __init__(self, minio_module: Any, budget: DownloadBudget) -> None:
        self._minio = minio_module
        pools = _pool_classes(budget)

        class Minio(minio_module.Minio):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                import urllib3

                # minio's own retry policy (5 retries of 5xx answers and dropped
                # connections); the deadline bounds them.
                client = kwargs.get("http_client") or urllib3.PoolManager(
                    timeout=urllib3.Timeout(connect=budget.connect_timeout,
                                            read=budget.read_timeout),
                    retries=urllib3.Retry(total=5, backoff_factor=0.2,
                                          status_forcelist=[500, 502, 503, 504]))
                client.pool_classes_by_scheme = pools
                kwargs["http_client"] = client
                super().__init__(*args, **kwargs)

        self.Minio = Minio

    def __getattr__(self, name: str) -> Any:
        return getattr(self._minio, name)


@contextlib.contextmanager
def bounded_openml_http(budget: DownloadBudget) -> Iterator[DownloadBudget]:
    """Give openml's HTTP layer (only it) bounded ``requests`` and ``minio`` for the block."""
    api = importlib.import_module("openml._api_calls")
    saved = {name: getattr(api, name, None) for name in ("requests", "minio")}
    if saved["requests"] is not None:
        api.requests = _RequestsView(saved["requests"], budget)
    if saved["minio"] is not None:
        api.minio = _MinioView(saved["minio"], budget)
    try:
        yield budget
    finally:
        for name, module in saved.items():
            if module is not None:
                setattr(api, name, module)
