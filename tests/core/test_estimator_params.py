"""Parameters and fitted attributes: a drop-in for ``MLPClassifier``, with more options."""

from __future__ import annotations

import numpy as np
import pytest
import skorch
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ParameterGrid
from sklearn.neural_network import MLPClassifier
from sklearn.utils._param_validation import InvalidParameterError

from sknn_mnist import MLPDigitClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MLP_CLASSIFIER_GRID = {
    "hidden_layer_sizes": [(50,), (100,)],
    "alpha": [1e-4, 1e-3],
    "learning_rate": ["constant", "adaptive"],
    "solver": ["adam", "sgd"],
}


def _public_fitted_attributes(estimator) -> set[str]:
    return {k for k in vars(estimator) if k.endswith("_") and not k.startswith("_")}


def test_has_every_mlpclassifier_parameter():
    ours = MLPDigitClassifier().get_params()
    theirs = MLPClassifier().get_params()
    assert set(theirs) <= set(ours)
    # Defaults differ only where the docstring says so (tuned for MNIST).
    differing = {k for k in theirs if ours[k] != theirs[k]}
    assert differing <= {"hidden_layer_sizes", "batch_size", "learning_rate", "max_iter",
                         "learning_rate_init"}


def test_construction_stores_parameters_unvalidated():
    # scikit-learn's convention: __init__ stores, fit validates.
    clf = MLPDigitClassifier(activation="softplus", solver="foo", dropout=1.0, batch_size=0,
                             device="gpu", hidden_layer_sizes=(10, 0), learning_rate="bad")
    params = clf.get_params()
    assert params["activation"] == "softplus"
    assert params["device"] == "gpu"
    assert params["hidden_layer_sizes"] == (10, 0)
    assert clone(clf).get_params() == params


@pytest.mark.parametrize("params", list(ParameterGrid(MLP_CLASSIFIER_GRID)))
def test_mlpclassifier_grid_values_are_accepted(digits_small, params):
    X, y = digits_small
    clf = MLPDigitClassifier(max_iter=1, batch_size=200, random_state=0, device="cpu")
    clf.set_params(**params).fit(X, y)
    assert clf.coefs_[0].shape == (64, params["hidden_layer_sizes"][0])
    MLPClassifier(max_iter=1).set_params(**params)  # the same grid is valid for both


@pytest.mark.parametrize("hidden", [(16,), (16, 8), 12, (), [7, 5, 3]])
def test_fitted_attributes_match_mlpclassifier(digits_small, make_clf, hidden):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=hidden, max_iter=3).fit(X, y)
    sk = MLPClassifier(hidden_layer_sizes=hidden, max_iter=3, random_state=0).fit(X, y)

    assert _public_fitted_attributes(sk) <= _public_fitted_attributes(clf)
    assert [c.shape for c in clf.coefs_] == [c.shape for c in sk.coefs_]
    assert [b.shape for b in clf.intercepts_] == [b.shape for b in sk.intercepts_]
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_", "n_iter_",
                 "t_", "best_validation_score_", "validation_scores_"):
        assert getattr(clf, name) == getattr(sk, name), name
    np.testing.assert_array_equal(clf.classes_, sk.classes_)
    assert len(clf.loss_curve_) == clf.n_iter_ == 3
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.best_loss_ == min(clf.loss_curve_)
    assert all(np.isfinite(clf.loss_curve_))
    assert clf.device_ == "cpu"
    assert isinstance(clf.net_, skorch.NeuralNetClassifier)
    assert len(clf.net_.history) == clf.n_iter_


def test_early_stopping_attributes_match_mlpclassifier(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(early_stopping=True, max_iter=4).fit(X, y)
    sk = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=4,
                       random_state=0).fit(X, y)
    assert clf.best_loss_ is None and sk.best_loss_ is None
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert len(sk.validation_scores_) == sk.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert all(0 <= s <= 1 for s in clf.validation_scores_)
    assert _public_fitted_attributes(sk) <= _public_fitted_attributes(clf)


def _numpy_forward(clf, X, activation):
    a = X.astype(np.float64)
    for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_, strict=True)):
        a = a @ W + b
        if i < len(clf.coefs_) - 1:
            a = activation(a)
    if clf.out_activation_ == "logistic":
        p = 1 / (1 + np.exp(-a[:, 0]))
        return np.stack([1 - p, p], axis=1)
    a = np.exp(a - a.max(axis=1, keepdims=True))
    return a / a.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("activation, fn", [
    ("relu", lambda a: np.maximum(a, 0)),
    ("tanh", np.tanh),
    ("logistic", lambda a: 1 / (1 + np.exp(-a))),
    ("identity", lambda a: a),
])
def test_coefs_and_intercepts_describe_the_network(digits_small, make_clf, activation, fn):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=(16, 8), activation=activation).fit(X, y)
    np.testing.assert_allclose(_numpy_forward(clf, X, fn), clf.predict_proba(X), atol=1e-5)
    binary = make_clf(activation=activation).fit(X, y == 3)
    np.testing.assert_allclose(_numpy_forward(binary, X, fn), binary.predict_proba(X),
                               atol=1e-5)


def _held_out_accuracy(clf, digits_split) -> float:
    X_train, X_test, y_train, y_test = digits_split
    return clf.fit(X_train, y_train).score(X_test, y_test)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "sigmoid", "identity",
                                        "leaky_relu", "elu", "gelu"])
def test_every_activation_learns_digits(digits_split, make_clf, activation):
    clf = make_clf(hidden_layer_sizes=(32,), activation=activation, max_iter=10,
                   batch_size=64)
    assert _held_out_accuracy(clf, digits_split) > 0.85  # chance is 0.1


@pytest.mark.parametrize("solver, params", [
    ("adam", {}),
    ("adamw", {}),
    ("sgd", {"learning_rate_init": 0.05}),
    ("rmsprop", {"learning_rate_init": 0.003}),
    ("adagrad", {"learning_rate_init": 0.05}),
    ("lbfgs", {"max_iter": 40}),
])
def test_every_solver_learns_digits(digits_split, make_clf, solver, params):
    params = {"hidden_layer_sizes": (32,), "max_iter": 10, "batch_size": 64, **params}
    clf = make_clf(solver=solver, **params)
    assert _held_out_accuracy(clf, digits_split) > 0.85


def test_lbfgs_counts_iterations_and_has_no_partial_fit(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(solver="lbfgs", max_iter=7).fit(X, y)
    assert clf.n_iter_ <= 7
    assert len(clf.loss_curve_) == clf.n_iter_
    assert not hasattr(clf, "partial_fit")
    assert hasattr(make_clf(solver="adam"), "partial_fit")


def test_lbfgs_max_fun_stops_training(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(solver="lbfgs", max_iter=50, max_fun=5).fit(X, y)
    assert clf.n_iter_ < 50


@pytest.mark.parametrize("schedule, params", [
    ("constant", {}),
    ("invscaling", {"learning_rate_init": 0.2, "solver": "sgd"}),
    ("adaptive", {}),
    ("cosine", {}),
])
def test_every_schedule_learns_digits(digits_split, make_clf, schedule, params):
    params = {"hidden_layer_sizes": (32,), "max_iter": 10, "batch_size": 64, **params}
    clf = make_clf(learning_rate=schedule, **params)
    assert _held_out_accuracy(clf, digits_split) > 0.85


def test_invscaling_and_cosine_rates(digits_small, make_clf):
    X, y = digits_small
    n = len(X)
    inv = make_clf(learning_rate="invscaling", power_t=0.5, learning_rate_init=0.1,
                   solver="sgd", max_iter=3).fit(X, y)
    lrs = inv.net_.history[:, "lr"]
    # scikit-learn's rule: learning_rate_init / (t + 1) ** power_t, t = samples seen.
    expected = [0.1 / (t * n + 1) ** 0.5 for t in range(3)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-6)

    cos = make_clf(learning_rate="cosine", learning_rate_init=0.1, max_iter=4).fit(X, y)
    lrs = cos.net_.history[:, "lr"]
    assert all(a > b for a, b in zip(lrs, lrs[1:], strict=False))
    assert lrs[-1] >= 0.1 * 0.01 and lrs[0] < 0.1


def test_dropout_and_batch_norm(digits_split, make_clf):
    clf = make_clf(hidden_layer_sizes=(32, 16), dropout=0.2, batch_norm=True, max_iter=10,
                   batch_size=64)
    assert _held_out_accuracy(clf, digits_split) > 0.85
    module = clf.net_.module_
    assert sum(isinstance(m, torch.nn.Dropout) for m in module.modules()) == 2
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in module.modules()) == 2
    assert len(clf.coefs_) == 3  # batch norm adds no "layer" to coefs_
    # Prediction is deterministic: dropout off, batch-norm running statistics.
    X_test = digits_split[1]
    np.testing.assert_array_equal(clf.predict_proba(X_test), clf.predict_proba(X_test))


def test_alpha_shrinks_the_weights(digits_small, make_clf):
    X, y = digits_small
    small = make_clf(alpha=0.0, max_iter=10).fit(X, y)
    large = make_clf(alpha=1.0, max_iter=10).fit(X, y)
    norm = [sum(float((W ** 2).sum()) for W in m.coefs_) for m in (small, large)]
    assert norm[1] < 0.8 * norm[0]


def test_batch_size_auto(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(batch_size="auto", max_iter=1).fit(X, y)
    assert clf.net_.batch_size == min(200, len(X))
    clf = make_clf(batch_size=10_000, max_iter=1).fit(X, y)
    assert clf.net_.history[-1, "train_batch_count"] == 1


@pytest.mark.parametrize("params", [
    {"activation": "softplus"},
    {"solver": "foo"},
    {"dropout": 1.0},
    {"dropout": -0.1},
    {"batch_size": 0},
    {"batch_size": "big"},
    {"device": "gpu"},
    {"device": "cuda:x"},
    {"device": 0},
    {"hidden_layer_sizes": (10, 0)},
    {"hidden_layer_sizes": (10, -3)},
    {"hidden_layer_sizes": (10, 2.5)},
    {"learning_rate": "bad"},
    {"learning_rate_init": 0.0},
    {"alpha": -1.0},
    {"max_iter": 0},
    {"tol": -1.0},
    {"momentum": 1.5},
    {"validation_fraction": 1.0},
    {"beta_1": 1.0},
    {"n_iter_no_change": 0},
    {"dtype": "float16"},
    {"shuffle": "yes"},
])
def test_invalid_parameters_raise_at_fit(digits_small, params):
    X, y = digits_small
    clf = MLPDigitClassifier(**params)  # no error at construction
    with pytest.raises(InvalidParameterError, match=f"'{next(iter(params))}' parameter"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")
    if params.get("solver") != "lbfgs":
        with pytest.raises(InvalidParameterError):
            MLPDigitClassifier(**params).partial_fit(X, y, classes=np.unique(y))


def test_cuda_without_cuda_is_a_clear_error(digits_small, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = digits_small
    for device in ("cuda", "cuda:0"):
        with pytest.raises(ValueError, match="CUDA is not available"):
            MLPDigitClassifier(device=device, max_iter=1).fit(X, y)


def test_auto_device_without_cuda_is_cpu(digits_small, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = digits_small
    clf = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=1, device="auto").fit(X, y)
    assert clf.device_ == "cpu"


def test_early_stopping_without_validation_data_is_an_error(digits_small, make_clf):
    X, y = digits_small
    with pytest.raises(ValueError, match="validation_fraction"):
        make_clf(early_stopping=True, validation_fraction=0.0).fit(X, y)


def test_convergence_warning_is_a_convergence_warning(digits_small, make_clf):
    X, y = digits_small
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        make_clf(learning_rate="constant", max_iter=2).fit(X, y)
