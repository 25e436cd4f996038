"""The plots are valid PNG files."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import make_model
from sknn_mnist.plots import (
    plot_confusion_matrix,
    plot_cv_param_scores,
    plot_fold_scores,
    plot_learning_curve,
    plot_misclassified,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = path.read_bytes()
    assert len(data) > 0
    assert data.startswith(PNG_SIGNATURE)
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    return X[:300], y[:300]


@pytest.mark.parametrize("early_stopping", [False, True])
def test_learning_curve(tmp_path, digits, early_stopping):
    X, y = digits
    model = make_model("mlp", max_iter=3, device="cpu", early_stopping=early_stopping,
                       hidden_layer_sizes=(16,)).fit(X, y)
    assert_png(plot_learning_curve(model, tmp_path / "curve.png"))


def test_learning_curve_needs_an_mlp(tmp_path, digits):
    model = make_model("rf", n_estimators=3).fit(*digits)
    with pytest.raises(ValueError, match="loss_curve_"):
        plot_learning_curve(model, tmp_path / "curve.png")


def test_confusion_matrix(tmp_path):
    y_true = np.array([0, 1, 2, 2, 1])
    y_pred = np.array([0, 2, 2, 2, 1])
    assert_png(plot_confusion_matrix(y_true, y_pred, tmp_path / "sub" / "cm.png"))
    assert_png(plot_confusion_matrix(y_true, y_pred, tmp_path / "cmn.png", normalize="true"))


@pytest.mark.parametrize("n_features", [64, 784])
def test_misclassified_gallery(tmp_path, n_features):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 16, size=(40, n_features))
    y_true = np.arange(40) % 10
    y_pred = np.where(np.arange(40) % 3 == 0, (y_true + 1) % 10, y_true)
    assert_png(plot_misclassified(X, y_true, y_pred, tmp_path / "wrong.png", max_images=8))
    # No error at all still gives a valid (explanatory) picture.
    assert_png(plot_misclassified(X, y_true, y_true, tmp_path / "none.png"))


def test_misclassified_needs_square_rows_or_a_shape(tmp_path):
    X = np.zeros((4, 10))
    with pytest.raises(ValueError, match="image_shape"):
        plot_misclassified(X, [0, 1, 0, 1], [1, 1, 0, 0], tmp_path / "x.png")
    assert_png(plot_misclassified(X, [0, 1, 0, 1], [1, 1, 0, 0], tmp_path / "x.png",
                                  image_shape=(2, 5)))


def test_cv_param_scores(tmp_path, digits):
    search = GridSearchCV(make_model("rf"), {"clf__n_estimators": [3, 6],
                                             "clf__max_depth": [None, 4]}, cv=2).fit(*digits)
    assert_png(plot_cv_param_scores(search.cv_results_, tmp_path / "params.png"))


def test_fold_scores(tmp_path):
    scores = {"test_score": np.array([0.9, 0.92, 0.88]), "train_score": np.ones(3)}
    assert_png(plot_fold_scores(scores, tmp_path / "folds.png", score_name="accuracy"))
