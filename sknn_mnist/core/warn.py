"""Warnings that point at the user's line, not at the package's internals."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

#: Frames in these folders are skipped: ours, and scikit-learn's (its ``_fit_context``,
#: ``Pipeline`` and search wrappers sit between a user's call and our code).
_INTERNAL = tuple(str(Path(m.__file__).parent) + os.sep for m in (
    sys.modules["sknn_mnist"], __import__("sklearn")))


class TrainingInterruptedWarning(UserWarning):
    """Ctrl-C stopped training after complete epochs, which the model keeps.

    Its own category, so that a program that reports the interruption itself (the CLI)
    can silence it without matching its text.
    """


def user_stacklevel() -> int:
    """The ``stacklevel`` of the first caller outside this package and scikit-learn."""
    frame = sys._getframe(1)  # the caller of this function is level 1
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    return level


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` with the stack level of the user's call."""
    warnings.warn(message, category, stacklevel=user_stacklevel())
