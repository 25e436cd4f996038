"""K modules of one architecture as one stacked network.

The parameters of the K modules live in one flat leaf tensor of shape ``(K, P)`` (row
``k`` is network ``k``'s parameters, the penalised weights first, then the biases and
normalisation parameters), and one forward pass, ``torch.func.vmap`` of
``functional_call`` over the leading axis with each parameter a view of that tensor, runs
all of them: a linear layer becomes one batched matrix product. One ``backward`` of the
summed per-network losses gives every network its own gradient (no weight is shared),
gathered in one ``(K, P)`` gradient, so that the optimizer updates whole rows with
torch's fused kernels. Buffers (batch-norm statistics) are stacked per name.
"""

from __future__ import annotations

import copy
import math

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
        named = list(first.named_parameters())
        order = ([n for n, p in named if p.ndim >= 2] + [n for n, p in named if p.ndim < 2])
        #: ``name -> (start, stop, shape)`` of each parameter in a row of :attr:`flat`.
        self.layout: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        offset = 0
        for name in order:
            shape = tuple(params[name].shape[1:])
            size = math.prod(shape)
            self.layout[name] = (offset, offset + size, shape)
            offset += size
        #: Columns ``[0, n_penalised)`` hold the weights that scikit-learn's ``alpha``
        #: shrinks (ndim >= 2: weights, not biases or normalisation parameters).
        self.n_penalised = sum(p.numel() for _, p in named if p.ndim >= 2)
        self.flat = torch.cat([params[n].detach().reshape(len(modules), -1) for n in order],
                              dim=1).requires_grad_(True)
        self.buffers = {name: b.detach() for name, b in buffers.items()}
        self._base = copy.deepcopy(first).to("meta")
        self._names = list(first.state_dict())
        self._plain = _plain_layers(first)
        self._forward = (self._plain_forward if self._plain is not None
                         else vmap(self._call, randomness="different"))

    def __len__(self) -> int:
        return len(self.flat)

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

    def _views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: flat[:, a:b].view(-1, *shape)
                for name, (a, b, shape) in self.layout.items()}

    def forward(self, X: torch.Tensor, members: torch.Tensor | None = None, *,
                training: bool) -> torch.Tensor:
        """Outputs of shape ``(G, n, n_outputs)`` for inputs ``X`` of shape ``(G, n, ...)``.

        ``members`` (G positions in the stack) selects the networks that take part; None
        means all of them, in order. In training mode, normalisation layers update their
        running statistics, those of the selected networks only.
        """
        self._base.train(training)
        if members is None:
            return self._forward(self._views(self.flat), self.buffers, X)
        params = self._views(self.flat.index_select(0, members))
        buffers = {n: b.index_select(0, members) for n, b in self.buffers.items()}
        out = self._forward(params, buffers, X)
        if training:
            for name, value in buffers.items():
                self.buffers[name].index_copy_(0, members, value)
        return out

    def zero_grad(self) -> None:
        self.flat.grad = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every stacked tensor (the flat parameters and the buffers), not copied."""
        return {"": self.flat.detach(), **self.buffers}

    def state(self, position: int, tensors: dict[str, torch.Tensor] | None = None
              ) -> dict[str, torch.Tensor]:
        """One network's state dict (copies), in its module's order, from ``tensors``
        (a :meth:`tensors` snapshot; default: the current ones)."""
        tensors = self.tensors() if tensors is None else tensors
        row = tensors[""][position]
        values = {name: row[a:b].view(shape) for name, (a, b, shape) in self.layout.items()}
        values.update({name: tensors[name][position] for name in self.buffers})
        return {name: values[name].clone() for name in self._names}

    def keep(self, positions: torch.Tensor) -> None:
        """Keep only the networks at ``positions`` (in that order)."""
        self.flat = self.flat.detach().index_select(0, positions).requires_grad_(True)
        self.buffers = {n: b.index_select(0, positions) for n, b in self.buffers.items()}

    def finite(self) -> list[bool]:
        """Per network: whether all of its parameters are finite."""
        return torch.isfinite(self.flat.detach()).all(dim=1).tolist()


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
