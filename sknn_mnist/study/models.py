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

from typing import TYPE_CHECKING, Any

from ..registry import (  # re-exported: sknn_mnist.models was their home
    DEFAULT_MODELS,
    MODEL_NAMES,
    MODEL_SPECS,
    SVC_GRID_SUBSAMPLE,
    SVC_GRID_SUBSAMPLE_QUICK,
    ModelSpec,
    get_model_spec,
    register_model,
    unregister_model,
)

if TYPE_CHECKING:  # imported lazily: `sknn-mnist --help` must not wait for scikit-learn
    from sklearn.pipeline import Pipeline

    from .scaler import PixelScaler

__all__ = [
    "DEFAULT_MODELS",
    "MODEL_NAMES",
    "MODEL_SPECS",
    "SVC_GRID_SUBSAMPLE",
    "SVC_GRID_SUBSAMPLE_QUICK",
    "ModelSpec",
    "PixelScaler",
    "get_model_spec",
    "make_model",
    "param_grid",
    "pipeline_params",
    "register_model",
    "search_n_jobs",
    "unregister_model",
]


def __getattr__(name: str) -> Any:
    # PixelScaler lives in .scaler (it needs scikit-learn); re-exported here on first use.
    if name == "PixelScaler":
        from .scaler import PixelScaler

        return PixelScaler
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    clf = spec.make(random_state=random_state, device=device, n_jobs=n_jobs)
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
