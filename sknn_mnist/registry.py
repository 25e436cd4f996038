"""The one registry of model kinds: what the package can train, compare, save and export.

Each :class:`ModelSpec` entry of :data:`MODEL_SPECS` says everything that differs between
models: its classifier class, its grids and subsamples, whether it trains with torch on a
``device``, the types its saved file holds. Everything else derives from it:

* the comparison and the CLI (:mod:`sknn_mnist.study.models` builds the pipelines);
* persistence's trusted types (:func:`trusted_types`): a model that can be compared can be
  saved and loaded without pickle;
* Dask's GPU routing (:func:`torch_classifier_names`);
* the lazy exports of ``sknn_mnist`` (:func:`exported_class`).

Adding a model is one entry (:func:`register_model`). This module imports neither
scikit-learn nor torch: listing the models stays instant.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_NAMES",
    "MODEL_SPECS",
    "SVC_GRID_SUBSAMPLE",
    "SVC_GRID_SUBSAMPLE_QUICK",
    "ModelSpec",
    "exported_class",
    "get_model_spec",
    "qualified_name",
    "register_model",
    "torch_classifier_names",
    "trusted_types",
    "unregister_model",
]

#: Rows of the stratified training subsample on which the SVC grid search runs. SVC's fit
#: time grows roughly quadratically with the rows (libsvm's kernel cache and working-set
#: iterations), so a grid of 4 candidates x 3 folds on all 60,000 MNIST rows would take over
#: an hour on 2 cores; 10,000 rows rank the candidates the same way in about 2 minutes.
#: The best candidate is then refit on the whole training set.
SVC_GRID_SUBSAMPLE = 10_000
#: The same for ``quick=True``: enough to rank 2 candidates on digits (1,437 rows: all of
#: them) or to smoke-test MNIST in seconds.
SVC_GRID_SUBSAMPLE_QUICK = 2_000


#: The scaler every compared model but the forest has in front of it.
PIXEL_SCALER = "sknn_mnist.study.scaler.PixelScaler"
#: Where the pixel scaler was defined in earlier versions.
PIXEL_SCALER_FORMER_NAMES = ("sknn_mnist.models.PixelScaler", "sknn_mnist._scaler.PixelScaler")


def qualified_name(cls: type) -> str:
    """``module.QualName`` of a class, as skops names types in a file."""
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True)
class ModelSpec:
    """Everything that differs between the compared models: adding a model is one entry.

    Parameters
    ----------
    name : str
        Short name used on the command line (``"mlp"``).
    title : str
        Name for tables and plots.
    estimator : str, default=None
        The classifier's class, fully qualified (``"sklearn.svm._classes.SVC"``), imported
        only when a model is built, so that listing the models stays instant. Persistence
        trusts it (and the types below) when loading a model file.
    options : dict, default={}
        Constructor arguments of the classifier besides ``random_state``, ``device``
        (torch models) and ``n_jobs`` (models with ``own_n_jobs``), which are passed
        whenever the class takes them.
    build : callable, default=None
        ``build(random_state=..., device=..., n_jobs=...)`` returning an unfitted
        classifier, instead of ``estimator`` and ``options``; persistence then reads the
        types to trust from a built pipeline.
    grid : dict
        Default parameter grid (pipeline keys, ``clf__...``), sized for a 2-core CPU.
    quick_grid : dict
        A tiny grid for smoke tests and the digits quick start.
    grid_subsample : int or None, default=None
        Rows of a stratified training subsample on which the grid search runs (``None``:
        all rows). The best candidate is refit on the whole training set.
    quick_grid_subsample : int or None, default=None
        The same for ``quick=True``.
    scale : bool, default=True
        Put a :class:`PixelScaler` before the classifier (``False``: ``"passthrough"``).
    uses_device : bool, default=False
        The classifier trains with torch on ``device``. On CUDA its grid search runs one fit
        at a time (several processes on one GPU each hold a CUDA context and fight for its
        memory); on the CPU it runs ``n_jobs`` fits at once like the others.
    own_n_jobs : bool, default=False
        The classifier has its own ``n_jobs`` (the random forest): the refit on the whole
        training set gets the command's ``n_jobs``.
    learning_curve : bool, default=False
        The classifier records ``loss_curve_`` and, with ``early_stopping=True``,
        ``validation_scores_``: ``compare`` can draw its learning curve.
    default : bool, default=True
        Part of :data:`DEFAULT_MODELS`, the models ``compare`` runs when none are named.
    fitted_types : tuple of str, default=()
        Further types a fitted classifier holds (a forest's trees), for persistence.
    former_names : tuple of str, default=()
        Where the classifier class was defined in earlier versions: files saved then
        name it so.
    export : bool, default=False
        The classifier class is exported by ``sknn_mnist`` itself
        (``from sknn_mnist import MLPDigitClassifier``), imported on first use.
    compared : bool, default=True
        A classifier that ``compare`` and the CLI offer. ``False`` registers an estimator
        that is exported, trusted by persistence and routed by Dask like the others but
        is not one of the compared models (the regressor): it is left out of
        :data:`MODEL_NAMES` and :data:`DEFAULT_MODELS`, and :func:`get_model_spec`
        refuses it. Its grids may be empty.
    """

    name: str
    title: str
    grid: dict[str, list[Any]]
    quick_grid: dict[str, list[Any]]
    estimator: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    build: Callable[..., Any] | None = None
    grid_subsample: int | None = None
    quick_grid_subsample: int | None = None
    scale: bool = True
    uses_device: bool = False
    own_n_jobs: bool = False
    learning_curve: bool = False
    default: bool = True
    fitted_types: tuple[str, ...] = ()
    former_names: tuple[str, ...] = ()
    export: bool = False
    compared: bool = True

    def __post_init__(self) -> None:
        if (self.estimator is None) == (self.build is None):
            raise ValueError(f"model {self.name!r}: give either estimator or build")

    @property
    def class_name(self) -> str | None:
        """The classifier's class name (``"MLPDigitClassifier"``), when declared."""
        return None if self.estimator is None else self.estimator.rpartition(".")[2]

    def estimator_class(self) -> type:
        """Import and return the declared classifier class."""
        module, _, name = str(self.estimator).rpartition(".")
        return getattr(importlib.import_module(module), name)

    def make(self, *, random_state: int | None, device: str, n_jobs: int | None) -> Any:
        """An unfitted classifier of this kind."""
        if self.build is not None:
            return self.build(random_state=random_state, device=device, n_jobs=n_jobs)
        cls = self.estimator_class()
        accepted = inspect.signature(cls).parameters
        given = {"random_state": random_state, "device": device, "n_jobs": n_jobs}
        kwargs = {k: v for k, v in given.items()
                  if k in accepted and (k != "n_jobs" or self.own_n_jobs)}
        return cls(**{**self.options, **kwargs})

    def trusted_types(self) -> set[str]:
        """Fully qualified types a saved model of this kind holds besides its scaler."""
        if self.estimator is not None:
            names = {self.estimator}
        elif isinstance(self.build, _LazyBuild):
            names = {self.build.builds}
        else:
            clf = self.make(random_state=0, device="cpu", n_jobs=None)
            names = {qualified_name(type(clf))}
        return names | set(self.fitted_types) | set(self.former_names)

    def param_grid(self, quick: bool = False) -> dict[str, list[Any]]:
        """A fresh copy of the default (or quick) grid."""
        grid = self.quick_grid if quick else self.grid
        return {key: list(values) for key, values in grid.items()}

    def subsample(self, quick: bool = False) -> int | None:
        """Rows the grid search runs on (``None``: all training rows)."""
        return self.quick_grid_subsample if quick else self.grid_subsample

    def search_n_jobs(self, n_jobs: int | None, device: str = "auto") -> tuple[int, str | None]:
        """Parallel grid-search fits for this model, and the device it resolves to.

        Returns ``(1, "cuda:N")`` for a torch model on a GPU (one fit at a time on one GPU),
        ``(effective_n_jobs(n_jobs), "cpu")`` for a torch model on the CPU, and
        ``(effective_n_jobs(n_jobs), None)`` for the others.

        Raises
        ------
        ValueError
            ``device`` names CUDA but CUDA is not available.
        """
        from joblib import effective_n_jobs

        if not self.uses_device:
            return effective_n_jobs(n_jobs), None
        from .core.device import resolve_device

        resolved = resolve_device(device)
        if resolved.type == "cuda":
            return 1, str(resolved)
        return effective_n_jobs(n_jobs), str(resolved)


@dataclass(frozen=True)
class _LazyBuild:
    """A ``build`` callable named by its qualified name, imported on the first call (as
    ``estimator`` classes are): the registry never imports the estimators' modules.

    ``builds`` names the class it returns, so that persistence's trusted types (read by
    every ``load_model``, before the file is checked) need not build one and import torch.
    """

    qualified: str
    builds: str

    def __call__(self, **kwargs: Any) -> Any:
        module, _, name = self.qualified.rpartition(".")
        return getattr(importlib.import_module(module), name)(**kwargs)


#: The compared models, in the order they run and are reported. One entry per model.
MODEL_SPECS: dict[str, ModelSpec] = {
    # 4 candidates: width and learning rate. The defaults suit MNIST's 60,000 rows; small
    # training sets (digits: 23 batches an epoch) get too few updates at 1e-3 and need
    # 1e-2 (measured: docs/compare.md, "Scaling").
    "mlp": ModelSpec(
        name="mlp",
        title="MLP (PyTorch/skorch)",
        estimator="sknn_mnist.networks.mlp.classifier.MLPDigitClassifier",
        former_names=("sknn_mnist.estimator.MLPDigitClassifier",),
        export=True,
        grid={
            "clf__hidden_layer_sizes": [(100, 50), (256, 128)],
            "clf__learning_rate_init": [1e-3, 1e-2],
        },
        quick_grid={"clf__learning_rate_init": [1e-3, 1e-2], "clf__max_iter": [30]},
        uses_device=True,
        learning_curve=True,
    ),
    # 2 candidates on a subsample: a CNN fit on all of MNIST takes minutes on 2 cores, so
    # the grid runs on the SVC's rows (the selection CV then reuses them). In the default
    # list since the full MNIST comparison with it was measured within its 30-minute
    # budget on 2 CPU cores (benchmarks/results/compare_wall.md). Digits (quick) needs the
    # larger step, as the MLP.
    "cnn": ModelSpec(
        name="cnn",
        title="CNN (PyTorch/skorch)",
        estimator="sknn_mnist.networks.cnn.classifier.CNNDigitClassifier",
        former_names=("sknn_mnist.cnn.CNNDigitClassifier",),
        export=True,
        grid={"clf__batch_norm": [False, True]},
        # 10 epochs, not the MLP's 30: a smoke test (on the digits 98.9% test accuracy
        # against 99.4% at 30, in 0.4x the time).
        quick_grid={"clf__learning_rate_init": [1e-3, 1e-2], "clf__max_iter": [10]},
        grid_subsample=SVC_GRID_SUBSAMPLE,
        quick_grid_subsample=SVC_GRID_SUBSAMPLE_QUICK,
        uses_device=True,
        learning_curve=True,
    ),
    # Not a compared model (the comparison is of classifiers): exported, trusted by
    # persistence and routed to GPU workers by Dask like the torch classifiers.
    "mlp-regressor": ModelSpec(
        name="mlp-regressor",
        title="MLP regressor (PyTorch/skorch)",
        estimator="sknn_mnist.networks.mlp.regressor.TorchMLPRegressor",
        export=True,
        grid={},
        quick_grid={},
        uses_device=True,
        learning_curve=True,
        default=False,
        compared=False,
    ),
    # 4 candidates on a subsample; gamma='scale' is 1 / (n_features * X.var()), which is
    # already near the optimum for pixels in [0, 1], so the grid brackets it.
    "svm": ModelSpec(
        name="svm",
        title="SVC (RBF kernel)",
        estimator="sklearn.svm._classes.SVC",
        # A large kernel cache speeds up MNIST-sized fits; digits ignores it.
        options={"kernel": "rbf", "cache_size": 500},
        grid={"clf__C": [1.0, 10.0], "clf__gamma": ["scale", 0.02]},
        quick_grid={"clf__C": [1.0, 10.0]},
        grid_subsample=SVC_GRID_SUBSAMPLE,
        quick_grid_subsample=SVC_GRID_SUBSAMPLE_QUICK,
    ),
    # 4 candidates. More trees only help (slowly); max_features trades bias and variance.
    # No scaling: trees split on thresholds, which a monotone rescaling leaves unchanged.
    "rf": ModelSpec(
        name="rf",
        title="Random forest",
        estimator="sklearn.ensemble._forest.RandomForestClassifier",
        # Not trusted by skops itself (a crafted node table crashes inference); loading
        # checks every tree's tables.
        fitted_types=("sklearn.tree._classes.DecisionTreeClassifier", "sklearn.tree._tree.Tree"),
        grid={"clf__n_estimators": [100, 200], "clf__max_features": ["sqrt", 0.05]},
        quick_grid={"clf__n_estimators": [50, 100]},
        scale=False,
        own_n_jobs=True,
    ),
    # Compared when named, not by default: five MLP fits per candidate and fold. One
    # candidate, on the SVC's subsample (the selection CV then reuses its scores); the
    # members train in one fit_many call (stacked once the stacked trainer lands). The
    # members' type is the MLP's, trusted through its own entry too.
    "mlp-ensemble": ModelSpec(
        name="mlp-ensemble",
        title="MLP seed ensemble (5 members)",
        build=_LazyBuild("sknn_mnist.ensemble.seed.mlp_seed_ensemble",
                         builds="sknn_mnist.ensemble.seed.SeedEnsembleClassifier"),
        fitted_types=("sknn_mnist.networks.mlp.classifier.MLPDigitClassifier",),
        grid={"clf__n_estimators": [5]},
        quick_grid={"clf__estimator__learning_rate_init": [1e-2],
                    "clf__estimator__max_iter": [30]},
        grid_subsample=SVC_GRID_SUBSAMPLE,
        quick_grid_subsample=SVC_GRID_SUBSAMPLE_QUICK,
        uses_device=True,
        default=False,
    ),
}

#: The compared models (``compare``'s and the CLI's choices).
MODEL_NAMES: tuple[str, ...] = tuple(n for n, s in MODEL_SPECS.items() if s.compared)
#: The models ``compare`` and ``sknn-mnist compare`` run when none are named.
DEFAULT_MODELS: tuple[str, ...] = tuple(n for n, s in MODEL_SPECS.items()
                                        if s.compared and s.default)


def get_model_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` of the compared model ``name``.

    Raises
    ------
    ValueError
        Unknown name, or a registered estimator that is not compared (the regressor);
        the message lists the compared ones.
    """
    spec = MODEL_SPECS.get(name) if isinstance(name, str) else None
    if spec is None or not spec.compared:
        known = ", ".join(repr(n) for n, s in MODEL_SPECS.items() if s.compared)
        what = (f"{name!r} is not a compared model (the comparison is of classifiers)"
                if spec is not None else f"unknown model {name!r}")
        raise ValueError(f"{what}; known models: {known}")
    return spec


def register_model(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a model kind to the registry (its comparison, persistence and routing follow).

    Raises
    ------
    ValueError
        ``spec.name`` is registered already and ``replace`` is false.
    """
    if spec.name in MODEL_SPECS and not replace:
        raise ValueError(f"a model named {spec.name!r} is registered already")
    MODEL_SPECS[spec.name] = spec
    return spec


def unregister_model(name: str) -> ModelSpec:
    """Remove a model kind from the registry and return its spec."""
    return MODEL_SPECS.pop(get_model_spec(name).name)


def _specs() -> Iterator[ModelSpec]:
    return iter(list(MODEL_SPECS.values()))


def trusted_types() -> set[str]:
    """Every type a model file of a registered kind holds: classifiers, their fitted
    parts and the pixel scaler, under their current and former names."""
    names = {PIXEL_SCALER, *PIXEL_SCALER_FORMER_NAMES}
    for spec in _specs():
        names |= spec.trusted_types()
    return names


def torch_classifier_names() -> set[str]:
    """Qualified names of the registered estimators (the classifiers and the regressor)
    that train with torch on a device."""
    names: set[str] = set()
    for spec in _specs():
        if spec.uses_device:
            names |= {spec.estimator} if spec.estimator else spec.trusted_types()
    return names


def exported_class(name: str) -> type | None:
    """The exported estimator class called ``name`` (imported now), or None."""
    for spec in _specs():
        if spec.export and spec.class_name == name:
            return spec.estimator_class()
    return None
