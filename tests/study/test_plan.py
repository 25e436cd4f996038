"""The comparison plan: every row rule in one place, checked and printed before training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sknn_mnist.compare import compare, stratified_subsample
from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import SVC_GRID_SUBSAMPLE_QUICK, param_grid
from sknn_mnist.study.plan import (
    QUICK_MAX_TRAIN,
    ComparisonPlan,
    TooFewPerClassError,
    TooFewRowsError,
    plan_comparison,
    plan_subsample,
)

#: 12,000 labels of 10 balanced classes: more than the quick cap.
LARGE = np.arange(12_000) % 10


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)
    return X, y, X_test, y_test


def test_quick_caps_the_training_rows_and_the_models_subsample_from_them():
    plan = plan_comparison(LARGE, models=["mlp", "svm", "rf", "cnn"], quick=True, cv=3)
    assert plan.quick and plan.quick_capped
    assert (plan.training.n, plan.training.source) == (QUICK_MAX_TRAIN, 12_000)
    rows = {m.name: m.rows.n for m in plan.models}
    assert rows == {"mlp": QUICK_MAX_TRAIN, "svm": SVC_GRID_SUBSAMPLE_QUICK,
                    "rf": QUICK_MAX_TRAIN, "cnn": SVC_GRID_SUBSAMPLE_QUICK}
    assert all(m.rows.source == QUICK_MAX_TRAIN for m in plan.models)
    # The selection rows are the smallest subsample; the models searched on them reuse
    # their grid scores, the others are cross-validated once more.
    assert plan.selection.n == SVC_GRID_SUBSAMPLE_QUICK
    assert [m.reuses_grid_scores for m in plan.models] == [False, True, False, True]
    assert plan["svm"].selection_fits == 0 and plan["mlp"].selection_fits == 3
    # Candidates x folds = fits, per model and in all.
    assert plan["mlp"].n_candidates == 2 and plan["mlp"].grid_fits == 6
    assert plan.n_candidates == 8
    assert plan.n_fits == 8 * 3 + 2 * 3


def test_max_train_overrides_the_cap_and_the_library_plans_without_it():
    assert plan_comparison(LARGE, quick=True, max_train=500).training.n == 500
    assert not plan_comparison(LARGE, quick=True, max_train=500).quick_capped
    # compare() trains on the rows it is given: no cap...
    assert plan_comparison(LARGE, quick=True, quick_max_train=None).training.n == 12_000
    # ...and no quick run, no cap.
    assert plan_comparison(LARGE).training.n == 12_000
    # The full grids and subsamples without quick.
    full = plan_comparison(LARGE, models=["svm", "rf"])
    assert full["svm"].grid == param_grid("svm") and full["svm"].rows.n == 10_000


def test_overrides_of_grids_and_subsamples():
    plan = plan_comparison(LARGE[:300], models=["svm", "rf"], cv=2,
                           param_grids={"rf": {"clf__n_estimators": [5, 10, 20]}},
                           subsamples={"svm": 200})
    assert plan["rf"].n_candidates == 3 and plan["rf"].grid_fits == 6
    assert plan["svm"].rows.n == 200 and plan["rf"].rows.n == 300
    assert plan.selection.n == 200 and plan["svm"].reuses_grid_scores
    with pytest.raises(ValueError, match="unknown model"):
        plan_comparison(LARGE, models=["knn"])
    with pytest.raises(ValueError, match="models is empty"):
        plan_comparison(LARGE, models=[])


def test_the_plan_draws_the_rows_compare_always_drew():
    X = np.arange(12_000 * 2).reshape(12_000, 2)
    plan = plan_comparison(LARGE, models=["mlp", "svm"], quick=True, random_state=3)
    X_train, y_train = plan.training_data(X, LARGE)
    ref_X, ref_y = stratified_subsample(X, LARGE, QUICK_MAX_TRAIN, 3)
    np.testing.assert_array_equal(X_train, ref_X)
    X_svm, _ = plan.grid_data("svm", X_train, y_train)
    np.testing.assert_array_equal(
        X_svm, stratified_subsample(ref_X, ref_y, SVC_GRID_SUBSAMPLE_QUICK, 3)[0])
    assert plan.grid_data("mlp", X_train, y_train)[0] is X_train  # all rows: no copy
    np.testing.assert_array_equal(plan.selection_data(X_train, y_train)[0], X_svm)
    with pytest.raises(ValueError, match="the plan is for 12000 rows, got 10"):
        plan.training_data(X[:10], LARGE[:10])


def test_validate_checks_the_training_rows_first_then_each_model():
    y = np.repeat(np.arange(10), [50] * 9 + [4])  # the rarest class has 4 rows
    with pytest.raises(TooFewRowsError) as too_few:
        plan_comparison(y, max_train=5, cv=3).validate()
    assert (too_few.value.rows, too_few.value.n_classes, too_few.value.suggested) == (5, 10, 100)
    with pytest.raises(TooFewPerClassError) as per_class:
        plan_comparison(y, models=["rf"], cv=5).validate()
    assert (per_class.value.cv, per_class.value.rows, per_class.value.smallest) == (5, 454, 4)
    # Enough rows to train, too few of the rarest class in the SVC's subsample.
    ok = plan_comparison(y, models=["rf", "svm"], cv=3, subsamples={"svm": 100})
    with pytest.raises(TooFewPerClassError, match="the 100 training rows have only") as svm:
        ok.validate()
    assert svm.value.smallest == ok["svm"].rows.rarest < 3
    assert plan_comparison(y, models=["rf"], cv=4).validate().training.rarest == 4
    # Plain subsamples, as `train` and `cv` use them.
    assert plan_subsample(y, None).n == 454 and not plan_subsample(y, None).subsampled
    with pytest.raises(TooFewRowsError):
        plan_subsample(y, 9).check()


def test_describe_is_one_short_block():
    plan = plan_comparison(LARGE, models=["mlp", "svm"], quick=True, cv=3)
    assert plan.describe().splitlines() == [
        "plan: 10000 training rows (a stratified subsample of 12000, the quick cap), "
        "3-fold CV, selection CV on 2000 rows",
        "  mlp: grid search on 10000 rows, 2 candidates x 3 folds = 6 fits; "
        "selection CV 3 fits",
        "  svm: grid search on 2000 rows, 2 candidates x 3 folds = 6 fits; "
        "selection reuses these scores",
        "  15 CV fits, then each model refit on 10000 rows",
    ]


def test_the_plan_is_frozen():
    plan = plan_comparison(LARGE[:100], models=["rf"])
    assert isinstance(plan, ComparisonPlan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.cv = 5
    with pytest.raises(TypeError):
        plan["rf"].grid["clf__n_estimators"] = [1]


def test_compare_executes_a_plan_as_it_executes_its_arguments(digits):
    X, y, X_test, y_test = digits
    grids = {"rf": {"clf__n_estimators": [5, 10]}, "svm": {"clf__C": [1.0, 10.0]}}
    kwargs = dict(models=["svm", "rf"], cv=2, param_grids=grids, subsamples={"svm": 150})
    by_arguments = compare(X[:300], y[:300], X_test[:60], y_test[:60], **kwargs)
    plan = plan_comparison(y[:300], **kwargs)
    by_plan = compare(X[:300], y[:300], X_test[:60], y_test[:60], plan=plan)
    assert by_plan.plan is plan and by_arguments.plan == plan
    for a, b in zip(by_arguments, by_plan, strict=True):
        assert (a.name, a.best_params, a.cv_mean, a.selection_cv_mean, a.test_accuracy) == \
            (b.name, b.best_params, b.cv_mean, b.selection_cv_mean, b.test_accuracy)
        assert a.n_search_samples == b.n_search_samples == plan[a.name].rows.n
    assert by_plan.selection_rows == 150
    # A plan with fewer training rows than given: compare trains and refits on those.
    small = plan_comparison(y[:300], models=["rf"], cv=2, max_train=120,
                            param_grids={"rf": {"clf__n_estimators": [5]}})
    result = compare(X[:300], y[:300], X_test[:60], y_test[:60], plan=small)
    assert result.n_train == 120
    tree = result["rf"].estimator.named_steps["clf"].estimators_[0].tree_
    assert tree.weighted_n_node_samples[0] == 120  # a bootstrap sample of the 120 rows
    with pytest.raises(ValueError, match="got a plan and cv"):
        compare(X[:300], y[:300], X_test[:60], y_test[:60], plan=small, cv=5)
