"""Pipeline factories, the pixel scaler and the parameter grids."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import ParameterGrid
from sklearn.svm import SVC

from sknn_mnist import MLPDigitClassifier
from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import (
    MODEL_NAMES,
    SVC_GRID_SUBSAMPLE,
    PixelScaler,
    get_model_spec,
    make_model,
    param_grid,
    pipeline_params,
)


@pytest.fixture(scope="module")
def digits_small():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)
    return X[:400], y[:400], X_test, y_test


@pytest.mark.parametrize(("name", "cls"), [("mlp", MLPDigitClassifier), ("svm", SVC),
                                            ("rf", RandomForestClassifier)])
def test_make_model_builds_scale_then_clf(name, cls):
    pipe = make_model(name)
    assert [step for step, _ in pipe.steps] == ["scale", "clf"]
    assert isinstance(pipe.named_steps["clf"], cls)
    # Trees are invariant to monotone rescaling: the forest gets raw pixels.
    assert (pipe.named_steps["scale"] == "passthrough") == (name == "rf")


def test_make_model_sets_classifier_params_with_or_without_prefix():
    pipe = make_model("mlp", hidden_layer_sizes=(8,), clf__max_iter=2, device="cpu")
    clf = pipe.named_steps["clf"]
    assert clf.hidden_layer_sizes == (8,)
    assert clf.max_iter == 2
    assert clf.device == "cpu"
    assert make_model("svm", C=3.0).named_steps["clf"].kernel == "rbf"


def test_unknown_model_and_parameter_raise_value_error():
    with pytest.raises(ValueError, match="known models: 'mlp', 'cnn', 'svm', 'rf'"):
        make_model("knn")
    with pytest.raises(ValueError, match="unknown parameter 'hidden_units'"):
        make_model("mlp", hidden_units=3)
    with pytest.raises(ValueError, match="unknown parameter"):
        pipeline_params(make_model("rf"), {"clf__C": 1.0})


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("quick", [False, True])
def test_grids_are_valid_and_small(name, quick):
    grid = param_grid(name, quick=quick)
    pipe = make_model(name)
    valid = pipe.get_params()
    assert all(key in valid for key in grid)
    n_candidates = len(ParameterGrid(grid))
    # Sized for a 2-core CPU: the default grids have 4 candidates, the quick ones at most 2.
    assert n_candidates <= (2 if quick else 4)
    for params in ParameterGrid(grid):
        clone(pipe).set_params(**params)


def test_param_grid_returns_a_copy():
    grid = param_grid("svm")
    grid["clf__C"].append(1000.0)
    assert 1000.0 not in param_grid("svm")["clf__C"]


def test_svc_searches_on_a_subsample():
    spec = get_model_spec("svm")
    assert spec.grid_subsample == SVC_GRID_SUBSAMPLE
    assert spec.quick_grid_subsample < spec.grid_subsample
    assert get_model_spec("mlp").grid_subsample is None


def test_pixel_scaler_learns_the_pixel_maximum():
    digits_like = np.array([[0, 8, 16], [4, 0, 2]], dtype=np.uint8)
    mnist_like = np.array([[0, 255, 128], [3, 0, 1]], dtype=np.uint8)
    for X, peak in ((digits_like, 16.0), (mnist_like, 255.0)):
        scaler = PixelScaler().fit(X)
        assert scaler.scale_ == peak
        Xt = scaler.transform(X)
        assert Xt.dtype == np.float32
        assert Xt.min() == 0.0 and Xt.max() == 1.0
        # One divisor for all pixels: relative intensities are kept.
        np.testing.assert_allclose(Xt * peak, X, rtol=1e-6)


def test_pixel_scaler_never_changes_the_callers_array():
    X = np.array([[0.0, 255.0], [51.0, 102.0]], dtype=np.float32)
    original = X.copy()
    for dtype in ("float32", "float64"):
        Xt = PixelScaler(dtype=dtype).fit(X).transform(X)
        assert Xt.dtype == np.dtype(dtype)
        assert not np.shares_memory(Xt, X)
        np.testing.assert_allclose(Xt, original / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(X, original)


def test_pixel_scaler_rejects_an_unknown_dtype():
    with pytest.raises(ValueError, match="dtype"):
        PixelScaler(dtype="float16").fit(np.ones((2, 3)))


def test_pixel_scaler_fixed_max_and_blank_data():
    assert PixelScaler(pixel_max=255).fit(np.ones((2, 3))).scale_ == 255.0
    assert PixelScaler().fit(np.zeros((2, 3))).scale_ == 1.0
    with pytest.raises(ValueError):
        PixelScaler().fit(np.ones((2, 3))).transform(np.ones((2, 4)))


def test_pipelines_fit_on_digits(digits_small):
    X, y, X_test, y_test = digits_small
    for name in MODEL_NAMES:
        params = ({"max_iter": 3, "learning_rate_init": 1e-2, "device": "cpu"}
                  if name in ("mlp", "cnn") else {})
        model = make_model(name, **params).fit(X, y)
        assert model.score(X_test, y_test) > 0.5


def test_adding_a_model_is_one_spec_entry(monkeypatch, digits_small, tmp_path):
    """A new entry in MODEL_SPECS is built, searched, selected, reported, saved and loaded
    like the others."""
    from sknn_mnist import models
    from sknn_mnist.compare import compare
    from sknn_mnist.persistence import load_model, save_model
    from sknn_mnist.reports import comparison_report

    def build_knn(*, random_state, device, n_jobs):
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_jobs=n_jobs)

    spec = models.ModelSpec(name="knn", title="k nearest neighbours", build=build_knn,
                            grid={"clf__n_neighbors": [1, 5]},
                            quick_grid={"clf__n_neighbors": [3]}, grid_subsample=200,
                            own_n_jobs=True)
    monkeypatch.setitem(models.MODEL_SPECS, "knn", spec)
    X, y, X_test, y_test = digits_small
    result = compare(X, y, X_test[:100], y_test[:100], models=["knn", "rf"], cv=2, n_jobs=1,
                     param_grids={"rf": {"clf__n_estimators": [5]}})
    knn = result["knn"]
    assert knn.title == "k nearest neighbours" and knn.n_search_samples == 200
    assert knn.estimator.named_steps["scale"].__class__.__name__ == "PixelScaler"
    assert result.selection_rows == 200  # the new model's subsample sets the equal terms
    assert {r.name for r in result} == {"knn", "rf"}
    assert "knn" in comparison_report(result).to_markdown()
    # Saved as the comparison saves its best model, and loaded without trusted= or pickle.
    loaded = load_model(save_model(knn.estimator, tmp_path / "best-model.skops"))
    np.testing.assert_array_equal(loaded.predict(X_test), knn.estimator.predict(X_test))


def test_spec_rules_replace_per_model_branches():
    mlp, svm, rf = (get_model_spec(n) for n in ("mlp", "svm", "rf"))
    assert mlp.uses_device and mlp.learning_curve and not mlp.own_n_jobs
    assert rf.own_n_jobs and not rf.scale and not rf.uses_device
    assert svm.subsample(quick=False) == SVC_GRID_SUBSAMPLE and svm.subsample(quick=True) < 3000
    assert rf.subsample(quick=False) is None
    assert mlp.param_grid(quick=True) == param_grid("mlp", quick=True)


def test_models_module_imports_without_scikit_learn():
    import subprocess
    import sys

    code = ("import sys\nimport sknn_mnist.models as m\nassert 'mlp' in m.MODEL_NAMES\n"
            "assert not {'sklearn', 'torch'} & set(sys.modules), sorted(sys.modules)\n"
            "assert m.PixelScaler.__name__ == 'PixelScaler'  # re-exported on first use\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
