"""The study's grid searches and selection CV run through sknn_mnist.model_selection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import model_selection as sk

from sknn_mnist import model_selection
from sknn_mnist.core import many
from sknn_mnist.model_selection import _evaluate
from sknn_mnist.study.compare import cross_validate_model, grid_search, make_folds
from sknn_mnist.study.context import RunContext
from sknn_mnist.study.models import make_model

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def calls(monkeypatch):
    seen = []

    def recording(jobs, *, verbose=0):
        seen.append(len(jobs))
        return many.fit_many(jobs, verbose=verbose)

    monkeypatch.setattr(_evaluate, "fit_many", recording)
    return seen


def test_grid_search_and_selection_cv_batch_the_networks(calls, small_digits):
    X, y = small_digits
    pipe = make_model("mlp", device="cpu", random_state=0, clf__max_iter=2,
                      clf__hidden_layer_sizes=(16,))
    grid = {"clf__alpha": [1e-4, 1e-2]}
    folds = make_folds(2)
    search = grid_search(pipe, grid, X, y, cv=folds, n_jobs=2, context=RunContext())
    assert type(search) is model_selection.GridSearchCV
    theirs = sk.GridSearchCV(pipe, grid, cv=folds, refit=False).fit(X, y)
    np.testing.assert_allclose(search.cv_results_["mean_test_score"],
                               theirs.cv_results_["mean_test_score"], rtol=0, atol=1e-6)
    scores = cross_validate_model(pipe, X, y, cv=folds, context=RunContext())
    np.testing.assert_allclose(scores["test_score"],
                               sk.cross_validate(pipe, X, y, cv=folds)["test_score"],
                               rtol=0, atol=1e-6)
    assert calls == [4, 2]
