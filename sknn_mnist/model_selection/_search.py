"""``GridSearchCV`` and ``RandomizedSearchCV``: scikit-learn's, with our networks' fits batched.

Their ``fit`` is scikit-learn's ``BaseSearchCV.fit`` (scikit-learn 1.9) with one change:
the candidate x split evaluations go through
:func:`~sknn_mnist.model_selection._evaluate.evaluate`, which trains the evaluations of our
networks in one :func:`~sknn_mnist.core.many.fit_many` call and the others through
scikit-learn's ``_fit_and_score`` in its ``Parallel``. Everything else (parameters, their
validation, scorers, ``cv_results_``, ``best_*``, ``refit``, metadata routing) is inherited.
"""

from __future__ import annotations

import time
from collections import defaultdict
from inspect import signature
from itertools import product
from typing import Any

from sklearn import model_selection as _sk
from sklearn.base import clone, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils.parallel import Parallel
from sklearn.utils.validation import indexable

from ._evaluate import Evaluation, evaluate
from ._plan import Task
from ._sklearn_compat import (
    _check_method_params,
    _fit_context,
    _insert_error_scores,
    _warn_or_raise_about_fit_failures,
    has_callbacks,
)

__all__ = ["GridSearchCV", "RandomizedSearchCV"]


class _NoCallbacks:
    """Stands for scikit-learn's callback context where there is none (before 1.9)."""

    def subcontext(self, **kwargs: Any) -> _NoCallbacks:
        return self

    def call_on_fit_task_begin(self, **kwargs: Any) -> _NoCallbacks:
        return self

    def call_on_fit_task_end(self, **kwargs: Any) -> None:
        return None

    def propagate_callback_context(self, estimator: Any) -> Any:
        import contextlib

        return contextlib.nullcontext()


class _BatchedSearchMixin:
    """``fit`` of scikit-learn's ``BaseSearchCV``, evaluating through the planner."""

    def _callback_root(self, X: Any, y: Any, metadata: Any) -> Any:
        if not has_callbacks(self):
            return _NoCallbacks()
        return self._init_callback_context(
            max_subtasks=1 + (self.refit is not False)  # refit can be str or callable
        ).call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)

    def _evaluator(self, X: Any, y: Any, routed_params: Any, scorers: Any) -> Any:
        """``evaluate_candidates`` as ``_run_search`` calls it, and what it accumulates."""
        base_estimator = clone(self.estimator)
        parallel = Parallel(n_jobs=self.n_jobs, pre_dispatch=self.pre_dispatch)
        evaluation = Evaluation(
            scorer=scorers, fit_params=routed_params.estimator.fit,
            score_params=routed_params.scorer.score, error_score=self.error_score,
            verbose=self.verbose, return_train_score=self.return_train_score,
            return_n_test_samples=True, return_times=True,
            caller=self if has_callbacks(self) else None)
        state = {"params": [], "out": [], "more": defaultdict(list), "results": {}}

        def evaluate_candidates(candidate_params, cv=None, more_results=None,
                                callback_ctx=None):
            cv = cv or self._checked_cv_orig
            candidate_params = list(candidate_params)
            n_candidates, n_splits = len(candidate_params), self.n_splits_
            cv_splits = list(cv.split(X, y, **routed_params.splitter.split))
            if len(cv_splits) != n_splits:
                raise ValueError(
                    f"cv.split and cv.get_n_splits return inconsistent results. "
                    f"Expected {n_splits} splits, got {len(cv_splits)}")
            if self.verbose > 0:
                print(f"Fitting {n_splits} folds for each of {n_candidates} candidates,"
                      f" totalling {n_candidates * n_splits} fits")
            pairs = list(product(enumerate(candidate_params), enumerate(cv_splits)))
            tasks = [
                Task(parameters, train, test, split_idx, n_splits, cand_idx, n_candidates,
                     None if callback_ctx is None else callback_ctx.subcontext(
                         task_name="candidate-split-evaluation", task_id=task_id))
                for task_id, ((cand_idx, parameters), (split_idx, (train, test)))
                in enumerate(pairs)]
            with parallel:
                out = evaluate(base_estimator, X, y, tasks, evaluation, parallel)
            if len(out) < 1:
                raise ValueError("No fits were performed. Was the CV iterator empty? "
                                 "Were there no candidates?")
            _warn_or_raise_about_fit_failures(out, self.error_score)
            if callable(self.scoring):
                _insert_error_scores(out, self.error_score)
            state["params"].extend(candidate_params)
            state["out"].extend(out)
            for key, value in (more_results or {}).items():
                state["more"][key].extend(value)
            state["results"] = self._format_results(state["params"], n_splits, state["out"],
                                                    state["more"])
            return state["results"]

        return evaluate_candidates, state, base_estimator

    @_fit_context(
        # *SearchCV.estimator is not validated yet
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters; see scikit-learn's ``BaseSearchCV.fit``.

        The evaluations of our networks train together
        (:func:`~sknn_mnist.core.many.fit_many`); the others as scikit-learn trains them.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples, n_output) or (n_samples,), default=None
        **params : dict of str -> object
            Parameters passed to the ``fit`` method of the estimator, the scorer, and the
            CV splitter (``sample_weight`` is split by the folds, ``groups`` splits them).

        Returns
        -------
        self : object
        """
        scorers, refit_metric = self._get_scorers()
        X, y = indexable(X, y)
        params = _check_method_params(X, params=params)
        routed_params = self._get_routed_params_for_fit(params)
        sample_weight = params.get("sample_weight")
        metadata = None if sample_weight is None else {"sample_weight": sample_weight}
        root = self._callback_root(X, y, metadata)

        self._checked_cv_orig = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        self._check_input_parameters(X=X, y=y, split_params=routed_params.splitter.split)
        self.n_splits_ = self._checked_cv_orig.get_n_splits(
            X, y, **routed_params.splitter.split)

        evaluate_candidates, state, base_estimator = self._evaluator(X, y, routed_params,
                                                                     scorers)
        if "callback_ctx" in signature(self._run_search).parameters:
            self._run_search(evaluate_candidates,
                             callback_ctx=None if isinstance(root, _NoCallbacks) else root)
        else:
            self._run_search(evaluate_candidates)
        results = state["results"]
        first_test_score = state["out"][0]["test_scores"]
        self.multimetric_ = isinstance(first_test_score, dict)
        if callable(self.scoring) and self.multimetric_:
            self._check_refit_for_multimetric(first_test_score)
            refit_metric = self.refit

        if self.refit or not self.multimetric_:
            self.best_index_ = self._select_best_index(self.refit, refit_metric, results)
            if not callable(self.refit):
                self.best_score_ = results[f"mean_test_{refit_metric}"][self.best_index_]
            self.best_params_ = results["params"][self.best_index_]
        if self.refit:
            self._refit(base_estimator, X, y, routed_params, root, metadata)

        self.scorer_ = getattr(scorers, "_scorers", scorers)  # one scorer: not a dict
        self.cv_results_ = results
        root.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata)
        return self

    def _refit(self, base_estimator: Any, X: Any, y: Any, routed_params: Any, root: Any,
               metadata: Any) -> None:
        # The parameters cloned too: they may be estimators (scikit-learn PR 26786).
        self.best_estimator_ = clone(base_estimator).set_params(
            **clone(self.best_params_, safe=False))
        sub = root.subcontext(task_name="refit-with-best-params")
        with sub.propagate_callback_context(self.best_estimator_):
            sub.call_on_fit_task_begin(estimator=self, X=X, y=y, metadata=metadata)
            start = time.time()
            if y is not None:
                self.best_estimator_.fit(X, y, **routed_params.estimator.fit)
            else:
                self.best_estimator_.fit(X, **routed_params.estimator.fit)
            end = time.time()
        self.refit_time_ = end - start
        if hasattr(self.best_estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.best_estimator_.feature_names_in_
        sub.call_on_fit_task_end(estimator=self, X=X, y=y, metadata=metadata)


class GridSearchCV(_BatchedSearchMixin, _sk.GridSearchCV):
    __doc__ = (
        "Exhaustive search over a parameter grid: "
        ":class:`sklearn.model_selection.GridSearchCV`, with our networks' fits batched.\n\n"
        "The same parameters, attributes and results as scikit-learn's (read its "
        "documentation); the (candidate, split) evaluations of a\n"
        ":class:`~sknn_mnist.core.estimator.TorchEstimatorBase` (bare, or the last step of "
        "a ``Pipeline``) train in one :func:`~sknn_mnist.core.many.fit_many` call,\n"
        "the others through scikit-learn's ``_fit_and_score`` with ``n_jobs`` (with\n"
        "``n_jobs`` above 1 on a CPU, also our networks whose training step fills a core).\n"
        "See docs/model_selection.md.\n")


class RandomizedSearchCV(_BatchedSearchMixin, _sk.RandomizedSearchCV):
    __doc__ = (
        "Randomized search on hyper parameters: "
        ":class:`sklearn.model_selection.RandomizedSearchCV`, with our networks' fits "
        "batched.\n\n"
        "The same parameters, attributes and results as scikit-learn's (read its "
        "documentation); the same ``random_state`` samples the same candidates.\n"
        "Evaluations are planned as in :class:`GridSearchCV`.\n")
