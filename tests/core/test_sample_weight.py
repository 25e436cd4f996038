"""sample_weight: zero weights drop rows, integer weights repeat rows (float32 default)."""

from __future__ import annotations

import numpy as np
import pytest

# Full-batch training (batch_size >= n_samples) makes weighting and repeating/dropping
# rows the same optimisation problem; only float32 summation order differs.
FULL_BATCH = dict(batch_size=10_000, max_iter=20, learning_rate_init=0.01)


# float32 rounding, amplified by L-BFGS's line search over 20 iterations, exceeds 1e-5:
# L-BFGS is checked in float64, where the two problems agree to rounding error.
SOLVER_CASES = [("adam", "float32", 1e-5), ("sgd", "float32", 1e-4),
                ("adam", "float64", 1e-10), ("lbfgs", "float64", 1e-10)]


@pytest.mark.parametrize("solver, dtype, atol", SOLVER_CASES)
def test_zero_weights_equal_dropping_rows(digits_small, make_clf, solver, dtype, atol):
    X, y = digits_small
    rng = np.random.default_rng(0)
    keep = rng.random(len(y)) < 0.7
    weight = keep.astype(float)
    params = dict(solver=solver, dtype=dtype, **FULL_BATCH)
    weighted = make_clf(**params).fit(X, y, sample_weight=weight)
    dropped = make_clf(**params).fit(X[keep], y[keep])
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X),
                               rtol=0, atol=atol)
    np.testing.assert_allclose(weighted.loss_curve_, dropped.loss_curve_, rtol=atol)
    # The rows that were dropped do matter when they are not weighted out.
    plain = make_clf(**params).fit(X, y)
    assert np.abs(plain.predict_proba(X) - dropped.predict_proba(X)).max() > 1e-3


@pytest.mark.parametrize("solver, dtype, atol", SOLVER_CASES)
def test_integer_weights_equal_repeating_rows(digits_small, make_clf, solver, dtype, atol):
    X, y = digits_small
    rng = np.random.default_rng(1)
    weight = rng.integers(1, 4, size=len(y))
    params = dict(solver=solver, dtype=dtype, **FULL_BATCH)
    weighted = make_clf(**params).fit(X, y, sample_weight=weight)
    repeated = make_clf(**params).fit(np.repeat(X, weight, axis=0), np.repeat(y, weight))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X),
                               rtol=0, atol=atol)
    np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=atol)


def test_unit_weights_equal_no_weights(digits_small, make_clf):
    X, y = digits_small
    plain = make_clf().fit(X, y)
    ones = make_clf().fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(ones.predict_proba(X), plain.predict_proba(X), atol=1e-5)


def test_weights_shift_predictions_toward_the_heavy_class(digits_small, make_clf):
    X, y = digits_small
    heavy = 8
    weight = np.where(y == heavy, 20.0, 1.0)
    plain = make_clf(max_iter=3).fit(X, y)
    weighted = make_clf(max_iter=3).fit(X, y, sample_weight=weight)
    col = list(plain.classes_).index(heavy)
    assert weighted.predict_proba(X)[:, col].mean() > plain.predict_proba(X)[:, col].mean()
    assert (weighted.predict(X) == heavy).sum() > (plain.predict(X) == heavy).sum()


def test_binary_weights_shift_predictions(binary_digits, make_clf):
    X, y = binary_digits
    weight = np.where(y == 3, 50.0, 1.0)
    plain = make_clf(max_iter=2).fit(X, y)
    weighted = make_clf(max_iter=2).fit(X, y, sample_weight=weight)
    assert weighted.predict_proba(X)[:, 0].mean() > plain.predict_proba(X)[:, 0].mean()


def test_sample_weight_in_partial_fit(digits_small, make_clf):
    X, y = digits_small
    keep = np.arange(len(y)) % 3 != 0
    a = make_clf(**FULL_BATCH).partial_fit(X, y, classes=np.arange(10),
                                           sample_weight=keep.astype(float))
    b = make_clf(**FULL_BATCH).partial_fit(X[keep], y[keep], classes=np.arange(10))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)


def test_negative_weights_are_an_error(digits_small, make_clf):
    X, y = digits_small
    weight = np.ones(len(y))
    weight[3] = -1
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        make_clf().fit(X, y, sample_weight=weight)


def test_all_zero_weights_are_an_error(digits_small, make_clf):
    X, y = digits_small
    with pytest.raises(ValueError, match="non-zero|positive sum"):
        make_clf().fit(X, y, sample_weight=np.zeros(len(y)))


def test_wrong_length_weights_are_an_error(digits_small, make_clf):
    X, y = digits_small
    with pytest.raises(ValueError, match="sample_weight"):
        make_clf().fit(X, y, sample_weight=np.ones(len(y) - 1))


def test_early_stopping_with_sample_weight(digits_small, make_clf):
    X, y = digits_small
    weight = np.where(y == 1, 2.0, 1.0)
    clf = make_clf(early_stopping=True, max_iter=5).fit(X, y, sample_weight=weight)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert 0 < clf.best_validation_score_ <= 1
