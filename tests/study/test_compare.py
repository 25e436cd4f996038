"""``compare``: grid search, refit, test, and how n_jobs meets the MLP's device."""

from __future__ import annotations

import dataclasses
import os
import signal
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from sknn_mnist.compare import (
    ComparisonResult,
    compare,
    format_table,
    make_folds,
    square_shape,
    stratified_subsample,
)
from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import get_model_spec, make_model

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
    return compare(X[:300], y[:300], X_test[:120], y_test[:120], models=["mlp", "svm", "rf"],
                   param_grids=TINY_GRIDS, cv=2, device="cpu", subsamples={"svm": 200},
                   dataset="digits")


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


def test_every_model_is_selected_on_the_same_rows_and_folds(result):
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    X, y = load_dataset("digits", subset="train", return_X_y=True)
    assert result.selection_rows == 200  # the smallest grid-search subsample (the SVC's)
    assert "shuffled, random_state=0" in result.folds
    svm = result["svm"]
    # The SVC was searched on exactly these rows and folds: its score is reused...
    assert svm.selection_cv_mean == svm.cv_mean
    # ...the others are cross-validated again on them, with the same folds.
    X_sel, y_sel = stratified_subsample(X[:300], y[:300], 200, 0)
    rf = result["rf"]
    expected = cross_val_score(clone(rf.estimator).set_params(clf__n_jobs=None), X_sel, y_sel,
                               cv=make_folds(2, 0))
    assert rf.selection_cv_mean == pytest.approx(expected.mean())


def test_one_fold_policy_compare_and_cv_report_agree(result):
    from sknn_mnist.reports import cross_validation_report

    X, y = load_dataset("digits", subset="train", return_X_y=True)
    rf = result["rf"]
    pipe = make_model("rf", **{k.removeprefix("clf__"): v for k, v in rf.best_params.items()})
    report = cross_validation_report(pipe, X[:300], y[:300], cv=2, random_state=0)
    assert report.table("summary").rows[0]["test_score"] == pytest.approx(rf.cv_mean)


def test_best_is_chosen_by_cross_validation_never_by_test_accuracy(result):
    by_cv = max(result, key=lambda r: r.selection_cv_mean)
    others = [r for r in result if r is not by_cv]
    # Give another model a perfect test score: the choice must not move.
    tweaked = dataclasses.replace(
        result, results={r.name: dataclasses.replace(r, test_accuracy=1.0) if r is others[0]
                         else r for r in result})
    assert tweaked.best.name == by_cv.name
    assert tweaked.best.test_accuracy < 1.0


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
    assert result.best.selection_cv_mean == max(r.selection_cv_mean for r in result)


def test_compare_subset_of_models_and_scoring():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    res = compare(X[:200], y[:200], X[200:260], y[200:260], models=["rf"], cv=2,
                  scoring="balanced_accuracy", param_grids={"rf": {"clf__n_estimators": [5]}},
                  n_jobs=2)
    assert list(res.results) == ["rf"]
    assert res["rf"].n_jobs == 2
    assert "selection_cv_balanced_accuracy" in res.summary()[0]


def test_compare_rejects_unknown_model():
    X = np.zeros((10, 4))
    with pytest.raises(ValueError, match="unknown model"):
        compare(X, np.arange(10) % 2, X, np.arange(10) % 2, models=["knn"])


def test_search_n_jobs_on_cpu_and_cuda(monkeypatch):
    mlp = get_model_spec("mlp")
    assert mlp.search_n_jobs(2, "cpu") == (2, "cpu")
    assert mlp.search_n_jobs(None, "cpu") == (1, "cpu")
    assert get_model_spec("svm").search_n_jobs(2, "cuda") == (2, None)  # no device to resolve
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    # One GPU: the MLP's grid search never runs several fits on it at once.
    assert mlp.search_n_jobs(4, "auto") == (1, "cuda")
    assert mlp.search_n_jobs(-1, "cuda:0") == (1, "cuda:0")


def test_search_n_jobs_rejects_missing_cuda(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        get_model_spec("mlp").search_n_jobs(1, "cuda")


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


class _SwallowsCtrlC(ClassifierMixin, BaseEstimator):
    """A training loop that catches Ctrl-C and returns as if it had finished (old skorch)."""

    def fit(self, X, y):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler raises here
        except KeyboardInterrupt:
            pass
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_a_swallowed_ctrl_c_still_stops_the_search():
    from sknn_mnist.cli.common import cancel_on_ctrl_c
    from sknn_mnist.compare import grid_search
    from sknn_mnist.study.context import CancellationToken, RunCancelled, RunContext

    X, y = np.zeros((20, 2)), np.arange(20) % 2
    token = CancellationToken()
    with cancel_on_ctrl_c(token), pytest.raises(RunCancelled):
        grid_search(_SwallowsCtrlC(), {}, X, y, cv=make_folds(2), n_jobs=1,
                    context=RunContext(cancel=token))
    assert token.cancelled
    # Ctrl-C's handler is the default one again.
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_progress_in_a_log_is_one_line_per_step_and_fit(capsys):
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    compare(X[:200], y[:200], X[200:260], y[200:260], models=["rf"], cv=2, progress=True,
            param_grids={"rf": {"clf__n_estimators": [5, 10]}})
    lines = capsys.readouterr().err.splitlines()  # stderr is not a terminal here
    assert lines[0].startswith("rf: grid search on 200 rows (")
    fits = [line for line in lines if "fits done" in line]
    counts = [int(line.split(": ")[-1].split("/")[0]) for line in fits]
    assert counts == sorted(set(counts)) and fits[-1].split(": ")[-1].startswith("4/4 fits")
    assert any(line.startswith("rf: refit on 200 rows (") for line in lines)
    assert "\r" not in "".join(lines)
