"""``compare``: grid-search each model on the training set, refit the best, test it.

How ``n_jobs`` and ``device`` interact
--------------------------------------
- ``n_jobs`` is the number of grid-search fits run at once (joblib's loky processes).
- The MLP's ``device`` is resolved first. On CUDA its grid search runs with ``n_jobs=1``
  whatever ``n_jobs`` says: several processes training on one GPU would each hold their own
  CUDA context and fight for the same memory and compute, which is slower and can run out
  of memory. The GPU is used one fit at a time, and that is fast.
- On the CPU (and always for the SVC and the random forest) the grid search runs ``n_jobs``
  fits in parallel. Each worker is limited to ``cpu_count // n_jobs`` threads (torch,
  OpenMP and BLAS, through joblib's ``inner_max_num_threads``), so that 2 workers on 2 cores
  do not each start 2 torch threads and oversubscribe the CPU.
- The refit of the best candidate runs in this process, with all cores (the random forest
  gets ``n_jobs`` as its own ``n_jobs``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import clone
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from ._parallel import shared_cores
from .models import MODEL_NAMES, get_model_spec, make_model, param_grid

__all__ = [
    "ComparisonResult",
    "ModelResult",
    "compare",
    "format_table",
    "mlp_search_n_jobs",
    "square_shape",
    "stratified_subsample",
]


@dataclass
class ModelResult:
    """The outcome of one model's grid search, refit and test.

    Attributes
    ----------
    name, title : str
        Short name (``"mlp"``) and display name.
    best_params : dict
        Best grid candidate (pipeline keys).
    cv_mean, cv_std : float
        Mean and standard deviation over the folds of the best candidate's CV score.
    test_accuracy : float
        Accuracy of the refit best pipeline on the test set.
    fit_seconds : float
        Wall time of the refit on the whole training set.
    predict_seconds : float
        Wall time of predicting the whole test set.
    search_seconds : float
        Wall time of the grid search.
    cv_results : dict
        ``GridSearchCV.cv_results_``.
    estimator : Pipeline
        The refit best pipeline.
    y_pred : ndarray
        Its predictions on the test set.
    n_search_samples : int
        Rows the grid search ran on (less than the training set for the SVC subsample).
    n_jobs : int
        Parallel fits used for the grid search.
    device : str or None
        Where the MLP trained (``"cpu"``, ``"cuda:0"``); None for the other models.
    scoring : str
        The CV scoring.
    learning_curve_estimator : Pipeline or None
        MLP only (with ``learning_curve=True``): the best configuration fitted once more
        with ``validation_fraction`` of the training rows held out and
        ``early_stopping=True, n_iter_no_change=inf`` (all epochs run), so that its
        ``loss_curve_`` and ``validation_scores_`` show over- or under-fitting. The
        refit ``estimator`` trains on every row and records no validation score.
    """

    name: str
    title: str
    best_params: dict[str, Any]
    cv_mean: float
    cv_std: float
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
            f"cv_{self.scoring}_mean": self.cv_mean,
            f"cv_{self.scoring}_std": self.cv_std,
            "test_accuracy": self.test_accuracy,
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
            "search_seconds": self.search_seconds,
            "search_rows": self.n_search_samples,
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
        The test set (for confusion matrices and the misclassified gallery).
    image_shape : tuple of int or None
        Shape of one image (8x8, 28x28), for the gallery.
    n_train : int
        Training rows.
    cv : int
        Number of CV folds.
    scoring : str
        CV scoring.
    quick : bool
        Whether the quick grids were used.
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
    metadata: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ModelResult:
        return self.results[name]

    def __iter__(self):
        return iter(self.results.values())

    def __len__(self) -> int:
        return len(self.results)

    @property
    def best(self) -> ModelResult:
        """The model with the highest test accuracy."""
        return max(self.results.values(), key=lambda r: r.test_accuracy)

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


def mlp_search_n_jobs(n_jobs: int | None, device: str) -> tuple[int, str]:
    """Parallel grid-search fits for the MLP, and the device it resolves to.

    Returns ``(1, "cuda:N")`` when the MLP trains on a GPU (one fit at a time on one GPU),
    else ``(effective_n_jobs(n_jobs), "cpu")``.

    Raises
    ------
    ValueError
        ``device`` names CUDA but CUDA is not available.
    """
    from ._device import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return 1, str(resolved)
    return effective_n_jobs(n_jobs), str(resolved)


def _search(
    pipe: Pipeline,
    grid: Mapping[str, list[Any]],
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    *,
    cv: Any,
    scoring: Any,
    n_jobs: int,
) -> GridSearchCV:
    search = GridSearchCV(pipe, dict(grid), cv=cv, scoring=scoring, n_jobs=n_jobs, refit=False,
                          error_score="raise")
    with shared_cores(n_jobs):
        search.fit(X, y)
    return search


def _fit_learning_curve(best: Pipeline, X: np.ndarray, y: np.ndarray) -> Pipeline:  # noqa: N803
    # Early stopping that never stops: the estimator then holds out a stratified
    # validation_fraction and scores it every epoch, which the refit on all rows cannot.
    curve = clone(best).set_params(clf__early_stopping=True, clf__n_iter_no_change=np.inf)
    return curve.fit(X, y)


def compare(
    X_train: np.ndarray,  # noqa: N803
    y_train: np.ndarray,
    X_test: np.ndarray,  # noqa: N803
    y_test: np.ndarray,
    *,
    models: Iterable[str] = MODEL_NAMES,
    quick: bool = False,
    param_grids: Mapping[str, Mapping[str, list[Any]]] | None = None,
    cv: int = 3,
    scoring: str = "accuracy",
    n_jobs: int | None = None,
    device: str = "auto",
    random_state: int | None = 0,
    svc_subsample: int | None | str = "default",
    dataset: str | None = None,
    image_shape: tuple[int, ...] | None = None,
    progress: bool = False,
    learning_curve: bool = True,
) -> ComparisonResult:
    """Grid-search each model on the training set, refit the best, score it on the test set.

    Parameters
    ----------
    X_train, y_train : array-like
        Training data (pixels, any scale) and labels.
    X_test, y_test : array-like
        Held-out test data, used only for the final score of each refit best model.
    models : iterable of {'mlp', 'svm', 'rf'}, default=all three
        Which models to compare, in order.
    quick : bool, default=False
        Use the tiny grids (:func:`~sknn_mnist.models.param_grid` with ``quick=True``).
    param_grids : dict, optional
        Grids that replace the defaults, by model name (pipeline keys, ``clf__...``).
    cv : int, default=3
        Stratified, shuffled folds (seeded by ``random_state``).
    scoring : str, default='accuracy'
        scikit-learn scorer name for the grid search. The test score is always accuracy.
    n_jobs : int or None, default=None
        Grid-search fits run at once; see the module docstring for how it meets ``device``.
    device : str, default='auto'
        The MLP's device.
    random_state : int or None, default=0
        Seed of the models, the folds and the SVC subsample.
    svc_subsample : int, None or 'default'
        Rows of the stratified subsample the SVC grid search runs on; ``None``: all rows;
        ``'default'``: :data:`~sknn_mnist.models.SVC_GRID_SUBSAMPLE` (or the quick value).
    dataset : str, optional
        Dataset name, recorded for reports.
    image_shape : tuple of int, optional
        Shape of one image; default: square images when the feature count is a square.
    progress : bool, default=False
        Show a tqdm progress bar on stderr.
    learning_curve : bool, default=True
        Fit the MLP's best configuration once more with 10% of the training rows held out,
        for a learning curve with validation accuracy per epoch
        (``ModelResult.learning_curve_estimator``). It costs one more MLP fit; the refit
        model and the test score are not affected.

    Returns
    -------
    ComparisonResult
    """
    X_train, y_train = np.asarray(X_train), np.asarray(y_train)  # noqa: N806
    X_test, y_test = np.asarray(X_test), np.asarray(y_test)  # noqa: N806
    models = list(models)
    for name in models:
        get_model_spec(name)
    if image_shape is None:
        image_shape = square_shape(X_train.shape[1])
    splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    mlp_jobs, mlp_device = (
        mlp_search_n_jobs(n_jobs, device) if "mlp" in models else (1, None)
    )

    results: dict[str, ModelResult] = {}
    steps = 3 * len(models) + int(learning_curve and "mlp" in models)
    bar = tqdm(total=steps, disable=not progress, unit="step", leave=False)
    try:
        for name in models:
            spec = get_model_spec(name)
            grid = (param_grids or {}).get(name) or param_grid(name, quick=quick)
            pipe = make_model(name, random_state=random_state,
                              device=mlp_device if name == "mlp" else "auto")
            subsample = spec.quick_grid_subsample if quick else spec.grid_subsample
            if name == "svm" and svc_subsample != "default":
                subsample = svc_subsample
            X_s, y_s = stratified_subsample(X_train, y_train, subsample, random_state)  # noqa: N806
            jobs = mlp_jobs if name == "mlp" else effective_n_jobs(n_jobs)

            bar.set_description(f"{name}: grid search on {len(y_s)} rows")
            start = time.perf_counter()
            search = _search(pipe, grid, X_s, y_s, cv=splitter, scoring=scoring, n_jobs=jobs)
            search_seconds = time.perf_counter() - start
            bar.update()

            bar.set_description(f"{name}: refit on {len(y_train)} rows")
            best = clone(pipe).set_params(**search.best_params_)
            if name == "rf":
                best.set_params(clf__n_jobs=n_jobs)
            start = time.perf_counter()
            best.fit(X_train, y_train)
            fit_seconds = time.perf_counter() - start
            bar.update()

            bar.set_description(f"{name}: predict {len(y_test)} rows")
            start = time.perf_counter()
            y_pred = best.predict(X_test)
            predict_seconds = time.perf_counter() - start
            bar.update()

            curve_estimator = None
            if name == "mlp" and learning_curve:
                bar.set_description(f"{name}: learning curve, 10% of {len(y_train)} rows held out")
                curve_estimator = _fit_learning_curve(best, X_train, y_train)
                bar.update()

            i = search.best_index_
            results[name] = ModelResult(
                name=name,
                title=spec.title,
                best_params=dict(search.best_params_),
                cv_mean=float(search.cv_results_["mean_test_score"][i]),
                cv_std=float(search.cv_results_["std_test_score"][i]),
                test_accuracy=float(accuracy_score(y_test, y_pred)),
                fit_seconds=fit_seconds,
                predict_seconds=predict_seconds,
                search_seconds=search_seconds,
                cv_results=search.cv_results_,
                estimator=best,
                y_pred=y_pred,
                n_search_samples=len(y_s),
                n_jobs=jobs,
                device=getattr(best.named_steps["clf"], "device_", None),
                scoring=scoring,
                learning_curve_estimator=curve_estimator,
            )
    finally:
        bar.close()
    return ComparisonResult(
        results=results,
        dataset=dataset,
        X_test=X_test,
        y_test=y_test,
        image_shape=image_shape,
        n_train=len(y_train),
        cv=cv,
        scoring=scoring,
        quick=quick,
    )


def square_shape(n_features: int) -> tuple[int, int] | None:
    """``(s, s)`` when ``n_features`` is a perfect square ``s * s``, else None."""
    side = int(round(n_features**0.5))
    return (side, side) if side * side == n_features else None
