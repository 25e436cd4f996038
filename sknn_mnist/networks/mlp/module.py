"""The torch network: a plain multilayer perceptron built from estimator parameters."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from torch import nn

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


class MLPModule(nn.Module):
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

    def forward(self, X):  # noqa: N803 - scikit-learn's name for the data
        return self.layers(X)

    def linear_layers(self) -> list[nn.Linear]:
        """The ``Linear`` layers in order, input to output."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]
