"""Digit images in, digit pixels out: real photos, scans and drawings read as MNIST's rows.

>>> from sknn_mnist.images import load_images, split_digits, read_number

* :func:`load_images` / :func:`load_image`: files, folders, bytes, PIL images or arrays of
  single digits to rows in MNIST's convention (or scikit-learn's digits');
* :func:`split_digits` / :func:`read_number`: a written number cut into its digits;
* :class:`ImageNormalizer`: the same as a stateless scikit-learn transformer;
* :func:`check_rows_like_training`: whether rows look like those a model was trained on;
* the errors, all :class:`ValueError` naming the image (:mod:`~sknn_mnist.images.errors`).

The modules, by concern: :mod:`~sknn_mnist.images.decode` (sources, formats, limits),
:mod:`~sknn_mnist.images.ink` (polarity, lighting, noise, specks),
:mod:`~sknn_mnist.images.normalize` (MNIST's layout), :mod:`~sknn_mnist.images.segment`
(numbers), :mod:`~sknn_mnist.images.guard` (rows unlike the training rows),
:mod:`~sknn_mnist.images.preview` (PNGs and contact sheets of what a model saw).
Importing it does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Where each public name lives. Imported on first use: the guard (numpy only) is imported
# by the pixel scaler in front of every model, and must not pull Pillow and SciPy in.
_EXPORTS = {
    "decode": ("FORMATS", "IMAGE_SUFFIXES", "ImageLimits"),
    "errors": ("ImageError", "ImageNotFoundError", "ImageTooLargeError", "NoImagesError",
               "NoInkError", "UnreadableImageError"),
    "guard": ("PixelProfile", "RowsUnlikeTrainingWarning", "check_rows_like_training"),
    "load": ("image_names", "load_image", "load_images"),
    "normalize": ("DIGITS", "MNIST", "Layout", "layout_for", "layout_for_features"),
    "reading": ("NumberReading", "read_number"),
    "segment": ("DigitBox", "split_digits"),
    "transformer": ("ImageNormalizer",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "DIGITS",
    "DigitBox",
    "FORMATS",
    "IMAGE_SUFFIXES",
    "ImageError",
    "ImageLimits",
    "ImageNormalizer",
    "ImageNotFoundError",
    "ImageTooLargeError",
    "Layout",
    "MNIST",
    "NoImagesError",
    "NoInkError",
    "NumberReading",
    "PixelProfile",
    "RowsUnlikeTrainingWarning",
    "UnreadableImageError",
    "check_rows_like_training",
    "image_names",
    "layout_for",
    "layout_for_features",
    "load_image",
    "load_images",
    "read_number",
    "split_digits",
]
assert set(__all__) == set(_WHERE)  # one list to keep in step with the other

if TYPE_CHECKING:
    from .decode import FORMATS, IMAGE_SUFFIXES, ImageLimits
    from .errors import (
        ImageError,
        ImageNotFoundError,
        ImageTooLargeError,
        NoImagesError,
        NoInkError,
        UnreadableImageError,
    )
    from .guard import PixelProfile, RowsUnlikeTrainingWarning, check_rows_like_training
    from .load import image_names, load_image, load_images
    from .normalize import DIGITS, MNIST, Layout, layout_for, layout_for_features
    from .reading import NumberReading, read_number
    from .segment import DigitBox, split_digits
    from .transformer import ImageNormalizer


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sknn_mnist.images' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
