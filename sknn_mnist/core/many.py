"""Many fits at once: the entry point of grid searches, cross-validation and ensembles.

:func:`fit_many` takes a list of :class:`FitJob` (an unfitted estimator with its
parameters set, and its training data) and fits them all. Jobs whose networks can share
one stacked fit (equal :func:`stack_key`, then the same architecture, device, dtype and
kind of target once planned) are trained together by the stacked trainer
(:mod:`sknn_mnist.core.stacked`), in chunks that fit in memory; the others are fitted one
by one with their own ``fit``. Either way each job's estimator ends up as its own ``fit``
call would leave it (weights, history, optimizer state, ``loss_curve_``, ``n_iter_``,
warnings), and a job that fails reports its error instead of raising, so that a search
can apply its ``error_score``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from skorch.history import History

from .data import to_tensor
from .device import resolve_device
from .estimator import TorchEstimatorBase
from .stacked.memory import chunk_size, network_bytes, workers_beat_stacking
from .stacked.network import StackedNetwork
from .stacked.optim import STACKED_SOLVERS
from .stacked.trainer import Member, StackedTrainer
from .trainer import Trainer, TrainingOutcome, network_flops

#: Parameters that may differ between the networks of one stack: each network has its
#: own value. Every other parameter (the architecture, the solver, the dtype, the
#: device...) must be equal.
PER_NETWORK_PARAMS = frozenset({
    "random_state", "alpha", "batch_size", "learning_rate", "learning_rate_init",
    "power_t", "max_iter", "shuffle", "tol", "verbose", "momentum", "nesterovs_momentum",
    "early_stopping", "validation_fraction", "beta_1", "beta_2", "epsilon",
    "n_iter_no_change", "warm_start",
})


@dataclass
class FitJob:
    """One fit to run: ``estimator.fit(X, y, sample_weight=sample_weight)``.

    Jobs may share ``X`` (the same array object): the stacked trainer then puts it on
    the device once for all of them.
    """

    estimator: Any
    X: Any
    y: Any
    sample_weight: Any = None


@dataclass
class FitResult:
    """What one job's fit did.

    Attributes
    ----------
    estimator : estimator
        The job's estimator: fitted, or as it was when ``error`` is set.
    error : Exception or None
        The exception its fit raised.
    fit_time : float
        Seconds of fitting attributed to this job (a stack's time is shared out between
        its networks by the epochs each trained).
    """

    estimator: Any
    error: BaseException | None
    fit_time: float


def stack_key(estimator: Any) -> Hashable | None:
    """What estimators must share to train in one stack; None when this one can't.

    Our torch estimators with a solver the stack implements (``adam``, ``adamw``,
    ``sgd``), not continuing a previous fit, and equal in every parameter outside
    :data:`PER_NETWORK_PARAMS`.
    """
    if not isinstance(estimator, TorchEstimatorBase):
        return None
    if not isinstance(estimator.solver, str) or estimator.solver not in STACKED_SOLVERS:
        return None
    if estimator.warm_start and estimator._is_trained():
        return None
    shared = sorted((name, repr(value)) for name, value in
                    estimator.get_params(deep=False).items()
                    if name not in PER_NETWORK_PARAMS)
    return type(estimator), tuple(shared)


def stacks_in_process(estimator: Any, n_rows: int, n_features: int, n_outputs: int,
                      workers: int) -> bool:
    """Whether ``estimator`` should train through :func:`fit_many` when ``workers``
    processes could fit it instead (as scikit-learn's searches do).

    True for a network that stacks and whose training step is small for a CPU core
    (:func:`~sknn_mnist.core.stacked.memory.workers_beat_stacking`), or on a GPU; False
    when it cannot stack, or its step fills a core and workers are free. An estimator
    whose network cannot be built here (bad parameters) returns True: its fit reports
    the error.
    """
    if workers <= 1:
        return True
    if stack_key(estimator) is None:
        return False
    try:
        device = resolve_device(estimator.device)
        if device.type != "cpu":
            return True
        batch = estimator.batch_size
        batch = min(batch if isinstance(batch, int) else 200, max(n_rows, 1))
        module = estimator._new_module(n_features, n_outputs, 0)
        sample = torch.zeros((1, n_features), dtype=next(module.parameters()).dtype)
        flops = network_flops(module, sample, batch, training=True)
    except Exception:  # the fit itself says what is wrong
        return True
    return not workers_beat_stacking(flops, device, workers)


def fit_many(jobs: Sequence[FitJob], *, verbose: int = 0,
             max_networks: int | None = None) -> list[FitResult]:
    """Fit every job; results in the order of ``jobs``.

    Parameters
    ----------
    jobs : sequence of FitJob
    verbose : int, default=0
        Above 0, say how the jobs were grouped and chunked.
    max_networks : int, default=None
        Most networks per stack; None chooses from the device and the memory.

    Returns
    -------
    list of FitResult
        ``KeyboardInterrupt`` is not caught: it propagates, and the jobs of the stack
        being trained are left unfitted.
    """
    results: list[FitResult | None] = [None] * len(jobs)
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for i, job in enumerate(jobs):
        key = stack_key(job.estimator)
        if key is None:
            results[i] = _fit_one(job)
        else:
            groups[key].append(i)
    for indices in groups.values():
        if len(indices) == 1:
            results[indices[0]] = _fit_one(jobs[indices[0]])
            continue
        stacked = _fit_stacked([jobs[i] for i in indices], verbose, max_networks)
        for i, result in zip(indices, stacked, strict=True):
            results[i] = result
    return results  # type: ignore[return-value]


def _fit_one(job: FitJob) -> FitResult:
    start = time.perf_counter()
    try:
        if job.sample_weight is None:
            job.estimator.fit(job.X, job.y)
        else:
            job.estimator.fit(job.X, job.y, sample_weight=job.sample_weight)
    except Exception as exc:  # reported to the caller, which applies its error_score
        return FitResult(job.estimator, exc, time.perf_counter() - start)
    return FitResult(job.estimator, None, time.perf_counter() - start)


# -- stacked fits ---------------------------------------------------------------------------
def _fit_stacked(jobs: list[FitJob], verbose: int,
                 max_networks: int | None) -> list[FitResult]:
    """Plan every job as its own fit would, train the plans in stacks, commit."""
    results: list[FitResult | None] = [None] * len(jobs)
    stacks: dict[Hashable, list[tuple[int, Member, torch.device]]] = defaultdict(list)
    for i, job in enumerate(jobs):
        start = time.perf_counter()
        try:
            member, device = _prepare(job)
        except Exception as exc:
            results[i] = FitResult(job.estimator, exc, time.perf_counter() - start)
            continue
        member.seconds = time.perf_counter() - start
        stacks[_architecture(member, device)].append((i, member, device))
    for entries in stacks.values():
        if len(entries) == 1:  # nothing to share: the network's own fit
            results[entries[0][0]] = _fit_one(jobs[entries[0][0]])
            continue
        device = entries[0][2]
        members = [m for _, m, _ in entries]
        module, batch = members[0].module, max(m.plan.batch_size for m in members)
        sample = to_tensor(members[0].plan.X[:1], device)
        flops = network_flops(module, sample, batch, training=True)
        size = chunk_size(network_bytes(module, sample, batch), device, len(members),
                          max_networks, step_flops=flops,
                          vectorised=not StackedNetwork.runs_plain(module))
        if verbose:
            print(f"[fit_many] {len(members)} {type(members[0].estimator).__name__} "
                  f"networks on {device}: " + (
                      "one by one (stacking does not pay here)" if size == 1 else
                      f"{-(-len(members) // size)} stack(s) of at most {size}"), flush=True)
        for lo in range(0, len(entries), size):
            chunk = entries[lo:lo + size]
            if len(chunk) == 1:
                results[chunk[0][0]] = _fit_one(jobs[chunk[0][0]])
                continue
            _train_chunk([m for _, m, _ in chunk], device, flops)
            for i, member, _ in chunk:
                results[i] = _commit(member, device)
    return results  # type: ignore[return-value]


def _prepare(job: FitJob) -> tuple[Member, torch.device]:
    """What ``fit`` does before training: validation, the plan and the initial module."""
    estimator = job.estimator
    estimator._validate_params()
    estimator._check_params()
    plan = estimator._plan(job.X, job.y, job.sample_weight, estimator._fit_call(), None)
    device = resolve_device(estimator.device)
    module = estimator._new_module(plan.n_features, plan.n_outputs, plan.seeds.init)
    return Member(estimator, plan, module.to(device)), device


def _architecture(member: Member, device: torch.device) -> Hashable:
    """What the networks of one stack must share once planned."""
    shapes = tuple((name, tuple(t.shape), str(t.dtype))
                   for name, t in member.module.state_dict().items())
    return str(device), member.plan.head.name, repr(member.module), shapes


def _train_chunk(members: list[Member], device: torch.device, flops: float) -> None:
    start = time.perf_counter()
    StackedTrainer(members, device, lambda: flops).train()
    # The stack's time, shared out by the epochs each network trained.
    elapsed = time.perf_counter() - start
    epochs = sum(max(len(m.rows), 1) for m in members)
    for member in members:
        member.seconds += elapsed * max(len(member.rows), 1) / epochs


def _commit(member: Member, device: torch.device) -> FitResult:
    """Give the estimator its trained network, as its own ``fit`` would have."""
    estimator, plan = member.estimator, member.plan
    if member.error is not None:
        return FitResult(estimator, member.error, member.seconds)
    try:
        module = member.module
        module.load_state_dict(member.state)
        trainer = Trainer.create(estimator, module, device, head=plan.head,
                                 batch_size=plan.batch_size, shuffle_seed=plan.seeds.shuffle,
                                 decay=plan.decay)
        _load_optimizer(trainer, member)
        trainer.net.iterator_train__generator.set_state(member.generator_state)
        trainer.net.history = History([dict(row) for row in member.rows])
        outcome = TrainingOutcome(rows=list(member.rows))
        estimator._commit(plan, trainer, outcome)
        estimator._warn_if_not_converged(plan, outcome)
    except Exception as exc:
        return FitResult(estimator, exc, member.seconds)
    return FitResult(estimator, None, member.seconds)


def _load_optimizer(trainer: Trainer, member: Member) -> None:
    """The torch optimizer's state from the stack's (its layout: parameters by index)."""
    optimizer = trainer.net.optimizer_
    names = {id(p): n for n, p in trainer.net.module_.named_parameters()}
    state_dict = optimizer.state_dict()
    state, index = {}, 0
    for group in optimizer.param_groups:
        for param in group["params"]:
            entry = member.optimizer_state[names[id(param)]]
            if entry:
                state[index] = entry
            index += 1
    state_dict["state"] = state
    for group in state_dict["param_groups"]:
        group["lr"] = member.learning_rate
    optimizer.load_state_dict(state_dict)
