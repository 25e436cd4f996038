"""``TorchMLPRegressor``: behaves like ``MLPRegressor`` where the concept exists (its
parameters, attributes, losses, score and stopping rules), and shares the classifier's core
(safe failure, persistence, ONNX, the registry)."""

from __future__ import annotations

import inspect
import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.neural_network._base import poisson_loss, squared_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_mnist import TorchMLPRegressor
from sknn_mnist.core.data import TensorBatchIterator
from sknn_mnist.core.plan import Seeds


@pytest.fixture(scope="module")
def diabetes():
    """The bundled diabetes set, standardised, split 75/25; targets scaled to unit spread."""
    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    y = (y - y.mean()) / y.std()
    return train_test_split(X, y, random_state=0)


@pytest.fixture
def make_reg():
    def make(**params):
        defaults = dict(hidden_layer_sizes=(16,), max_iter=20, learning_rate_init=0.01,
                        random_state=0, device="cpu")
        return TorchMLPRegressor(**{**defaults, **params})

    return make


def _quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args, **kwargs)


# -- MLPRegressor's interface ----------------------------------------------------------------


def test_parameters_and_defaults_are_mlpregressors():
    theirs = inspect.signature(MLPRegressor).parameters
    ours = inspect.signature(TorchMLPRegressor).parameters
    assert list(ours)[:len(theirs)] == list(theirs)  # the same order: positional calls too
    assert list(ours)[0] == "loss"
    for name, param in theirs.items():
        assert ours[name].default == param.default, name
    assert set(ours) - set(theirs) == {"dropout", "batch_norm", "device", "dtype"}


def test_fitted_attributes_as_mlpregressor(diabetes, make_reg):
    X, _, y, _ = diabetes
    params = dict(hidden_layer_sizes=(16, 8), max_iter=5, random_state=0)
    ours = _quiet_fit(make_reg(**params), X, y)
    theirs = _quiet_fit(MLPRegressor(**params), X, y)
    for name in ("n_layers_", "n_outputs_", "out_activation_", "n_features_in_", "n_iter_",
                 "t_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 5
    assert ours.best_loss_ == min(ours.loss_curve_)
    assert ours.validation_scores_ is None and ours.best_validation_score_ is None
    assert ours.predict(X).shape == theirs.predict(X).shape == (len(X),)
    assert ours.predict(X).dtype == np.float64


def _initial_model(make_reg, X, y, **params):
    """One SGD epoch at a vanishing rate: the training loss is that of the initial
    weights, which the rate leaves unchanged."""
    return _quiet_fit(make_reg(solver="sgd", momentum=0.0, learning_rate="constant",
                               learning_rate_init=1e-14, alpha=0.0, max_iter=1,
                               batch_size=len(X), dtype="float64", **params), X, y)


def test_squared_error_is_mlpregressors(make_reg):
    """loss_ is scikit-learn's squared_loss: half the squared error, averaged over the
    outputs (its definition, evaluated on our predictions)."""
    X, Y = make_regression(n_samples=120, n_features=4, n_targets=3, random_state=0)
    Y = Y / Y.std()
    model = _initial_model(make_reg, X, Y)
    assert model.loss_ == pytest.approx(squared_loss(Y, model.predict(X)), rel=1e-9)


def test_poisson_loss_is_mlpregressors_half_deviance(make_reg):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    Y = rng.poisson(np.exp(0.3 * X[:, :2] + 1.0))  # two count targets
    model = _initial_model(make_reg, X, Y, loss="poisson")
    assert model.out_activation_ == "exp"
    prediction = model.predict(X)
    assert (prediction > 0).all()
    assert model.loss_ == pytest.approx(poisson_loss(Y, prediction), rel=1e-9)


def test_score_is_r2(diabetes, make_reg):
    X_train, X_test, y_train, y_test = diabetes
    model = _quiet_fit(make_reg(), X_train, y_train)
    weights = np.linspace(0.5, 2, len(y_test))
    assert model.score(X_test, y_test) == pytest.approx(
        r2_score(y_test, model.predict(X_test)))
    assert model.score(X_test, y_test, sample_weight=weights) == pytest.approx(
        r2_score(y_test, model.predict(X_test), sample_weight=weights))
    assert model.score(X_test, y_test) > 0.3


def test_multi_output_targets(make_reg):
    X, Y = make_regression(n_samples=200, n_features=5, n_targets=3, noise=1.0,
                           random_state=1)
    Y = Y / Y.std(axis=0)
    model = _quiet_fit(make_reg(max_iter=100), X, Y)
    assert model.n_outputs_ == 3 and model.coefs_[-1].shape == (16, 3)
    assert model.predict(X).shape == (200, 3)
    assert model.score(X, Y) > 0.9
    # A single column is a 1-D target, with scikit-learn's warning, as MLPRegressor.
    with pytest.warns(DataConversionWarning):
        single = _quiet_fit(make_reg(), X, Y[:, :1])
    assert single.n_outputs_ == 1 and single.predict(X).shape == (200,)


def test_learns_as_well_as_mlpregressor_at_the_same_parameters(diabetes, make_reg):
    """benchmarks/regressor_parity.py records this on more data and seeds."""
    X_train, X_test, y_train, y_test = diabetes
    params = dict(hidden_layer_sizes=(32,), learning_rate_init=1e-2, max_iter=100)
    ours, theirs = [], []
    for seed in range(3):
        ours.append(_quiet_fit(make_reg(**params, random_state=seed), X_train, y_train)
                    .score(X_test, y_test))
        theirs.append(_quiet_fit(MLPRegressor(**params, random_state=seed), X_train, y_train)
                      .score(X_test, y_test))
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.05


def test_fits_sin_and_a_parabola(make_reg):
    """The course's exercises: an identity output and squared error."""
    x = np.linspace(-3, 3, 300).reshape(-1, 1)
    for target in (np.sin(x).ravel(), (x ** 2 + 5 * x).ravel()):
        y = target / np.abs(target).max()
        model = _quiet_fit(make_reg(hidden_layer_sizes=(64, 64), max_iter=300), x, y)
        assert model.score(x, y) > 0.99


# -- early stopping --------------------------------------------------------------------------


def test_early_stopping_on_the_validation_r2(diabetes, make_reg):
    """The validation rows are a random split (not stratified); each epoch's score is
    their R^2, and the best epoch's weights are the ones kept."""
    X, _, y, _ = diabetes
    model = make_reg(early_stopping=True, max_iter=200, n_iter_no_change=5,
                     dtype="float64").fit(X, y)
    assert model.n_iter_ < 200
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None
    np.testing.assert_array_equal(model.net_.history[:, "valid_r2"], model.validation_scores_)
    # The same split, drawn again from the same seeds: R^2 of the kept weights is the best.
    seeds = Seeds.draw(np.random.RandomState(0))
    _, valid = train_test_split(np.arange(len(X)), test_size=0.1, random_state=seeds.split)
    assert r2_score(y[valid], model.predict(X[valid])) == pytest.approx(
        model.best_validation_score_, rel=1e-9)


def test_early_stopping_r2_is_weighted(diabetes, make_reg):
    X, _, y, _ = diabetes
    weights = np.where(np.arange(len(y)) % 2, 3.0, 1.0)
    model = _quiet_fit(make_reg(early_stopping=True, max_iter=3, dtype="float64"), X, y,
                       sample_weight=weights)
    seeds = Seeds.draw(np.random.RandomState(0))
    _, valid = train_test_split(np.arange(len(X)), test_size=0.1, random_state=seeds.split)
    # After the last epoch (3 epochs improve on these data), the kept weights are its.
    assert model.validation_scores_[-1] == model.best_validation_score_
    assert r2_score(y[valid], model.predict(X[valid]), sample_weight=weights[valid]) == \
        pytest.approx(model.validation_scores_[-1], rel=1e-9)


def test_early_stopping_needs_a_validation_set(make_reg):
    X, y = make_regression(n_samples=2, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        make_reg(early_stopping=True).fit(X, y)


# -- partial_fit and warm_start --------------------------------------------------------------


@pytest.mark.parametrize("learning_rate", ["constant", "cosine"])
def test_partial_fit_keeps_learning_over_hundreds_of_calls(diabetes, learning_rate):
    """Every call learns: there is no horizon, so 'cosine' trains at learning_rate_init
    in partial_fit, and 300 calls of 50 rows keep improving the test R^2."""
    X_train, X_test, y_train, y_test = diabetes
    model = TorchMLPRegressor(hidden_layer_sizes=(32,), learning_rate=learning_rate,
                              random_state=0, device="cpu")
    rng = np.random.default_rng(0)
    scores = {}
    for call in range(1, 301):
        rows = rng.choice(len(X_train), 50, replace=False)
        model.partial_fit(X_train[rows], y_train[rows])
        if call in (10, 100, 300):
            scores[call] = model.score(X_test, y_test)
    assert model.net_.optimizer_.param_groups[0]["lr"] == model.learning_rate_init
    assert model.n_iter_ == 1 and len(model.loss_curve_) == 300 and model.t_ == 300 * 50
    # MLPRegressor driven the same way reaches 0.26 (our default rate is the same 1e-3).
    assert scores[10] < scores[100] < scores[300]
    assert scores[300] > 0.3


def test_partial_fit_matches_fit_epoch_for_epoch(diabetes, make_reg):
    """Full batches and no shuffling: n partial_fit calls are n epochs of fit."""
    X, _, y, _ = diabetes
    params = dict(batch_size=len(X), shuffle=False, dtype="float64")
    fitted = _quiet_fit(make_reg(max_iter=10, **params), X, y)
    streamed = make_reg(**params)
    for _ in range(10):
        streamed.partial_fit(X, y)
    np.testing.assert_allclose(streamed.predict(X), fitted.predict(X), rtol=1e-10)
    np.testing.assert_allclose(streamed.loss_curve_, fitted.loss_curve_, rtol=1e-10)


def test_partial_fit_refuses_early_stopping_and_lbfgs(diabetes, make_reg):
    X, _, y, _ = diabetes
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        make_reg(early_stopping=True).partial_fit(X, y)
    assert not hasattr(make_reg(solver="lbfgs"), "partial_fit")


def test_warm_start_goes_on_from_the_previous_weights(diabetes, make_reg):
    X, _, y, _ = diabetes
    model = _quiet_fit(make_reg(warm_start=True, max_iter=5), X, y)
    first = model.loss_curve_[-1]
    _quiet_fit(model, X, y)
    assert model.n_iter_ == 5 and len(model.loss_curve_) == 10 and model.t_ == 10 * len(X)
    assert model.loss_curve_[5] < first * 1.05  # no jump back to the initial loss
    assert model.loss_curve_[-1] < first


def test_continuing_with_another_loss_or_outputs_is_an_error(diabetes, make_reg):
    X, _, y, _ = diabetes
    model = _quiet_fit(make_reg(warm_start=True, max_iter=2), X, y)
    expected = model.predict(X)
    with pytest.raises(ValueError, match="loss='squared_error' with loss='poisson'"):
        model.set_params(loss="poisson").fit(X, np.abs(y))
    with pytest.raises(ValueError, match="2 output"):
        model.set_params(loss="squared_error").partial_fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="2 output"):
        model.fit(X, np.c_[y, y])
    np.testing.assert_array_equal(model.predict(X), expected)


# -- sample weights --------------------------------------------------------------------------


def test_sample_weight_zero_is_dropping_the_row(diabetes, make_reg):
    X, _, y, _ = diabetes
    weights = (np.arange(len(y)) % 4 != 0).astype(float)
    params = dict(batch_size=1000, shuffle=False, dtype="float64", max_iter=10)
    weighted = _quiet_fit(make_reg(**params), X, y, sample_weight=weights)
    dropped = _quiet_fit(make_reg(**params), X[weights > 0], y[weights > 0])
    np.testing.assert_allclose(weighted.predict(X), dropped.predict(X), rtol=1e-9, atol=1e-12)


# -- Poisson ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1])
def test_poisson_without_hidden_nonlinearity_is_the_poisson_glm(seed):
    """scikit-learn's test_mlp_vs_poisson_glm_equivalent: one identity unit and the exp
    output are a Poisson GLM."""
    rng = np.random.default_rng(seed)
    X = np.linspace(0, 1, 100).reshape(-1, 1)
    y = rng.poisson(np.exp(X.ravel() + 1))
    glm = PoissonRegressor(alpha=0, tol=1e-7).fit(X, y)
    mlp = TorchMLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity",
                            alpha=0, solver="lbfgs", tol=1e-7, random_state=seed,
                            device="cpu", dtype="float64").fit(X, y)
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=1e-4)


def test_poisson_refuses_negative_targets(make_reg):
    X = np.arange(10.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="non-negative"):
        make_reg(loss="poisson").fit(X, X.ravel() - 1)


# -- input validation ------------------------------------------------------------------------


def test_targets_must_be_finite_numbers(make_reg):
    X = np.arange(10.0).reshape(-1, 1)
    with pytest.raises(ValueError, match="NaN"):
        make_reg().fit(X, np.r_[np.nan, np.ones(9)])
    with pytest.raises(ValueError):
        make_reg().fit(X, np.array(["a"] * 10, dtype=object))
    model = _quiet_fit(make_reg(), X, np.arange(10, dtype=object))  # numbers as objects
    assert model.predict(X).dtype == np.float64


def test_unknown_loss_is_an_invalid_parameter(make_reg):
    from sklearn.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="'loss' parameter"):
        make_reg(loss="absolute_error").fit(np.ones((4, 1)), np.ones(4))


# -- safe failure, as the classifier ---------------------------------------------------------


def test_divergence_is_an_error_and_keeps_the_model(diabetes, make_reg):
    X, _, y, _ = diabetes
    model = _quiet_fit(make_reg(solver="sgd", learning_rate_init=0.01), X, y)
    expected = model.predict(X)
    n_rows = len(model.net_.history)
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        model.fit(X * 1e30, y)
    with pytest.raises(ValueError, match="non-finite"):
        model.partial_fit(X * 1e30, y)
    np.testing.assert_array_equal(model.predict(X), expected)
    assert len(model.net_.history) == n_rows


def test_a_loss_far_above_predicting_zero_warns(make_reg):
    X = np.linspace(-1, 1, 100).reshape(-1, 1)
    y = np.sin(3 * X).ravel()
    # A step far too large on unscaled inputs: finite, but far worse than predicting 0.
    with pytest.warns(ConvergenceWarning, match="diverged"):
        model = make_reg(learning_rate_init=1.0, max_iter=5, hidden_layer_sizes=(64,)).fit(
            X * 100, y)
    assert model.loss_ > 10 * 0.5 * np.mean(y ** 2)


def _interrupt_on_call(n):
    original = TensorBatchIterator.__iter__
    calls = {"count": 0}

    def iterate(self):
        calls["count"] += 1
        if calls["count"] == n:
            raise KeyboardInterrupt
        yield from original(self)

    return iterate


def test_keyboard_interrupt_keeps_complete_epochs_and_is_raised_again(diabetes, make_reg):
    X, _, y, _ = diabetes
    model = make_reg(max_iter=10)
    with mock.patch.object(TensorBatchIterator, "__iter__", _interrupt_on_call(4)):
        with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    assert model.n_iter_ == 3 and np.isfinite(model.predict(X)).all()
    before = model.predict(X)
    with mock.patch.object(TensorBatchIterator, "__iter__", _interrupt_on_call(1)):
        with pytest.raises(KeyboardInterrupt):
            model.partial_fit(X, y)
    assert model.n_iter_ == 3
    np.testing.assert_array_equal(model.predict(X), before)


# -- device and dtype ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_sets_the_weights_predictions_are_float64(diabetes, make_reg, dtype):
    X, _, y, _ = diabetes
    model = _quiet_fit(make_reg(dtype=dtype, max_iter=2), X.astype(np.float32), y)
    assert all(c.dtype == np.dtype(dtype) for c in model.coefs_)
    assert model.predict(X).dtype == np.float64
    assert model.device_ == "cpu"


def test_fitting_leaves_torchs_global_random_state_alone(diabetes, make_reg):
    X, _, y, _ = diabetes
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    _quiet_fit(make_reg(max_iter=2, dropout=0.2), X, y)
    assert torch.equal(torch.rand(3), expected)


def test_same_seed_same_model(diabetes, make_reg):
    X, _, y, _ = diabetes
    a = _quiet_fit(make_reg(dropout=0.1), X, y)
    b = _quiet_fit(make_reg(dropout=0.1), X, y)
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    assert a.loss_curve_ == b.loss_curve_


# -- persistence, ONNX, scikit-learn tools ---------------------------------------------------


def test_skops_roundtrip_without_pickle_then_partial_fit(diabetes, make_reg, tmp_path):
    from sknn_mnist.persistence import detect_format, load_model, save_model

    X_train, X_test, y_train, _ = diabetes
    pipeline = make_pipeline(StandardScaler(), make_reg(max_iter=5))
    _quiet_fit(pipeline, X_train, y_train)
    path = save_model(pipeline, tmp_path / "reg.skops")
    assert detect_format(path) == "skops"
    loaded = load_model(path)  # trusted through the registry: no trusted=, no pickle
    np.testing.assert_array_equal(loaded.predict(X_test), pipeline.predict(X_test))
    original, copy = pipeline[-1], loaded[-1]
    original.partial_fit(X_train, y_train)
    copy.partial_fit(X_train, y_train)
    np.testing.assert_array_equal(copy.predict(X_test), original.predict(X_test))


def test_onnx_export_predicts_as_predict(diabetes, make_reg, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from sknn_mnist import export_onnx

    X_train, X_test, y_train, _ = diabetes
    for loss, y in (("squared_error", y_train), ("poisson", np.exp(y_train))):
        pipeline = _quiet_fit(make_pipeline(StandardScaler(), make_reg(loss=loss)),
                              X_train, y)
        path = export_onnx(pipeline, tmp_path / f"{loss}.onnx")
        session = ort.InferenceSession(str(path))
        assert [o.name for o in session.get_outputs()] == ["variable"]
        (values,) = session.run(None, {"input": X_test.astype(np.float32)})
        assert values.shape == (len(X_test), 1)
        np.testing.assert_allclose(values.ravel(), pipeline.predict(X_test), rtol=1e-4,
                                   atol=1e-5)


def test_grid_search_scores_by_r2(diabetes, make_reg):
    X, _, y, _ = diabetes
    search = GridSearchCV(make_reg(max_iter=10), {"hidden_layer_sizes": [(8,), (32,)]},
                          cv=2)
    _quiet_fit(search, X, y)
    assert set(search.cv_results_["params"][0]) == {"hidden_layer_sizes"}
    assert -1 < search.best_score_ <= 1


def test_registry_exports_and_trusts_it_but_compare_does_not_offer_it():
    import sknn_mnist
    from sknn_mnist.distributed import uses_torch_device
    from sknn_mnist.registry import (
        DEFAULT_MODELS,
        MODEL_NAMES,
        get_model_spec,
        qualified_name,
        trusted_types,
    )

    assert sknn_mnist.TorchMLPRegressor is TorchMLPRegressor
    assert "TorchMLPRegressor" in sknn_mnist.__all__
    assert qualified_name(TorchMLPRegressor) in trusted_types()
    assert "mlp-regressor" not in MODEL_NAMES and "mlp-regressor" not in DEFAULT_MODELS
    with pytest.raises(ValueError, match="not a compared model"):
        get_model_spec("mlp-regressor")
    assert uses_torch_device(make_pipeline(StandardScaler(), TorchMLPRegressor()))
    assert not uses_torch_device(TorchMLPRegressor(device="cpu"))
