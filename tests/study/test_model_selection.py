"""Pipelines, GridSearchCV (in parallel too) and cross-validation on scikit-learn's digits."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    cross_val_score,
    cross_validate,
)
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sknn_mnist import MLPDigitClassifier

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# A grid written for MLPClassifier, used unchanged.
MLP_CLASSIFIER_GRID = {
    "hidden_layer_sizes": [(50,), (100,)],
    "alpha": [1e-4, 1e-3],
    "learning_rate": ["constant", "adaptive"],
    "solver": ["adam", "sgd"],
}


@pytest.fixture(scope="module")
def digits_subset(digits_raw):
    X, y = digits_raw
    return X[:500], y[:500]


def test_mlpclassifier_grid_works_unchanged(digits_subset):
    X, y = digits_subset
    X = X / 16.0
    cv = StratifiedKFold(2, shuffle=True, random_state=0)
    base = MLPDigitClassifier(max_iter=5, batch_size=50, learning_rate_init=0.01,
                              random_state=0, device="cpu")
    ours = GridSearchCV(base,
                        MLP_CLASSIFIER_GRID, cv=cv, error_score="raise").fit(X, y)
    # The same grid object is valid for scikit-learn's own classifier.
    GridSearchCV(MLPClassifier(max_iter=1), MLP_CLASSIFIER_GRID, cv=cv)
    n_candidates = int(np.prod([len(v) for v in MLP_CLASSIFIER_GRID.values()]))
    assert len(ours.cv_results_["params"]) == n_candidates
    assert np.isfinite(ours.cv_results_["mean_test_score"]).all()
    assert ours.best_params_ in ours.cv_results_["params"]
    assert isinstance(ours.best_estimator_, MLPDigitClassifier)
    assert ours.best_estimator_.get_params()["hidden_layer_sizes"] in [(50,), (100,)]
    assert ours.best_score_ > 0.5  # chance is 0.1


def test_pipeline_grid_search_in_parallel(digits_raw):
    X, y = digits_raw
    X, y = X[:800], y[:800]
    pipe = make_pipeline(MinMaxScaler(), MLPDigitClassifier(hidden_layer_sizes=(32,),
                                                            max_iter=10, random_state=0,
                                                            device="cpu"))
    grid = {"mlpdigitclassifier__learning_rate_init": [3e-3, 1e-2],
            "mlpdigitclassifier__alpha": [1e-4, 1e-2]}
    search = GridSearchCV(pipe, grid, cv=2, n_jobs=2, error_score="raise").fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    assert isinstance(search.best_estimator_, Pipeline)
    assert search.best_estimator_[-1].n_iter_ >= 1
    assert search.best_score_ > 0.7  # chance is 0.1
    assert search.best_params_ == search.cv_results_["params"][
        int(np.argmax(search.cv_results_["mean_test_score"]))]
    # The parallel search gives the scores of a sequential one (same seeds on the CPU).
    sequential = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               sequential.cv_results_["mean_test_score"], atol=0.01)


def test_cross_validate_pipeline(digits_raw):
    X, y = digits_raw
    pipe = make_pipeline(MinMaxScaler(), MLPDigitClassifier(hidden_layer_sizes=(32,),
                                                            max_iter=10, random_state=0,
                                                            learning_rate_init=0.01,
                                                            device="cpu"))
    result = cross_validate(pipe, X, y, cv=2, return_estimator=True, return_train_score=True,
                            scoring=["accuracy", "neg_log_loss"])
    assert (result["test_accuracy"] > 0.8).all()
    assert (result["train_accuracy"] >= result["test_accuracy"] - 0.02).all()
    assert (result["test_neg_log_loss"] < 0).all()
    for fitted in result["estimator"]:
        assert fitted[-1].n_features_in_ == 64


def test_cross_val_score_with_string_labels(digits_raw):
    X, y = digits_raw
    X, y = X[:600] / 16.0, y[:600].astype(str)
    clf = MLPDigitClassifier(hidden_layer_sizes=(16,), max_iter=15, learning_rate_init=0.01,
                             random_state=0, device="cpu")
    scores = cross_val_score(clf, X, y, cv=2, scoring="f1_macro")
    assert (scores > 0.7).all()
