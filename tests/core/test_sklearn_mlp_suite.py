"""scikit-learn's own MLP tests (``sklearn/neural_network/tests/test_mlp.py``), run on ours.

Every test function of scikit-learn's file runs here with its ``MLPClassifier`` and
``MLPRegressor`` replaced by :class:`~sknn_mnist.MLPDigitClassifier` and
:class:`~sknn_mnist.TorchMLPRegressor` at scikit-learn's defaults (``(100,)``,
``batch_size='auto'``, ``learning_rate_init=1e-3``, ``learning_rate='constant'``,
``max_iter=200``) in float64, scikit-learn's arithmetic. Three kinds of outcome:

* most pass as they are;
* the few that read scikit-learn's private state (``_optimizer``,
  ``_no_improvement_count``, ``_loss_grad_lbfgs``, weights written into ``coefs_``) are
  not run; each has an adapted version below that checks the same behaviour through our
  state (the net's history and optimizer, the initialisation hook, autograd);
* the deliberate differences the README lists are strict expected failures, so that one
  that starts passing is noticed.
"""

from __future__ import annotations

import inspect
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.fixes import CSR_CONTAINERS

from sknn_mnist import MLPDigitClassifier, TorchMLPRegressor

sk = pytest.importorskip("sklearn.neural_network.tests.test_mlp")

#: scikit-learn's defaults where ours differ, and its float64 arithmetic.
SKLEARN_DEFAULTS = dict(hidden_layer_sizes=(100,), batch_size="auto", learning_rate_init=1e-3,
                        learning_rate="constant", max_iter=200, device="cpu", dtype="float64")


def classifier(*args, **params) -> MLPDigitClassifier:
    return MLPDigitClassifier(*args, **{**SKLEARN_DEFAULTS, **params})


def regressor(*args, **params) -> TorchMLPRegressor:
    return TorchMLPRegressor(*args, **{**SKLEARN_DEFAULTS, **params})


#: scikit-learn tests that read its private state; the adapted versions below replace them.
PRIVATE_STATE = {
    "test_fit": "writes the weights into coefs_ (see test_fit_worked_example)",
    "test_gradient": "calls _loss_grad_lbfgs (see test_loss_and_gradient_are_mlpclassifiers)",
    "test_learning_rate_warmstart": "reads _optimizer (see test_learning_rate_warm_start)",
    "test_adaptive_learning_rate": "reads _optimizer (see test_adaptive_learning_rate)",
    "test_n_iter_no_change": "reads _no_improvement_count (see test_n_iter_no_change)",
    "test_n_iter_no_change_inf": "reads _no_improvement_count (see "
                                 "test_n_iter_no_change_inf)",
}

#: The deliberate differences (README, "Same as MLPClassifier, and deliberately different").
DELIBERATE = {
    "test_early_stopping_stratified": "the message names the user's label ([1]); "
                                      "scikit-learn's names its encoded one (['True'])",
    "test_mlp_diverging_loss": "divergence is an error, also with early stopping",
    # Float64 X, the dtype the estimators here have, passes.
    **{f"test_mlp_param_dtypes[{e}-float32]": "the dtype parameter, not X's dtype, sets the "
       "weights' dtype (float32 X here, dtype='float64'); predictions are float64"
       for e in ("classifier", "regressor")},
    "test_verbose_sgd": "verbose prints skorch's PrintLog table, not 'Iteration ...' lines",
}


class _Capsys:
    """Enough of pytest's ``capsys`` for scikit-learn's verbose test."""

    def __init__(self, capsys):
        self._capsys = capsys

    def readouterr(self):
        return self._capsys.readouterr()


def _arguments(name: str, function) -> list[tuple[str, dict]]:
    """The cases of one scikit-learn test: its own parametrisations, with ours."""
    params = list(inspect.signature(function).parameters)
    if not params:
        return [("", {})]
    if params == ["X", "y"]:
        data = sk.regression_datasets if "regression" in name else sk.classification_datasets
        return [(str(i), {"X": X, "y": y}) for i, (X, y) in enumerate(data)]
    if params == ["csr_container"]:
        return [("csr", {"csr_container": CSR_CONTAINERS[0]})]
    if params in (["MLPEstimator"], ["Estimator"]):
        return [(e.__name__, {params[0]: e}) for e in (classifier, regressor)]
    if params == ["MLPEstimator", "solver"]:
        return [(f"{e.__name__}-{s}", {"MLPEstimator": e, "solver": s})
                for e in (classifier, regressor) for s in ("sgd", "adam", "lbfgs")]
    if params == ["dtype", "Estimator"]:
        return [(f"{e.__name__}-{d.__name__}", {"dtype": d, "Estimator": e})
                for e in (classifier, regressor) for d in (np.float32, np.float64)]
    if params == ["global_random_seed"]:
        return [(str(seed), {"global_random_seed": seed}) for seed in (0, 42)]
    if params in (["tmp_path"], ["capsys"]):
        return [("", {})]  # filled in from the fixtures when the case runs
    raise AssertionError(f"scikit-learn's {name} takes {params}: teach this file about it")


def _cases() -> list:
    cases = []
    for name, function in inspect.getmembers(sk, inspect.isfunction):
        if not name.startswith("test_") or function.__module__ != sk.__name__:
            continue
        for suffix, kwargs in _arguments(name, function):
            case = f"{name}[{suffix}]" if suffix else name
            marks = []
            if name in PRIVATE_STATE:
                marks = [pytest.mark.skip(reason=f"reads scikit-learn's private state: "
                                                 f"{PRIVATE_STATE[name]}")]
            elif case in DELIBERATE or name in DELIBERATE:
                reason = DELIBERATE.get(case, DELIBERATE.get(name))
                marks = [pytest.mark.xfail(strict=True, reason=reason)]
            cases.append(pytest.param(name, kwargs, marks=marks, id=case))
    return cases


@pytest.mark.parametrize("name, kwargs", _cases())
def test_scikit_learns_mlp_test_on_ours(name, kwargs, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sk, "MLPClassifier", classifier)
    monkeypatch.setattr(sk, "MLPRegressor", regressor)
    function = getattr(sk, name)
    params = inspect.signature(function).parameters
    if "tmp_path" in params:
        kwargs = {"tmp_path": tmp_path}
    if "capsys" in params:
        kwargs = {"capsys": _Capsys(capsys)}
    with warnings.catch_warnings():
        # scikit-learn's suite turns no warning into an error but the ones it asks for.
        warnings.simplefilter("ignore", ConvergenceWarning)
        function(**kwargs)


# -- the adapted versions of the tests that read scikit-learn's private state ---------------


class _WorkedExample(MLPDigitClassifier):
    """scikit-learn's test_fit network: its weights, set through the initialisation hook."""

    def _initialize_module(self, module):
        first, second = module.linear_layers()
        with torch.no_grad():
            first.weight.copy_(torch.tensor([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]).T)
            first.bias.copy_(torch.tensor([0.1, 0.1]))
            second.weight.copy_(torch.tensor([[0.1], [0.2]]).T)
            second.bias.copy_(torch.tensor([1.0]))


def test_fit_worked_example():
    """scikit-learn's test_fit: one SGD step by hand (its comments work it out)."""
    X = np.array([[0.6, 0.8, 0.7]])
    mlp = _WorkedExample(**{**SKLEARN_DEFAULTS, "solver": "sgd", "learning_rate_init": 0.1,
                            "alpha": 0.1, "activation": "logistic", "random_state": 1,
                            "max_iter": 1, "hidden_layer_sizes": 2, "momentum": 0})
    mlp.partial_fit(X, np.array([0]), classes=[0, 1])
    np.testing.assert_almost_equal(
        mlp.coefs_[0],
        np.array([[0.098, 0.195756], [0.2956664, 0.096008], [0.4939998, -0.002244]]),
        decimal=3)
    np.testing.assert_almost_equal(mlp.coefs_[1], np.array([[0.04706], [0.154089]]),
                                   decimal=3)
    np.testing.assert_almost_equal(mlp.intercepts_[0], np.array([0.098333, 0.09626]),
                                   decimal=3)
    np.testing.assert_almost_equal(mlp.intercepts_[1], np.array([0.9235]), decimal=3)
    np.testing.assert_almost_equal(mlp.predict_proba(X)[0, 1], 0.739, decimal=3)


@pytest.mark.parametrize("n_labels", [2, 3])
@pytest.mark.parametrize("activation", sk.ACTIVATION_TYPES)
def test_loss_and_gradient_are_mlpclassifiers(n_labels, activation):
    """scikit-learn's test_gradient checks its hand-written backpropagation; ours is
    autograd. What must agree is the function: at the same weights, our L-BFGS training
    loss (the penalty included) and its gradient equal MLPClassifier's."""
    from sklearn.neural_network import MLPClassifier

    rng = np.random.RandomState(seed=42)
    X = rng.rand(5, 10)
    y = 1 + np.mod(np.arange(5) + 1, n_labels)
    params = dict(activation=activation, hidden_layer_sizes=10, solver="lbfgs", alpha=1e-5,
                  max_iter=1, random_state=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = classifier(**params).fit(X, y)
        theirs = MLPClassifier(**params).fit(X, y)
    theirs.coefs_ = [c.copy() for c in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    units = [10, 10, ours.n_outputs_]
    activations = [X] + [np.empty((5, n)) for n in units[1:]]
    deltas = [np.empty((5, n)) for n in units[1:]]
    coef_grads = [np.empty((a, b)) for a, b in zip(units, units[1:], strict=False)]
    intercept_grads = [np.empty(n) for n in units[1:]]
    theta = np.hstack([p.ravel() for p in theirs.coefs_ + theirs.intercepts_])
    value, grad = theirs._loss_grad_lbfgs(theta, X, LabelBinarizer().fit_transform(y), None,
                                          activations, deltas, coef_grads, intercept_grads)

    net, module = ours.net_, ours.net_.module_
    encoded = torch.from_numpy(ours._head.encode(y, ours.classes_, np.float64))
    loss = net.get_loss(module(torch.from_numpy(X)), encoded, training=True)
    linear = module.linear_layers()
    weights = [layer.weight for layer in linear] + [layer.bias for layer in linear]
    ours_grad = torch.autograd.grad(loss, weights)
    ours_grad = [g.T if g.ndim == 2 else g for g in ours_grad]  # coefs_ are transposed
    np.testing.assert_allclose(loss.item(), value, rtol=1e-10)
    np.testing.assert_allclose(np.hstack([g.numpy().ravel() for g in ours_grad]), grad,
                               rtol=1e-8, atol=1e-12)


def _rates(model) -> list[float]:
    """The learning rate of each epoch of the model's current net."""
    return [row["lr"] for row in model.net_.history]


def test_learning_rate_warm_start():
    """scikit-learn's test_learning_rate_warmstart: a warm fit's optimizer starts at
    learning_rate_init; 'invscaling' then goes on from the samples of every fit (t_), and
    'constant' stays."""
    X = [[3, 2], [1, 6], [5, 6], [-2, -4]]
    y = [1, 1, 1, 0]
    for learning_rate in ["invscaling", "constant"]:
        mlp = classifier(solver="sgd", hidden_layer_sizes=4, learning_rate=learning_rate,
                         max_iter=1, power_t=0.25, warm_start=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            mlp.fit(X, y)
            mlp.set_params(max_iter=2).fit(X, y)  # its second epoch: after 8 samples
        first, second = _rates(mlp)
        assert first == mlp.learning_rate_init
        if learning_rate == "constant":
            assert second == mlp.learning_rate_init
        else:
            assert second == pytest.approx(mlp.learning_rate_init / (8 + 1) ** 0.25,
                                           rel=1e-12)


def test_adaptive_learning_rate():
    X = [[3, 2], [1, 6]]
    y = [1, 0]
    clf = classifier(tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive")
    clf.fit(X, y)
    assert clf.max_iter > clf.n_iter_
    assert 1e-6 > clf.net_.optimizer_.param_groups[0]["lr"]


def test_n_iter_no_change():
    """Training stops once ``n_iter_no_change + 1`` epochs in a row bring no improvement
    of ``tol`` over the best loss so far."""
    X, y = sk.X_digits_binary[:100], sk.y_digits_binary[:100]
    tol = 0.01
    for n_iter_no_change in [2, 5, 10, 50, 100]:
        clf = classifier(tol=tol, max_iter=3000, solver="sgd",
                         n_iter_no_change=n_iter_no_change).fit(X, y)
        assert clf.n_iter_ < 3000
        assert clf.net_.history[-1]["stop"] == "converged"
        # scikit-learn's count: the last n_iter_no_change + 1 epochs each failed to beat
        # the best loss before it by tol.
        curve = clf.loss_curve_
        n = len(curve)
        assert all(curve[i] > min(curve[:i], default=math.inf) - tol
                   for i in range(n - n_iter_no_change - 1, n))


def test_n_iter_no_change_inf():
    """``n_iter_no_change=np.inf`` never stops early, whatever ``tol``."""
    X, y = sk.X_digits_binary[:100], sk.y_digits_binary[:100]
    clf = classifier(tol=1e9, max_iter=300, solver="sgd", n_iter_no_change=np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 300
    assert "stop" not in clf.net_.history[-1]
