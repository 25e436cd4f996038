"""K modules of one architecture as one stacked network.

Each parameter of the K modules is stacked along a new leading axis into one leaf tensor
(``torch.func.stack_module_state``), and one forward pass runs all K networks: a network
of linear, elementwise and dropout layers as one batched matrix product per linear layer,
any other through ``torch.func.vmap`` of ``functional_call``. One ``backward`` of the
summed per-network losses gives every network its own gradient (no weight is shared).
The gradients stay allocated and are zeroed between steps, so that autograd accumulates
into the same tensors and the optimizer can keep its views of them. Buffers (batch-norm
statistics) are stacked per name.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap


class StackedNetwork:
    """The stacked parameters and buffers of K modules and their one forward pass.

    Parameters
    ----------
    modules : list of nn.Module
        K modules of the same architecture (the same state-dict names and shapes), on
        ``device`` already; they are copied, not kept.
    """

    def __init__(self, modules: list[nn.Module]) -> None:
        params, buffers = stack_module_state(modules)
        first = modules[0]
        self.params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        for p in self.params.values():
            p.grad = torch.zeros_like(p)
        self.buffers = {name: b.detach() for name, b in buffers.items()}
        #: Names of the weights that scikit-learn's ``alpha`` shrinks (ndim >= 2 in one
        #: module: weights, not biases or normalisation parameters).
        self.penalised = {n for n, p in first.named_parameters() if p.ndim >= 2}
        self._base = copy.deepcopy(first).to("meta")
        self._names = list(first.state_dict())
        self._plain = _plain_layers(first)
        self._forward = (self._plain_forward if self._plain is not None
                         else vmap(self._call, randomness="different"))

    @staticmethod
    def runs_plain(module: nn.Module) -> bool:
        """Whether a stack of ``module`` runs as batched products (not through vmap)."""
        return _plain_layers(module) is not None

    def __len__(self) -> int:
        return len(next(iter(self.params.values())))

    def _call(self, params, buffers, X):
        return functional_call(self._base, (params, buffers), (X,))

    def _plain_forward(self, params, buffers, X):
        # Linear layers as batched products (one baddbmm each); activations and dropout
        # are elementwise and act on the stacked activations as they are.
        z = X
        for prefix, layer in self._plain:
            if isinstance(layer, nn.Linear):
                weight = params[prefix + "weight"]
                bias = params.get(prefix + "bias")
                z = (torch.bmm(z, weight.transpose(1, 2)) if bias is None
                     else torch.baddbmm(bias.unsqueeze(1), z, weight.transpose(1, 2)))
            elif isinstance(layer, nn.Dropout):
                z = nn.functional.dropout(z, layer.p, training=self._base.training)
            else:
                z = layer(z)
        return z

    def forward(self, X: torch.Tensor, members: torch.Tensor | None = None, *,
                training: bool) -> torch.Tensor:
        """Outputs of shape ``(G, n, n_outputs)`` for inputs ``X`` of shape ``(G, n, ...)``.

        ``members`` (G positions in the stack) selects the networks that take part; None
        means all of them, in order. In training mode, normalisation layers update their
        running statistics, those of the selected networks only.
        """
        self._base.train(training)
        if members is None:
            return self._forward(self.params, self.buffers, X)
        params = {n: p.index_select(0, members) for n, p in self.params.items()}
        buffers = {n: b.index_select(0, members) for n, b in self.buffers.items()}
        out = self._forward(params, buffers, X)
        if training:
            for name, value in buffers.items():
                self.buffers[name].index_copy_(0, members, value)
        return out

    def zero_grad(self) -> None:
        for p in self.params.values():
            p.grad.zero_()

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every stacked tensor (parameters and buffers) by name, not copied."""
        return {**{n: p.detach() for n, p in self.params.items()}, **self.buffers}

    def state(self, position: int, tensors: dict[str, torch.Tensor] | None = None
              ) -> dict[str, torch.Tensor]:
        """One network's state dict (copies), in its module's order, from ``tensors``
        (a :meth:`tensors` snapshot; default: the current ones)."""
        tensors = self.tensors() if tensors is None else tensors
        return {name: tensors[name][position].clone() for name in self._names}

    def keep(self, positions: torch.Tensor) -> None:
        """Keep only the networks at ``positions`` (in that order)."""
        params = {}
        for name, p in self.params.items():
            kept = p.detach().index_select(0, positions).requires_grad_(True)
            kept.grad = p.grad.index_select(0, positions)
            params[name] = kept
        self.params = params
        self.buffers = {n: b.index_select(0, positions) for n, b in self.buffers.items()}

    def finite(self) -> list[bool]:
        """Per network: whether all of its parameters are finite."""
        checks = [torch.isfinite(p.detach()).flatten(1).all(dim=1)
                  for p in self.params.values()]
        return torch.stack(checks).all(dim=0).tolist()


#: Layers that act elementwise on activations of any shape.
_ELEMENTWISE = (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.Identity, nn.LeakyReLU, nn.ELU, nn.GELU)


def _plain_layers(module: nn.Module) -> list[tuple[str, nn.Module]] | None:
    """``(parameter-name prefix, layer)`` of a network whose forward is a sequence of
    linear, elementwise and dropout layers; None for any other network."""
    layers = getattr(module, "sequential_layers", lambda: None)()
    if layers is None:
        return None
    prefix = next(name for name, m in module.named_modules() if m is layers)
    prefix = f"{prefix}." if prefix else ""
    plain = []
    for name, layer in layers.named_children():
        if not isinstance(layer, (nn.Linear, nn.Dropout, *_ELEMENTWISE)):
            return None
        plain.append((f"{prefix}{name}.", layer))
    return plain
