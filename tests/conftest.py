"""Shared fixtures for the tests: small datasets, a small-classifier factory, MNIST's files.

Markers (pyproject.toml): ``slow`` (real MNIST training or a benchmark run), ``subprocess``
(runs the CLI, an example or a benchmark in a fresh interpreter that imports torch and
trains), ``mnist`` (needs the real MNIST files in :data:`MNIST_DIR`: skipped without them),
``cuda``. The fast tier, ``make test-fast``, is ``-m "not slow and not subprocess"``.
"""

from __future__ import annotations

import os

# scikit-learn's array-API estimator check skips itself unless SciPy's array-API mode is on,
# and SciPy reads this once at import: set it before anything imports scipy so that check
# runs too.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

#: The four IDX gz files of MNIST, shared between checkouts (absent on most machines). The
#: one definition: tests get it from the ``mnist_dir`` fixture and carry the ``mnist`` mark.
MNIST_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the tests marked ``mnist`` when the MNIST files are not there."""
    if MNIST_DIR.is_dir():
        return
    skip = pytest.mark.skip(reason=f"needs the MNIST IDX files in {MNIST_DIR}")
    for item in items:
        if item.get_closest_marker("mnist") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits_raw():
    """scikit-learn's digits as loaded: float64 pixels in 0..16, int labels 0..9."""
    X, y = load_digits(return_X_y=True)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


@pytest.fixture(scope="session")
def digits(digits_raw):
    """Digits scaled to [0, 1] as float32 (1797 x 64), labels 0..9."""
    X, y = digits_raw
    Xs = (X / 16.0).astype(np.float32)
    Xs.setflags(write=False)
    return Xs, y


@pytest.fixture(scope="session")
def digits_split(digits):
    """A stratified train/test split of the scaled digits (1347 / 450 rows)."""
    X_train, X_test, y_train, y_test = train_test_split(
        *digits, test_size=0.25, random_state=0, stratify=digits[1])
    return X_train, X_test, y_train, y_test


@pytest.fixture(scope="session")
def digits_small(digits):
    """The first 600 scaled digits: every class, fast to train on."""
    X, y = digits
    return X[:600], y[:600]


@pytest.fixture(scope="session")
def binary_digits(digits):
    """A binary problem: digits 3 and 8 (the two classes most often confused)."""
    X, y = digits
    mask = np.isin(y, [3, 8])
    return X[mask], y[mask]


@pytest.fixture
def make_clf():
    """Factory of small, fast, seeded CPU classifiers; keyword arguments override."""
    from sknn_mnist import MLPDigitClassifier

    def make(**params):
        defaults = dict(hidden_layer_sizes=(16,), max_iter=5, batch_size=128,
                        learning_rate_init=0.01, random_state=0, device="cpu")
        defaults.update(params)
        return MLPDigitClassifier(**defaults)

    return make


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """:data:`MNIST_DIR` (mark the test ``mnist`` when it needs the files to be there)."""
    return MNIST_DIR
