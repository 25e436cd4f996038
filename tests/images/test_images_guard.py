"""Guarding rows: a model warns, once and saying what to do, about scaled or inverted rows."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits

from sknn_mnist.images import PixelProfile, RowsUnlikeTrainingWarning, check_rows_like_training
from sknn_mnist.models import PixelScaler


@pytest.fixture(scope="module")
def mnist_like():
    """Rows as MNIST's: 0..255, light ink (a fifth of the pixels) on black."""
    rng = np.random.default_rng(0)
    X = np.zeros((200, 784), np.uint8)
    for row in X:
        row[rng.choice(784, 150, replace=False)] = rng.integers(100, 256, 150)
    return X


def test_profile_records_range_and_background(mnist_like):
    profile = PixelProfile.from_rows(mnist_like)
    assert (profile.low, profile.background) == (0, 0) and profile.high == 255
    assert PixelProfile.from_dict(profile.to_dict()) == profile
    assert PixelProfile.from_dict({"low": 0}) is None
    assert PixelProfile.from_rows(np.zeros((0, 4))) is None
    assert PixelProfile.from_rows(np.array([[np.nan, 1.0]])) is None


def test_rows_like_training_say_nothing(mnist_like):
    ref = PixelProfile.from_rows(mnist_like)
    assert check_rows_like_training(mnist_like[:20], ref) is None
    assert check_rows_like_training(mnist_like[:1], ref.to_dict()) is None
    assert check_rows_like_training(np.zeros((3, 784)), ref) is None  # blank: no opinion
    assert check_rows_like_training(mnist_like, None) is None


def test_prescaled_rows(mnist_like):
    message = check_rows_like_training(mnist_like / 255, PixelProfile.from_rows(mnist_like))
    assert "look scaled already" in message and "do not divide them by 255" in message


def test_rows_of_a_larger_range():
    digits = load_digits().data
    message = check_rows_like_training(digits * 16, PixelProfile.from_rows(digits))
    assert "reach 256" in message and "[0, 16]" in message


def test_inverted_rows(mnist_like):
    message = check_rows_like_training(255 - mnist_like, PixelProfile.from_rows(mnist_like))
    assert "look inverted: dark ink on a light background" in message
    assert "X = 255 - X" in message and "load_images" in message
    both = check_rows_like_training(1 - mnist_like / 255, PixelProfile.from_rows(mnist_like))
    assert "scaled already" in both and "inverted" in both


def _fitted_pipeline(X, y):
    from sklearn.neighbors import NearestCentroid
    from sklearn.pipeline import make_pipeline

    return make_pipeline(PixelScaler(), NearestCentroid()).fit(X, y)


def test_a_fitted_model_warns_once_per_call_pointing_at_the_user_s_line():
    X, y = load_digits(return_X_y=True)
    model = _fitted_pipeline(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.predict(X[:20])
        assert not [w for w in caught if w.category is RowsUnlikeTrainingWarning]
        model.predict(X[:20] / 16)
        model.predict(16 - X[:20])
    found = [w for w in caught if w.category is RowsUnlikeTrainingWarning]
    assert len(found) == 2  # one per call, not one per row
    assert "scaled already" in str(found[0].message)
    assert "inverted" in str(found[1].message)
    assert found[0].filename == __file__


def test_the_profile_is_saved_with_the_model(tmp_path):
    from sknn_mnist.io.persistence import load_model, save_model

    X, y = load_digits(return_X_y=True)
    path = save_model(_fitted_pipeline(X, y), tmp_path / "m.skops")
    model = load_model(path, trusted=["sklearn.neighbors._nearest_centroid.NearestCentroid"])
    assert model[0].pixel_profile_ == PixelProfile.from_rows(X).to_dict()
    with pytest.warns(RowsUnlikeTrainingWarning, match="scaled already"):
        model.predict(X[:5] / 16)


def test_a_scaler_saved_before_the_profile_existed_does_not_warn():
    X, y = load_digits(return_X_y=True)
    model = _fitted_pipeline(X, y)
    del model[0].pixel_profile_
    with warnings.catch_warnings():
        warnings.simplefilter("error", RowsUnlikeTrainingWarning)
        model.predict(X[:5] / 16)
