"""Ctrl-C that cannot be swallowed: a flag set by the SIGINT handler, checked after each fit.

A training loop may catch ``KeyboardInterrupt`` to stop early and return a half-trained
model (skorch does by default). The command line must then not save or rank that model:
:func:`catch_sigint` records every Ctrl-C, and :func:`raise_if_interrupted`, called after
each fit and by the progress scorer, turns a swallowed one back into ``KeyboardInterrupt``.
Outside :func:`catch_sigint` (library use) the check is a no-op.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["catch_sigint", "interrupted", "raise_if_interrupted"]

_state = {"interrupted": False}


def _handler(signum: int, frame: Any) -> None:
    _state["interrupted"] = True
    raise KeyboardInterrupt


@contextlib.contextmanager
def catch_sigint() -> Iterator[None]:
    """Record Ctrl-C (and still raise ``KeyboardInterrupt``) while the block runs."""
    _state["interrupted"] = False
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, _handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupted() -> bool:
    """Whether Ctrl-C was pressed inside :func:`catch_sigint`."""
    return _state["interrupted"]


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed, even if something swallowed it."""
    if _state["interrupted"]:
        raise KeyboardInterrupt
