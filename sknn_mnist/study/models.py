"""Pipeline factories and parameter grids for the compared models.

Every model is a two-step :class:`~sklearn.pipeline.Pipeline`, ``("scale", ...)`` then
``("clf", ...)``, so grids and ``set_params`` use the same ``clf__name`` keys for all models.

Scaling (measured, see ``docs/compare.md``):

- ``mlp``, ``cnn`` and ``svm``: :class:`PixelScaler`, pixels divided by one number so that
  they lie in [0, 1]. The number is the dataset's pixel maximum (16 for digits, 255 for
  MNIST), learnt from the training data, so nothing is hard-coded to 255. Unlike a per-pixel
  ``MinMaxScaler`` it keeps the relative intensities of the pixels, and a test pixel that
  was always blank in training cannot blow up to a huge value.
- ``rf``: no scaling (``"passthrough"``): trees split on thresholds, which any monotone
  rescaling leaves unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: `sknn-mnist --help` must not wait for scikit-learn
    from sklearn.pipeline import Pipeline

    from .scaler import PixelScaler

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_NAMES",
    "SVC_GRID_SUBSAMPLE",
    "SVC_GRID_SUBSAMPLE_QUICK",
    "ModelSpec",
    "PixelScaler",
    "get_model_spec",
    "make_model",
    "param_grid",
    "pipeline_params",
    "search_n_jobs",
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


def __getattr__(name: str) -> Any:
    # PixelScaler lives in ._scaler (it needs scikit-learn); re-exported here on first use.
    if name == "PixelScaler":
        from .scaler import PixelScaler

        return PixelScaler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ModelSpec:
    """Everything that differs between the compared models: adding a model is one entry.

    Parameters
    ----------
    name : str
        Short name used on the command line (``"mlp"``).
    title : str
        Name for tables and plots.
    build : callable
        ``build(random_state=..., device=..., n_jobs=...)`` returns an unfitted classifier.
        It imports what it needs itself, so that listing the models stays instant.
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
    """

    name: str
    title: str
    build: Callable[..., Any]
    grid: dict[str, list[Any]]
    quick_grid: dict[str, list[Any]]
    grid_subsample: int | None = None
    quick_grid_subsample: int | None = None
    scale: bool = True
    uses_device: bool = False
    own_n_jobs: bool = False
    learning_curve: bool = False
    default: bool = True

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
        from ..core.device import resolve_device

        resolved = resolve_device(device)
        if resolved.type == "cuda":
            return 1, str(resolved)
        return effective_n_jobs(n_jobs), str(resolved)


def _build_mlp(*, random_state: int | None, device: str, n_jobs: int | None) -> Any:
    from ..networks.mlp.classifier import MLPDigitClassifier

    return MLPDigitClassifier(random_state=random_state, device=device)


def _build_cnn(*, random_state: int | None, device: str, n_jobs: int | None) -> Any:
    from ..networks.cnn.classifier import CNNDigitClassifier

    return CNNDigitClassifier(random_state=random_state, device=device)


def _build_svm(*, random_state: int | None, device: str, n_jobs: int | None) -> Any:
    from sklearn.svm import SVC

    # cache_size: 500 MB of kernel cache speeds up MNIST-sized fits; digits ignores it.
    return SVC(kernel="rbf", cache_size=500, random_state=random_state)


def _build_rf(*, random_state: int | None, device: str, n_jobs: int | None) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=random_state, n_jobs=n_jobs)


#: The compared models, in the order they run and are reported. One entry per model.
MODEL_SPECS: dict[str, ModelSpec] = {
    # 4 candidates: width and learning rate. The defaults (Adam at 1e-3, cosine schedule,
    # 15 epochs) suit MNIST's 60,000 rows; small training sets (digits: 1,437 rows, 23
    # batches an epoch) get too few updates at 1e-3 and need 1e-2 (measured: digits 3-fold
    # CV 0.867 at 1e-3 against 0.919 at 1e-2, 15 epochs).
    "mlp": ModelSpec(
        name="mlp",
        title="MLP (PyTorch/skorch)",
        build=_build_mlp,
        grid={
            "clf__hidden_layer_sizes": [(100, 50), (256, 128)],
            "clf__learning_rate_init": [1e-3, 1e-2],
        },
        quick_grid={"clf__learning_rate_init": [1e-3, 1e-2], "clf__max_iter": [30]},
        uses_device=True,
        learning_curve=True,
    ),
    # 2 candidates on a subsample: a CNN fit costs ~0.55 ms per row and epoch on 2 cores
    # (12 epochs of 60,000 rows: ~6.5 minutes), so the grid runs on the SVC's 10,000 rows
    # (the selection CV then reuses it). Not in the default list, by the clock: grid,
    # refit and learning curve add ~17 minutes to the ~15 of the default MNIST comparison,
    # over its 30-minute budget. Digits (quick) needs the larger step, as the MLP does.
    "cnn": ModelSpec(
        name="cnn",
        title="CNN (PyTorch/skorch)",
        build=_build_cnn,
        grid={"clf__batch_norm": [False, True]},
        quick_grid={"clf__learning_rate_init": [1e-3, 1e-2], "clf__max_iter": [30]},
        grid_subsample=SVC_GRID_SUBSAMPLE,
        quick_grid_subsample=SVC_GRID_SUBSAMPLE_QUICK,
        uses_device=True,
        learning_curve=True,
        default=False,
    ),
    # 4 candidates on a subsample; gamma='scale' is 1 / (n_features * X.var()), which is
    # already near the optimum for pixels in [0, 1], so the grid brackets it.
    "svm": ModelSpec(
        name="svm",
        title="SVC (RBF kernel)",
        build=_build_svm,
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
        build=_build_rf,
        grid={"clf__n_estimators": [100, 200], "clf__max_features": ["sqrt", 0.05]},
        quick_grid={"clf__n_estimators": [50, 100]},
        scale=False,
        own_n_jobs=True,
    ),
}

MODEL_NAMES: tuple[str, ...] = tuple(MODEL_SPECS)
#: The models ``compare`` and ``sknn-mnist compare`` run when none are named.
DEFAULT_MODELS: tuple[str, ...] = tuple(n for n, s in MODEL_SPECS.items() if s.default)


def get_model_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` of ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    try:
        return MODEL_SPECS[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(n) for n in MODEL_SPECS)
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None


def param_grid(name: str, *, quick: bool = False) -> dict[str, list[Any]]:
    """Default parameter grid of a model, with pipeline keys (``clf__...``).

    Parameters
    ----------
    name : str
        A key of :data:`MODEL_SPECS`.
    quick : bool, default=False
        Return the tiny grid for smoke tests and the digits quick start.

    Returns
    -------
    dict
        A fresh copy: changing it does not change the defaults.
    """
    return get_model_spec(name).param_grid(quick)


def search_n_jobs(name: str, n_jobs: int | None, device: str = "auto") -> tuple[int, str | None]:
    """Parallel grid-search or CV fits of model ``name``: see :meth:`ModelSpec.search_n_jobs`."""
    return get_model_spec(name).search_n_jobs(n_jobs, device)


def make_model(
    name: str,
    *,
    random_state: int | None = 0,
    device: str = "auto",
    n_jobs: int | None = None,
    pixel_max: float | None = None,
    **params: Any,
) -> Pipeline:
    """Build the pipeline of a compared model: scaling then classifier.

    Parameters
    ----------
    name : str
        A key of :data:`MODEL_SPECS`: ``mlp`` (:class:`~sknn_mnist.MLPDigitClassifier`),
        ``svm`` (RBF :class:`~sklearn.svm.SVC`), ``rf``
        (:class:`~sklearn.ensemble.RandomForestClassifier`).
    random_state : int or None, default=0
        Seed of the classifier.
    device : str, default='auto'
        The torch models' device ('auto', 'cpu', 'cuda', 'cuda:N'); ignored by the others.
    n_jobs : int or None, default=None
        The classifier's own parallelism (the random forest); ignored by the others.
    pixel_max : float or None, default=None
        Passed to :class:`PixelScaler` (``None``: learnt from the training data).
    **params
        Classifier parameters (``hidden_layer_sizes=(256, 128)``, ``C=10``), or pipeline
        parameters with a step prefix (``clf__C=10``, ``scale__pixel_max=255``).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``"scale"`` and ``"clf"``.

    Raises
    ------
    ValueError
        Unknown model name, or a parameter the pipeline does not have (the message lists
        the valid names).
    """
    from sklearn.pipeline import Pipeline

    from .scaler import PixelScaler

    spec = get_model_spec(name)
    scaler = PixelScaler(pixel_max=pixel_max) if spec.scale else "passthrough"
    clf = spec.build(random_state=random_state, device=device, n_jobs=n_jobs)
    pipe = Pipeline([("scale", scaler), ("clf", clf)])
    if params:
        pipe.set_params(**pipeline_params(pipe, params))
    return pipe


def pipeline_params(pipe: Pipeline, params: dict[str, Any]) -> dict[str, Any]:
    """Map classifier parameter names to pipeline keys and check that they exist.

    Parameters
    ----------
    pipe : Pipeline
        A pipeline from :func:`make_model`.
    params : dict
        ``{"C": 10}`` or ``{"clf__C": 10}``; keys with ``__`` are taken as pipeline keys.

    Returns
    -------
    dict
        Pipeline keys to values.

    Raises
    ------
    ValueError
        A name that is neither a classifier parameter nor a pipeline parameter.
    """
    valid = pipe.get_params(deep=True)
    clf_names = sorted(pipe.named_steps["clf"].get_params(deep=False))
    mapped: dict[str, Any] = {}
    for key, value in params.items():
        full = key if "__" in key else f"clf__{key}"
        if full not in valid:
            raise ValueError(
                f"unknown parameter {key!r} for {type(pipe.named_steps['clf']).__name__}; "
                f"valid names: {', '.join(clf_names)}"
            )
        mapped[full] = value
    return mapped
