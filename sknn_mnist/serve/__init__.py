"""``sknn-mnist serve``: a local web page to try digit models with a mouse, a finger or a photo.

>>> from sknn_mnist.serve import serve
>>> serve(["mnist-mlp", "mnist-cnn"])  # doctest: +SKIP

The page draws on a canvas and shows each model's digit and ten probabilities as you
draw, reads a dropped or picked image file (a digit, or a number with ``Number``), and
shows the normalised 28x28 input beside each answer. It uses the documented JSON API
(:mod:`sknn_mnist.serve.app`). Needs the ``serve`` extra (Starlette, uvicorn,
python-multipart).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from .models import ServedModel, load_served_models

__all__ = ["ServeLimits", "ServedModel", "ServerThread", "create_app", "is_loopback",
           "load_served_models", "serve"]

_log = logging.getLogger("sknn_mnist.serve")


def __getattr__(name: str) -> Any:
    # Starlette is imported when the app is made, not to list the models.
    if name in ("create_app", "ServeLimits"):
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module 'sknn_mnist.serve' has no attribute {name!r}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _served(models: Any, trust_pickle: bool) -> list[ServedModel]:
    if isinstance(models, list) and models and all(isinstance(m, ServedModel) for m in models):
        return models
    return load_served_models(models, trust_pickle=trust_pickle)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it: without it a response written in two parts (headers,
    # body) waits for the client's delayed ACK, 40 ms a request (measured: 42 ms against
    # 0.4 ms for GET /api/models).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _server(models: Any, host: str, port: int, trust_pickle: bool, limits: Any,
            log_level: str) -> tuple[Any, socket.socket]:
    import uvicorn

    from .app import create_app

    app = create_app(_served(models, trust_pickle), limits)
    sock = _bind(host, port)
    config = uvicorn.Config(app, log_level=log_level, limit_concurrency=64,
                            timeout_keep_alive=5, timeout_graceful_shutdown=5)
    return uvicorn.Server(config), sock


def serve(models: Any = None, host: str = "127.0.0.1", port: int = 8000, *,
          trust_pickle: bool = False, limits: Any = None, log_level: str = "info",
          ready: Callable[[str, int], None] | None = None) -> None:
    """Serve the page for ``models`` until Ctrl-C (which stops it cleanly).

    Parameters
    ----------
    models : None, str, path, estimator, or a list or dict of them
        Model files, pretrained names (``"mnist-cnn"``) or fitted models; ``None``: the
        pretrained MLP and CNN (see :func:`~sknn_mnist.serve.models.load_served_models`).
    host : str, default='127.0.0.1'
        Address to bind. The default is reachable from this machine only; another address
        makes the page reachable from the network, which is logged as a warning.
    port : int, default=8000
        0 picks a free port.
    trust_pickle : bool, default=False
        Load pickle-based model files (they run code when loaded).
    limits : ServeLimits, optional
        Body size, pixel, read-time and concurrency limits.
    log_level : str, default='info'
        uvicorn's log level; each request is one access-log line.
    ready : callable, optional
        Called with the ``(host, port)`` bound once it accepts connections (before the
        first request is served), e.g. to print the address.

    Raises
    ------
    OSError
        The address cannot be bound (in use, not this machine's).
    """
    server, sock = _server(models, host, port, trust_pickle, limits, log_level)
    if not is_loopback(host):
        _log.warning("serving on %s: the page is reachable from other machines", host)
    if ready is not None:
        ready(*sock.getsockname()[:2])
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn has shut down gracefully and re-raises Ctrl-C for the default handler:
        # stopping is what Ctrl-C is for here, not an error.
        pass
    finally:
        sock.close()


class ServerThread:
    """The server in a background thread, on ``127.0.0.1`` and a free port: for tests,
    benchmarks and notebooks. A context manager; leaving it stops the server.

    >>> with ServerThread(["mnist-mlp"]) as server:  # doctest: +SKIP
    ...     print(server.url)
    http://127.0.0.1:53117
    """

    def __init__(self, models: Any = None, *, host: str = "127.0.0.1", limits: Any = None,
                 log_level: str = "warning", trust_pickle: bool = False):
        self._server, self._sock = _server(models, host, 0, trust_pickle, limits, log_level)
        host, port = self._sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self._sock.close()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
