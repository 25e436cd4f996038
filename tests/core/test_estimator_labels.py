"""Labels: anything scikit-learn classifiers accept, predictions taken from ``classes_``."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.neural_network import MLPClassifier


def _three_classes(digits):
    X, y = digits
    mask = y < 3
    return X[mask], y[mask]


def test_int_labels_with_gaps_are_returned_not_positions(digits, make_clf):
    X, codes = _three_classes(digits)
    labels = np.array([3, 7, 42])
    y = labels[codes]
    clf = make_clf().fit(X, y)
    np.testing.assert_array_equal(clf.classes_, labels)
    pred = clf.predict(X)
    assert set(np.unique(pred)) == {3, 7, 42}  # labels, never positions 0..2
    assert accuracy_score(y, pred) > 0.9
    # Training does not depend on the label values: the same model as with codes 0..2.
    ref = make_clf().fit(X, codes)
    np.testing.assert_array_equal(pred, labels[ref.predict(X)])
    np.testing.assert_array_equal(clf.predict_proba(X), ref.predict_proba(X))


def test_string_labels(digits, make_clf):
    X, y = digits
    y_str = y.astype(str)
    clf = make_clf().fit(X, y_str)
    np.testing.assert_array_equal(clf.classes_, [str(d) for d in range(10)])
    pred = clf.predict(X)
    assert pred.dtype.kind == "U"
    ref = make_clf().fit(X, y)
    np.testing.assert_array_equal(pred, ref.predict(X).astype(str))
    assert clf.score(X, y_str) == pytest.approx(ref.score(X, y))


@pytest.mark.parametrize("kind", ["category", "object", "string"])
def test_pandas_labels_as_openml_gives_them(digits, make_clf, kind):
    """OpenML returns MNIST's labels as the strings '0'..'9', often as a categorical."""
    X, y = digits
    y_pd = pd.Series(y.astype(str), dtype=kind)
    clf = make_clf().fit(X, y_pd)
    assert sorted(map(str, clf.classes_)) == [str(d) for d in range(10)]
    pred = clf.predict(X)
    assert set(pred) <= set(clf.classes_)
    assert accuracy_score(y_pd.astype(str).to_numpy(), pred.astype(str)) > 0.8
    ref = make_clf().fit(X, y)
    np.testing.assert_array_equal(pred.astype(str), ref.predict(X).astype(str))


def test_bool_labels(binary_digits, make_clf):
    X, y = binary_digits
    y_bool = y == 8
    clf = make_clf().fit(X, y_bool)
    np.testing.assert_array_equal(clf.classes_, [False, True])
    pred = clf.predict(X)
    assert pred.dtype == bool
    assert accuracy_score(y_bool, pred) > 0.85


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("labels", [np.array([3, 8]), np.array(["cat", "dog"]),
                                    np.array([-1, 1])])
def test_binary_problem_has_one_output_unit(binary_digits, make_clf, labels):
    X, y = binary_digits
    y = labels[(y == 8).astype(int)]
    clf = make_clf(hidden_layer_sizes=(12,)).fit(X, y)
    sk = MLPClassifier(hidden_layer_sizes=(12,), max_iter=2).fit(X, y)
    assert clf.n_outputs_ == sk.n_outputs_ == 1
    assert clf.out_activation_ == sk.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == sk.coefs_[-1].shape == (12, 1)
    assert clf.intercepts_[-1].shape == (1,)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    pred = clf.predict(X)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])
    assert accuracy_score(y, pred) > 0.85
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-10)


def test_predict_proba_columns_follow_classes(digits, make_clf):
    X, y = digits
    # Labels whose sorted order differs from their first appearance in y.
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven",
                      "eight", "nine"])
    y_named = names[y]
    clf = make_clf().fit(X, y_named)
    np.testing.assert_array_equal(clf.classes_, np.sort(names))
    proba = clf.predict_proba(X)
    assert proba.dtype == np.float64
    assert proba.shape == (len(X), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba), atol=1e-10)
    assert clf.score(X, y_named) == pytest.approx(accuracy_score(y_named, clf.predict(X)))
    # Probabilities are fine-grained: each class is the most likely one for some digits.
    assert len(np.unique(proba.argmax(axis=1))) == 10


@pytest.mark.parametrize("y_single", [np.zeros, lambda n: np.full(n, "a")])
def test_single_class_fits_as_mlpclassifier(digits, make_clf, y_single):
    """One class in y: fitted, as MLPClassifier fits it (its own test_preserve_feature_names
    does); every prediction is that class, with probability 1 in the one column of
    classes_ (MLPClassifier's predict_proba has two columns there: a deliberate
    difference)."""
    X, _ = digits
    y = y_single(len(X))
    clf = make_clf().fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = MLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, sk.classes_)
    assert clf.n_outputs_ == sk.n_outputs_ == 1
    assert clf.out_activation_ == sk.out_activation_ == "logistic"
    np.testing.assert_array_equal(clf.predict(X[:50]), sk.predict(X[:50]))
    np.testing.assert_array_equal(clf.predict_proba(X[:50]), np.ones((50, 1)))
    np.testing.assert_array_equal(clf.predict_log_proba(X[:50]), np.zeros((50, 1)))
    assert clf.score(X, y) == 1.0
    assert len(clf.loss_curve_) == 5 and clf.loss_curve_[-1] < clf.loss_curve_[0]
    loaded = pickle.loads(pickle.dumps(clf))  # the head is found again from classes_
    np.testing.assert_array_equal(loaded.predict_proba(X[:5]), np.ones((5, 1)))
    # Early stopping splits the one class (stratified), and a new label later is an error.
    clf.set_params(early_stopping=True).fit(X, y)
    assert clf.validation_scores_[-1] == 1.0
    with pytest.raises(ValueError, match="same classes"):
        clf.set_params(warm_start=True, early_stopping=False).fit(X[:20], np.arange(20) % 2)


def test_continuous_target_is_a_clear_error(digits, make_clf):
    X, _ = digits
    y = np.random.default_rng(0).random(len(X))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        make_clf().fit(X, y)


def test_multilabel_indicator_as_mlpclassifier(digits, make_clf):
    from sklearn.neural_network import MLPClassifier

    X, y = digits
    Y = np.stack([y % 2, y > 4, y == 0], axis=1).astype(int)
    clf = make_clf(max_iter=20).fit(X, Y)
    sk = MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0).fit(X, Y)
    pred = clf.predict(X)
    assert pred.shape == sk.predict(X).shape == Y.shape
    assert set(np.unique(pred)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape  # one independent probability per label
    assert not np.allclose(proba.sum(axis=1), 1)
    np.testing.assert_array_equal(pred, (proba > 0.5).astype(int))
    np.testing.assert_array_equal(clf.classes_, sk.classes_)
    assert clf.out_activation_ == sk.out_activation_ == "logistic"
    assert clf.n_outputs_ == sk.n_outputs_ == 3
    assert clf.score(X, Y) > 0.6  # subset accuracy: all three labels right
    assert (pred == Y).mean() > 0.85
