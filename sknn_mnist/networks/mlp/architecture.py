"""What the MLP classifier and regressor share: their architecture parameters and hooks.

:class:`MLPArchitecture` is a mixin of the core's estimator hooks for the multilayer
perceptron (``hidden_layer_sizes``, ``activation``, ``dropout``, ``batch_norm``): their
validation, the module, and the fitted ``coefs_``/``intercepts_``/``n_layers_``. It goes
first in the bases, before the task layer (the classifier or the regressor base).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

from .module import ACTIVATIONS, MLPModule

#: The constraints of the architecture parameters, merged into each estimator's.
MLP_PARAMETER_CONSTRAINTS: dict = {
    "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
}


class MLPArchitecture:
    """The MLP's hooks of :class:`~sknn_mnist.core.estimator.TorchEstimatorBase`."""

    _architecture_params = ("hidden_layer_sizes", "batch_norm")

    def _check_architecture(self) -> None:
        self._hidden_sizes()

    def _hidden_sizes(self) -> list[int]:
        """``hidden_layer_sizes`` as a list of positive ints, or InvalidParameterError."""
        sizes = self.hidden_layer_sizes
        if np.ndim(sizes) == 0:
            sizes = [sizes]

        def valid(size) -> bool:
            if isinstance(size, bool | np.bool_) or not isinstance(size, Integral | Real):
                return False
            return math.isfinite(float(size)) and float(size).is_integer() and size >= 1

        if np.ndim(sizes) != 1 or not all(valid(s) for s in sizes):
            raise InvalidParameterError(
                "The 'hidden_layer_sizes' parameter of "
                f"{type(self).__name__} must be a positive int or a flat sequence of "
                f"positive ints, e.g. (100, 50). Got {self.hidden_layer_sizes!r} instead."
            )
        return [int(s) for s in sizes]

    def _build_module(self, n_features: int, n_outputs: int) -> torch.nn.Module:
        return MLPModule(n_features, self._hidden_sizes(), n_outputs,
                         activation=self.activation, dropout=self.dropout,
                         batch_norm=self.batch_norm)

    def _set_network_attributes(self, module: torch.nn.Module) -> None:
        linear = module.linear_layers()
        self.coefs_ = [layer.weight.detach().cpu().numpy().T.copy() for layer in linear]
        self.intercepts_ = [layer.bias.detach().cpu().numpy().copy() for layer in linear]
        self.n_layers_ = len(linear) + 1
