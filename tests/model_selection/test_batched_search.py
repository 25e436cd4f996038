"""Our GridSearchCV and RandomizedSearchCV against scikit-learn's, on small float64 digits."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn import model_selection as sk
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.metrics import make_scorer, recall_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

from sknn_mnist.model_selection import GridSearchCV, RandomizedSearchCV

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"clf__alpha": [1e-4, 1e-1], "clf__learning_rate_init": [3e-3, 1e-2]}


@pytest.fixture
def pipe(mlp):
    return Pipeline([("scale", StandardScaler()), ("clf", mlp())])


def _both(estimator, grid, X, y, *, search=GridSearchCV, theirs=sk.GridSearchCV,
          fit_params=None, **kwargs):
    ours = search(estimator, grid, **kwargs).fit(X, y, **(fit_params or {}))
    sklearn = theirs(estimator, grid, **kwargs).fit(X, y, **(fit_params or {}))
    return ours, sklearn


def test_a_pipeline_grid_gives_scikit_learns_table(pipe, small_digits, folds, same_cv_results):
    X, y = small_digits
    ours, theirs = _both(pipe, GRID, X, y, cv=folds, return_train_score=True)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    # Today's fit_many fits one by one: the very same numbers.
    np.testing.assert_array_equal(ours.cv_results_["split1_test_score"],
                                  theirs.cv_results_["split1_test_score"])
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-6)
    assert ours.best_index_ == theirs.best_index_
    assert ours.n_splits_ == theirs.n_splits_ == 3
    assert ours.multimetric_ is theirs.multimetric_ is False
    assert ours.refit_time_ > 0
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    # The test scores are not all alike: the grid does discriminate.
    assert np.ptp(ours.cv_results_["mean_test_score"]) > 0


def test_a_bare_network_grid_gives_scikit_learns_table(mlp, small_digits, folds,
                                                        same_cv_results):
    X, y = small_digits
    grid = {"alpha": [1e-4, 1e-1], "batch_size": [32, 128]}
    ours, theirs = _both(mlp(), grid, X / 16, y, cv=folds)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_ == theirs.best_params_


def test_randomized_search_samples_the_same_candidates(pipe, small_digits, folds,
                                                        same_cv_results):
    X, y = small_digits
    dist = {"clf__alpha": loguniform(1e-5, 1e-1), "clf__batch_size": [32, 64, 128]}
    ours, theirs = _both(pipe, dist, X, y, search=RandomizedSearchCV,
                         theirs=sk.RandomizedSearchCV, n_iter=3, random_state=7, cv=folds)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert len(ours.cv_results_["params"]) == 3


def test_a_list_of_grids_mixes_an_svc_and_the_network(pipe, small_digits, folds,
                                                       same_cv_results):
    X, y = small_digits
    grids = [{"clf": [SVC()], "clf__C": [1.0, 10.0]}, {"clf__alpha": [1e-4, 1e-1]}]
    ours, theirs = _both(pipe, grids, X, y, cv=folds, n_jobs=2)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.best_params_.keys() == theirs.best_params_.keys()
    assert type(ours.best_estimator_[-1]) is type(theirs.best_estimator_[-1])


def test_a_grid_that_changes_the_scaler(pipe, small_digits, folds, same_cv_results):
    X, y = small_digits
    grid = {"scale": [StandardScaler(), MinMaxScaler(), "passthrough"],
            "clf__alpha": [1e-4, 1e-1]}
    ours, theirs = _both(pipe, grid, X, y, cv=folds)
    same_cv_results(ours.cv_results_, theirs.cv_results_)


@pytest.mark.parametrize("refit", [True, False])
def test_refit_true_and_false(pipe, small_digits, folds, refit):
    X, y = small_digits
    ours, theirs = _both(pipe, GRID, X, y, cv=folds, refit=refit)
    assert hasattr(ours, "best_estimator_") is refit is hasattr(theirs, "best_estimator_")
    assert hasattr(ours, "refit_time_") is refit
    assert ours.best_index_ == theirs.best_index_


def test_a_callable_refit_chooses_as_scikit_learns(pipe, small_digits, folds):
    X, y = small_digits

    def lowest_score(results):
        return int(np.argmin(results["mean_test_score"]))

    ours, theirs = _both(pipe, GRID, X, y, cv=folds, refit=lowest_score)
    assert ours.best_index_ == theirs.best_index_ == lowest_score(theirs.cv_results_)
    assert not hasattr(ours, "best_score_") and not hasattr(theirs, "best_score_")
    assert ours.best_params_ == theirs.best_params_


@pytest.mark.parametrize("scoring, refit", [
    (["accuracy", "balanced_accuracy"], "balanced_accuracy"),
    ({"acc": "accuracy", "recall": make_scorer(recall_score, average="macro")}, "recall"),
    (("accuracy", "neg_log_loss"), False),
])
def test_multimetric_scoring(pipe, small_digits, folds, same_cv_results, scoring, refit):
    X, y = small_digits
    ours, theirs = _both(pipe, GRID, X, y, cv=folds, scoring=scoring, refit=refit,
                         return_train_score=True)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.multimetric_ is theirs.multimetric_ is True
    assert sorted(ours.scorer_) == sorted(theirs.scorer_)
    if refit:
        assert ours.best_params_ == theirs.best_params_
        assert ours.best_score_ == pytest.approx(theirs.best_score_, abs=1e-6)
    else:
        assert not hasattr(ours, "best_index_")


def test_a_callable_scoring_that_returns_a_dict(pipe, small_digits, folds, same_cv_results):
    X, y = small_digits

    def two_scores(estimator, X, y):
        pred = estimator.predict(X)
        return {"acc": float(np.mean(pred == y)), "errors": float(np.sum(pred != y))}

    ours, theirs = _both(pipe, GRID, X, y, cv=folds, scoring=two_scores, refit="acc")
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    assert ours.multimetric_ and ours.best_index_ == theirs.best_index_


BAD_GRID = {"clf__alpha": [1e-4, -1.0]}  # a negative alpha fails the network's validation


@pytest.mark.filterwarnings("ignore:One or more of the:UserWarning")
@pytest.mark.parametrize("error_score", [np.nan, -1.0])
def test_a_failing_candidate_scores_error_score(pipe, small_digits, folds, same_cv_results,
                                                error_score):
    X, y = small_digits
    with pytest.warns(FitFailedWarning, match="3 fits failed") as ours_warnings:
        ours = GridSearchCV(pipe, BAD_GRID, cv=folds, error_score=error_score,
                            return_train_score=True).fit(X, y)
    with pytest.warns(FitFailedWarning, match="3 fits failed") as their_warnings:
        theirs = sk.GridSearchCV(pipe, BAD_GRID, cv=folds, error_score=error_score,
                                 return_train_score=True).fit(X, y)
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    bad = ours.cv_results_["split0_test_score"][1]
    assert np.isnan(bad) if np.isnan(error_score) else bad == error_score
    assert "alpha" in str(ours_warnings[0].message)
    assert (str(ours_warnings[0].message).count("InvalidParameterError")
            == str(their_warnings[0].message).count("InvalidParameterError"))


def test_error_score_raise_raises_the_fits_error(pipe, small_digits, folds):
    X, y = small_digits
    with pytest.raises(ValueError, match="'alpha' parameter"):
        GridSearchCV(pipe, BAD_GRID, cv=folds, error_score="raise").fit(X, y)


def test_an_invalid_error_score_is_refused(pipe, small_digits, folds):
    X, y = small_digits
    with pytest.raises(ValueError, match="error_score"):
        GridSearchCV(pipe, GRID, cv=folds, error_score="nan").fit(X, y)


def test_every_candidate_failing_raises_as_scikit_learn(pipe, small_digits, folds):
    X, y = small_digits
    with pytest.raises(ValueError, match="All the 6 fits failed"):
        GridSearchCV(pipe, {"clf__alpha": [-1.0, -2.0]}, cv=folds).fit(X, y)


def test_sample_weight_is_split_by_the_folds(pipe, small_digits, folds, same_cv_results):
    X, y = small_digits
    weight = np.where(y < 5, 3.0, 0.5)
    ours, theirs = _both(pipe, GRID, X, y, cv=folds, fit_params={"clf__sample_weight": weight})
    same_cv_results(ours.cv_results_, theirs.cv_results_)
    unweighted = GridSearchCV(pipe, GRID, cv=folds).fit(X, y)
    assert not np.allclose(unweighted.cv_results_["mean_test_score"],
                           ours.cv_results_["mean_test_score"])


def test_sample_weight_of_a_bare_network(mlp, small_digits, folds, same_cv_results):
    X, y = small_digits
    weight = np.linspace(0.1, 2.0, len(y))
    ours, theirs = _both(mlp(), {"alpha": [1e-4, 1e-1]}, X / 16, y, cv=folds,
                         fit_params={"sample_weight": weight})
    same_cv_results(ours.cv_results_, theirs.cv_results_)


def test_groups_choose_the_splits(pipe, small_digits, same_cv_results):
    X, y = small_digits
    groups = np.arange(len(y)) % 5
    ours, theirs = _both(pipe, GRID, X, y, cv=GroupKFold(n_splits=3),
                         fit_params={"groups": groups})
    same_cv_results(ours.cv_results_, theirs.cv_results_)


def _without_times(text):
    return re.sub(r"total time=\s*[\d.]+\w+", "total time=T", text)


@pytest.mark.parametrize("verbose", [1, 3, 10])
def test_verbose_prints_scikit_learns_lines(pipe, small_digits, folds, capsys, verbose):
    X, y = small_digits
    grid = {"clf__alpha": [1e-4, 1e-1]}
    GridSearchCV(pipe, grid, cv=folds, verbose=verbose, refit=False).fit(X, y)
    ours = _without_times(capsys.readouterr().out)
    sk.GridSearchCV(pipe, grid, cv=folds, verbose=verbose, refit=False).fit(X, y)
    theirs = _without_times(capsys.readouterr().out)
    # The same lines (fit_many's own aside); the START lines of the batched fits all come
    # before their END lines, which keep scikit-learn's order.
    kept = [line for line in ours.splitlines() if line in theirs.splitlines()]
    assert sorted(kept) == sorted(theirs.splitlines())
    ends = [line for line in theirs.splitlines() if " END " in line]
    assert [line for line in kept if " END " in line] == ends
    assert len(ends) == (6 if verbose > 1 else 0)
    assert "Fitting 3 folds for each of 2 candidates, totalling 6 fits" in ours


def test_clone_and_pickle(pipe, small_digits, folds):
    X, y = small_digits
    search = GridSearchCV(pipe, GRID, cv=folds, n_jobs=2, scoring="accuracy")
    copy = clone(search)
    assert type(copy) is GridSearchCV
    assert copy.get_params().keys() == search.get_params().keys()
    assert copy.n_jobs == 2 and copy.param_grid == GRID
    search.fit(X, y)
    loaded = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    np.testing.assert_array_equal(loaded.cv_results_["mean_test_score"],
                                  search.cv_results_["mean_test_score"])


def test_parameters_are_validated_as_scikit_learns(pipe, small_digits):
    from sklearn.utils._param_validation import InvalidParameterError

    X, y = small_digits
    with pytest.raises(InvalidParameterError, match="'cv' parameter"):
        GridSearchCV(pipe, GRID, cv="three").fit(X, y)


def test_docstrings_point_to_scikit_learn():
    assert "sklearn.model_selection.GridSearchCV" in GridSearchCV.__doc__
    assert "sklearn.model_selection.RandomizedSearchCV" in RandomizedSearchCV.__doc__
    assert issubclass(GridSearchCV, sk.GridSearchCV)
    assert issubclass(RandomizedSearchCV, sk.RandomizedSearchCV)
