"""``compare``: grid-search each model, choose the best by cross-validation, test it once.

The method
----------
1. **One fold policy everywhere**: :func:`make_folds` (stratified, shuffled, seeded by
   ``random_state``), in ``compare``, ``sknn-mnist cv`` and ``sknn-mnist grid-search``, so
   the same configuration gets the same CV score wherever it is run.
2. **Grid search** of each model on its training rows (all of them, or a stratified
   subsample for models whose fit time grows fast with the rows: the SVC).
3. **Selection on equal terms**: each model's best configuration is cross-validated with
   the same folds on the same rows (the smallest grid-search subsample: the rows every
   model was searched on or can afford). A model whose grid search already ran on exactly
   these rows reuses its score (same rows, same folds: the same number). The model with
   the best *selection* CV score is the best model. The test set plays no part in it.
4. **Refit** every model's best configuration on the whole training set and score it
   **once** on the test set, for the report.

How ``n_jobs`` and ``device`` interact
--------------------------------------
- ``n_jobs`` is the number of grid-search fits run at once (joblib's loky processes).
- A torch model (``ModelSpec.uses_device``) resolves its ``device`` first. On CUDA its grid
  search runs one fit at a time: several processes on one GPU would each hold a CUDA
  context and fight for its memory. On the CPU it runs ``n_jobs`` fits like the others;
  each worker gets ``cpu_count // n_jobs`` threads (:func:`~sknn_mnist.study.parallel.shared_cores`)
  so that 2 workers on 2 cores do not oversubscribe the CPU.
- The refit runs in this process with all cores (a model with its own ``n_jobs``, the
  random forest, gets ``n_jobs``).

The plan and the context
------------------------
The rows of every step and the number of fits are planned before anything runs
(:func:`~sknn_mnist.study.plan.plan_comparison`: the one place for those rules);
:func:`compare` executes a plan, built from its arguments or passed as ``plan=``. How the
fits run (backend, ``n_jobs``, progress, cancellation) is a
:class:`~sknn_mnist.study.context.RunContext`, passed as ``context=`` or the default one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from ..io.files import square_shape
from .context import RunContext, resolve_context
from .models import DEFAULT_MODELS, ModelSpec, get_model_spec, make_model
from .plan import ComparisonPlan, ModelPlan, plan_comparison, stratified_subsample
from .progress import Progress

__all__ = [
    "ComparisonResult",
    "ModelResult",
    "compare",
    "cross_validate_model",
    "describe_folds",
    "format_params",
    "format_table",
    "grid_search",
    "make_folds",
    "square_shape",
    "stratified_subsample",
]


def make_folds(cv: int, random_state: int | None = 0) -> StratifiedKFold:
    """The package's one fold policy: ``cv`` stratified, shuffled folds seeded by
    ``random_state``."""
    return StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)


def describe_folds(folds: Any) -> str:
    """One line for reports: ``"3-fold StratifiedKFold, shuffled, random_state=0"``."""
    if isinstance(folds, StratifiedKFold):
        shuffled = (f"shuffled, random_state={folds.random_state}" if folds.shuffle
                    else "not shuffled")
        return f"{folds.n_splits}-fold StratifiedKFold, {shuffled}"
    return repr(folds)


@dataclass
class ModelResult:
    """The outcome of one model's grid search, selection CV, refit and test.

    Attributes
    ----------
    name, title : str
        Short name (``"mlp"``) and display name.
    best_params : dict
        Best grid candidate (pipeline keys).
    cv_mean, cv_std : float
        Mean and standard deviation over the folds of the best candidate's grid-search CV
        score (on ``n_search_samples`` rows).
    selection_cv_mean, selection_cv_std : float
        The best candidate's CV score on the selection rows, the same rows and folds for
        every model: what the best model is chosen by.
    test_accuracy : float
        Accuracy of the refit best pipeline on the test set (reported, never used to choose).
    fit_seconds, predict_seconds, search_seconds : float
        Wall times of the refit on the whole training set, of predicting the test set, and
        of the grid search.
    cv_results : dict
        ``GridSearchCV.cv_results_``.
    estimator : Pipeline
        The refit best pipeline.
    y_pred : ndarray
        Its predictions on the test set.
    n_search_samples : int
        Rows the grid search ran on.
    n_jobs : int
        Parallel fits used for the grid search.
    device : str or None
        Where a torch model trained (``"cpu"``, ``"cuda:0"``); None for the others.
    scoring : str
        The CV scoring.
    learning_curve_estimator : Pipeline or None
        Models with ``ModelSpec.learning_curve`` (with ``learning_curve=True``): the best
        configuration fitted once more with ``validation_fraction`` of the training rows
        held out and ``early_stopping=True, n_iter_no_change=inf`` (all epochs run), so
        that its ``loss_curve_`` and ``validation_scores_`` show over- or under-fitting.
    """

    name: str
    title: str
    best_params: dict[str, Any]
    cv_mean: float
    cv_std: float
    selection_cv_mean: float
    selection_cv_std: float
    test_accuracy: float
    fit_seconds: float
    predict_seconds: float
    search_seconds: float
    cv_results: dict[str, Any]
    estimator: Pipeline
    y_pred: np.ndarray
    n_search_samples: int
    n_jobs: int
    device: str | None
    scoring: str
    learning_curve_estimator: Pipeline | None = None

    def summary(self) -> dict[str, Any]:
        """One row of the comparison table (plain Python values)."""
        return {
            "model": self.name,
            "best_params": format_params(self.best_params),
            f"selection_cv_{self.scoring}": self.selection_cv_mean,
            f"selection_cv_{self.scoring}_std": self.selection_cv_std,
            f"grid_cv_{self.scoring}": self.cv_mean,
            "grid_rows": self.n_search_samples,
            "test_accuracy": self.test_accuracy,
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
            "search_seconds": self.search_seconds,
            "n_jobs": self.n_jobs,
            # Models that are not torch networks run on the CPU (their device is None).
            "device": self.device or "cpu",
        }


@dataclass
class ComparisonResult:
    """What :func:`compare` returns: one :class:`ModelResult` per model, plus the test data.

    Attributes
    ----------
    results : dict of str to ModelResult
        In the order the models ran.
    dataset : str or None
        Dataset name, for reports.
    X_test, y_test : ndarray
        The test set (for confusion matrices and the misclassified galleries).
    image_shape : tuple of int or None
        Shape of one image (8x8, 28x28), for the galleries.
    n_train : int
        Training rows.
    cv : int
        Number of CV folds.
    scoring : str
        CV scoring.
    quick : bool
        Whether the quick grids were used.
    folds : str
        The fold policy, in words (:func:`describe_folds`).
    selection_rows : int
        Rows of the selection CV (the same for every model).
    plan : ComparisonPlan or None
        The plan that ran.
    """

    results: dict[str, ModelResult]
    dataset: str | None
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: tuple[int, ...] | None
    n_train: int
    cv: int
    scoring: str
    quick: bool
    folds: str = ""
    selection_rows: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    plan: ComparisonPlan | None = None

    def __getitem__(self, name: str) -> ModelResult:
        return self.results[name]

    def __iter__(self):
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    @property
    def best(self) -> ModelResult:
        """The model with the highest selection CV score (ties: the first one run).

        Chosen by cross-validation on the same rows and folds for every model; the test
        accuracy is reported but never used to choose.
        """
        return max(self.results.values(), key=lambda r: r.selection_cv_mean)

    def summary(self) -> list[dict[str, Any]]:
        """The comparison table: one dict per model."""
        return [r.summary() for r in self.results.values()]

    def __str__(self) -> str:
        return format_table(self.summary())


def format_params(params: Mapping[str, Any]) -> str:
    """``{"clf__C": 10}`` as ``"C=10"``: short enough for a table cell."""
    return ", ".join(f"{k.split('__')[-1]}={v!r}" for k, v in params.items())


def format_table(rows: Sequence[Mapping[str, Any]], floatfmt: str = ".4f") -> str:
    """Render rows of dicts as a plain-text table with aligned columns."""
    if not rows:
        return ""
    columns = list(rows[0])
    cells = [[_cell(row.get(c), floatfmt) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float | np.floating):
        return format(float(value), floatfmt)
    return "" if value is None else str(value)


def grid_search(
    estimator: Any,
    grid: Mapping[str, list[Any]],
    X: np.ndarray,
    y: np.ndarray,
    *,
    cv: Any,
    scoring: Any = "accuracy",
    n_jobs: int | None = None,
    context: RunContext | None = None,
) -> GridSearchCV:
    """Run a :class:`~sklearn.model_selection.GridSearchCV` (no refit) with shared cores.

    Candidates that fail raise (``error_score="raise"``): a broken configuration is an error
    to fix, not a NaN row to rank. Off Dask the search is
    :class:`sknn_mnist.model_selection.GridSearchCV` (the same table): our networks' fits
    in one :func:`~sknn_mnist.core.many.fit_many` batch. Parallel workers share the cores
    (:func:`~sknn_mnist.study.parallel.shared_cores`); with a Dask session in the context
    (or inside :func:`sknn_mnist.distributed.dask_backend`) the fits run on the Dask cluster
    (:meth:`~sknn_mnist.distributed.DaskSession.search`).

    Parameters
    ----------
    n_jobs : int or None, default=None
        Fits run at once; None: the context's ``n_jobs``.
    context : RunContext, optional
        Backend, progress (one tick per fit) and cancellation (checked before the search,
        before each fit is scored and after the search); default
        :meth:`RunContext.current() <sknn_mnist.study.context.RunContext.current>`.

    Returns
    -------
    GridSearchCV
        Fitted; read ``cv_results_``, ``best_params_``, ``best_score_``.
    """
    context = resolve_context(context, n_jobs=n_jobs)
    context.check()
    with context.scorer(scoring) as scorer, context.search(estimator, X, y):
        search = _searchers(context)[0](estimator, dict(grid), cv=cv, scoring=scorer,
                                        n_jobs=context.n_jobs, refit=False,
                                        error_score="raise")
        search.fit(X, y)
    context.check()
    return search


def cross_validate_model(
    estimator: Any,
    X: np.ndarray,
    y: np.ndarray,
    *,
    cv: Any,
    scoring: Any = "accuracy",
    n_jobs: int | None = None,
    return_train_score: bool = False,
    context: RunContext | None = None,
) -> dict[str, Any]:
    """:func:`~sklearn.model_selection.cross_validate` with shared cores (see
    :func:`grid_search`, also for ``n_jobs`` and ``context``; off Dask,
    :func:`sknn_mnist.model_selection.cross_validate`)."""
    context = resolve_context(context, n_jobs=n_jobs)
    cross_validate = _searchers(context)[1]
    context.check()
    with context.scorer(scoring) as scorer, context.search(estimator, X, y):
        scores = cross_validate(estimator, X, y, cv=cv, scoring=scorer,
                                n_jobs=context.n_jobs,
                                return_train_score=return_train_score, error_score="raise")
    context.check()
    return scores


def _searchers(context: RunContext) -> tuple[Any, Any]:
    """The grid search and ``cross_validate`` of a context: ours (the networks' fits
    batched), or scikit-learn's on Dask, whose session routes each fit to a worker."""
    if context.dask is not None:
        from sklearn.model_selection import cross_validate

        return GridSearchCV, cross_validate
    from .. import model_selection

    return model_selection.GridSearchCV, model_selection.cross_validate


@dataclass(frozen=True)
class _Run:
    """What every step of one comparison shares."""

    plan: ComparisonPlan
    context: RunContext
    folds: Any
    scoring: str
    device: str
    learning_curve: bool


@dataclass
class _Searched:
    spec: ModelSpec
    model: ModelPlan
    pipe: Pipeline
    search: GridSearchCV
    rows: int
    jobs: int
    seconds: float


def _search_jobs(spec: ModelSpec, device: str, context: RunContext) -> tuple[int, str | None]:
    """Parallel grid-search fits of a model, and the device it resolves to here."""
    if context.dask is not None and spec.uses_device:
        # On a Dask cluster each worker resolves the device: its own GPU, or its CPU.
        return context.dask.n_threads(), device
    return spec.search_n_jobs(context.n_jobs, device)


def _search_model(m: ModelPlan, X: np.ndarray, y: np.ndarray, run: _Run) -> _Searched:
    spec = get_model_spec(m.name)
    jobs, resolved = _search_jobs(spec, run.device, run.context)
    pipe = make_model(spec.name, random_state=run.plan.random_state, device=resolved or "auto")
    X_s, y_s = m.rows.take(X, y)
    run.context.step(f"{spec.name}: grid search on {len(y_s)} rows", fits=m.grid_fits)
    start = time.perf_counter()
    search = grid_search(pipe, m.grid, X_s, y_s, cv=run.folds, scoring=run.scoring,
                         n_jobs=jobs, context=run.context)
    return _Searched(spec, m, pipe, search, len(y_s), jobs, time.perf_counter() - start)


def _selection_score(s: _Searched, X_sel: np.ndarray, y_sel: np.ndarray,
                     run: _Run) -> tuple[float, float]:
    i = s.search.best_index_
    if s.model.reuses_grid_scores:
        # Same stratified subsample (same size and seed) and same folds: the same score.
        return (float(s.search.cv_results_["mean_test_score"][i]),
                float(s.search.cv_results_["std_test_score"][i]))
    run.context.step(f"{s.spec.name}: selection CV on {len(y_sel)} rows",
                     fits=s.model.selection_fits)
    best = clone(s.pipe).set_params(**s.search.best_params_)
    scores = cross_validate_model(best, X_sel, y_sel, cv=run.folds, scoring=run.scoring,
                                  n_jobs=s.jobs, context=run.context)["test_score"]
    return float(np.mean(scores)), float(np.std(scores))


def _fit_learning_curve(best: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:
    # Early stopping that never stops: the estimator then holds out a stratified
    # validation_fraction and scores it every epoch, which the refit on all rows cannot.
    curve = clone(best).set_params(clf__early_stopping=True, clf__n_iter_no_change=np.inf)
    curve.fit(X, y)
    return curve


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


#: compare()'s arguments that a plan fixes, and their defaults.
_PLANNING_DEFAULTS: dict[str, Any] = {"models": list(DEFAULT_MODELS), "quick": False,
                                      "param_grids": None, "subsamples": None, "cv": 3,
                                      "random_state": 0}


def _plan(plan: ComparisonPlan | None, y_train: np.ndarray, **planning: Any) -> ComparisonPlan:
    """The plan to execute: ``plan``, or one built from compare()'s planning arguments."""
    if plan is None:
        # compare() trains on the rows it is given: no quick cap on them.
        return plan_comparison(y_train, quick_max_train=None, **planning)
    planning["models"] = list(planning["models"])
    given = [k for k, default in _PLANNING_DEFAULTS.items() if planning[k] != default]
    if given:
        raise ValueError(f"compare() got a plan and {', '.join(given)}, which the plan "
                         "fixes: pass one or the other")
    return plan


def compare(
    X_train: np.ndarray,
    y_train: np.ndarray,
    X_test: np.ndarray,
    y_test: np.ndarray,
    *,
    models: Iterable[str] = DEFAULT_MODELS,
    quick: bool = False,
    param_grids: Mapping[str, Mapping[str, list[Any]]] | None = None,
    subsamples: Mapping[str, int | None] | None = None,
    cv: int = 3,
    scoring: str = "accuracy",
    n_jobs: int | None = None,
    device: str = "auto",
    random_state: int | None = 0,
    dataset: str | None = None,
    image_shape: tuple[int, ...] | None = None,
    progress: bool = False,
    learning_curve: bool = True,
    plan: ComparisonPlan | None = None,
    context: RunContext | None = None,
) -> ComparisonResult:
    """Grid-search each model, choose the best by CV on equal terms, test every model once.

    See the module docstring for the method.

    Parameters
    ----------
    X_train, y_train : array-like
        Training data (pixels, any scale) and labels.
    X_test, y_test : array-like
        Held-out test data, used only for the final score of each refit model.
    models : iterable of str, default=DEFAULT_MODELS
        Names in :data:`~sknn_mnist.models.MODEL_SPECS`, in the order to run.
    quick : bool, default=False
        Use the tiny grids and subsamples of each model's spec.
    param_grids : dict, optional
        Grids that replace the defaults, by model name (pipeline keys, ``clf__...``).
    subsamples : dict, optional
        Grid-search rows that replace the spec's, by model name (``None``: all rows).
    cv : int, default=3
        Folds of :func:`make_folds`.
    scoring : str, default='accuracy'
        scikit-learn scorer name for the grid search and the selection. The test score is
        always accuracy.
    n_jobs : int or None, default=None
        Fits run at once; see the module docstring for how it meets ``device``. None: the
        context's.
    device : str, default='auto'
        The torch models' device.
    random_state : int or None, default=0
        Seed of the models, the folds and the subsamples.
    dataset : str, optional
        Dataset name, recorded for reports.
    image_shape : tuple of int, optional
        Shape of one image; default: square images when the feature count is a square.
    progress : bool, default=False
        Show progress on stderr, counted in fits (when the context has no progress sink).
    learning_curve : bool, default=True
        Fit the best configuration of models with ``ModelSpec.learning_curve`` once more
        with 10% of the training rows held out, for a learning curve with validation
        accuracy per epoch. One more fit; the refit model and test score are unaffected.
    plan : ComparisonPlan, optional
        The plan to execute (:func:`~sknn_mnist.study.plan.plan_comparison` on ``y_train``),
        instead of ``models``, ``quick``, ``param_grids``, ``subsamples``, ``cv`` and
        ``random_state`` (leave those at their defaults). It may train on a subsample of
        ``X_train``.
    context : RunContext, optional
        Backend, progress sink and cancellation; default
        :meth:`RunContext.current() <sknn_mnist.study.context.RunContext.current>`.

    Returns
    -------
    ComparisonResult

    Raises
    ------
    ValueError
        No model or an unknown one, or both a plan and planning arguments.
    """
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)
    plan = _plan(plan, y_train, models=models, quick=quick, param_grids=param_grids,
                 subsamples=subsamples, cv=cv, random_state=random_state)
    if image_shape is None:
        image_shape = square_shape(X_train.shape[1])
    X, y = plan.training_data(X_train, y_train)
    X_sel, y_sel = plan.selection_data(X, y)
    context = resolve_context(context, n_jobs=n_jobs)
    bar = None
    if context.progress is None:
        bar = Progress(plan.n_fits, "compare", enabled=progress)
        context = context.replace(progress=bar)
    run = _Run(plan, context, make_folds(plan.cv, plan.random_state), scoring, device,
               learning_curve)
    try:
        with context.joblib_backend():
            searched = [_search_model(m, X, y, run) for m in plan.models]
            results = {s.spec.name: _refit_and_test(s, X, y, X_test, y_test, run,
                                                    _selection_score(s, X_sel, y_sel, run))
                       for s in searched}
    finally:
        if bar is not None:
            bar.close()
    return ComparisonResult(
        results=results, dataset=dataset, X_test=X_test, y_test=y_test,
        image_shape=image_shape, n_train=len(y), cv=plan.cv, scoring=scoring,
        quick=plan.quick, folds=describe_folds(run.folds), selection_rows=len(y_sel),
        plan=plan)


def _refit_and_test(s: _Searched, X_train: np.ndarray, y_train: np.ndarray,
                    X_test: np.ndarray, y_test: np.ndarray, run: _Run,
                    selection: tuple[float, float]) -> ModelResult:
    spec, search, context = s.spec, s.search, run.context
    best = clone(s.pipe).set_params(**search.best_params_)
    if spec.own_n_jobs:
        best.set_params(clf__n_jobs=context.n_jobs)
    context.check()
    context.step(f"{spec.name}: refit on {len(y_train)} rows")
    _, fit_seconds = _timed(best.fit, X_train, y_train)
    context.check()  # a fit that swallowed Ctrl-C returned a half-trained model
    y_pred, predict_seconds = _timed(best.predict, X_test)
    curve = None
    if spec.learning_curve and run.learning_curve:
        context.step(f"{spec.name}: learning curve, 10% of the rows held out")
        curve = _fit_learning_curve(best, X_train, y_train)
        context.check()
    i = search.best_index_
    return ModelResult(
        name=spec.name,
        title=spec.title,
        best_params=dict(search.best_params_),
        cv_mean=float(search.cv_results_["mean_test_score"][i]),
        cv_std=float(search.cv_results_["std_test_score"][i]),
        selection_cv_mean=selection[0],
        selection_cv_std=selection[1],
        test_accuracy=float(accuracy_score(y_test, y_pred)),
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        search_seconds=s.seconds,
        cv_results=search.cv_results_,
        estimator=best,
        y_pred=y_pred,
        n_search_samples=s.rows,
        n_jobs=s.jobs,
        device=getattr(best.named_steps["clf"], "device_", None),
        scoring=run.scoring,
        learning_curve_estimator=curve,
    )
