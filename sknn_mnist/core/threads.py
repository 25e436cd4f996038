"""How many CPU threads torch may use for our own training and prediction.

Torch runs every operator on ``torch.get_num_threads()`` intra-op threads (by default one
per physical core). For the small matrices of an MLP on 8x8 digits the extra threads buy
nothing even on an idle machine, and on a busy one they are ruinous: OpenMP threads
spin-wait for each other at every operator, so when another process holds a core each
operator waits for a time slice (measured: ``benchmarks/results/RESULTS.md``, section
"Contention", row "ours, threads not managed" beside 2 busy processes).

The policy (a :class:`ThreadPolicy`; :func:`thread_policy` applies the default one):

- the work of one step (FLOPs of a training step or of a prediction chunk) decides: below
  :data:`SINGLE_THREAD_BELOW_FLOPS` torch runs single-threaded, without looking at the
  machine; above it torch keeps the count it had (we never raise it), less the cores that
  other processes are busy on (:func:`busy_cores`, Linux's count of runnable tasks in
  ``/proc/loadavg``), because a thread that has to wait for a time slice stalls all the
  others at every operator. That sample is reused for
  :data:`BUSY_SAMPLE_SECONDS`, so back-to-back predict calls do not read ``/proc`` each time;
- it applies only around our own work and restores the caller's setting in a ``finally``;
- it stands aside when the user chose a thread count: ``OMP_NUM_THREADS`` or
  ``MKL_NUM_THREADS`` in the environment (joblib's loky workers get these from
  ``inner_max_num_threads``; read at every decision, a dictionary lookup), or a count that
  differs from torch's default (``torch.set_num_threads``,
  ``threadpoolctl.threadpool_limits``). Torch does not report its default, so the policy
  takes the count it finds at its first decision (the first fit or predict of the process)
  as the default, unless given ``default_threads=``; a count chosen before that, or equal
  to torch's default, cannot be told from it: pin it with the environment;
- it does nothing for CUDA work, whose host threads only launch kernels.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import torch
from torch import nn

#: Steps with fewer FLOPs than this run on one thread. ``benchmarks/thread_crossover.py``
#: measures 1 against 2 threads per training step (measured: ``benchmarks/results/RESULTS.md``,
#: section "Intra-op threads: 1 against 2 per training step"): on an idle machine the second
#: thread gains nothing on digits-sized steps and helps from about this size on; beside busy
#: processes it loses at every size, which :func:`busy_cores` handles.
SINGLE_THREAD_BELOW_FLOPS = 1e7

#: Seconds a :func:`busy_cores` sample is reused. The count is an instant's reading, so an
#: older one says little; within a second, repeated predict calls (or a fit's validation
#: passes) share one reading instead of walking ``/proc`` each time.
BUSY_SAMPLE_SECONDS = 1.0

#: Environment variables through which users, launchers and joblib's loky workers fix the
#: number of OpenMP/MKL threads; torch reads them at import.
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


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



def busy_cores(proc: str | os.PathLike[str] = "/proc") -> int:
    """Cores other processes are running on right now (0 where the system does not say).

    The fourth field of ``/proc/loadavg`` is ``runnable/total`` scheduling entities at this
    instant. Unlike the load averages it has no memory, so a previous fit of ours does not
    count as someone else's load. This process's own running threads are subtracted: the
    reading thread, and torch's OpenMP workers, which keep spinning for a while after an
    operator and would otherwise make an idle machine look busy.

    Parameters
    ----------
    proc : path-like, default='/proc'
        Where the ``proc`` file system is mounted (a folder with the same layout, for tests).
    """
    proc = Path(proc)
    try:
        runnable = int((proc / "loadavg").read_text(encoding="ascii").split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    return max(0, runnable - max(1, _own_running_threads(proc)))


def _own_running_threads(proc: str | os.PathLike[str] = "/proc") -> int:
    """Threads of this process in the running state ('R' in ``/proc/self/task/*/stat``)."""
    running = 0
    try:
        tasks = list((Path(proc) / "self" / "task").iterdir())
    except OSError:
        return 1
    for task in tasks:
        try:
            stat = (task / "stat").read_text(encoding="ascii")
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


def env_chose_threads() -> bool:
    """Whether ``OMP_NUM_THREADS`` or ``MKL_NUM_THREADS`` fixes the thread count."""
    return any(os.environ.get(name, "").strip() for name in THREAD_ENV_VARS)


def threads_for(flops_per_step: float, available: int, busy: int = 0, *,
                cores: int | None = None,
                single_thread_below: float = SINGLE_THREAD_BELOW_FLOPS) -> int:
    """Intra-op threads for steps of ``flops_per_step``.

    Parameters
    ----------
    flops_per_step : float
        Work of one step.
    available : int
        Threads the caller allows (torch's current count).
    busy : int, default=0
        Cores other processes are running on (:func:`busy_cores`).
    cores : int, optional
        Cores this process may use; default :func:`usable_cores`.
    single_thread_below : float, default=SINGLE_THREAD_BELOW_FLOPS
        Steps smaller than this run on one thread.
    """
    if flops_per_step < single_thread_below:
        return 1
    return max(1, min(available, (usable_cores() if cores is None else cores) - busy))


@dataclass
class ThreadPolicy:
    """The thread policy, with what it measured about the machine kept for later calls.

    Parameters
    ----------
    single_thread_below_flops : float, default=SINGLE_THREAD_BELOW_FLOPS
        Steps with fewer FLOPs run on one thread; others keep torch's count, less the busy
        cores.
    busy_sample_seconds : float, default=BUSY_SAMPLE_SECONDS
        How long one ``busy_source`` reading is reused (0: read at every decision that
        needs it). Small steps never need it.
    default_threads : int, optional
        Torch's default thread count; a different current count is the user's choice and
        is kept. Default: the count found at the policy's first decision.
    cores : int, optional
        Cores the process may use. Default: :func:`usable_cores`, measured once.
    busy_source : callable, default=busy_cores
        Returns the cores other processes are running on.
    clock : callable, default=time.monotonic
        Seconds, for the age of the busy sample.

    Notes
    -----
    The environment variables of :data:`THREAD_ENV_VARS` are read at every decision (a
    dictionary lookup): a launcher or a benchmark may set them between two fits. The
    policy is safe to share between threads; ``torch.set_num_threads`` is process-wide
    anyway.
    """

    single_thread_below_flops: float = SINGLE_THREAD_BELOW_FLOPS
    busy_sample_seconds: float = BUSY_SAMPLE_SECONDS
    default_threads: int | None = None
    cores: int | None = None
    busy_source: Callable[[], int] = busy_cores
    clock: Callable[[], float] = time.monotonic
    _sample: tuple[float, int] | None = field(default=None, init=False, repr=False,
                                              compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False,
                                  compare=False)

    def usable_cores(self) -> int:
        """Cores the process may use (measured on the first call, then kept)."""
        if self.cores is None:
            self.cores = usable_cores()
        return self.cores

    def user_chose(self, current: int | None = None) -> bool:
        """Whether torch's thread count (``current``, default its count now) was chosen."""
        if env_chose_threads():
            return True
        current = torch.get_num_threads() if current is None else current
        with self._lock:
            if self.default_threads is None:
                self.default_threads = current
        return current != self.default_threads

    def busy(self) -> int:
        """Cores busy elsewhere: a ``busy_source`` reading at most ``busy_sample_seconds`` old."""
        now = self.clock()
        sample = self._sample
        if sample is None or now - sample[0] >= self.busy_sample_seconds:
            sample = self._sample = (now, self.busy_source())
        return sample[1]

    def free_cores(self) -> int:
        """Cores no other process is busy on (at least 1): :meth:`usable_cores` less
        :meth:`busy`, the measurement the thread decisions use."""
        return max(1, self.usable_cores() - self.busy())

    def threads_for(self, flops_per_step: float, available: int) -> int:
        """Intra-op threads for steps of ``flops_per_step`` when ``available`` are allowed."""
        if flops_per_step < self.single_thread_below_flops:
            return 1  # whatever the machine does: no busy sample needed
        return threads_for(flops_per_step, available, self.busy(), cores=self.usable_cores(),
                           single_thread_below=self.single_thread_below_flops)

    @contextlib.contextmanager
    def apply(self, flops_per_step: float | Callable[[], float],
              device: torch.device | str = "cpu") -> Iterator[int]:
        """Run the block with the thread count suited to steps of this size.

        See :func:`thread_policy`, which applies the default policy.
        """
        before = torch.get_num_threads()
        if torch.device(device).type != "cpu" or before <= 1 or self.user_chose(before):
            yield before
            return
        if callable(flops_per_step):
            flops_per_step = flops_per_step()
        threads = self.threads_for(flops_per_step, before)
        if threads == before:
            yield before
            return
        torch.set_num_threads(threads)
        try:
            yield threads
        finally:
            torch.set_num_threads(before)


#: The policy :func:`thread_policy` applies (and so every fit and predict). It measures
#: nothing when created: its first decision does. Replace it to change the policy for the
#: whole process.
default_policy = ThreadPolicy()


def free_cores() -> int:
    """Cores no other process is busy on right now, at least 1 (:data:`default_policy`'s
    measurement: :meth:`ThreadPolicy.free_cores`). The command line's default
    ``--n-jobs``: on a busy machine, worker processes beyond the free cores only wait for
    time slices."""
    return default_policy.free_cores()


def user_chose_threads() -> bool:
    """Whether the thread count was set on purpose, so that the policy must keep it."""
    return default_policy.user_chose()


def thread_policy(flops_per_step: float | Callable[[], float],
                  device: torch.device | str = "cpu") -> contextlib.AbstractContextManager[int]:
    """Run the block with the intra-op thread count suited to steps of this size.

    Applies :data:`default_policy` (:meth:`ThreadPolicy.apply`).

    Parameters
    ----------
    flops_per_step : float or callable
        Work of one step (:func:`step_flops`: a training batch, or one prediction chunk),
        or a function returning it, called only when the policy has a choice to make.
    device : torch.device or str, default='cpu'
        Where the work runs; on a CUDA device the threads are left alone.

    Returns
    -------
    context manager
        Yields the number of threads torch uses inside the block.

    Notes
    -----
    ``torch.set_num_threads`` is process-wide state. The caller's value is read before and
    put back in a ``finally``, so an exception or Ctrl-C inside the block restores it, and
    a nested call (validation inside a fit) sees a count that was chosen and keeps it.
    """
    return default_policy.apply(flops_per_step, device)
