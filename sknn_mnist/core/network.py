"""What the core asks of a network beyond ``forward``: its cost, and its ONNX graph.

A network may be any ``torch.nn.Module`` that maps float rows ``(n, n_features)`` to logits
``(n, n_outputs)``. Deriving from :class:`DigitNetwork` adds the two things the package uses
around training: the FLOPs of a step (for the thread policy) and the module's own ONNX
export. A module without them still trains: its FLOPs are measured with one forward pass,
and the export says clearly that it cannot.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .threads import step_flops


class DigitNetwork(nn.Module):
    """Base of the package's torch networks."""

    def sequential_layers(self) -> nn.Sequential | None:
        """The layers ``forward`` applies in order, when it is exactly that (None: it is
        something else). A stack of such networks runs its linear layers as batched
        matrix products instead of through ``vmap``."""
        return None

    def step_flops(self, sample: torch.Tensor, rows: int, *, training: bool) -> float:
        """FLOPs of one step on ``rows`` rows shaped like ``sample``'s (a forward pass,
        three times that when ``training``)."""
        return step_flops(self, sample, rows, training=training)

    def to_onnx(self, graph: Any, x: str) -> str:
        """Add this network's nodes to ``graph`` (a :class:`sknn_mnist.io.onnx.Graph`),
        reading the input ``x``; return the name of the logits.

        Raises
        ------
        TypeError
            The network cannot be exported (the default: say so).
        """
        raise TypeError(f"cannot export a {type(self).__name__} network to ONNX: it does "
                        "not define to_onnx(graph, x)")
