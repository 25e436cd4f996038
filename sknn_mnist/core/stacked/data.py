"""The training data of a stack: one copy on the device, each network's rows into it.

Networks of a grid search share their fold's data (and those of a seed ensemble all of
it): the distinct ``(X, y, sample_weight)`` blocks are put on the device once, one after
the other, and each network addresses its own training and validation rows in them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data import to_tensor
from ..plan import TrainingPlan


@dataclass
class StackData:
    """The concatenated blocks, on the device, and where each plan's block starts."""

    X: torch.Tensor
    y: torch.Tensor
    sample_weight: torch.Tensor | None
    offsets: list[int]

    @classmethod
    def from_plans(cls, plans: list[TrainingPlan], device: torch.device) -> StackData:
        blocks: list[TrainingPlan] = []
        block_of: list[int] = []
        for plan in plans:
            index = next((i for i, b in enumerate(blocks) if _same_data(b, plan)), None)
            if index is None:
                index = len(blocks)
                blocks.append(plan)
            block_of.append(index)
        starts = np.cumsum([0] + [len(b.X) for b in blocks]).tolist()
        any_weights = any(b.sample_weight is not None for b in blocks)
        X = _concat([b.X for b in blocks], device)
        y = _concat([b.y for b in blocks], device)
        weights = None
        if any_weights:
            weights = _concat([np.ones(len(b.X), dtype=b.X.dtype) if b.sample_weight is None
                               else b.sample_weight for b in blocks], device)
        return cls(X, y, weights, [starts[i] for i in block_of])

    def rows(self, position: int, rows: np.ndarray | None, n: int) -> torch.Tensor:
        """Indices into the stacked data of a plan's ``rows`` (None: all its ``n``)."""
        local = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
        return torch.as_tensor(local + self.offsets[position], device=self.X.device)

    def gather(self, index: torch.Tensor):
        """``(X, y, sample_weight)`` of ``index`` (shape ``(G, n)``), each ``(G, n, ...)``."""
        flat = index.reshape(-1)
        shape = tuple(index.shape)

        def take(t):
            return None if t is None else t.index_select(0, flat).view(*shape, *t.shape[1:])

        return take(self.X), take(self.y), take(self.sample_weight)


def _same_data(a: TrainingPlan, b: TrainingPlan) -> bool:
    if a.X is not b.X and (a.X.shape != b.X.shape or a.X.dtype != b.X.dtype
                           or not np.array_equal(a.X, b.X)):
        return False
    if (a.sample_weight is None) != (b.sample_weight is None):
        return False
    if a.sample_weight is not None and not np.array_equal(a.sample_weight, b.sample_weight):
        return False
    return a.y.dtype == b.y.dtype and np.array_equal(a.y, b.y)


def _concat(arrays: list[np.ndarray], device: torch.device) -> torch.Tensor:
    # One block: shared with numpy on the CPU, no copy.
    return to_tensor(arrays[0] if len(arrays) == 1 else np.concatenate(arrays), device)
