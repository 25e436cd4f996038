"""The regressor layer of the core: numeric targets, ``loss``, predicted values and R^2.

:class:`TorchRegressorBase` adds to :class:`~sknn_mnist.core.estimator.TorchEstimatorBase`
what makes a regressor: numeric (and multi-output) targets, the ``loss`` parameter
(``'squared_error'`` or ``'poisson'``, each an output head of
:mod:`~sknn_mnist.core.heads`), a plain random early-stopping split scored by R^2,
``predict`` of values and ``score`` = R^2 (``RegressorMixin``). The training transaction,
the schedules, the solvers, the device and thread policy, and persistence are the
estimator base's: the same as the classifiers'.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if

from .estimator import Targets, TorchEstimatorBase
from .heads import REGRESSION_HEADS, RegressionHead, head_of
from .plan import FitCall, TrainingPlan

__all__ = ["TorchRegressorBase"]


class TorchRegressorBase(RegressorMixin, TorchEstimatorBase):
    """Base of the package's regressors: the estimator base plus numeric targets.

    Not used directly; a subclass defines ``__init__`` with every parameter (``loss``
    included), merges ``_parameter_constraints`` (``{**TorchRegressorBase.
    _parameter_constraints, ...}``) and implements the network hooks of
    :class:`~sknn_mnist.core.estimator.TorchEstimatorBase`; the network's outputs are the
    predictions (``loss='squared_error'``) or their logarithms (``loss='poisson'``).
    """

    _parameter_constraints: dict = {
        **TorchEstimatorBase._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_HEADS))],
    }

    _y_numeric = True

    # -- public API -------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X``, ``y`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data, any real dtype; converted to ``dtype`` once. Sparse input is
            densified.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values (non-negative for ``loss='poisson'``).
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss (and of the validation R^2).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, call=self._fit_call())

    @available_if(TorchEstimatorBase._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``X``, ``y``, continuing from the current weights.

        The batch size and the scaling of ``alpha`` follow each call's data. There is no
        horizon: with ``learning_rate='cosine'`` every call trains at
        ``learning_rate_init``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight)

    def predict(self, X):
        """Predicted values, float64: shape ``(n_samples,)`` for one output, else
        ``(n_samples, n_outputs)``, as ``MLPRegressor``."""
        outputs = self._forward(X)  # checks that the model is fitted first
        values = self._head.predict(outputs)
        return values.ravel() if values.shape[1] == 1 else values

    # -- the task ---------------------------------------------------------------------------
    @property
    def _head(self) -> RegressionHead:
        return head_of(self.out_activation_, self.n_outputs_)

    def _validate_targets(self, y: np.ndarray) -> np.ndarray:
        REGRESSION_HEADS[self.loss].check_targets(y)
        return y

    def _encode(self, y, call: FitCall, classes, dtype) -> Targets:
        head = REGRESSION_HEADS[self.loss]
        encoded = head.encode(y, dtype)
        n_outputs = encoded.shape[1]
        if not call.fresh:
            what = "partial_fit" if call.partial else "warm_start=True"
            if head is not self._head:
                raise ValueError(
                    f"{what} cannot continue a model fitted with loss="
                    f"{self._head.name!r} with loss={self.loss!r}: the network's outputs "
                    "mean something else. Call fit with warm_start=False to train a new "
                    "network.")
            if n_outputs != self.n_outputs_:
                raise ValueError(
                    f"{what} cannot continue the model: y has {n_outputs} output(s), the "
                    f"model was fitted with {self.n_outputs_}.")
        return Targets(y=encoded, head=head, n_outputs=n_outputs)

    def _split(self, targets: Targets, seed: int):
        """Random train/validation row indices for early stopping (not stratified)."""
        return self._holdout(len(targets.y), seed)

    def _commit_targets(self, plan: TrainingPlan) -> None:
        """A regressor has no fitted attributes of its targets besides ``n_outputs_``."""
