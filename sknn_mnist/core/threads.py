"""How many CPU threads torch may use for our own training and prediction.

Torch runs every operator on ``torch.get_num_threads()`` intra-op threads (by default one
per physical core). For the small matrices of an MLP on 8x8 digits the extra threads buy
nothing even on an idle machine, and on a busy one they are ruinous: OpenMP threads
spin-wait for each other at every operator, so when another process holds a core each
operator waits for a time slice. A 10-epoch digits fit that takes 0.18 s alone took 1.8 s
beside two busy processes with 2 threads, 0.38 s with 1.

The policy (:func:`thread_policy`):

- the work of one step (FLOPs of a training step or of a prediction chunk) decides: below
  :data:`SINGLE_THREAD_BELOW_FLOPS` torch runs single-threaded; above it torch keeps the
  count it had (we never raise it), less the cores that other processes are busy on at the
  start of the block (Linux's count of runnable tasks in ``/proc/loadavg``), because a
  thread that has to wait for a time slice stalls all the others at every operator;
- it applies only around our own work and restores the caller's setting in a ``finally``;
- it stands aside when the user chose a thread count: ``OMP_NUM_THREADS`` or
  ``MKL_NUM_THREADS`` in the environment (joblib's loky workers get these from
  ``inner_max_num_threads``), or a count that differs from the one torch had when this
  module was imported (``torch.set_num_threads``, ``threadpoolctl.threadpool_limits``;
  a count equal to torch's default cannot be told from it: pin it with the environment);
- it does nothing for CUDA work, whose host threads only launch kernels.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from itertools import pairwise

import torch
from torch import nn

#: Steps with fewer FLOPs than this run on one thread. ``benchmarks/thread_crossover.py``
#: measures 1 against 2 threads per training step (results in ``benchmarks/results/``). On
#: 2 cores with no busy process, 2 threads gained nothing at 4.6 MFLOP (digits, batch 64:
#: ratio 0.97) and 15-16% from 14 MFLOP on (0.84-0.85), growing to 45% at 2 GFLOP; beside 2
#: busy processes they lost at every size (1.3x to 6x slower), which ``busy_cores`` handles.
SINGLE_THREAD_BELOW_FLOPS = 1e7

#: Environment variables through which users, launchers and joblib's loky workers fix the
#: number of OpenMP/MKL threads; torch reads them at import.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: Torch's count when this module was first imported (torch's default unless the user had
#: already changed it); a different count later means someone chose it.
_THREADS_AT_IMPORT = torch.get_num_threads()


def mlp_step_flops(n_features: int, hidden_layer_sizes: Sequence[int], n_outputs: int,
                   batch_size: int, *, training: bool = True) -> float:
    """FLOPs of one step of a fully connected network on ``batch_size`` rows.

    A forward pass costs ``2 * batch * sum(n_in * n_out)`` (multiply-adds of the matrix
    products; activations and biases are negligible next to them). Training adds the
    backward pass, about twice the forward.
    """
    sizes = [n_features, *hidden_layer_sizes, n_outputs]
    forward = 2.0 * batch_size * sum(a * b for a, b in pairwise(sizes))
    return 3.0 * forward if training else forward


def forward_flops(module: nn.Module, sample: torch.Tensor) -> float:
    """FLOPs of ``module``'s forward pass on ``sample``, from its Linear and conv layers.

    Runs one forward pass (no gradients, eval mode; the module's modes are restored) with
    hooks that read each layer's output shape, so convolutions are counted at their real
    spatial size. Multiply by 3 for a training step.
    """
    total = 0.0

    def count(layer: nn.Module, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(layer, nn.Linear):
            rows = output.numel() // layer.out_features
            total += 2.0 * rows * layer.in_features * layer.out_features
        else:  # a convolution: every output element is a dot product over its window
            window = (layer.in_channels // layer.groups) * math.prod(layer.kernel_size)
            total += 2.0 * output.numel() * window

    layers = [m for m in module.modules()
              if isinstance(m, nn.Linear | nn.modules.conv._ConvNd)]
    handles = [layer.register_forward_hook(count) for layer in layers]
    modes = {m: m.training for m in module.modules()}
    try:
        module.eval()
        with torch.no_grad():
            module(sample)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes.items():
            m.training = mode
    return total


def step_flops(module: nn.Module, sample: torch.Tensor, rows: int, *,
               training: bool) -> float:
    """FLOPs of one step of ``module`` on ``rows`` rows shaped like ``sample``'s.

    Fully connected networks are counted from their layer shapes alone; a network with
    convolutions runs one forward pass on the first row of ``sample`` (in a forked RNG, so
    that random layers cannot move the caller's random state).
    """
    convs = any(isinstance(m, nn.modules.conv._ConvNd) for m in module.modules())
    if convs:
        with torch.random.fork_rng(devices=[]):
            per_row = forward_flops(module, sample[:1])
    else:
        per_row = sum(2.0 * m.in_features * m.out_features for m in module.modules()
                      if isinstance(m, nn.Linear))
    return per_row * rows * (3.0 if training else 1.0)


def user_chose_threads() -> bool:
    """Whether the thread count was set on purpose, so that the policy must keep it."""
    if any(os.environ.get(name, "").strip() for name in THREAD_ENV_VARS):
        return True
    return torch.get_num_threads() != _THREADS_AT_IMPORT


def busy_cores() -> int:
    """Cores other processes are running on right now (0 where the system does not say).

    The fourth field of ``/proc/loadavg`` is ``runnable/total`` scheduling entities at this
    instant. Unlike the load averages it has no memory, so a previous fit of ours does not
    count as someone else's load. This process's own running threads are subtracted: the
    reading thread, and torch's OpenMP workers, which keep spinning for a while after an
    operator and would otherwise make an idle machine look busy.
    """
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            runnable = int(f.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, runnable - max(1, _own_running_threads()))


def _own_running_threads() -> int:
    """Threads of this process in the running state ('R' in ``/proc/self/task/*/stat``)."""
    running = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", encoding="ascii") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        # The command name in parentheses may hold spaces; the state follows its ')'.
        running += stat[stat.rindex(")") + 2] == "R"
    return running


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the system reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def threads_for(flops_per_step: float, available: int, busy: int = 0) -> int:
    """Intra-op threads for steps of ``flops_per_step``.

    Parameters
    ----------
    flops_per_step : float
        Work of one step.
    available : int
        Threads the caller allows (torch's current count).
    busy : int, default=0
        Cores other processes are running on (:func:`busy_cores`).
    """
    if flops_per_step < SINGLE_THREAD_BELOW_FLOPS:
        return 1
    return max(1, min(available, usable_cores() - busy))


@contextlib.contextmanager
def thread_policy(flops_per_step: float | Callable[[], float],
                  device: torch.device | str = "cpu") -> Iterator[int]:
    """Run the block with the intra-op thread count suited to steps of this size.

    Parameters
    ----------
    flops_per_step : float or callable
        Work of one step (:func:`step_flops`: a training batch, or one prediction chunk),
        or a function returning it, called only when the policy has a choice to make.
    device : torch.device or str, default='cpu'
        Where the work runs; on a CUDA device the threads are left alone.

    Yields
    ------
    int
        The number of threads torch uses inside the block.

    Notes
    -----
    ``torch.set_num_threads`` is process-wide state. The caller's value is read before and
    put back in a ``finally``, so an exception or Ctrl-C inside the block restores it, and
    a nested call (validation inside a fit) sees a count that was chosen and keeps it.
    """
    before = torch.get_num_threads()
    if torch.device(device).type != "cpu" or before <= 1 or user_chose_threads():
        yield before
        return
    if callable(flops_per_step):
        flops_per_step = flops_per_step()
    threads = threads_for(flops_per_step, before, busy_cores())
    if threads == before:
        yield before
        return
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(before)
