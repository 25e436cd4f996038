"""The default pipeline on real MNIST reaches the accuracy the README promises (minutes)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sknn_mnist import MLPDigitClassifier
from sknn_mnist.datasets import load_mnist

pytestmark = [pytest.mark.slow, pytest.mark.mnist]


def test_default_pipeline_on_mnist(tmp_path, mnist_dir):
    X_train, y_train = load_mnist(subset="train", idx_dir=mnist_dir, data_home=tmp_path,
                                  return_X_y=True)
    X_test, y_test = load_mnist(subset="test", idx_dir=mnist_dir, data_home=tmp_path,
                                return_X_y=True)
    assert X_train.shape == (60000, 784) and X_test.shape == (10000, 784)
    assert X_train.dtype == np.uint8 and set(np.unique(y_train)) == set(range(10))
    model = make_pipeline(MinMaxScaler(), MLPDigitClassifier(random_state=0))
    model.fit(X_train, y_train)
    accuracy = model.score(X_test, y_test)
    assert accuracy >= 0.978, f"test accuracy {accuracy:.4f}"
