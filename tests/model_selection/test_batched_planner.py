"""The planner: which evaluations go to fit_many, what they share, and what falls back."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import FitFailedWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sknn_mnist.core import many
from sknn_mnist.model_selection import GridSearchCV, _evaluate, cross_validate

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class CountingScaler(TransformerMixin, BaseEstimator):
    """Divides by ``scale``; counts its fits (per class, reset by the tests)."""

    fits = 0

    def __init__(self, scale=16.0, fail=False):
        self.scale = scale
        self.fail = fail

    def fit(self, X, y=None):
        type(self).fits += 1
        if self.fail:
            raise RuntimeError("this scaler fails")
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X):
        return np.asarray(X) / self.scale


class Recorder:
    """Stands in for fit_many: records each call's jobs, then fits them as fit_many does;
    ``fit_time`` (when set) replaces the measured times."""

    def __init__(self, fit_time=None):
        self.calls = []
        self.fit_time = fit_time

    def __call__(self, jobs, *, verbose=0):
        self.calls.append(list(jobs))
        results = many.fit_many(jobs, verbose=verbose)
        if self.fit_time is not None:
            for result in results:
                result.fit_time = self.fit_time
        return results


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder()
    monkeypatch.setattr(_evaluate, "fit_many", rec)
    CountingScaler.fits = 0
    return rec


def test_every_network_evaluation_is_one_job_of_one_call(recorder, mlp, small_digits, folds):
    X, y = small_digits
    pipe = Pipeline([("scale", CountingScaler()), ("clf", mlp())])
    grid = {"clf__alpha": [1e-4, 1e-2], "clf__learning_rate_init": [3e-3, 1e-2]}
    GridSearchCV(pipe, grid, cv=folds, refit=False).fit(X, y)
    assert len(recorder.calls) == 1
    jobs = recorder.calls[0]
    assert len(jobs) == 4 * 3
    # The scaler is fitted once per fold, and the 4 jobs of a fold share its output array.
    assert CountingScaler.fits == 3
    by_fold = {}
    for job in jobs:
        by_fold.setdefault(id(job.X), []).append(job)
    assert sorted(len(v) for v in by_fold.values()) == [4, 4, 4]
    for fold_jobs in by_fold.values():
        assert len({id(job.y) for job in fold_jobs}) == 1
        np.testing.assert_allclose(fold_jobs[0].X.max(), 1.0)  # scaled by the scaler
    # Each job's estimator carries its candidate's parameters.
    assert sorted({(j.estimator.alpha, j.estimator.learning_rate_init) for j in jobs}) == [
        (1e-4, 3e-3), (1e-4, 1e-2), (1e-2, 3e-3), (1e-2, 1e-2)]


def test_earlier_steps_are_fitted_once_per_fold_and_parameters(recorder, mlp, small_digits,
                                                                folds):
    X, y = small_digits
    pipe = Pipeline([("scale", CountingScaler()), ("clf", mlp())])
    grid = {"scale__scale": [16.0, 8.0], "clf__alpha": [1e-4, 1e-2, 1e-1]}
    GridSearchCV(pipe, grid, cv=folds, refit=False).fit(X, y)
    assert CountingScaler.fits == 2 * 3
    assert len({id(job.X) for job in recorder.calls[0]}) == 6


def test_bare_networks_of_a_fold_share_its_rows(recorder, mlp, small_digits, folds):
    X, y = small_digits
    GridSearchCV(mlp(), {"alpha": [1e-4, 1e-2]}, cv=folds, refit=False).fit(X / 16, y)
    jobs = recorder.calls[0]
    assert len({id(job.X) for job in jobs}) == 3 and len(jobs) == 6


def test_sample_weight_reaches_the_jobs_split_by_fold(recorder, mlp, small_digits, folds):
    X, y = small_digits
    weight = np.arange(len(y), dtype=float)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", mlp())])
    GridSearchCV(pipe, {"clf__alpha": [1e-4]}, cv=folds, refit=False).fit(
        X, y, clf__sample_weight=weight)
    trains = [train for train, _ in folds.split(X, y)]
    for job, train in zip(recorder.calls[0], trains, strict=True):
        np.testing.assert_array_equal(job.sample_weight, weight[train])


def test_other_estimators_do_not_reach_fit_many(recorder, mlp, small_digits, folds):
    X, y = small_digits
    pipe = Pipeline([("scale", StandardScaler()), ("clf", mlp())])
    grids = [{"clf": [SVC()], "clf__C": [1.0, 10.0]}, {"clf__alpha": [1e-4]}]
    search = GridSearchCV(pipe, grids, cv=folds, refit=False, n_jobs=2).fit(X, y)
    assert [len(call) for call in recorder.calls] == [3]
    # Results stay in candidate order whatever ran where.
    assert [type(p.get("clf", pipe[-1])).__name__ for p in search.cv_results_["params"]] == [
        "SVC", "SVC", "MLPDigitClassifier"]


def test_with_workers_networks_that_fill_a_core_go_to_the_workers(recorder, mlp, small_digits,
                                                                   folds, same_cv_results):
    """n_jobs=2 on a CPU: networks whose step fills a core (or that cannot stack) are
    fitted by scikit-learn's workers; small steps still stack; the table is the same."""
    from sklearn import model_selection as sk

    from sknn_mnist.core.stacked.memory import WORKER_STEP_FLOPS_CPU

    X, y = small_digits
    small, wide = (16,), (1024,)
    assert many.stacks_in_process(mlp(hidden_layer_sizes=small), 300, 64, 10, 2)
    assert not many.stacks_in_process(mlp(hidden_layer_sizes=wide), 300, 64, 10, 2)
    assert not many.stacks_in_process(mlp(solver="lbfgs"), 300, 64, 10, 2)
    assert many.stacks_in_process(mlp(hidden_layer_sizes=wide), 300, 64, 10, 1)
    # The line between them is the step's FLOPs: 6 x batch x weights, about.
    assert 6 * 64 * 64 * 16 < WORKER_STEP_FLOPS_CPU < 6 * 64 * 64 * 1024
    grid = {"hidden_layer_sizes": [small, wide], "alpha": [1e-4, 1e-2]}
    ours = GridSearchCV(mlp(), grid, cv=folds, refit=False, n_jobs=2).fit(X / 16, y)
    assert [len(call) for call in recorder.calls] == [2 * 3]
    assert {job.estimator.hidden_layer_sizes for job in recorder.calls[0]} == {small}
    theirs = sk.GridSearchCV(mlp(), grid, cv=folds, refit=False, n_jobs=2).fit(X / 16, y)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    recorder.calls.clear()
    GridSearchCV(mlp(), grid, cv=folds, refit=False, n_jobs=1).fit(X / 16, y)
    assert [len(call) for call in recorder.calls] == [4 * 3]


@pytest.mark.parametrize("case", ["memory", "unknown fit parameter"])
def test_what_falls_back_to_scikit_learns_path(recorder, mlp, small_digits, folds, tmp_path,
                                               case):
    X, y = small_digits
    if case == "memory":
        pipe = Pipeline([("scale", StandardScaler()), ("clf", mlp())], memory=str(tmp_path))
        GridSearchCV(pipe, {"clf__alpha": [1e-4]}, cv=folds, refit=False).fit(X, y)
    else:
        with pytest.raises(ValueError, match="fits failed"):
            GridSearchCV(mlp(), {"alpha": [1e-4]}, cv=folds, refit=False).fit(
                X, y, not_a_parameter=np.ones(len(y)))
    assert recorder.calls == []


def test_fit_time_is_the_jobs_share(monkeypatch, mlp, small_digits, folds):
    X, y = small_digits
    monkeypatch.setattr(_evaluate, "fit_many", Recorder(fit_time=1.5))
    bare = GridSearchCV(mlp(), {"alpha": [1e-4, 1e-2]}, cv=folds, refit=False).fit(X, y)
    np.testing.assert_array_equal(bare.cv_results_["mean_fit_time"], [1.5, 1.5])
    pipe = Pipeline([("scale", StandardScaler()), ("clf", mlp())])
    cv = cross_validate(pipe, X, y, cv=folds)
    # The network's share plus the scaler's fit on the fold (shared by its jobs).
    assert np.all(cv["fit_time"] > 1.5) and np.all(cv["fit_time"] < 1.6)


@pytest.mark.filterwarnings("ignore:One or more of the:UserWarning")
def test_a_failing_earlier_step_fails_its_evaluations_only(recorder, mlp, small_digits, folds):
    X, y = small_digits
    pipe = Pipeline([("scale", CountingScaler()), ("clf", mlp())])
    grid = {"scale__fail": [False, True], "clf__alpha": [1e-4, 1e-2]}
    with pytest.warns(FitFailedWarning, match="6 fits failed") as record:
        search = GridSearchCV(pipe, grid, cv=folds, refit=False).fit(X, y)
    assert "this scaler fails" in str(record[0].message)
    failed = [p["scale__fail"] for p in search.cv_results_["params"]]
    scores = search.cv_results_["mean_test_score"]
    assert np.isnan(scores[np.array(failed)]).all() and np.isfinite(scores[~np.array(failed)]).all()
    assert len(recorder.calls[0]) == 6  # the failing scaler's evaluations never reached it
    with pytest.raises(RuntimeError, match="this scaler fails"):
        GridSearchCV(pipe, grid, cv=folds, refit=False, error_score="raise").fit(X, y)


def test_unhashable_earlier_steps_are_fitted_per_evaluation(recorder, mlp, small_digits,
                                                            folds, same_cv_results):
    from sklearn import model_selection as sk
    from sklearn.preprocessing import FunctionTransformer

    X, y = small_digits
    pipe = Pipeline([("scale", FunctionTransformer(lambda X: X / 16)), ("clf", mlp())])
    grid = {"clf__alpha": [1e-4, 1e-2]}
    ours = GridSearchCV(pipe, grid, cv=folds, refit=False).fit(X, y)
    assert len({id(job.X) for job in recorder.calls[0]}) == 6
    theirs = sk.GridSearchCV(pipe, grid, cv=folds, refit=False).fit(X, y)
    same_cv_results(ours.cv_results_, theirs.cv_results_)


def test_metadata_routing(recorder, mlp, small_digits, folds, same_cv_results):
    import sklearn
    from sklearn import model_selection as sk
    from sklearn.metrics import accuracy_score, make_scorer

    X, y = small_digits
    weight = np.where(y < 5, 2.0, 0.5)
    grid = {"alpha": [1e-4, 1e-2]}
    with sklearn.config_context(enable_metadata_routing=True):
        net = mlp().set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        ours = GridSearchCV(net, grid, cv=folds, refit=False).fit(X, y, sample_weight=weight)
        theirs = sk.GridSearchCV(net, grid, cv=folds, refit=False).fit(X, y,
                                                                       sample_weight=weight)
        same_cv_results(ours.cv_results_, theirs.cv_results_)
        assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
        assert [len(c) for c in recorder.calls] == [6]  # a bare network: batched
        np.testing.assert_array_equal(recorder.calls[0][0].sample_weight,
                                      weight[next(folds.split(X, y))[0]])
        # A pipeline's routed parameters: the pipeline's own fit routes them.
        scaler = StandardScaler().set_fit_request(sample_weight=False)
        pipe = Pipeline([("scale", scaler), ("clf", net)])
        grid = {"clf__alpha": [1e-4, 1e-2]}
        # Weighted accuracy: the scorer asks for the test fold's weights.
        scorer = make_scorer(accuracy_score).set_score_request(sample_weight=True)
        ours = GridSearchCV(pipe, grid, cv=folds, refit=False, scoring=scorer).fit(
            X, y, sample_weight=weight)
        theirs = sk.GridSearchCV(pipe, grid, cv=folds, refit=False, scoring=scorer).fit(
            X, y, sample_weight=weight)
        same_cv_results(ours.cv_results_, theirs.cv_results_)
        assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
        assert [len(c) for c in recorder.calls] == [6]


def test_ctrl_c_in_the_batch_propagates_and_nothing_is_scored(monkeypatch, mlp, small_digits,
                                                              folds):
    X, y = small_digits
    scored = []

    def interrupted(jobs, *, verbose=0):
        raise KeyboardInterrupt

    def scorer(estimator, X, y):
        scored.append(1)
        return 0.0

    monkeypatch.setattr(_evaluate, "fit_many", interrupted)
    with pytest.raises(KeyboardInterrupt):
        GridSearchCV(mlp(), {"alpha": [1e-4, 1e-2]}, cv=folds, scoring=scorer).fit(X, y)
    with pytest.raises(KeyboardInterrupt):
        cross_validate(mlp(), X, y, cv=folds, scoring=scorer)
    assert scored == []
