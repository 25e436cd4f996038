"""Turning the ``device`` parameter into a ``torch.device``."""

from __future__ import annotations

import re
import warnings

import torch

_CUDA_PATTERN = re.compile(r"cuda(?::(\d+))?")
DEVICE_HELP = "'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'"


def is_valid_device_name(device: object) -> bool:
    """Whether ``device`` is spelled like a device this package accepts."""
    return isinstance(device, str) and (
        device in ("auto", "cpu") or _CUDA_PATTERN.fullmatch(device) is not None
    )


def resolve_device(device: str) -> torch.device:
    """Resolve a ``device`` parameter for training.

    Raises
    ------
    ValueError
        When CUDA is asked for explicitly but is not available, or the GPU index does not
        exist. ``'auto'`` never raises.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    match = _CUDA_PATTERN.fullmatch(device)
    if match is None:
        raise ValueError(f"device={device!r} is not valid; use {DEVICE_HELP}.")
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available here "
            "(torch.cuda.is_available() is False). Use device='auto' to train on the GPU "
            "when there is one and on the CPU otherwise, or device='cpu'."
        )
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} was requested but only {torch.cuda.device_count()} CUDA "
            "device(s) are visible."
        )
    return torch.device("cuda", index)


def resolve_device_for_loading(device: str) -> torch.device:
    """Resolve ``device`` for a model being unpickled: fall back to CPU instead of failing.

    A model trained on a GPU must still load on a laptop; failing here would lose it.
    """
    try:
        return resolve_device(device)
    except ValueError as exc:
        warnings.warn(f"{exc} The model is loaded on the CPU instead.", UserWarning,
                      stacklevel=3)
        return torch.device("cpu")


def cuda_index(device: torch.device) -> int:
    """The index of a CUDA device (``torch.device('cuda')`` is the current one)."""
    return device.index if device.index is not None else torch.cuda.current_device()


def seed_generators(seed: int, device: torch.device) -> None:
    """Seed the generators a fit draws from: the CPU's, and the CUDA device's it trains on.

    Not ``torch.manual_seed``: that reseeds every device, including those the caller's
    ``torch.random.fork_rng`` does not restore, and queues a lazy CUDA call whose stack
    capture costs milliseconds, once per ``partial_fit`` call.
    """
    torch.default_generator.manual_seed(seed)
    if device.type == "cuda":
        with torch.cuda.device(cuda_index(device)):
            torch.cuda.manual_seed(seed)
