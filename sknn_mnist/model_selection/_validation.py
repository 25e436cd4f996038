"""``cross_validate`` and ``cross_val_score``: scikit-learn's, with our networks' folds batched.

The same parameters and return values as :func:`sklearn.model_selection.cross_validate`
and :func:`sklearn.model_selection.cross_val_score` (scikit-learn 1.9); the folds of one of
our networks (bare or the last step of a pipeline) train in one
:func:`~sknn_mnist.core.many.fit_many` call, any other estimator's through scikit-learn's
``_fit_and_score`` with ``n_jobs``.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.parallel import Parallel
from sklearn.utils.validation import indexable

from ._evaluate import Evaluation, evaluate
from ._plan import Task
from ._sklearn_compat import (
    HasMethods,
    StrOptions,
    _aggregate_score_dicts,
    _check_groups_routing_disabled,
    _insert_error_scores,
    _manual_routing,
    _normalize_score_results,
    _routing_enabled,
    _warn_or_raise_about_fit_failures,
    validate_params,
)

__all__ = ["cross_val_score", "cross_validate"]


def _routed_params(estimator: Any, cv: Any, scorers: Any, groups: Any,
                   params: dict[str, Any]) -> Any:
    """Where ``params`` go: scikit-learn's ``cross_validate`` routing, verbatim."""
    if not _routing_enabled():
        return _manual_routing({"splitter": {"split": {"groups": groups}},
                                "estimator": {"fit": params}, "scorer": {}})
    router = (
        MetadataRouter(owner="cross_validate")
        .add(splitter=cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
        .add(estimator=estimator,
             method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        .add(scorer=scorers, method_mapping=MethodMapping().add(caller="fit", callee="score"))
    )
    try:
        return process_routing(router, "fit", **params)
    except UnsetMetadataPassedError as e:
        # The user called cross_validate, not a fit: say so, as scikit-learn does.
        raise UnsetMetadataPassedError(
            message=str(e).replace("cross_validate.fit", "cross_validate"),
            unrequested_params=e.unrequested_params, routed_params=e.routed_params,
        ) from e


@validate_params(
    {
        "estimator": [HasMethods("fit")],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", None],
        "groups": ["array-like", None],
        "scoring": [StrOptions(set(get_scorer_names())), callable, list, tuple, dict, None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "params": [dict, None],
        "pre_dispatch": [Integral, str],
        "return_train_score": ["boolean"],
        "return_estimator": ["boolean"],
        "return_indices": ["boolean"],
        "error_score": [StrOptions({"raise"}), Real],
    },
    prefer_skip_nested_validation=False,  # estimator is not validated yet
)
def cross_validate(estimator, X, y=None, *, groups=None, scoring=None, cv=None, n_jobs=None,
                   verbose=0, params=None, pre_dispatch="2*n_jobs", return_train_score=False,
                   return_estimator=False, return_indices=False, error_score=np.nan):
    """Evaluate metric(s) by cross-validation and also record fit/score times.

    :func:`sklearn.model_selection.cross_validate` (read its documentation for the
    parameters and the returned dict), with the folds of one of our networks trained in
    one :func:`~sknn_mnist.core.many.fit_many` call; ``fit_time`` is each fold's share.
    """
    _check_groups_routing_disabled(groups)
    X, y = indexable(X, y)
    params = {} if params is None else params
    cv = check_cv(cv, y, classifier=is_classifier(estimator))
    scorers = check_scoring(estimator, scoring=scoring, raise_exc=(error_score == "raise"))
    routed = _routed_params(estimator, cv, scorers, groups, params)
    indices = list(cv.split(X, y, **routed.splitter.split))
    evaluation = Evaluation(
        scorer=scorers, fit_params=routed.estimator.fit, score_params=routed.scorer.score,
        error_score=error_score, verbose=verbose, return_train_score=return_train_score,
        return_times=True, return_estimator=return_estimator)
    tasks = [Task(None, train, test, i) for i, (train, test) in enumerate(indices)]
    parallel = Parallel(n_jobs=n_jobs, verbose=verbose, pre_dispatch=pre_dispatch)
    results = evaluate(clone(estimator), X, y, tasks, evaluation, parallel)

    _warn_or_raise_about_fit_failures(results, error_score)
    # A callable's return type is only known after a call: insert the error scores now.
    if callable(scoring):
        _insert_error_scores(results, error_score)
    results = _aggregate_score_dicts(results)
    ret = {"fit_time": results["fit_time"], "score_time": results["score_time"]}
    if return_estimator:
        ret["estimator"] = results["estimator"]
    if return_indices:
        ret["indices"] = {}
        ret["indices"]["train"], ret["indices"]["test"] = zip(*indices, strict=True)
    test_scores = _normalize_score_results(results["test_scores"])
    train_scores = (_normalize_score_results(results["train_scores"])
                    if return_train_score else {})
    for name in test_scores:
        ret[f"test_{name}"] = test_scores[name]
        if return_train_score:
            ret[f"train_{name}"] = train_scores[name]
    return ret


@validate_params(
    {
        "estimator": [HasMethods("fit")],
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like", None],
        "groups": ["array-like", None],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "params": [dict, None],
        "pre_dispatch": [Integral, str, None],
        "error_score": [StrOptions({"raise"}), Real],
    },
    prefer_skip_nested_validation=False,  # estimator is not validated yet
)
def cross_val_score(estimator, X, y=None, *, groups=None, scoring=None, cv=None, n_jobs=None,
                    verbose=0, params=None, pre_dispatch="2*n_jobs", error_score=np.nan):
    """Evaluate a score by cross-validation.

    :func:`sklearn.model_selection.cross_val_score` on top of :func:`cross_validate`.

    Returns
    -------
    scores : ndarray of float of shape (n_splits,)
    """
    scorer = check_scoring(estimator, scoring=scoring)  # a single metric only
    cv_results = cross_validate(
        estimator=estimator, X=X, y=y, groups=groups, scoring={"score": scorer}, cv=cv,
        n_jobs=n_jobs, verbose=verbose, params=params, pre_dispatch=pre_dispatch,
        error_score=error_score)
    return cv_results["test_score"]
