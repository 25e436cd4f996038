"""Guarding rows: do the rows given to a model look like those it was trained on?

Two mistakes are common and silent: rows already divided by 255 given to a model that
divides them again (every row then reads as the same digit), and images of dark ink on
white paper given to a model trained on MNIST's light ink on black. A
:class:`PixelProfile` records, from the training rows, their pixel range and their
background level (the typical pixel: MNIST's is 0, the black); :func:`check_rows_like_training`
compares new rows with it and says what to do, or returns None.

This module needs numpy only: the scaler in front of the models imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["PixelProfile", "RowsUnlikeTrainingWarning", "check_rows_like_training"]

#: Rows sampled (evenly) to profile a dataset: the statistics are robust, the cost small.
_SAMPLE_ROWS = 2000


class RowsUnlikeTrainingWarning(UserWarning):
    """The rows given to a fitted model look scaled or inverted against its training rows."""


@dataclass(frozen=True)
class PixelProfile:
    """What a model's training rows looked like.

    Attributes
    ----------
    low, high : float
        The smallest and largest pixel value.
    background : float
        The typical pixel: the median over rows of each row's median (the background
        level, since a digit's ink covers a fifth of its image).
    """

    low: float
    high: float
    background: float

    @classmethod
    def from_rows(cls, X: Any) -> PixelProfile | None:
        """Profile rows of pixels (a sample of at most 2,000 of them, evenly spaced).

        Returns None for data that cannot be profiled: no rows, no features, sparse or
        non-numeric data, or non-finite values.
        """
        rows = _sample_rows(X)
        if rows is None:
            return None
        return cls(float(rows.min()), float(rows.max()),
                   float(np.median(np.median(rows, axis=1))))

    def to_dict(self) -> dict[str, float]:
        """Plain floats, for a fitted attribute or a model file's JSON metadata."""
        return {k: float(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PixelProfile | None:
        """The profile :meth:`to_dict` wrote, or None for missing or malformed data."""
        try:
            return cls(float(data["low"]), float(data["high"]), float(data["background"]))
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def span(self) -> float:
        return self.high - self.low

    def relative_background(self) -> float:
        """Where the background lies in the range: 0 at ``low``, 1 at ``high``."""
        return (self.background - self.low) / self.span if self.span > 0 else 0.0


def _sample_rows(X: Any) -> np.ndarray | None:
    if not isinstance(X, np.ndarray):
        if hasattr(X, "toarray") or hasattr(X, "tocsr"):
            return None  # sparse: its zeros are not pixels anyone drew
        try:
            X = np.asarray(X)
        except (TypeError, ValueError):
            return None
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        return None
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.iscomplexobj(X):
        return None
    step = max(1, X.shape[0] // _SAMPLE_ROWS)
    rows = np.asarray(X[::step], dtype=np.float64)
    return rows if np.all(np.isfinite(rows)) else None


def _scaled_message(rows: PixelProfile, ref: PixelProfile) -> str | None:
    if ref.high >= 2 and 0 < rows.high <= ref.high / 8:
        return (f"these rows' pixels lie in [{rows.low:g}, {rows.high:g}], but the model was "
                f"trained on pixels in [{ref.low:g}, {ref.high:g}]: they look scaled "
                f"already. Give the model pixels as in training (do not divide them by "
                f"{ref.high:g}: e.g. X * {ref.high:g}), or read images with "
                "sknn_mnist.images.load_images, which returns them so.")
    if ref.high > 0 and rows.high > 1.5 * ref.high:
        return (f"these rows' pixels reach {rows.high:g}, but the model was trained on "
                f"pixels in [{ref.low:g}, {ref.high:g}]. Scale them to that range first "
                f"(e.g. X * {ref.high:g} / {rows.high:g}), or read images with "
                f"sknn_mnist.images.load_images(..., shape=...) for this model's layout.")
    return None


def _inverted_message(rows: PixelProfile, ref: PixelProfile) -> str | None:
    if rows.span <= 0 or ref.span <= 0:
        return None
    trained, given = ref.relative_background(), rows.relative_background()
    if trained <= 0.25 and given >= 0.75:
        what, trained_on = "dark ink on a light background", "light ink on a dark background"
    elif trained >= 0.75 and given <= 0.25:
        what, trained_on = "light ink on a dark background", "dark ink on a light background"
    else:
        return None
    return (f"these rows look inverted: {what} (their typical pixel is "
            f"{rows.background:g}), while the model was trained on {trained_on} (typical "
            f"pixel {ref.background:g}). Invert them (X = {rows.low + rows.high:g} - X), or "
            "read images with sknn_mnist.images.load_images, which finds the ink whichever "
            "way round it is.")


def check_rows_like_training(X: Any, reference: PixelProfile | Mapping[str, Any] | None,
                             ) -> str | None:
    """Say what looks wrong with rows given to a model, against its training rows.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The rows about to be predicted.
    reference : PixelProfile or dict or None
        The profile of the training rows (a dict as :meth:`PixelProfile.to_dict` writes).

    Returns
    -------
    str or None
        One message saying what looks wrong and what to do: rows scaled already (e.g.
        [0, 1] rows into a model trained on 0..255), rows of a larger range, or inverted
        rows (dark ink on white into a model trained on MNIST's light ink on black).
        None when they look alike, or when either cannot be profiled.

    Examples
    --------
    >>> import numpy as np
    >>> train = np.zeros((10, 784)); train[:, 300:400] = 255
    >>> ref = PixelProfile.from_rows(train)
    >>> check_rows_like_training(train, ref) is None
    True
    >>> check_rows_like_training(train / 255, ref).startswith("these rows' pixels lie in")
    True
    """
    ref = reference if isinstance(reference, PixelProfile) else PixelProfile.from_dict(
        reference)
    rows = PixelProfile.from_rows(X)
    if ref is None or rows is None or rows.span <= 0:
        return None
    messages = [m for m in (_scaled_message(rows, ref), _inverted_message(rows, ref)) if m]
    return " Also, ".join(messages) or None
