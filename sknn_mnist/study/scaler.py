"""PixelScaler: divide every pixel by one number so that the images lie in [0, 1].

It also records what its training rows looked like (their pixel range and background,
:class:`~sknn_mnist.images.guard.PixelProfile`) and warns, once per call, when rows given
to ``transform`` (to ``predict`` through a pipeline) look scaled already or inverted
against them: the classic silent mistakes that make every row come out as one digit.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ..core.warn import warn_user
from ..images.guard import PixelProfile, RowsUnlikeTrainingWarning, check_rows_like_training

__all__ = ["PixelScaler"]


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divide every pixel by one number so that the images lie in [0, 1].

    Parameters
    ----------
    pixel_max : float or None, default=None
        Value of a fully inked pixel. ``None`` learns it in ``fit`` as the largest value of
        the training data (16 for scikit-learn's digits, 255 for MNIST).
    dtype : {'float32', 'float64'}, default='float32'
        Output dtype. float32 halves the memory (for MNIST's 60,000 x 784 training pixels,
        4 bytes each instead of 8: 188 MB instead of 376 MB) and is what the MLP computes in
        anyway. Measured peak memory of a fit: ``benchmarks/results/RESULTS.md``, section
        "4. Data: cached load time and peak memory of a fit".

    Attributes
    ----------
    scale_ : float
        The divisor used by ``transform``.
    n_features_in_ : int
        Number of features seen during fit.
    pixel_profile_ : dict or None
        The training rows' pixel range and background level (``low``, ``high``,
        ``background``), from which ``transform`` tells rows that look scaled already or
        inverted (:class:`~sknn_mnist.images.guard.RowsUnlikeTrainingWarning`). None for
        data that cannot be profiled.
    """

    _parameter_constraints: dict = {
        "pixel_max": [Interval(Real, 0, None, closed="neither"), None],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def __init__(self, pixel_max: float | None = None, dtype: str = "float32"):
        self.pixel_max = pixel_max
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The output dtype is the parameter, whatever the input's.
        tags.transformer_tags.preserves_dtype = [self.dtype]
        return tags

    def fit(self, X, y=None):
        """Learn the divisor (the largest pixel value) from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : PixelScaler
        """
        self._validate_params()
        # "numeric" keeps uint8 pixels as they are: the maximum needs no float copy.
        X = validate_data(self, X, reset=True, dtype="numeric")
        if self.pixel_max is not None:
            self.scale_ = float(self.pixel_max)
        else:
            peak = float(np.max(X)) if X.size else 0.0
            # All-blank data: dividing by 1 keeps it finite instead of dividing by zero.
            self.scale_ = peak if peak > 0 else 1.0
        profile = PixelProfile.from_rows(X)
        self.pixel_profile_ = None if profile is None else profile.to_dict()
        return self

    def transform(self, X):
        """Return ``X / scale_`` in ``dtype``."""
        check_is_fitted(self)
        # Convert straight to the output dtype (one copy: no float64 detour for uint8
        # MNIST), then scale that copy in place.
        X = validate_data(self, X, reset=False, dtype=self.dtype, copy=True)
        # Files saved before the profile existed have none: nothing to compare with.
        message = check_rows_like_training(X, getattr(self, "pixel_profile_", None))
        if message:
            warn_user(message, RowsUnlikeTrainingWarning)
        X /= self.scale_
        return X
