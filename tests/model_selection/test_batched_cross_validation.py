"""Our cross_validate and cross_val_score against scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import model_selection as sk
from sklearn.exceptions import FitFailedWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sknn_mnist.model_selection import cross_val_score, cross_validate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def pipe(mlp):
    return Pipeline([("scale", StandardScaler()), ("clf", mlp())])


def _same(ours, theirs):
    assert list(ours) == list(theirs)
    for key in theirs:
        if key.endswith("_time"):
            assert np.shape(ours[key]) == np.shape(theirs[key])
        elif key == "indices":
            for side in ("train", "test"):
                for a, b in zip(ours[key][side], theirs[key][side], strict=True):
                    np.testing.assert_array_equal(a, b)
        elif key != "estimator":
            np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("scoring", [None, "accuracy", ["accuracy", "f1_macro"],
                                     {"acc": "accuracy", "ll": "neg_log_loss"}])
def test_cross_validate_gives_scikit_learns_dict(pipe, small_digits, folds, scoring):
    X, y = small_digits
    kwargs = dict(cv=folds, scoring=scoring, return_train_score=True, return_estimator=True,
                  return_indices=True)
    ours = cross_validate(pipe, X, y, **kwargs)
    theirs = sk.cross_validate(pipe, X, y, **kwargs)
    _same(ours, theirs)
    for a, b in zip(ours["estimator"], theirs["estimator"], strict=True):
        np.testing.assert_array_equal(a.predict(X), b.predict(X))
        assert a is not pipe and a[0] is not b[0]
    # Each fold's estimator is its own, its scaler fitted on its own rows.
    means = [e[0].mean_ for e in ours["estimator"]]
    assert not np.allclose(means[0], means[1])


def test_cross_val_score_is_scikit_learns(mlp, small_digits, folds):
    X, y = small_digits
    ours = cross_val_score(mlp(), X / 16, y, cv=folds)
    theirs = sk.cross_val_score(mlp(), X / 16, y, cv=folds)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert ours.shape == (3,)


def test_sample_weight_through_params(pipe, small_digits, folds):
    X, y = small_digits
    params = {"clf__sample_weight": np.where(y % 2 == 0, 4.0, 0.25)}
    ours = cross_validate(pipe, X, y, cv=folds, params=params)
    theirs = sk.cross_validate(pipe, X, y, cv=folds, params=params)
    _same(ours, theirs)
    plain = cross_validate(pipe, X, y, cv=folds)
    assert not np.allclose(plain["test_score"], ours["test_score"])


def test_other_estimators_run_in_scikit_learns_parallel(small_digits, folds):
    X, y = small_digits
    svc = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    ours = cross_validate(svc, X, y, cv=folds, n_jobs=2, return_train_score=True)
    theirs = sk.cross_validate(svc, X, y, cv=folds, n_jobs=2, return_train_score=True)
    _same(ours, theirs)


@pytest.mark.filterwarnings("ignore:One or more of the:UserWarning")
def test_failing_folds_score_error_score(pipe, small_digits, folds):
    X, y = small_digits
    bad = pipe.set_params(clf__alpha=-1.0)
    with pytest.raises(ValueError, match="All the 3 fits failed"):
        cross_validate(bad, X, y, cv=folds)
    with pytest.raises(ValueError, match="'alpha' parameter"):
        cross_val_score(bad, X, y, cv=folds, error_score="raise")
    groups = np.arange(len(y)) % 3
    # Only one fold fails: a sample_weight of zeros on it makes its fit raise.
    weight = np.where(groups == 0, 1.0, 0.0)
    with pytest.warns(FitFailedWarning):
        ours = cross_val_score(pipe.set_params(clf__alpha=1e-4), X, y,
                               cv=sk.GroupKFold(3), groups=groups,
                               params={"clf__sample_weight": weight}, error_score=-1)
    with pytest.warns(FitFailedWarning):
        theirs = sk.cross_val_score(pipe, X, y, cv=sk.GroupKFold(3), groups=groups,
                                    params={"clf__sample_weight": weight}, error_score=-1)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    assert list(ours).count(-1) == 1


def test_parameters_are_validated(pipe, small_digits):
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = small_digits
    with pytest.raises(InvalidParameterError, match="error_score"):
        cross_validate(pipe, X, y, error_score="zero")
