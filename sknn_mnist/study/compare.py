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
  each worker gets ``cpu_count // n_jobs`` threads (:func:`~sknn_mnist._parallel.shared_cores`)
  so that 2 workers on 2 cores do not oversubscribe the CPU.
- The refit runs in this process with all cores (a model with its own ``n_jobs``, the
  random forest, gets ``n_jobs``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline

from ..io.files import square_shape
from .distributed import active_session, search_backend
from .interrupt import raise_if_interrupted
from .models import DEFAULT_MODELS, ModelSpec, get_model_spec, make_model
from .progress import Progress, counted_fits

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
            "device": self.device or "",
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


def stratified_subsample(
    X: np.ndarray, y: np.ndarray, n_samples: int | None, random_state: int | None = 0  # noqa: N803
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n_samples`` rows of ``X``, ``y``, with the class proportions of ``y``.

    Returns the data unchanged when ``n_samples`` is None or not smaller than ``len(y)``.
    """
    if n_samples is None or n_samples >= len(y):
        return X, y
    X_sub, _, y_sub, _ = train_test_split(  # noqa: N806
        X, y, train_size=n_samples, stratify=y, random_state=random_state
    )
    return X_sub, y_sub


def grid_search(
    estimator: Any,
    grid: Mapping[str, list[Any]],
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    *,
    cv: Any,
    scoring: Any = "accuracy",
    n_jobs: int | None = None,
) -> GridSearchCV:
    """Run a :class:`~sklearn.model_selection.GridSearchCV` (no refit) with shared cores.

    Candidates that fail raise (``error_score="raise"``): a broken configuration is an error
    to fix, not a NaN row to rank. Parallel workers share the cores
    (:func:`~sknn_mnist._parallel.shared_cores`); inside
    :func:`sknn_mnist.distributed.dask_backend` the fits run on the Dask cluster
    (:func:`~sknn_mnist.distributed.search_backend`).

    Returns
    -------
    GridSearchCV
        Fitted; read ``cv_results_``, ``best_params_``, ``best_score_``.
    """
    search = GridSearchCV(estimator, dict(grid), cv=cv, scoring=scoring, n_jobs=n_jobs,
                          refit=False, error_score="raise")
    with search_backend(estimator, X, y, n_jobs=n_jobs):
        search.fit(X, y)
    raise_if_interrupted()
    return search


def cross_validate_model(
    estimator: Any,
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    *,
    cv: Any,
    scoring: Any = "accuracy",
    n_jobs: int | None = None,
    return_train_score: bool = False,
) -> dict[str, Any]:
    """:func:`~sklearn.model_selection.cross_validate` with shared cores (see
    :func:`grid_search`)."""
    from sklearn.model_selection import cross_validate

    with search_backend(estimator, X, y, n_jobs=n_jobs):
        scores = cross_validate(estimator, X, y, cv=cv, scoring=scoring, n_jobs=n_jobs,
                                return_train_score=return_train_score, error_score="raise")
    raise_if_interrupted()
    return scores


@dataclass
class _Searched:
    spec: ModelSpec
    pipe: Pipeline
    search: GridSearchCV
    rows: int
    jobs: int
    seconds: float


def _search_model(spec: ModelSpec, grid: Mapping[str, list[Any]], X: np.ndarray,  # noqa: N803
                  y: np.ndarray, *, subsample: int | None, folds: Any, scoring: str,
                  n_jobs: int | None, device: str, random_state: int | None,
                  progress: Progress) -> _Searched:
    session = active_session()
    if session is not None and spec.uses_device:
        # On a Dask cluster each worker resolves the device: its own GPU, or its CPU.
        jobs, resolved = session.n_threads(), device
    else:
        jobs, resolved = spec.search_n_jobs(n_jobs, device)
    pipe = make_model(spec.name, random_state=random_state, device=resolved or "auto")
    X_s, y_s = stratified_subsample(X, y, subsample, random_state)  # noqa: N806
    progress.set_description(f"{spec.name}: grid search on {len(y_s)} rows")
    start = time.perf_counter()
    with counted_fits(scoring, progress) as scorer:
        search = grid_search(pipe, grid, X_s, y_s, cv=folds, scoring=scorer, n_jobs=jobs)
    return _Searched(spec, pipe, search, len(y_s), jobs, time.perf_counter() - start)


def _selection_score(s: _Searched, X_sel: np.ndarray, y_sel: np.ndarray, *,  # noqa: N803
                     folds: Any, scoring: str, progress: Progress) -> tuple[float, float]:
    i = s.search.best_index_
    if s.rows == len(y_sel):
        # Same stratified subsample (same size and seed) and same folds: the same score.
        return (float(s.search.cv_results_["mean_test_score"][i]),
                float(s.search.cv_results_["std_test_score"][i]))
    progress.set_description(f"{s.spec.name}: selection CV on {len(y_sel)} rows")
    best = clone(s.pipe).set_params(**s.search.best_params_)
    with counted_fits(scoring, progress) as scorer:
        scores = cross_validate_model(best, X_sel, y_sel, cv=folds, scoring=scorer,
                                      n_jobs=s.jobs)["test_score"]
    return float(np.mean(scores)), float(np.std(scores))


def _fit_learning_curve(best: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:  # noqa: N803
    # Early stopping that never stops: the estimator then holds out a stratified
    # validation_fraction and scores it every epoch, which the refit on all rows cannot.
    curve = clone(best).set_params(clf__early_stopping=True, clf__n_iter_no_change=np.inf)
    curve.fit(X, y)
    raise_if_interrupted()
    return curve


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def compare(
    X_train: np.ndarray,  # noqa: N803
    y_train: np.ndarray,
    X_test: np.ndarray,  # noqa: N803
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
        Fits run at once; see the module docstring for how it meets ``device``.
    device : str, default='auto'
        The torch models' device.
    random_state : int or None, default=0
        Seed of the models, the folds and the subsamples.
    dataset : str, optional
        Dataset name, recorded for reports.
    image_shape : tuple of int, optional
        Shape of one image; default: square images when the feature count is a square.
    progress : bool, default=False
        Show progress on stderr, counted in fits.
    learning_curve : bool, default=True
        Fit the best configuration of models with ``ModelSpec.learning_curve`` once more
        with 10% of the training rows held out, for a learning curve with validation
        accuracy per epoch. One more fit; the refit model and test score are unaffected.

    Returns
    -------
    ComparisonResult
    """
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)  # noqa: N806
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)  # noqa: N806
    specs = [get_model_spec(name) for name in models]
    if not specs:
        raise ValueError("models is empty: name at least one model")
    if image_shape is None:
        image_shape = square_shape(X_train.shape[1])
    folds = make_folds(cv, random_state)
    grids = {s.name: dict((param_grids or {}).get(s.name) or s.param_grid(quick)) for s in specs}
    rows = {s.name: (subsamples or {}).get(s.name, s.subsample(quick)) for s in specs}
    # The rows every model can afford to be cross-validated on: the smallest subsample.
    limits = [n for n in rows.values() if n is not None]
    X_sel, y_sel = stratified_subsample(  # noqa: N806
        X_train, y_train, min(limits) if limits else None, random_state)
    n_fits = sum(cv * _n_candidates(grids[s.name])
                 + (cv if _rows(rows[s.name], len(y_train)) != len(y_sel) else 0)
                 for s in specs)
    bar = Progress(n_fits, "compare", enabled=progress)
    try:
        searched = [_search_model(s, grids[s.name], X_train, y_train, subsample=rows[s.name],
                                  folds=folds, scoring=scoring, n_jobs=n_jobs, device=device,
                                  random_state=random_state, progress=bar) for s in specs]
        results = {}
        for s in searched:
            sel_mean, sel_std = _selection_score(s, X_sel, y_sel, folds=folds,
                                                 scoring=scoring, progress=bar)
            results[s.spec.name] = _refit_and_test(
                s, X_train, y_train, X_test, y_test, n_jobs=n_jobs, scoring=scoring,
                selection=(sel_mean, sel_std), learning_curve=learning_curve, progress=bar)
    finally:
        bar.close()
    return ComparisonResult(
        results=results, dataset=dataset, X_test=X_test, y_test=y_test,
        image_shape=image_shape, n_train=len(y_train), cv=cv, scoring=scoring, quick=quick,
        folds=describe_folds(folds), selection_rows=len(y_sel))


def _rows(subsample: int | None, n: int) -> int:
    return n if subsample is None else min(subsample, n)


def _n_candidates(grid: Mapping[str, list[Any]]) -> int:
    return int(np.prod([len(v) for v in grid.values()])) if grid else 1


def _refit_and_test(s: _Searched, X_train: np.ndarray, y_train: np.ndarray,  # noqa: N803
                    X_test: np.ndarray, y_test: np.ndarray, *, n_jobs: int | None,  # noqa: N803
                    scoring: str, selection: tuple[float, float], learning_curve: bool,
                    progress: Progress) -> ModelResult:
    spec, search = s.spec, s.search
    best = clone(s.pipe).set_params(**search.best_params_)
    if spec.own_n_jobs:
        best.set_params(clf__n_jobs=n_jobs)
    progress.set_description(f"{spec.name}: refit on {len(y_train)} rows")
    _, fit_seconds = _timed(best.fit, X_train, y_train)
    raise_if_interrupted()
    y_pred, predict_seconds = _timed(best.predict, X_test)
    curve = None
    if spec.learning_curve and learning_curve:
        progress.set_description(f"{spec.name}: learning curve, 10% of the rows held out")
        curve = _fit_learning_curve(best, X_train, y_train)
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
        scoring=scoring,
        learning_curve_estimator=curve,
    )
