"""The comparison plan: which rows each step of a comparison runs on, and how many fits.

Every rule about rows lives here, and only here:

- the training rows: all of them, ``max_train`` rows, or, for a quick run, at most
  :data:`QUICK_MAX_TRAIN` (a stratified subsample, seeded by ``random_state``);
- each model's grid-search rows: its spec's subsample (``ModelSpec.subsample``, the SVC's
  and the CNN's), or all the training rows;
- the selection rows, the same for every model: the smallest grid-search subsample; a model
  searched on exactly these rows reuses its grid-search score (same rows, same folds);
- the checks: enough rows for the classes, and of every class for the folds.

:func:`plan_comparison` builds a :class:`ComparisonPlan` from the training labels (no pixels
needed) before anything is trained; :func:`~sknn_mnist.compare.compare` executes it, and
the command line validates and prints it first::

    plan = plan_comparison(y_train, models=["mlp", "svm"], quick=True, cv=3).validate()
    print(plan.describe())
    result = compare(X_train, y_train, X_test, y_test, plan=plan)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from .models import DEFAULT_MODELS, get_model_spec

__all__ = [
    "QUICK_MAX_TRAIN",
    "ComparisonPlan",
    "ModelPlan",
    "RowsError",
    "Subsample",
    "TooFewPerClassError",
    "TooFewRowsError",
    "plan_comparison",
    "plan_subsample",
    "stratified_subsample",
]

#: Training rows of a quick comparison (``quick=True`` in :func:`plan_comparison`, the
#: command line's ``compare --quick``): enough to smoke-test MNIST in well under a minute.
QUICK_MAX_TRAIN = 10_000


def stratified_subsample(
    X: np.ndarray, y: np.ndarray, n_samples: int | None, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``n_samples`` rows of ``X``, ``y``, with the class proportions of ``y``.

    Returns the data unchanged when ``n_samples`` is None or not smaller than ``len(y)``.
    """
    if n_samples is None or n_samples >= len(y):
        return X, y
    X_sub, _, y_sub, _ = train_test_split(
        X, y, train_size=n_samples, stratify=y, random_state=random_state
    )
    return X_sub, y_sub


class RowsError(ValueError):
    """Too few rows for a planned step."""


class TooFewRowsError(RowsError):
    """A subsample smaller than the number of classes.

    Attributes
    ----------
    rows, n_classes : int
    suggested : int
        A subsample size that would do: ten rows of each class, and enough for the folds.
    """

    def __init__(self, rows: int, n_classes: int, cv: int | None):
        self.rows, self.n_classes = rows, n_classes
        self.suggested = max(n_classes * (cv or 1), 10 * n_classes)
        super().__init__(f"{rows} training rows cannot hold the {n_classes} classes; use "
                         f"{self.suggested} rows or more")


class TooFewPerClassError(RowsError):
    """Fewer rows of some class than folds.

    Attributes
    ----------
    cv, rows, smallest : int
        The folds, the rows, and the rows of the rarest class.
    """

    def __init__(self, cv: int, rows: int, smallest: int):
        self.cv, self.rows, self.smallest = cv, rows, smallest
        super().__init__(f"{cv}-fold CV needs at least {cv} rows of every class, but the "
                         f"{rows} training rows have only {smallest} of the rarest class; "
                         "use fewer folds or more rows")


@dataclass(frozen=True)
class Subsample:
    """A planned stratified subsample (or all the rows): its size and its classes.

    Attributes
    ----------
    n : int
        Rows in it.
    source : int
        Rows it is drawn from (``n == source``: all of them, nothing is drawn).
    n_classes : int
        Classes of the rows it is drawn from.
    rarest : int
        Rows of its rarest class (0 when ``n`` cannot hold every class).
    random_state : int or None
        Seed of the draw.
    """

    n: int
    source: int
    n_classes: int
    rarest: int
    random_state: int | None = 0

    @property
    def subsampled(self) -> bool:
        """Whether it is a strict subset of its source."""
        return self.n < self.source

    @property
    def drawable(self) -> bool:
        """Whether a stratified subsample of ``n`` rows exists: one row of each class."""
        return not (self.subsampled and self.n < self.n_classes)

    def check(self, cv: int | None = None) -> None:
        """Raise :class:`RowsError` unless it holds every class (``cv`` rows of each).

        Raises
        ------
        TooFewRowsError
            Fewer rows than classes.
        TooFewPerClassError
            Fewer than ``cv`` rows of some class.
        """
        if not self.drawable:
            raise TooFewRowsError(self.n, self.n_classes, cv)
        if cv is not None and self.rarest < cv:
            raise TooFewPerClassError(cv, self.n, self.rarest)

    def take(self, X: Any, y: Any) -> tuple[Any, Any]:
        """The planned rows of ``X, y`` (the data it was planned for).

        Raises
        ------
        ValueError
            ``y`` does not have the planned ``source`` rows.
        """
        if len(y) != self.source:
            raise ValueError(f"the plan is for {self.source} rows, got {len(y)}")
        return stratified_subsample(X, y, self.n if self.subsampled else None,
                                    self.random_state)


def plan_subsample(y: Any, n: int | None, random_state: int | None = 0) -> Subsample:
    """Plan a stratified subsample of ``n`` rows (``None``: all) of labels ``y``."""
    y = np.asarray(y)
    planned = Subsample(n=len(y) if n is None else min(n, len(y)), source=len(y),
                        n_classes=len(np.unique(y)), rarest=0, random_state=random_state)
    if not planned.drawable:
        return planned  # Subsample.check says why
    _, y_sub = planned.take(np.zeros((len(y), 0)), y)
    counts = np.unique(y_sub, return_counts=True)[1]
    return replace(planned, rarest=int(counts.min()) if len(counts) else 0)


@dataclass(frozen=True)
class ModelPlan:
    """One model's steps in a comparison.

    Attributes
    ----------
    name : str
        The model's name (``"svm"``).
    grid : mapping
        Its parameter grid (pipeline keys, ``clf__...``).
    rows : Subsample
        The rows of its grid search, drawn from the training rows.
    n_candidates : int
        Candidates of the grid.
    cv : int
        Folds.
    reuses_grid_scores : bool
        Its grid-search rows are the selection rows: the selection CV reuses its best
        candidate's grid-search score instead of fitting again.
    """

    name: str
    grid: Mapping[str, list[Any]]
    rows: Subsample
    n_candidates: int
    cv: int
    reuses_grid_scores: bool

    @property
    def grid_fits(self) -> int:
        """Fits of its grid search: candidates x folds."""
        return self.n_candidates * self.cv

    @property
    def selection_fits(self) -> int:
        """Fits of its selection CV: the folds, or none when it reuses the grid scores."""
        return 0 if self.reuses_grid_scores else self.cv

    @property
    def n_fits(self) -> int:
        """Cross-validation fits (each one scored once)."""
        return self.grid_fits + self.selection_fits

    def describe(self) -> str:
        """One line: rows, candidates x folds = fits, and the selection step."""
        selection = ("selection reuses these scores" if self.reuses_grid_scores
                     else f"selection CV {self.selection_fits} fits")
        return (f"{self.name}: grid search on {self.rows.n} rows, {self.n_candidates} "
                f"candidates x {self.cv} folds = {self.grid_fits} fits; {selection}")


@dataclass(frozen=True)
class ComparisonPlan:
    """What a comparison will run: the rows and fits of every step, before any of them.

    Built by :func:`plan_comparison`; executed by :func:`~sknn_mnist.compare.compare`.

    Attributes
    ----------
    models : tuple of ModelPlan
        In the order they run.
    training : Subsample
        The training rows (every model is refit on them), drawn from the training set.
    selection : Subsample
        The rows of the selection CV, the same for every model, drawn from the training rows.
    cv : int
        Folds of every cross-validation.
    random_state : int or None
        Seed of the subsamples and folds.
    quick : bool
        The quick grids and subsamples.
    quick_capped : bool
        The training rows are the quick run's cap (:data:`QUICK_MAX_TRAIN`).
    """

    models: tuple[ModelPlan, ...]
    training: Subsample
    selection: Subsample
    cv: int
    random_state: int | None
    quick: bool
    quick_capped: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The models' names, in order."""
        return tuple(m.name for m in self.models)

    def __getitem__(self, name: str) -> ModelPlan:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def n_candidates(self) -> int:
        """Grid candidates over all models."""
        return sum(m.n_candidates for m in self.models)

    @property
    def n_fits(self) -> int:
        """Cross-validation fits (grid searches and selection CVs), each scored once: what
        progress counts. One refit per model (and maybe a learning-curve fit) follow."""
        return sum(m.n_fits for m in self.models)

    def validate(self) -> ComparisonPlan:
        """Check every planned subsample (the training rows first); return the plan.

        Raises
        ------
        TooFewRowsError, TooFewPerClassError
            The first step without enough rows.
        """
        self.training.check(self.cv)
        for m in self.models:
            m.rows.check(self.cv)
        return self

    def describe(self) -> str:
        """A short block: the rows, each model's grid rows and candidates x folds = fits."""
        rows = f"{self.training.n} training rows"
        if self.training.subsampled:
            cap = ", the quick cap" if self.quick_capped else ""
            rows += f" (a stratified subsample of {self.training.source}{cap})"
        lines = [f"plan: {rows}, {self.cv}-fold CV, selection CV on {self.selection.n} rows",
                 *(f"  {m.describe()}" for m in self.models),
                 f"  {self.n_fits} CV fits, then each model refit on {self.training.n} rows"]
        return "\n".join(lines)

    def training_data(self, X: Any, y: Any) -> tuple[Any, Any]:
        """The training rows of the training set ``X, y`` the plan was made for."""
        return self.training.take(X, y)

    def grid_data(self, name: str, X: Any, y: Any) -> tuple[Any, Any]:
        """Model ``name``'s grid-search rows of the training rows ``X, y``."""
        return self[name].rows.take(X, y)

    def selection_data(self, X: Any, y: Any) -> tuple[Any, Any]:
        """The selection rows of the training rows ``X, y``."""
        return self.selection.take(X, y)


def _n_candidates(grid: Mapping[str, Sequence[Any]]) -> int:
    return int(np.prod([len(v) for v in grid.values()])) if grid else 1


def _training_rows(n: int, max_train: int | None, quick: bool,
                   quick_max_train: int | None) -> tuple[int | None, bool]:
    if max_train is not None:
        return max_train, False
    if quick and quick_max_train is not None and n > quick_max_train:
        return quick_max_train, True
    return None, False


def plan_comparison(
    y: Any,
    *,
    models: Iterable[str] = DEFAULT_MODELS,
    quick: bool = False,
    cv: int = 3,
    max_train: int | None = None,
    param_grids: Mapping[str, Mapping[str, list[Any]]] | None = None,
    subsamples: Mapping[str, int | None] | None = None,
    random_state: int | None = 0,
    quick_max_train: int | None = QUICK_MAX_TRAIN,
) -> ComparisonPlan:
    """Plan a comparison of ``models`` on a training set with labels ``y``.

    Parameters
    ----------
    y : array-like
        The training set's labels (all of them: the plan draws its subsamples from them).
    models : iterable of str, default=DEFAULT_MODELS
        Model names, in the order to run.
    quick : bool, default=False
        The models' tiny grids and subsamples, and at most ``quick_max_train`` training rows.
    cv : int, default=3
        Folds.
    max_train : int, optional
        Train on a stratified subsample of this many rows (overrides the quick cap).
    param_grids : dict, optional
        Grids that replace the defaults, by model name (pipeline keys).
    subsamples : dict, optional
        Grid-search rows that replace the specs', by model name (``None``: all rows).
    random_state : int or None, default=0
        Seed of the subsamples (and of the folds, when executed).
    quick_max_train : int or None, default=QUICK_MAX_TRAIN
        The quick run's cap on the training rows; ``None``: no cap.
        :func:`~sknn_mnist.compare.compare`, given its rows by the caller, plans without one.

    Returns
    -------
    ComparisonPlan
        Not validated yet: call :meth:`ComparisonPlan.validate`.

    Raises
    ------
    ValueError
        No model, or an unknown one.
    """
    specs = [get_model_spec(name) for name in models]
    if not specs:
        raise ValueError("models is empty: name at least one model")
    y = np.asarray(y)
    n_rows, capped = _training_rows(len(y), max_train, quick, quick_max_train)
    training = plan_subsample(y, n_rows, random_state)
    # (Training rows that cannot be drawn fail validate() before the models' rows matter.)
    _, y_train = training.take(np.zeros((len(y), 0)), y) if training.drawable else (None, y)
    grids = {s.name: dict((param_grids or {}).get(s.name) or s.param_grid(quick)) for s in specs}
    wanted = {s.name: (subsamples or {}).get(s.name, s.subsample(quick)) for s in specs}
    rows = {name: plan_subsample(y_train, n, random_state) for name, n in wanted.items()}
    # The rows every model can afford to be cross-validated on: the smallest subsample.
    selection = min(rows.values(), key=lambda r: r.n)
    plans = tuple(
        ModelPlan(name=s.name, grid=MappingProxyType(grids[s.name]), rows=rows[s.name],
                  n_candidates=_n_candidates(grids[s.name]), cv=cv,
                  reuses_grid_scores=rows[s.name].n == selection.n)
        for s in specs)
    return ComparisonPlan(models=plans, training=training, selection=selection, cv=cv,
                          random_state=random_state, quick=quick, quick_capped=capped)
