"""Behaviour that matches ``MLPClassifier`` (its source and tests are the specification), and
failures that are safe: each test here failed before the shared core was reshaped."""

from __future__ import annotations

import math
import pickle
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import InvalidParameterError

from sknn_mnist.core.data import TensorBatchIterator
from sknn_mnist.networks.mlp.module import ACTIVATIONS

# -- initialisation -------------------------------------------------------------------------


def _initial_weights(make_clf, X, y, **params):
    """Weights as initialised: one SGD epoch at a vanishing rate leaves them unchanged."""
    clf = make_clf(solver="sgd", momentum=0.0, learning_rate="constant",
                   learning_rate_init=1e-12, max_iter=1, alpha=0.0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    return clf


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("batch_norm", [False, True])
def test_glorot_uniform_init_as_mlpclassifier(digits_small, make_clf, activation, batch_norm):
    X, y = digits_small
    clf = _initial_weights(make_clf, X, y, hidden_layer_sizes=(50, 30),
                           activation=activation, batch_norm=batch_norm)
    factor = 2.0 if activation in ("logistic", "sigmoid") else 6.0
    for coef, intercept in zip(clf.coefs_, clf.intercepts_, strict=True):
        fan_in, fan_out = coef.shape
        bound = math.sqrt(factor / (fan_in + fan_out))  # MLPClassifier._init_coef
        assert np.abs(coef).max() <= bound
        assert np.abs(coef).max() > 0.95 * bound  # uniform over the whole interval
        assert np.abs(intercept).max() <= bound  # biases too, as scikit-learn
        assert np.abs(intercept).max() > 0.5 * bound
        assert abs(coef.mean()) < 0.1 * bound
    if batch_norm:
        norms = [m for m in clf.net_.module_.modules() if isinstance(m, torch.nn.BatchNorm1d)]
        assert len(norms) == 2
        for norm in norms:
            np.testing.assert_allclose(norm.weight.detach(), 1.0, atol=1e-9)
            np.testing.assert_allclose(norm.bias.detach(), 0.0, atol=1e-9)


def test_init_does_not_depend_on_dtype(digits_small, make_clf):
    X, y = digits_small
    a = _initial_weights(make_clf, X, y)
    b = _initial_weights(make_clf, X, y, dtype="float64")
    np.testing.assert_allclose(a.coefs_[0], b.coefs_[0], atol=1e-6)


def test_learns_as_fast_as_mlpclassifier_per_epoch(digits_split):
    # The setting, shortened: constant rate, batch 200, (100, 50), a few epochs.
    from sknn_mnist import MLPDigitClassifier

    X_train, X_test, y_train, y_test = digits_split
    params = dict(hidden_layer_sizes=(64, 32), batch_size=200, learning_rate="constant",
                  learning_rate_init=1e-3, max_iter=8)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(2):
            ours.append(MLPDigitClassifier(**params, random_state=seed, device="cpu")
                        .fit(X_train, y_train).score(X_test, y_test))
            theirs.append(MLPClassifier(**params, random_state=seed)
                          .fit(X_train, y_train).score(X_test, y_test))
    assert np.mean(ours) > np.mean(theirs) - 0.02


# -- alpha ----------------------------------------------------------------------------------


def test_alpha_shrinks_every_layer_as_in_mlpclassifier(binary_digits, make_clf):
    # The case: MLPClassifier's defaults, 100 binary digits, alpha=1 against 0.
    X, y = binary_digits
    X, y = X[:100], y[:100]
    params = dict(hidden_layer_sizes=(100,), batch_size="auto", learning_rate="constant",
                  learning_rate_init=1e-3, max_iter=200)
    norms = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for alpha in (0.0, 1.0):
            clf = make_clf(alpha=alpha, **params).fit(X, y)
            norms[alpha] = [np.linalg.norm(c) for c in clf.coefs_]
            sk = MLPClassifier(alpha=alpha, random_state=0, **params).fit(X, y)
            sk_norms = [np.linalg.norm(c) for c in sk.coefs_]
            np.testing.assert_allclose(norms[alpha], sk_norms, rtol=0.15)
    for with_alpha, without in zip(norms[1.0], norms[0.0], strict=True):
        assert with_alpha < without  # the output layer's included
    groups = clf.net_.optimizer_.param_groups
    decayed = {id(p) for g in groups if g["weight_decay"] > 0 for p in g["params"]}
    for name, param in clf.net_.module_.named_parameters():
        assert (id(param) in decayed) == name.endswith("weight"), name


# -- warm_start and n_iter_ -----------------------------------------------------------------


def test_warm_start_n_iter_counts_this_call_as_mlpclassifier(digits_small, make_clf):
    X, y = digits_small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = make_clf(warm_start=True, max_iter=3, learning_rate="constant").fit(X, y)
        clf.fit(X, y)
        sk = MLPClassifier(hidden_layer_sizes=(16,), warm_start=True, max_iter=3).fit(X, y)
        sk.fit(X, y)
        assert clf.n_iter_ == sk.n_iter_ == 3
        assert len(clf.loss_curve_) == len(sk.loss_curve_) == 6
        assert clf.t_ == sk.t_ == 6 * len(X)

        clf = make_clf(warm_start=True, max_iter=10, learning_rate="constant", tol=0.0,
                       n_iter_no_change=100).fit(X, y)
        clf.set_params(max_iter=20).fit(X, y)
    assert clf.n_iter_ == 20
    assert len(clf.loss_curve_) == 30


# -- partial_fit ----------------------------------------------------------------------------


def test_partial_fit_with_other_classes_is_an_error(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf().partial_fit(X, y, classes=np.arange(10))
    expected = clf.predict_proba(X)
    with pytest.raises(ValueError, match="not the same as on the last call"):
        clf.partial_fit(X, y, classes=np.arange(11))
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    np.testing.assert_array_equal(clf.predict_proba(X), expected)
    clf.partial_fit(X, y, classes=np.arange(10))  # the same classes are fine


def test_partial_fit_batch_size_and_alpha_follow_each_call(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(batch_size="auto", alpha=1e-2)
    clf.partial_fit(X[:10], y[:10], classes=np.arange(10))
    assert clf.net_.history[-1, "train_batch_count"] == 1
    assert clf.net_.decay == pytest.approx(1e-2 / 10)
    clf.partial_fit(X, y)  # 600 rows: batches of min(200, 600)
    assert clf.net_.history[-1, "train_batch_count"] == 3
    assert clf.net_.decay == pytest.approx(1e-2 / 200)
    assert clf.net_.optimizer_.param_groups[0]["weight_decay"] == pytest.approx(1e-2 / 200)


# -- L-BFGS ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params, reason", [({"max_iter": 3}, "ITERATIONS"),
                                            ({"max_iter": 50, "max_fun": 5}, "max_fun")])
def test_lbfgs_warns_when_it_stops_before_converging(digits_small, make_clf, params, reason):
    X, y = digits_small
    clf = make_clf(solver="lbfgs", tol=0.0, n_iter_no_change=1000, **params)
    with pytest.warns(ConvergenceWarning, match=reason):
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        make_clf(solver="lbfgs", max_iter=200, tol=1e-1, n_iter_no_change=1).fit(X, y)


# -- messages in the user's terms -----------------------------------------------------------


def test_early_stopping_error_names_the_users_labels(binary_digits, make_clf):
    X, y = binary_digits
    labels = np.zeros(len(y), dtype=bool)
    labels[0] = True
    with pytest.raises(ValueError, match=r"\[True\]"):
        make_clf(early_stopping=True).fit(X, labels)
    names = np.where(y == 3, "three", "eight")
    names[0] = "rare"
    with pytest.raises(ValueError, match=r"\['rare'\]"):
        make_clf(early_stopping=True).fit(X, names)


# -- safe failure ---------------------------------------------------------------------------


def test_divergence_raises_as_mlpclassifier_and_keeps_the_model(digits_raw, make_clf):
    X, y = digits_raw
    scaled, huge = X / 16, X * 1e20
    clf = make_clf(solver="sgd", learning_rate="constant", learning_rate_init=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaled, y)
    expected = clf.predict_proba(scaled)
    n_rows = len(clf.net_.history)
    # MLPClassifier's message, word for word, then ours on what to do.
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights. The "
                       "input data may contain large values and need to be preprocessed"):
        clf.fit(huge, y)
    np.testing.assert_array_equal(clf.predict_proba(scaled), expected)
    twin = pickle.loads(pickle.dumps(clf))
    with pytest.raises(ValueError, match="non-finite"):
        clf.partial_fit(huge[:500], y[:500])  # a resumed call rolls back too
    np.testing.assert_array_equal(clf.predict_proba(scaled), expected)
    assert len(clf.net_.history) == n_rows
    # ... its optimizer, shuffling and batch size too: it goes on as if the failed call
    # had never happened.
    clf.partial_fit(scaled, y)
    twin.partial_fit(scaled, y)
    np.testing.assert_array_equal(clf.predict_proba(scaled), twin.predict_proba(scaled))


def test_failed_fit_keeps_the_fitted_model(digits_small, make_clf, monkeypatch):
    X, y = digits_small
    clf = make_clf().fit(X, y)
    expected = clf.predict_proba(X)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf.set_params(device="cuda")
    with pytest.raises(ValueError, match="CUDA is not available"):
        clf.fit(X, y + 100)
    clf.set_params(device="cpu")
    with pytest.raises(ValueError, match="sample_weight"):
        clf.fit(X[:, :10], y + 100, sample_weight=-np.ones(len(y)))
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[expected.argmax(1)])
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_keyboard_interrupt_propagates_through_cross_validate(digits_small, make_clf):
    X, y = digits_small
    original = TensorBatchIterator.__iter__
    calls = {"count": 0}

    def iterate(self):
        calls["count"] += 1
        if calls["count"] == 3:
            raise KeyboardInterrupt
        yield from original(self)

    with mock.patch.object(TensorBatchIterator, "__iter__", iterate), \
            pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cross_validate(make_clf(max_iter=5), X, y, cv=2)
    assert calls["count"] == 3  # nothing ran after Ctrl-C


@pytest.mark.parametrize("sizes", [(np.nan,), (np.inf,), [[10]], (True,), (0,), (2.5,),
                                   ("ten",)])
def test_odd_hidden_layer_sizes_are_invalid_parameters(digits_small, make_clf, sizes):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=sizes)
    with pytest.raises(InvalidParameterError, match="hidden_layer_sizes"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


@pytest.mark.parametrize("sizes", [(10**12,), (10**20,), (2**70, 10)])
def test_too_large_layers_are_a_memory_error_naming_the_parameter(digits_small, make_clf,
                                                                  sizes):
    X, y = digits_small
    with pytest.raises(MemoryError, match="hidden_layer_sizes"):
        make_clf(hidden_layer_sizes=sizes).fit(X, y)
