"""Tensor-slicing data path: the data goes to the device once, batches are slices."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import torch


def to_tensor(array: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """Wrap a numpy array as a tensor on ``device`` without copying when it can.

    On CPU the tensor shares memory with ``array``. Read-only arrays (memory maps) are
    shared too: torch warns that it cannot protect them, but nothing here writes to
    training data, so the warning is silenced rather than paid for with a copy.
    """
    if array is None:
        return None
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    return tensor.to(device)


class TensorSet(torch.utils.data.Dataset):
    """Features, targets and optional sample weights held as tensors on one device.

    skorch recognises it as a ``Dataset`` and hands it unchanged to the iterators.
    ``rows`` selects a subset (a train/validation split) without copying the data: batches
    gather their rows through it.
    """

    def __init__(
        self,
        X: torch.Tensor,  # scikit-learn's name for the data
        y: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
        rows: torch.Tensor | None = None,
    ) -> None:
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.rows = rows

    def __len__(self) -> int:
        return len(self.X) if self.rows is None else len(self.rows)

    def __getitem__(self, i):
        # Only for tools that expect a map-style dataset; training never indexes rows.
        i = i if self.rows is None else self.rows[i]
        return self.X[i], (None if self.y is None else self.y[i])


def batch_bounds(n_samples: int, batch_size: int) -> list[tuple[int, int]]:
    """Start and stop of each batch; a trailing batch of one sample joins the previous one.

    A one-sample batch is useless for batch normalisation (it raises in training mode) and
    adds a noisy step, so it is merged rather than dropped: every sample is still seen.
    """
    bounds = [(start, min(start + batch_size, n_samples))
              for start in range(0, n_samples, batch_size)]
    if len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
        bounds[-2:] = [(bounds[-2][0], n_samples)]
    return bounds


class TensorBatchIterator:
    """Iterate over a :class:`TensorSet` in batches of tensor slices.

    Passed to skorch as ``iterator_train``/``iterator_valid`` in place of ``DataLoader``:
    no per-sample ``__getitem__``, no collation, no worker processes. Shuffling draws one
    ``randperm`` per epoch from a seeded CPU ``torch.Generator`` (so CPU and CUDA runs see
    the same order) and gathers rows with it on the data's device.

    Yields ``(X, y, sample_weight)`` tuples; ``y``/``sample_weight`` may be ``None``.
    """

    def __init__(
        self,
        dataset: TensorSet,
        batch_size: int = 64,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return len(batch_bounds(len(self.dataset), self.batch_size))

    def __iter__(self) -> Iterator[tuple[torch.Tensor | None, ...]]:
        data = self.dataset
        tensors = (data.X, data.y, data.sample_weight)
        bounds = batch_bounds(len(data), self.batch_size)
        if not self.shuffle and data.rows is None:
            for start, stop in bounds:
                yield tuple(None if t is None else t[start:stop] for t in tensors)
            return
        if self.shuffle:
            order = torch.randperm(len(data), generator=self.generator)
            # non_blocking: the permutation is small and the host must not wait for it.
            order = order.to(data.X.device, non_blocking=True)
            if data.rows is not None:
                order = data.rows[order]
        else:
            order = data.rows
        for start, stop in bounds:
            index = order[start:stop]
            # index_select, not t[index]: the same gather without the cost of parsing a
            # Python index expression, which is most of the time of a small batch's gather.
            yield tuple(None if t is None else t.index_select(0, index) for t in tensors)
