"""``read_number``: the digits of a written number, read by a fitted model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .decode import ImageLimits
from .normalize import layout_for, layout_for_features
from .segment import DigitBox, split_digits

__all__ = ["NumberReading", "model_layout", "model_n_features", "read_number"]


@dataclass(frozen=True)
class NumberReading:
    """What :func:`read_number` read.

    Attributes
    ----------
    text : str
        The digits, left to right (``"2024"``).
    labels : ndarray of shape (n_digits,)
        Each digit's predicted label (from the model's ``classes_``).
    probabilities : ndarray of shape (n_digits, n_classes)
        Each digit's class probabilities, columns in ``classes`` order.
    classes : ndarray of shape (n_classes,)
        The model's classes.
    images : ndarray of shape (n_digits, n_pixels), uint8
        What the model saw: each digit normalised.
    boxes : list of DigitBox
        Where each digit is in the image (at working resolution).
    """

    text: str
    labels: np.ndarray
    probabilities: np.ndarray
    classes: np.ndarray
    images: np.ndarray
    boxes: list[DigitBox]

    @property
    def confidence(self) -> float:
        """The probability that every digit is right, as the model sees it: the product
        of each digit's top probability."""
        return float(np.prod(self.probabilities.max(axis=1)))

    def __str__(self) -> str:
        return self.text


def model_n_features(model: Any) -> int | None:
    """How many pixels a fitted model (or pipeline) takes per row, if it says: its
    ``n_features_in_``, else that of the first pipeline step that has one (a pipeline
    starting with ``"passthrough"`` has none of its own)."""
    n_features = getattr(model, "n_features_in_", None)
    for _, step in getattr(model, "steps", []) if n_features is None else []:
        n_features = getattr(step, "n_features_in_", None)
        if n_features is not None:
            break
    return None if n_features is None else int(n_features)


def model_layout(model: Any, shape: Any = None):
    """The image layout a fitted model takes: ``shape`` if given, else from its number of
    input features (784: MNIST, 64: digits; MNIST's when it does not say)."""
    if shape is not None:
        return layout_for(shape)
    n_features = model_n_features(model)
    return layout_for(None) if n_features is None else layout_for_features(n_features)


def read_number(source: Any, model: Any, *, shape: Any = None,
                limits: ImageLimits | None = None) -> NumberReading:
    """Read a written number: cut it into digits and predict each with ``model``.

    Parameters
    ----------
    source : path, bytes, file object, PIL image or array
        One image of a number (or of a single digit).
    model : fitted classifier or pipeline
        With ``predict_proba`` (``classes_``, the digit labels); its number of input
        features picks the layout (784: MNIST's 28x28, 64: scikit-learn's 8x8 digits).
    shape : optional
        Force a layout (see :func:`~sknn_mnist.images.load_images`).
    limits : ImageLimits, optional

    Returns
    -------
    NumberReading
        ``.text`` the number, ``.probabilities`` each digit's probabilities.

    Examples
    --------
    >>> reading = read_number("meter.jpg", model)  # doctest: +SKIP
    >>> reading.text, reading.probabilities.shape  # doctest: +SKIP
    ('4711', (4, 10))
    """
    layout = model_layout(model, shape)
    X, boxes = split_digits(source, shape=layout, limits=limits, return_boxes=True)
    probabilities = np.asarray(model.predict_proba(X))
    classes = np.asarray(model.classes_)
    labels = classes[np.argmax(probabilities, axis=1)]
    return NumberReading("".join(str(label) for label in labels), labels, probabilities,
                         classes, X, boxes)
