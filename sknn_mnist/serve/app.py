"""The web app: a page to try models by hand, and the JSON API it uses.

Routes:

* ``GET /``: the page (HTML, JavaScript and CSS from the package, nothing from the web);
* ``GET /api/models``: the served models (name, classes, input size, test score);
* ``POST /api/predict``: an image, as a multipart form field ``image`` or as the raw bytes
  with an ``image/*`` content type; ``?mode=number`` reads it as a number of several
  digits. Answer: ``{"label", "probabilities": {label: p}, "model", "input_png"}`` (base64
  PNG of the normalised input), or a list of those when several models are served.

Bad requests get a JSON ``{"error": message}`` with 400 (not an image, no ink, no
``image`` field), 413 (over the body or pixel limit), 415 (not an image content type),
404/405; never a 500 or a traceback. The body is capped while it is read (and refused
from its ``Content-Length`` before), decoding and prediction run in worker threads, two
at a time, and a body that trickles in slower than the read timeout gets a 408.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..images.decode import ImageLimits, decode
from ..images.errors import ImageError, ImageTooLargeError
from .models import ServedModel, predict_image

__all__ = ["ServeLimits", "create_app"]

_log = logging.getLogger("sknn_mnist.serve")

#: The page's files, served from the package (name: content type).
_STATIC = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript",
           "style.css": "text/css"}


@dataclass(frozen=True)
class ServeLimits:
    """Bounds on one request.

    Parameters
    ----------
    max_body : int, default=16 MiB
        Largest request body (a phone photo is 2-8 MB).
    max_pixels : int, default=50,000,000
        Largest image decoded (checked from the image's header).
    read_timeout : float, default=30
        Seconds the body may take to arrive.
    workers : int, default=2
        Images decoded and predicted at once (each may take a few hundred MB at the
        pixel limit); further requests wait their turn.
    """

    max_body: int = 16 * 2**20
    max_pixels: int = 50_000_000
    read_timeout: float = 30.0
    workers: int = 2


class _ClientError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _BodyLimit:
    """ASGI middleware: refuse bodies over ``max_body`` (from ``Content-Length`` before any
    is read, else as they arrive) and bodies that take longer than the read timeout."""

    def __init__(self, app: Any, limits: ServeLimits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0
        started = False

        async def capped_receive():
            nonlocal received
            try:
                message = await asyncio.wait_for(receive(), self.limits.read_timeout)
            except TimeoutError:
                raise _ClientError(408, "the request body took too long to arrive") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limits.max_body:
                    raise _ClientError(413, _too_large_text(self.limits.max_body))
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, tracking_send)
        except _ClientError as exc:
            if started:
                raise
            await _error(exc.status, exc.message)(scope, receive, send)

    def _refusal(self, scope) -> JSONResponse | None:
        """The answer to a request refused from its headers alone, if it is."""
        for key, value in scope.get("headers", []):
            if key != b"content-length":
                continue
            try:
                declared = int(value)
            except ValueError:
                return _error(400, "bad Content-Length header")
            if declared > self.limits.max_body:
                return _too_large(self.limits.max_body)
        return None


def _too_large_text(limit: int) -> str:
    return f"the upload is over the {limit / 2**20:g} MiB limit"


def _too_large(limit: int) -> JSONResponse:
    return _error(413, _too_large_text(limit))


async def _image_bytes(request: Request, limits: ServeLimits) -> bytes:
    """The uploaded image's bytes: the multipart field ``image``, or the raw body."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=8, max_part_size=limits.max_body)
        except _ClientError:
            raise
        except Exception as exc:
            raise _ClientError(400, f"cannot read the form: {exc}") from None
        try:
            upload = form.get("image")
            if upload is None or isinstance(upload, str):
                raise _ClientError(400, "the form has no file field named 'image'")
            return await upload.read()
        finally:
            await form.close()
    if kind.startswith("image/"):
        return await request.body()
    raise _ClientError(415, f"send an image: a multipart form with a field 'image', or the "
                            f"raw bytes with an image/* content type (got {kind or 'none'!r})")


def _status_of(exc: ImageError) -> int:
    return 413 if isinstance(exc, ImageTooLargeError) else 400


def create_app(models: list[ServedModel], limits: ServeLimits | None = None) -> Any:
    """The ASGI app serving ``models`` (see the module docstring for the routes).

    Parameters
    ----------
    models : list of ServedModel
        At least one (:func:`~sknn_mnist.serve.models.load_served_models`).
    limits : ServeLimits, optional

    Returns
    -------
    ASGI application
    """
    if not models:
        raise ValueError("serve at least one model")
    limits = limits or ServeLimits()
    image_limits = ImageLimits(max_bytes=limits.max_body, max_pixels=limits.max_pixels)
    slots = asyncio.Semaphore(limits.workers)
    single = len(models) == 1

    def work(data: bytes, number: bool) -> list[dict[str, Any]]:
        decoded = decode(data, "the upload", image_limits)
        return predict_image(decoded, models, number=number)

    async def predict(request: Request) -> Response:
        try:
            mode = request.query_params.get("mode", "digit")
            if mode not in ("digit", "number"):
                raise _ClientError(400, f"mode must be 'digit' or 'number', got {mode!r}")
            data = await _image_bytes(request, limits)
            async with slots:
                answers = await run_in_threadpool(work, data, mode == "number")
        except _ClientError as exc:
            return _error(exc.status, exc.message)
        except ImageError as exc:
            return _error(_status_of(exc), str(exc))
        return JSONResponse(answers[0] if single else answers)

    async def list_models(request: Request) -> Response:
        return JSONResponse([m.describe() for m in models])

    async def static(request: Request) -> Response:
        name = request.path_params.get("name", "index.html")
        if name not in _STATIC:
            return _error(404, f"no such page: /{name}")
        content = (resources.files("sknn_mnist.serve") / "static" / name).read_bytes()
        return Response(content, media_type=_STATIC[name],
                        headers={"Cache-Control": "no-cache",
                                 "X-Content-Type-Options": "nosniff"})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, exc.detail)

    async def internal_error(request: Request, exc: Exception) -> Response:
        # A bug, not a bad upload: one line in the log, no traceback to the client.
        _log.error("internal error on %s %s: %s: %s", request.method, request.url.path,
                   type(exc).__name__, exc)
        return _error(500, "internal error")

    app = Starlette(
        routes=[Route("/", static), Route("/api/models", list_models),
                Route("/api/predict", predict, methods=["POST"]),
                Route("/{name:str}", static)],
        exception_handlers={HTTPException: http_error, Exception: internal_error})
    app.state.models = models
    app.state.limits = limits
    return _BodyLimit(app, limits)
