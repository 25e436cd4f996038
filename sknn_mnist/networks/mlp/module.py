"""The torch network: a plain multilayer perceptron built from estimator parameters."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from ...core.network import DigitNetwork

#: Activation names accepted by ``MLPDigitClassifier(activation=...)``. The first four are
#: scikit-learn's ``MLPClassifier`` names; 'sigmoid' is an alias of 'logistic'.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "identity": nn.Identity,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
}


class MLPModule(DigitNetwork):
    """A feed-forward network ``n_features -> hidden... -> n_outputs`` returning logits.

    Each hidden block is ``Linear -> [BatchNorm1d] -> activation -> [Dropout]``. The output
    layer is a bare ``Linear``: the loss and ``predict_proba`` apply softmax (or the logistic
    function for a single output unit), which is numerically safer than a softmax layer.

    Parameters
    ----------
    n_features : int
        Number of input features (784 for MNIST, 64 for scikit-learn's digits).
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; empty gives a linear (multinomial logistic) model.
    n_outputs : int
        Number of output units: the number of classes, or 1 for a binary problem.
    activation : str, default='relu'
        A key of :data:`ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (0 disables it).
    batch_norm : bool, default=False
        Whether to put a ``BatchNorm1d`` after each hidden ``Linear``.
    """

    def __init__(
        self,
        n_features: int,
        hidden_layer_sizes: Sequence[int],
        n_outputs: int,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        n_in = n_features
        for i, width in enumerate(hidden_layer_sizes):
            layers[f"linear{i}"] = nn.Linear(n_in, width)
            if batch_norm:
                layers[f"batchnorm{i}"] = nn.BatchNorm1d(width)
            layers[f"activation{i}"] = ACTIVATIONS[activation]()
            if dropout > 0:
                layers[f"dropout{i}"] = nn.Dropout(dropout)
            n_in = width
        layers["linear_out"] = nn.Linear(n_in, n_outputs)
        self.layers = nn.Sequential(layers)

    def forward(self, X):
        return self.layers(X)

    def sequential_layers(self) -> nn.Sequential:
        return self.layers

    def linear_layers(self) -> list[nn.Linear]:
        """The ``Linear`` layers in order, input to output."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def step_flops(self, sample: torch.Tensor, rows: int, *, training: bool) -> float:
        """``2 * rows * sum(n_in * n_out)`` for a forward pass (the matrix products;
        activations and biases are negligible next to them), three times that to train."""
        forward = sum(2.0 * m.in_features * m.out_features for m in self.linear_layers())
        return forward * rows * (3.0 if training else 1.0)

    def to_onnx(self, graph, x: str) -> str:
        """The layers in order: ``Gemm``, ``BatchNormalization``, activations."""
        from ...io.onnx import layers_to_onnx

        return layers_to_onnx(graph, self.layers, x)
