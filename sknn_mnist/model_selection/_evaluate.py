"""The planner: every (candidate, split) evaluation of a search or ``cross_validate``.

:func:`evaluate` returns what scikit-learn's ``_fit_and_score`` returns for each
:class:`~sknn_mnist.model_selection._plan.Task`, in the tasks' order. The evaluations of our
networks become :class:`~sknn_mnist.core.many.FitJob`\\ s of one
:func:`~sknn_mnist.core.many.fit_many` call; the others run through ``_fit_and_score`` in
scikit-learn's ``Parallel``. In a pipeline the earlier steps are fitted once per (split,
their own parameters), and the jobs of that split share the transformed training rows: the
same array object, which the stacked trainer puts on the device once.

With ``n_jobs`` above 1, a network that trains faster in a worker process of its own than
in a stack (:func:`~sknn_mnist.core.many.stacks_in_process`: its step fills a CPU core, or
it cannot stack) goes through scikit-learn's path and its workers, as scikit-learn's search
would fit it.
"""

from __future__ import annotations

import numbers
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.parallel import delayed

from ..core.many import FitJob, FitResult, fit_many, stack_key, stacks_in_process
from ._messages import end_message, start_message
from ._plan import Task, TorchParts, make_estimator, torch_parts
from ._sklearn_compat import (
    _check_method_params,
    _fit_and_score,
    _MultimetricScorer,
    _num_samples,
    _safe_split,
    _score,
)

__all__ = ["Evaluation", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    """What every evaluation shares: ``_fit_and_score``'s keyword arguments."""

    scorer: Any
    fit_params: Mapping[str, Any]
    score_params: Mapping[str, Any]
    error_score: Any = np.nan
    verbose: int = 0
    return_train_score: bool = False
    return_n_test_samples: bool = False
    return_times: bool = True
    return_parameters: bool = False
    return_estimator: bool = False
    caller: Any = None

    def check_error_score(self) -> None:
        """``_fit_and_score``'s own check, made once before anything is fitted."""
        if not isinstance(self.error_score, numbers.Number) and self.error_score != "raise":
            raise ValueError(
                "error_score must be the string 'raise' or a numeric value. "
                "(Hint: if using 'raise', please make sure that it has been "
                "spelled correctly.)")

    def sklearn_kwargs(self) -> dict[str, Any]:
        kwargs = {name: getattr(self, name) for name in (
            "scorer", "verbose", "error_score", "return_train_score", "return_n_test_samples",
            "return_times", "return_parameters", "return_estimator")}
        kwargs["fit_params"] = dict(self.fit_params)
        kwargs["score_params"] = dict(self.score_params)
        return kwargs


def evaluate(base: Any, X: Any, y: Any, tasks: Sequence[Task], evaluation: Evaluation,
             parallel: Any) -> list[dict[str, Any]]:
    """``_fit_and_score``'s result for each task, in order (see the module docstring).

    Parameters
    ----------
    base : estimator
        The unfitted estimator; each task fits a clone with its parameters.
    X, y : indexable
    tasks : sequence of Task
    evaluation : Evaluation
    parallel : sklearn.utils.parallel.Parallel
        Runs the evaluations that are not ours (and, with ``n_jobs`` above 1, those of our
        networks that train faster in its workers than in a stack).
    """
    evaluation.check_error_score()
    in_process = _InProcess(X, y, joblib.effective_n_jobs(parallel.n_jobs))
    ours: dict[int, TorchParts] = {}
    for i, task in enumerate(tasks):
        parts = torch_parts(make_estimator(base, task.parameters), evaluation.fit_params)
        if parts is not None and in_process(parts.network):
            ours[i] = parts
    others = [i for i in range(len(tasks)) if i not in ours]
    out: list[dict[str, Any] | None] = [None] * len(tasks)
    if others:
        for i, result in zip(others, _sklearn_path(base, X, y, [tasks[i] for i in others],
                                                   evaluation, parallel), strict=True):
            out[i] = result
    if ours:
        runner = _TorchRun(X, y, evaluation)
        for i, result in runner.run({i: (tasks[i], parts) for i, parts in ours.items()}).items():
            out[i] = result
    return out  # type: ignore[return-value] - every index is set above


class _InProcess:
    """Which of our networks train through ``fit_many`` here (one answer per stack)."""

    def __init__(self, X: Any, y: Any, workers: int):
        self.workers, self.answers = workers, {}
        shape = np.shape(X)
        self.n_rows, self.n_features = (shape[0], shape[1]) if len(shape) == 2 else (0, 0)
        self.n_classes = int(np.unique(np.asarray(y)).size) if y is not None else 0
        self.n_targets = 1 if np.ndim(y) < 2 else np.shape(y)[1]

    def __call__(self, network: Any) -> bool:
        if self.workers <= 1 or not self.n_features:
            return True
        key = (stack_key(network), network.batch_size)
        if key not in self.answers:
            outputs = self.n_classes if is_classifier(network) else self.n_targets
            self.answers[key] = stacks_in_process(network, self.n_rows, self.n_features,
                                                  outputs, self.workers)
        return self.answers[key]


def _sklearn_path(base: Any, X: Any, y: Any, tasks: Sequence[Task], evaluation: Evaluation,
                  parallel: Any) -> list[dict[str, Any]]:
    kwargs = evaluation.sklearn_kwargs()
    callbacks = evaluation.caller is not None
    return parallel(
        delayed(_fit_and_score)(
            make_estimator(base, None), X, y, train=task.train, test=task.test,
            parameters=task.parameters, split_progress=task.split_progress,
            candidate_progress=task.candidate_progress, **kwargs,
            **({"caller": evaluation.caller, "callback_ctx": task.callback_ctx}
               if callbacks else {}))
        for task in tasks)


@dataclass
class _Fold:
    """One split's rows, cut once and shared by every evaluation of the split."""

    X_train: Any
    y_train: Any
    X_test: Any
    y_test: Any
    fit_params: dict[str, Any]
    score_train: dict[str, Any]
    score_test: dict[str, Any]


@dataclass
class _Prefix:
    """A pipeline's earlier steps fitted on one fold, and the fold they transformed."""

    pipeline: Any
    Xt: Any
    seconds: float
    error: BaseException | None
    users: int = 0


def _prefix_key(prefix: Any) -> str:
    """Equal for earlier steps with equal parameters: they are fitted once per fold."""
    try:
        return joblib.hash(prefix)
    except Exception:  # an unpicklable step (a lambda): fitted for each evaluation
        return f"id:{id(prefix)}"


class _TorchRun:
    """The evaluations of our networks: folds, shared prefixes, one ``fit_many``, scores."""

    def __init__(self, X: Any, y: Any, evaluation: Evaluation):
        self.X, self.y, self.evaluation = X, y, evaluation
        self.folds: dict[int, _Fold] = {}
        self.prefixes: dict[tuple[int, str], _Prefix] = {}

    def fold(self, task: Task, estimator: Any) -> _Fold:
        fold = self.folds.get(task.split)
        if fold is None:
            train, test = np.asarray(task.train), np.asarray(task.test)
            X_train, y_train = _safe_split(estimator, self.X, self.y, train)
            X_test, y_test = _safe_split(estimator, self.X, self.y, test, train)
            ev = self.evaluation
            fold = _Fold(X_train, y_train, X_test, y_test,
                         _check_method_params(self.X, params=dict(ev.fit_params), indices=train),
                         _check_method_params(self.X, params=dict(ev.score_params),
                                              indices=train),
                         _check_method_params(self.X, params=dict(ev.score_params), indices=test))
            self.folds[task.split] = fold
        return fold

    def prefix(self, task: Task, parts: TorchParts, fold: _Fold) -> _Prefix | None:
        """The fitted earlier steps of ``parts`` on this fold (fitted at the first ask)."""
        if parts.prefix is None:
            return None
        key = (task.split, _prefix_key(parts.prefix))
        done = self.prefixes.get(key)
        if done is None:
            params = {k: fold.fit_params[k] for k in parts.prefix_params}
            start = time.time()
            try:
                Xt = parts.prefix.fit_transform(fold.X_train, fold.y_train, **params)
            except Exception as exc:  # scored as a failed fit of every evaluation using it
                if self.evaluation.error_score == "raise":
                    raise
                done = _Prefix(parts.prefix, None, time.time() - start, exc)
            else:
                done = _Prefix(parts.prefix, Xt, time.time() - start, None)
            self.prefixes[key] = done
        done.users += 1
        return done

    def run(self, items: Mapping[int, tuple[Task, TorchParts]]) -> dict[int, dict[str, Any]]:
        """Fit every network in one ``fit_many`` call, then score each evaluation."""
        plans = {}
        for i, (task, parts) in items.items():
            fold = self.fold(task, parts.estimator)
            if self.evaluation.verbose > 9:
                print(start_message(task))
            plans[i] = (task, parts, fold, self.prefix(task, parts, fold))
        jobs = {i: self.job(parts, fold, prefix)
                for i, (_, parts, fold, prefix) in plans.items()
                if prefix is None or prefix.error is None}
        fitted = dict(zip(jobs, fit_many(list(jobs.values()), verbose=self.evaluation.verbose),
                          strict=True))
        if self.evaluation.error_score == "raise":
            for i in sorted(fitted):
                if fitted[i].error is not None:
                    raise fitted[i].error
        return {i: self.result(*plans[i], fitted.get(i)) for i in sorted(plans)}

    def job(self, parts: TorchParts, fold: _Fold, prefix: _Prefix | None) -> FitJob:
        weight = fold.fit_params.get(parts.weight_key) if parts.uses_sample_weight else None
        X = fold.X_train if prefix is None else prefix.Xt
        return FitJob(parts.network, X, fold.y_train, weight)

    def result(self, task: Task, parts: TorchParts, fold: _Fold, prefix: _Prefix | None,
               fitted: FitResult | None) -> dict[str, Any]:
        """``_fit_and_score``'s dict for one evaluation (``fitted`` None: its prefix failed).

        The fit time is the network's (its share of a stacked fit) plus an even share of
        the earlier steps' fit on this fold.
        """
        ev = self.evaluation
        fit_time = 0.0 if prefix is None else prefix.seconds / prefix.users
        error = prefix.error if fitted is None else fitted.error
        result: dict[str, Any] = {}
        if fitted is not None:
            fit_time += fitted.fit_time
        start = time.time()
        if error is not None:
            test_scores, train_scores = self.error_scores()
            result["fit_error"] = "".join(traceback.format_exception(error))
            estimator = parts.estimator
        else:
            result["fit_error"] = None
            estimator = parts.assemble(None if prefix is None else prefix.pipeline,
                                       fitted.estimator)
            test_scores = _score(estimator, fold.X_test, fold.y_test, ev.scorer,
                                 fold.score_test, ev.error_score)
            train_scores = (_score(estimator, fold.X_train, fold.y_train, ev.scorer,
                                   fold.score_train, ev.error_score)
                            if ev.return_train_score else None)
        score_time = time.time() - start if error is None else 0.0
        if ev.verbose > 1:
            print(end_message(task, ev, test_scores, train_scores, fit_time + score_time))
        return self.pack(result, task, fold, estimator, test_scores, train_scores,
                         fit_time, score_time)

    def error_scores(self) -> tuple[Any, Any]:
        ev = self.evaluation
        if isinstance(ev.scorer, _MultimetricScorer):
            test = {name: ev.error_score for name in ev.scorer._scorers}
            return test, (test.copy() if ev.return_train_score else None)
        return ev.error_score, (ev.error_score if ev.return_train_score else None)

    def pack(self, result: dict[str, Any], task: Task, fold: _Fold, estimator: Any,
             test_scores: Any, train_scores: Any, fit_time: float,
             score_time: float) -> dict[str, Any]:
        """The keys ``_fit_and_score`` returns, in its order."""
        ev = self.evaluation
        result["test_scores"] = test_scores
        if ev.return_train_score:
            result["train_scores"] = train_scores
        if ev.return_n_test_samples:
            result["n_test_samples"] = _num_samples(fold.X_test)
        if ev.return_times:
            result["fit_time"] = fit_time
            result["score_time"] = score_time
        if ev.return_parameters:
            result["parameters"] = task.parameters
        if ev.return_estimator:
            result["estimator"] = estimator
        return result
