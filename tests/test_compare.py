"""``compare``: grid search, refit, test, and how n_jobs meets the MLP's device."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline

from sknn_mnist.compare import (
    ComparisonResult,
    compare,
    format_table,
    mlp_search_n_jobs,
    square_shape,
    stratified_subsample,
)
from sknn_mnist.datasets import load_dataset

TINY_GRIDS = {
    "mlp": {"clf__hidden_layer_sizes": [(16,)], "clf__max_iter": [2],
            "clf__learning_rate_init": [1e-2]},
    "svm": {"clf__C": [1.0, 10.0]},
    "rf": {"clf__n_estimators": [5, 10]},
}


@pytest.fixture(scope="module")
def result() -> ComparisonResult:
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)
    return compare(X[:300], y[:300], X_test[:120], y_test[:120], param_grids=TINY_GRIDS, cv=2,
                   device="cpu", svc_subsample=200, dataset="digits")


def test_result_holds_every_model(result):
    assert list(result.results) == ["mlp", "svm", "rf"]
    assert len(result) == 3
    assert result.dataset == "digits"
    assert result.image_shape == (8, 8)
    assert result.n_train == 300
    for r in result:
        assert isinstance(r.estimator, Pipeline)
        assert set(r.best_params) <= set(TINY_GRIDS[r.name])
        assert 0 <= r.cv_mean <= 1 and r.cv_std >= 0
        assert r.test_accuracy == pytest.approx(np.mean(r.y_pred == result.y_test))
        assert r.fit_seconds > 0 and r.predict_seconds > 0 and r.search_seconds > 0
        assert len(r.cv_results["params"]) == len(r.cv_results["mean_test_score"])
        i = int(np.argmin(r.cv_results["rank_test_score"]))
        assert r.cv_mean == pytest.approx(r.cv_results["mean_test_score"][i])


def test_svc_grid_search_runs_on_the_subsample_and_refits_on_all(result):
    svm = result["svm"]
    assert svm.n_search_samples == 200
    assert svm.estimator.named_steps["clf"].shape_fit_[0] == 300
    assert result["rf"].n_search_samples == 300


def test_mlp_device_is_recorded(result):
    assert result["mlp"].device == "cpu"
    assert result["svm"].device is None


def test_mlp_learning_curve_holds_out_a_validation_set_and_runs_every_epoch(result):
    mlp = result["mlp"]
    curve = mlp.learning_curve_estimator.named_steps["clf"]
    refit = mlp.estimator.named_steps["clf"]
    # Same configuration as the refit best model, with validation scores per epoch...
    assert curve.hidden_layer_sizes == refit.hidden_layer_sizes == (16,)
    assert curve.early_stopping and not refit.early_stopping
    assert len(curve.validation_scores_) == len(curve.loss_curve_) == curve.max_iter == 2
    assert all(0 <= s <= 1 for s in curve.validation_scores_)
    # ...while the refit model trained on every row and keeps no validation score.
    assert refit.validation_scores_ is None
    assert result["svm"].learning_curve_estimator is None


def test_learning_curve_can_be_skipped():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    res = compare(X[:200], y[:200], X[200:260], y[200:260], models=["mlp"], cv=2,
                  param_grids={"mlp": TINY_GRIDS["mlp"]}, device="cpu", learning_curve=False)
    assert res["mlp"].learning_curve_estimator is None


def test_summary_and_table(result):
    rows = result.summary()
    assert [row["model"] for row in rows] == ["mlp", "svm", "rf"]
    assert rows[1]["test_accuracy"] == result["svm"].test_accuracy
    text = str(result)
    assert "test_accuracy" in text and f"{result['rf'].test_accuracy:.4f}" in text
    assert result.best.test_accuracy == max(r.test_accuracy for r in result)


def test_compare_subset_of_models_and_scoring():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    res = compare(X[:200], y[:200], X[200:260], y[200:260], models=["rf"], cv=2,
                  scoring="balanced_accuracy", param_grids={"rf": {"clf__n_estimators": [5]}},
                  n_jobs=2)
    assert list(res.results) == ["rf"]
    assert res["rf"].n_jobs == 2
    assert "cv_balanced_accuracy_mean" in res.summary()[0]


def test_compare_rejects_unknown_model():
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match="unknown model"):
        compare(X, np.arange(10) % 2, X, np.arange(10) % 2, models=["knn"])


def test_mlp_search_n_jobs_on_cpu_and_cuda(monkeypatch):
    assert mlp_search_n_jobs(2, "cpu") == (2, "cpu")
    assert mlp_search_n_jobs(None, "cpu") == (1, "cpu")
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    # One GPU: the MLP's grid search never runs several fits on it at once.
    assert mlp_search_n_jobs(4, "auto") == (1, "cuda")
    assert mlp_search_n_jobs(-1, "cuda:0") == (1, "cuda:0")


def test_mlp_search_n_jobs_rejects_missing_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        mlp_search_n_jobs(1, "cuda")


def test_stratified_subsample_keeps_class_proportions():
    y = np.repeat([0, 1], [80, 20])
    X = np.arange(100)[:, None]
    X_s, y_s = stratified_subsample(X, y, 50)
    assert len(y_s) == 50 and np.sum(y_s == 1) == 10
    assert stratified_subsample(X, y, None)[0] is X
    assert stratified_subsample(X, y, 1000)[0] is X


def test_helpers():
    assert square_shape(64) == (8, 8) and square_shape(784) == (28, 28)
    assert square_shape(10) is None
    table = format_table([{"a": 1.0, "b": "x"}, {"a": 0.5, "b": "yy"}])
    assert table.splitlines()[0].split() == ["a", "b"]
    assert "1.0000" in table
    assert format_table([]) == ""
