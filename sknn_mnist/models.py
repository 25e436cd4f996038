"""Pipeline factories and parameter grids for the three compared models.

Every model is a two-step :class:`~sklearn.pipeline.Pipeline`, ``("scale", ...)`` then
``("clf", ...)``, so grids and ``set_params`` use the same ``clf__name`` keys for all models.

Scaling (measured, see ``docs/compare.md``):

- ``mlp`` and ``svm``: :class:`PixelScaler`, pixels divided by one number so that they lie in
  [0, 1]. The number is the dataset's pixel maximum (16 for digits, 255 for MNIST), learnt
  from the training data, so nothing is hard-coded to 255. Unlike a per-pixel ``MinMaxScaler``
  it keeps the relative intensities of the pixels, and a test pixel that was always blank in
  training cannot blow up to a huge value.
- ``rf``: no scaling (``"passthrough"``): trees split on thresholds, which any monotone
  rescaling leaves unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "MODEL_NAMES",
    "SVC_GRID_SUBSAMPLE",
    "SVC_GRID_SUBSAMPLE_QUICK",
    "ModelSpec",
    "PixelScaler",
    "get_model_spec",
    "make_model",
    "param_grid",
    "pipeline_params",
]

MODEL_NAMES: tuple[str, ...] = ("mlp", "svm", "rf")

#: Rows of the stratified training subsample on which the SVC grid search runs. SVC's fit
#: time grows roughly quadratically with the rows (libsvm's kernel cache and working-set
#: iterations), so a grid of 4 candidates x 3 folds on all 60,000 MNIST rows would take over
#: an hour on 2 cores; 10,000 rows rank the candidates the same way in about 2 minutes.
#: The best candidate is then refit on the whole training set.
SVC_GRID_SUBSAMPLE = 10_000
#: The same for ``quick=True``: enough to rank 2 candidates on digits (1,437 rows: all of
#: them) or to smoke-test MNIST in seconds.
SVC_GRID_SUBSAMPLE_QUICK = 2_000


class PixelScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divide every pixel by one number so that the images lie in [0, 1].

    Parameters
    ----------
    pixel_max : float or None, default=None
        Value of a fully inked pixel. ``None`` learns it in ``fit`` as the largest value of
        the training data (16 for scikit-learn's digits, 255 for MNIST).
    dtype : {'float32', 'float64'}, default='float32'
        Output dtype. float32 halves the memory of MNIST (188 MB instead of 376 MB) and is
        what the MLP computes in anyway.

    Attributes
    ----------
    scale_ : float
        The divisor used by ``transform``.
    n_features_in_ : int
        Number of features seen during fit.
    """

    _parameter_constraints: dict = {
        "pixel_max": [Interval(Real, 0, None, closed="neither"), None],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def __init__(self, pixel_max: float | None = None, dtype: str = "float32"):
        self.pixel_max = pixel_max
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # The output dtype is the parameter, whatever the input's.
        tags.transformer_tags.preserves_dtype = [self.dtype]
        return tags

    def fit(self, X, y=None):  # noqa: N803
        """Learn the divisor (the largest pixel value) from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : PixelScaler
        """
        self._validate_params()
        # "numeric" keeps uint8 pixels as they are: the maximum needs no float copy.
        X = validate_data(self, X, reset=True, dtype="numeric")  # noqa: N806
        if self.pixel_max is not None:
            self.scale_ = float(self.pixel_max)
        else:
            peak = float(np.max(X)) if X.size else 0.0
            # All-blank data: dividing by 1 keeps it finite instead of dividing by zero.
            self.scale_ = peak if peak > 0 else 1.0
        return self

    def transform(self, X):  # noqa: N803
        """Return ``X / scale_`` in ``dtype``."""
        check_is_fitted(self)
        # Convert straight to the output dtype (one copy: no float64 detour for uint8
        # MNIST), then scale that copy in place.
        X = validate_data(self, X, reset=False, dtype=self.dtype, copy=True)  # noqa: N806
        X /= self.scale_
        return X


@dataclass(frozen=True)
class ModelSpec:
    """How one compared model is built and searched.

    Parameters
    ----------
    name : str
        Short name: ``"mlp"``, ``"svm"`` or ``"rf"``.
    title : str
        Name for tables and plots.
    grid : dict
        Default parameter grid (pipeline keys, ``clf__...``), sized for a 2-core CPU.
    quick_grid : dict
        A tiny grid for smoke tests and the digits quick start.
    grid_subsample : int or None
        Rows of a stratified training subsample on which the grid search runs (``None``:
        all rows). The best candidate is refit on the whole training set.
    quick_grid_subsample : int or None
        The same for ``quick=True``.
    """

    name: str
    title: str
    grid: dict[str, list[Any]]
    quick_grid: dict[str, list[Any]]
    grid_subsample: int | None = None
    quick_grid_subsample: int | None = None


_SPECS: dict[str, ModelSpec] = {
    # 4 candidates: width and learning rate. The defaults (Adam at 1e-3, cosine schedule,
    # 15 epochs) suit MNIST's 60,000 rows; small training sets (digits: 1,437 rows, 23
    # batches an epoch) get too few updates at 1e-3 and need 1e-2 (measured: digits 3-fold
    # CV 0.867 at 1e-3 against 0.919 at 1e-2, 15 epochs).
    "mlp": ModelSpec(
        name="mlp",
        title="MLP (PyTorch/skorch)",
        grid={
            "clf__hidden_layer_sizes": [(100, 50), (256, 128)],
            "clf__learning_rate_init": [1e-3, 1e-2],
        },
        quick_grid={"clf__learning_rate_init": [1e-3, 1e-2], "clf__max_iter": [30]},
    ),
    # 4 candidates on a subsample; gamma='scale' is 1 / (n_features * X.var()), which is
    # already near the optimum for pixels in [0, 1], so the grid brackets it.
    "svm": ModelSpec(
        name="svm",
        title="SVC (RBF kernel)",
        grid={"clf__C": [1.0, 10.0], "clf__gamma": ["scale", 0.02]},
        quick_grid={"clf__C": [1.0, 10.0]},
        grid_subsample=SVC_GRID_SUBSAMPLE,
        quick_grid_subsample=SVC_GRID_SUBSAMPLE_QUICK,
    ),
    # 4 candidates. More trees only help (slowly); max_features trades bias and variance.
    "rf": ModelSpec(
        name="rf",
        title="Random forest",
        grid={"clf__n_estimators": [100, 200], "clf__max_features": ["sqrt", 0.05]},
        quick_grid={"clf__n_estimators": [50, 100]},
    ),
}


def get_model_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` of ``name``.

    Raises
    ------
    ValueError
        Unknown name; the message lists the known ones.
    """
    try:
        return _SPECS[name]
    except (KeyError, TypeError):
        known = ", ".join(repr(n) for n in MODEL_NAMES)
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None


def param_grid(name: str, *, quick: bool = False) -> dict[str, list[Any]]:
    """Default parameter grid of a model, with pipeline keys (``clf__...``).

    Parameters
    ----------
    name : {'mlp', 'svm', 'rf'}
    quick : bool, default=False
        Return the tiny grid for smoke tests and the digits quick start.

    Returns
    -------
    dict
        A fresh copy: changing it does not change the defaults.
    """
    spec = get_model_spec(name)
    grid = spec.quick_grid if quick else spec.grid
    return {key: list(values) for key, values in grid.items()}


def _make_estimator(name: str, *, random_state: int | None, device: str, n_jobs: int | None):
    if name == "mlp":
        # Imported here so that `sknn_mnist.models` imports without torch for svm/rf users.
        from .estimator import MLPDigitClassifier

        return MLPDigitClassifier(random_state=random_state, device=device)
    if name == "svm":
        # cache_size: 500 MB of kernel cache speeds up MNIST-sized fits; digits ignores it.
        return SVC(kernel="rbf", cache_size=500, random_state=random_state)
    return RandomForestClassifier(random_state=random_state, n_jobs=n_jobs)


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
    name : {'mlp', 'svm', 'rf'}
        ``mlp``: :class:`~sknn_mnist.MLPDigitClassifier`; ``svm``: RBF
        :class:`~sklearn.svm.SVC`; ``rf``: :class:`~sklearn.ensemble.RandomForestClassifier`.
    random_state : int or None, default=0
        Seed of the classifier.
    device : str, default='auto'
        The MLP's device ('auto', 'cpu', 'cuda', 'cuda:N'); ignored by the other models.
    n_jobs : int or None, default=None
        The random forest's own parallelism; ignored by the other models.
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
    get_model_spec(name)  # validates the name
    scaler = "passthrough" if name == "rf" else PixelScaler(pixel_max=pixel_max)
    clf = _make_estimator(name, random_state=random_state, device=device, n_jobs=n_jobs)
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
