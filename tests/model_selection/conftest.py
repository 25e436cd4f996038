"""Fixtures of the model-selection tests: small digits, a small float64 MLP, and the check
that our search's results are scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedKFold

#: float64 scores of our search against scikit-learn's: the stated tolerance
#: (docs/model_selection.md). Today's sequential fit_many gives identical numbers.
ATOL = 1e-6


@pytest.fixture(scope="session")
def small_digits(digits_raw):
    """450 digits in 0..16 as float64 (every class): fast to fit a few epochs on."""
    X, y = digits_raw
    return X[:450].astype(np.float64), np.asarray(y[:450])


@pytest.fixture
def mlp():
    """Factory of small float64 CPU MLPs (3 epochs, seeded); keyword arguments override."""
    from sknn_mnist import MLPDigitClassifier

    def make(**params):
        defaults = dict(hidden_layer_sizes=(16,), max_iter=3, batch_size=64,
                        learning_rate_init=0.01, random_state=0, device="cpu",
                        dtype="float64")
        defaults.update(params)
        return MLPDigitClassifier(**defaults)

    return make


@pytest.fixture
def folds():
    return StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def _equal_params(a, b):
    assert len(a) == len(b)
    for pa, pb in zip(a, b, strict=True):
        assert sorted(pa) == sorted(pb)
        for key in pa:
            assert repr(pa[key]) == repr(pb[key]), key


def assert_same_cv_results(ours: dict, theirs: dict, *, atol: float = ATOL) -> None:
    """Same keys; same params, ranks and masks; scores within ``atol``; times present."""
    assert list(ours) == list(theirs)
    for key in theirs:
        a, b = ours[key], theirs[key]
        if key == "params":
            _equal_params(a, b)
        elif key.endswith("_time"):
            assert np.shape(a) == np.shape(b) and np.all(np.asarray(a) >= 0)
        elif key.startswith("param_"):
            assert [repr(v) for v in a] == [repr(v) for v in b], key
            np.testing.assert_array_equal(np.ma.getmaskarray(a), np.ma.getmaskarray(b))
        elif key.startswith("rank_"):
            np.testing.assert_array_equal(a, b, err_msg=key)
        else:
            np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=key)


@pytest.fixture
def same_cv_results():
    return assert_same_cv_results
