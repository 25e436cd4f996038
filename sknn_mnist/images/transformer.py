"""``ImageNormalizer``: :func:`~sknn_mnist.images.load_images` as a scikit-learn transformer."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

from .decode import ImageLimits, decode
from .load import load_images, normalize_decoded
from .normalize import Layout, layout_for

__all__ = ["ImageNormalizer"]


def _as_array_if_array_like(X: Any) -> Any:
    # An object exposing __array__ (a DataFrame, a wrapper) but not a plain sequence of
    # image sources.
    if (hasattr(X, "__array__") and not isinstance(X, np.ndarray | list | tuple)
            and not sp.issparse(X) and not hasattr(X, "save")):  # PIL images have __array__
        return np.asarray(X)
    return X


def _is_numeric_array(X: Any) -> bool:
    return isinstance(X, np.ndarray) and (np.issubdtype(X.dtype, np.number)
                                          or X.dtype == np.bool_)


class ImageNormalizer(TransformerMixin, BaseEstimator):
    """Images in, rows of digit pixels out, in MNIST's convention: stateless.

    Put it in front of a fitted model to predict straight from image files, photos or
    arrays: ``make_pipeline(ImageNormalizer(), model).predict(["7.png", "3.jpg"])``.
    ``fit`` learns nothing; ``transform`` is :func:`~sknn_mnist.images.load_images`.

    Parameters
    ----------
    shape : None, 'mnist', 'digits', int or (height, width), default=None
        The output layout: MNIST's 28x28 by default, ``'digits'`` or ``(8, 8)`` for
        scikit-learn's digits (0..16, the digit filling the frame).
    max_bytes : int, default=32 MiB
        Largest encoded image read.
    max_pixels : int, default=50,000,000
        Largest image decoded (decompression bombs are refused from the header).
    row_shape : None or (height, width), default=None
        How a 2-D numeric array's rows are laid out: ``None`` reads them as flattened
        square images (784 values: 28x28), ``(h, w)`` as ``h x w`` images (``h * w``
        values). One entry may be ``-1``, inferred from the row length (``(-1, 30)``:
        images 30 pixels wide).

    Notes
    -----
    ``X`` is a list (or 1-D array) of image sources: file paths, folders, raw bytes, PIL
    images, arrays of any shape. A 2-D numeric array is read as rows of flattened images
    (square unless ``row_shape`` says otherwise, in any range and either polarity), a 3-D
    one as a stack of images.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn_mnist.images import ImageNormalizer
    >>> page = np.full((60, 60), 255, np.uint8)
    >>> page[10:50, 25:32] = 0                # a dark 1 on white paper
    >>> ImageNormalizer().transform([page]).shape
    (1, 784)
    """

    _parameter_constraints: dict = {
        "shape": [None, str, Integral, tuple, list, Layout],
        "max_bytes": [Interval(Integral, 1, None, closed="left")],
        "max_pixels": [Interval(Integral, 1, None, closed="left")],
        "row_shape": [None, tuple, list],
    }

    def __init__(self, shape: Any = None, max_bytes: int = ImageLimits.max_bytes,
                 max_pixels: int = ImageLimits.max_pixels, row_shape: Any = None):
        self.shape = shape
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        self.row_shape = row_shape

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []  # always uint8
        return tags

    def _layout(self) -> Layout:
        return layout_for(self.shape)

    def fit(self, X, y=None):
        """Check the parameters; nothing is learnt.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self : ImageNormalizer
        """
        self._validate_params()
        self._layout()  # a bad shape fails here, not at the first transform
        self._check_row_shape()
        X = _as_array_if_array_like(X)
        if _is_numeric_array(X) and X.ndim <= 2 or sp.issparse(X):
            # Rows of pixels are checked as any estimator's input (finite, not empty,
            # not sparse); image sources are checked when they are read.
            validate_data(self, X, reset=True)
        return self

    def _check_row_shape(self) -> tuple[int, int] | None:
        shape = self.row_shape
        if shape is None:
            return None
        if (len(shape) != 2 or not all(isinstance(s, Integral) and not isinstance(s, bool)
                                       and (s >= 1 or s == -1) for s in shape)
                or list(shape).count(-1) > 1):
            raise ValueError(f"row_shape must be (height, width) with positive ints, one of "
                             f"which may be -1 (inferred), got {shape!r}")
        return int(shape[0]), int(shape[1])

    def _image_shape(self, n_values: int) -> tuple[int, int]:
        """The (height, width) of one row of ``n_values`` pixels."""
        shape = self._check_row_shape()
        if shape is None:
            side = math.isqrt(n_values)
            if side * side != n_values:
                raise ValueError(
                    f"rows of {n_values} values are not flattened square images; give "
                    "image sources (paths, bytes, PIL images, arrays of shape (height, "
                    "width)), rows of side * side pixels, or row_shape=(height, width)")
            return side, side
        height, width = shape
        if height == -1 and n_values % width == 0:
            height = n_values // width
        elif width == -1 and n_values % height == 0:
            width = n_values // height
        if height * width != n_values:
            raise ValueError(f"rows of {n_values} values do not fit row_shape="
                             f"{self.row_shape!r}; give rows of height * width pixels")
        return height, width

    def _rows(self, X: np.ndarray, layout: Layout, limits: ImageLimits) -> np.ndarray:
        if X.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a "
                             "minimum of 1 is required.")
        height, width = self._image_shape(X.shape[1])
        out = np.empty((X.shape[0], layout.n_pixels), np.uint8)
        for i, row in enumerate(X):
            image = row.reshape(height, width)
            out[i] = normalize_decoded(decode(image, f"row {i}", limits), layout)
        return out

    def transform(self, X):
        """Read each image of ``X`` as one row of digit pixels.

        Parameters
        ----------
        X : list of image sources, or array of flattened square images
            See the class notes.

        Returns
        -------
        ndarray of shape (n_images, n_pixels), uint8

        Raises
        ------
        ImageError
            A bad image (a :class:`ValueError` naming it); see
            :func:`~sknn_mnist.images.load_images`.
        """
        self._validate_params()
        layout = self._layout()
        limits = ImageLimits(max_bytes=self.max_bytes, max_pixels=self.max_pixels)
        X = _as_array_if_array_like(X)
        if _is_numeric_array(X) and X.ndim <= 2:
            # As any estimator: 2-D rows (a 1-D array is refused with sklearn's message),
            # finite, as many features as in fit when fit saw rows.
            validate_data(self, X, reset=not hasattr(self, "n_features_in_"))
            return self._rows(X, layout, limits)
        if isinstance(X, np.ndarray) and X.ndim == 1 and X.dtype == object:
            X = list(X)
        return load_images(X, shape=layout, limits=limits)

    def get_feature_names_out(self, input_features=None):
        """``pixel_0`` ... ``pixel_{n - 1}``, one per output pixel."""
        return np.asarray([f"pixel_{i}" for i in range(self._layout().n_pixels)],
                          dtype=object)
