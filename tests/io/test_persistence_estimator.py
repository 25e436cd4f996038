"""Pickling and joblib persistence of ``MLPDigitClassifier``, alone and in a Pipeline."""

from __future__ import annotations

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

FITTED_ATTRIBUTES = ("classes_", "n_features_in_", "n_iter_", "t_", "loss_", "loss_curve_",
                     "best_loss_", "validation_scores_", "best_validation_score_",
                     "n_layers_", "n_outputs_", "out_activation_", "device_")


def _joblib_roundtrip(obj, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(obj, path)
    return joblib.load(path)


def _pickle_roundtrip(obj, tmp_path):
    path = tmp_path / "model.pkl"
    with open(path, "wb") as f:
        pickle.dump(obj, f)
    with open(path, "rb") as f:
        return pickle.load(f)


ROUNDTRIPS = [_joblib_roundtrip, _pickle_roundtrip]


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["joblib", "pickle"])
@pytest.mark.parametrize("params", [{}, {"early_stopping": True},
                                    {"batch_norm": True, "dropout": 0.2},
                                    {"dtype": "float64"}, {"solver": "lbfgs"}])
def test_fitted_model_roundtrip(digits_small, make_clf, tmp_path, roundtrip, params):
    X, y = digits_small
    clf = make_clf(**params).fit(X, y)
    loaded = roundtrip(clf, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    for name in FITTED_ATTRIBUTES:
        np.testing.assert_equal(getattr(loaded, name), getattr(clf, name))
    for a, b in zip(loaded.coefs_ + loaded.intercepts_, clf.coefs_ + clf.intercepts_,
                    strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.get_params() == clf.get_params()
    assert len(loaded.net_.history) == len(clf.net_.history)


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["joblib", "pickle"])
def test_pipeline_roundtrip(digits_raw, make_clf, tmp_path, roundtrip):
    X, y = digits_raw
    pipe = Pipeline([("scale", MinMaxScaler()), ("clf", make_clf())]).fit(X, y)
    loaded = roundtrip(pipe, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    assert loaded.score(X, y) == pipe.score(X, y) > 0.8


@pytest.mark.parametrize("roundtrip", ROUNDTRIPS, ids=["joblib", "pickle"])
def test_partial_fit_after_load_continues_as_the_original(digits_small, make_clf, tmp_path,
                                                          roundtrip):
    X, y = digits_small
    clf = make_clf(max_iter=3).fit(X, y)
    loaded = roundtrip(clf, tmp_path)
    # The optimizer state and the shuffling generator travel with the model, so one more
    # epoch on the loaded copy is the epoch the original would have run.
    clf.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert loaded.n_iter_ == clf.n_iter_ == 1  # this call's epochs, as MLPClassifier
    assert len(loaded.loss_curve_) == 4
    assert loaded.loss_curve_ == clf.loss_curve_
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_warm_start_fit_after_load(digits_small, make_clf, tmp_path):
    X, y = digits_small
    clf = make_clf(max_iter=3, warm_start=True).fit(X, y)
    loaded = _pickle_roundtrip(clf, tmp_path)
    clf.fit(X, y)
    loaded.fit(X, y)
    assert loaded.n_iter_ == 3
    assert len(loaded.loss_curve_) == 6
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_partial_fit_model_after_load(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf().partial_fit(X, y, classes=np.arange(10))
    loaded = pickle.loads(pickle.dumps(clf))
    loaded.partial_fit(X, y)
    assert len(loaded.loss_curve_) == 2
    assert loaded.t_ == 2 * len(X)


def test_unfitted_model_pickles(make_clf, digits_small):
    clf = make_clf(dropout=0.1, activation="gelu")
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded.get_params() == clf.get_params()
    assert not hasattr(loaded, "net_")
    with pytest.raises(NotFittedError):
        loaded.predict(digits_small[0])
    loaded.fit(*digits_small)
    np.testing.assert_array_equal(loaded.predict(digits_small[0]),
                                  clone(clf).fit(*digits_small).predict(digits_small[0]))


@pytest.mark.parametrize("early_stopping", [False, True])
def test_pickle_does_not_hold_the_training_data(make_clf, early_stopping):
    rng = np.random.default_rng(0)
    X = rng.random((8000, 784), dtype=np.float32)  # 25 MB
    y = rng.integers(0, 10, len(X))
    clf = make_clf(hidden_layer_sizes=(8,), max_iter=2, batch_size=1000,
                   early_stopping=early_stopping).fit(X, y)
    size = len(pickle.dumps(clf))
    assert size < X.nbytes / 100
    # Nor does the fitted estimator's skorch net keep references to it.
    assert clf.net_.train_split is None


def test_model_trained_on_cuda_loads_on_cpu(digits_small, make_clf, monkeypatch):
    X, y = digits_small
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf = make_clf().fit(X, y)
    expected = clf.predict_proba(X)
    clf.device = "cuda"  # as if it had been fitted with device='cuda' on a GPU machine
    data = pickle.dumps(clf)
    with pytest.warns(UserWarning, match="CUDA"):
        loaded = pickle.loads(data)
    assert loaded.device_ == "cpu"
    assert loaded.device == "cuda"  # the parameter is unchanged
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    loaded.partial_fit(X, y)  # and it trains on the CPU it was loaded on
    assert loaded.device_ == "cpu"


def test_loading_on_auto_device_does_not_warn(digits_small, make_clf, monkeypatch):
    X, y = digits_small
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    clf = make_clf(device="auto").fit(X, y)
    data = pickle.dumps(clf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = pickle.loads(data)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_pickling_does_not_modify_the_model(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf().fit(X, y)
    before = clf.predict_proba(X)
    pickle.dumps(clf)
    assert hasattr(clf, "net_")
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    clf.partial_fit(X, y)
    assert len(clf.loss_curve_) == 6


def _plain_types(value, path="state"):
    """Yield the paths in ``value`` that are not builtins, numpy arrays/scalars or bytes."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                yield f"{path} key {k!r}"
            yield from _plain_types(v, f"{path}[{k!r}]")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from _plain_types(v, f"{path}[{i}]")
    elif not isinstance(value, str | bytes | int | float | bool | type(None) | np.ndarray
                        | np.generic):
        yield f"{path}: {type(value).__name__}"


@pytest.mark.parametrize("params", [{}, {"early_stopping": True, "verbose": 1},
                                    {"solver": "lbfgs"}, {"batch_norm": True}])
def test_state_holds_only_plain_data_for_skops(digits_small, make_clf, params, capsys):
    # skops saves an estimator through __getstate__: no torch/skorch objects, no callables.
    X, y = digits_small
    state = make_clf(**params).fit(X, y).__getstate__()
    assert list(_plain_types(state)) == []
    blob = state["_net_state"]["torch"]
    assert isinstance(blob, bytes)
    tensors = torch.load(io.BytesIO(blob), weights_only=True)
    assert all(t.device.type == "cpu" for t in tensors["module"].values())


def test_edited_architecture_is_refused_before_the_network_is_built(digits_small, make_clf):
    """Parameters edited to describe a huge network (an allocation of terabytes) are
    compared with the stored weights on torch's meta device first: a clear error, and
    nothing is allocated (an allocation attempt would raise MemoryError/RuntimeError)."""
    X, y = digits_small
    state = make_clf().fit(X, y).__getstate__()
    state["hidden_layer_sizes"] = (10**12, 50)
    from sknn_mnist import MLPDigitClassifier

    loaded = MLPDigitClassifier.__new__(MLPDigitClassifier)
    with pytest.raises(ValueError, match="saved weights do not match the network"):
        loaded.__setstate__(state)
