"""The epoch loop of a stack: K networks, each trained as its own ``fit`` would.

Each network (a :class:`Member`) keeps what makes its training its own: its rows, its
shuffle generator (seeded as its own fit seeds it), its batch size, learning-rate
schedule and current rate, its stopping rules (a
:class:`~sknn_mnist.core.callbacks.ConvergenceMonitor` each), its early-stopping best
weights and its history rows. A step gathers every network's batch in one tensor
``(K, batch, ...)``, runs the stacked forward and one backward, and one optimizer update;
networks whose batch has another size (a shorter fold's last batch) run in their own
forward in the same step. A network that stops (converged, early-stopped, its epochs
done, or diverged) leaves the stack at the end of the epoch, and the others go on.

Losses and scores stay on the device and are read once per epoch for all networks.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import torch

from ..callbacks import ConvergenceMonitor, LearningRateSchedule
from ..data import batch_bounds
from ..device import cuda_index, seed_generators
from ..plan import TrainingPlan
from ..solvers import get_solver
from ..threads import thread_policy
from .data import StackData
from .network import StackedNetwork
from .optim import StackedOptimizer, make_optimizer

#: The message of a network whose training diverged (the estimator's own words).
NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large "
    "values and need to be preprocessed (e.g. a MinMaxScaler), or the learning rate "
    "(learning_rate_init) may be too high."
)


@dataclass
class Member:
    """One network of a stack: its estimator, plan, initial module and training state.

    After training, ``state`` (module), ``optimizer_state`` (per parameter name),
    ``generator_state``, ``rows`` and ``learning_rate`` describe the trained network, or
    ``error`` says why it failed.
    """

    estimator: Any
    plan: TrainingPlan
    module: torch.nn.Module
    rows: list[dict[str, Any]] = field(default_factory=list)
    state: dict[str, torch.Tensor] | None = None
    optimizer_state: dict[str, dict[str, torch.Tensor]] | None = None
    generator_state: torch.Tensor | None = None
    learning_rate: float = 0.0
    error: BaseException | None = None
    seconds: float = 0.0

    def __post_init__(self) -> None:
        e, plan = self.estimator, self.plan
        solver = get_solver(e.solver)
        self.schedule = LearningRateSchedule(solver.schedule(e.learning_rate),
                                             e.learning_rate_init, e.power_t, plan.horizon)
        self.monitor = ConvergenceMonitor(
            early_stopping=e.early_stopping, tol=e.tol, n_iter_no_change=e.n_iter_no_change,
            adaptive=solver.schedule(e.learning_rate) == "adaptive", verbose=0,
            score_key=f"valid_{plan.head.score_name}")
        self.monitor.on_train_begin(_NoHistory)
        self.generator = torch.Generator().manual_seed(plan.seeds.shuffle)
        self.learning_rate = float(e.learning_rate_init)
        self.samples_seen = plan.samples_seen
        self.bounds = batch_bounds(plan.n_train, plan.batch_size)
        self.has_best = False

    @property
    def shuffle(self) -> bool:
        return bool(self.estimator.shuffle)

    @property
    def inference_rows(self) -> int:
        return int(self.estimator._inference_batch_size)


class _NoHistory:
    """What a monitor's ``on_train_begin`` reads of a new net: an empty history."""

    history: list = []


class StackedTrainer:
    """Train members of one architecture, device and dtype together; see the module.

    Parameters
    ----------
    members : list of Member
        Their modules on ``device`` in the training dtype, heads of one kind.
    device : torch.device
    flops : callable
        ``flops() -> float``: one network's FLOPs per training step (the thread policy
        sizes torch's threads for K of them).
    """

    def __init__(self, members: list[Member], device: torch.device, flops) -> None:
        self.members = members
        self.device = device
        self.flops = flops
        self.head = members[0].plan.head

    def train(self) -> None:
        """Train every member; results go into the members. ``KeyboardInterrupt``
        propagates (no member is then complete)."""
        members = self.members
        data = StackData.from_plans([m.plan for m in members], self.device)
        network = StackedNetwork([m.module for m in members])
        optimizer = make_optimizer(members[0].estimator.solver, network,
                                   [m.estimator for m in members],
                                   [m.plan.decay for m in members])
        loop = _Loop(members, data, network, optimizer, self.head)
        rng_devices = [cuda_index(self.device)] if self.device.type == "cuda" else []
        step = lambda: self.flops() * len(loop.active)  # noqa: E731
        with thread_policy(step, self.device), torch.random.fork_rng(devices=rng_devices):
            # One seeded stream for the stack's dropout masks: each network its own masks,
            # not those its own fit would draw (docs/stacked_training.md).
            seed_generators(members[0].plan.seeds.torch, self.device)
            while loop.active:
                loop.run_epoch()


class _Loop:
    """The state of one stack's training between epochs."""

    def __init__(self, members: list[Member], data: StackData, network: StackedNetwork,
                 optimizer: StackedOptimizer, head) -> None:
        self.members = members
        self.active = list(range(len(members)))  # member index of each stack position
        self.data, self.network, self.optimizer, self.head = data, network, optimizer, head
        self.train_rows = [data.rows(i, m.plan.train_rows, len(m.plan.X))
                           for i, m in enumerate(members)]
        self.valid_rows = [None if m.plan.valid_rows is None else
                           data.rows(i, m.plan.valid_rows, len(m.plan.X))
                           for i, m in enumerate(members)]
        self.best: dict[str, torch.Tensor] | None = None
        self.references = [self._reference(i) for i in range(len(members))]

    # -- one epoch ---------------------------------------------------------------------------
    def run_epoch(self) -> None:
        start = time.perf_counter()
        active = [self.members[i] for i in self.active]
        for member in active:
            rate = member.schedule.epoch_rate(len(member.rows), member.samples_seen)
            if rate is not None:
                member.learning_rate = rate
            member.samples_seen += member.plan.n_train
        self.optimizer.set_learning_rates([m.learning_rate for m in active])
        losses, weights, batches = self._train_epoch(active)
        valid = self._validate(active)
        seconds = (time.perf_counter() - start) / len(active)
        finished = []
        for position, member in enumerate(active):
            row = {"batches": [], "epoch": len(member.rows) + 1,
                   "train_loss": float(losses[position] / weights[position]),
                   "train_batch_count": batches[position], **valid[position],
                   "train_samples": member.plan.n_train, "dur": seconds,
                   "lr": member.learning_rate}
            member.rows.append(row)
            member.seconds += seconds
            if self._decide(position, member, row):
                finished.append(position)
        if finished:
            self._finish(finished)

    def _train_epoch(self, active: list[Member]):
        n = len(active)
        loss_sums = torch.zeros(n, dtype=self.data.X.dtype, device=self.data.X.device)
        weight_sums = torch.zeros_like(loss_sums)
        orders = self._orders(active)
        n_steps = max(len(m.bounds) for m in active)
        cosine = [m for m in active if m.schedule.batch_rate(0, 0, 1) is not None]
        for step in range(n_steps):
            if cosine:
                self._batch_rates(active, step)
            sizes = defaultdict(list)  # batch size -> (positions, row indices)
            for position, member in enumerate(active):
                if step < len(member.bounds):
                    lo, hi = member.bounds[step]
                    sizes[hi - lo].append((position, orders[position][lo:hi]))
            stepping = [step < len(m.bounds) for m in active]
            total = None
            for parts in sizes.values():
                positions = [p for p, _ in parts]
                index = torch.stack([rows for _, rows in parts])
                part_loss = self._batch_loss(positions, index, n, loss_sums, weight_sums)
                total = part_loss if total is None else total + part_loss
            total.backward()
            self.optimizer.step(None if all(stepping) else stepping)
            self.network.zero_grad()
        batches = [len(m.bounds) for m in active]
        # One host read per epoch for all networks' losses.
        return loss_sums.tolist(), weight_sums.tolist(), batches

    def _orders(self, active: list[Member]) -> list[torch.Tensor]:
        orders = []
        for position, member in enumerate(active):
            rows = self.train_rows[self.active[position]]
            if member.shuffle:
                order = torch.randperm(len(rows), generator=member.generator)
                rows = rows[order.to(rows.device, non_blocking=True)]
            orders.append(rows)
        return orders

    def _batch_rates(self, active: list[Member], step: int) -> None:
        for member in active:
            rate = member.schedule.batch_rate(len(member.rows), step,
                                              max(len(member.bounds), 1))
            if rate is not None and step < len(member.bounds):
                member.learning_rate = rate
        self.optimizer.set_learning_rates([m.learning_rate for m in active])

    def _batch_loss(self, positions: list[int], index: torch.Tensor, n: int,
                    loss_sums: torch.Tensor, weight_sums: torch.Tensor) -> torch.Tensor:
        X, y, w = self.data.gather(index)
        members = None if len(positions) == n else torch.tensor(positions,
                                                                device=index.device)
        out = self.network.forward(X, members, training=True)
        g, rows = index.shape
        losses = self.head.losses(out.reshape(g * rows, -1),
                                  y.reshape(g * rows, *y.shape[2:])).view(g, rows)
        if w is None:
            per_network = losses.mean(dim=1)
            weight = torch.full_like(per_network, rows)
        else:
            per_network = (losses * w).sum(dim=1) / w.sum(dim=1)
            weight = w.sum(dim=1)
        at = torch.arange(n, device=index.device) if members is None else members
        loss_sums.index_add_(0, at, per_network.detach() * weight)
        weight_sums.index_add_(0, at, weight)
        return per_network.sum()

    # -- validation --------------------------------------------------------------------------
    def _reference(self, i: int):
        rows = self.valid_rows[i]
        if rows is None:
            return None
        _, y, w = self.data.gather(rows[None])
        return self.head.score_reference(y[0], None if w is None else w[0])

    @torch.no_grad()
    def _validate(self, active: list[Member]) -> list[dict[str, float]]:
        results: list[dict[str, float]] = [{} for _ in active]
        scored = [p for p, _ in enumerate(active) if self.valid_rows[self.active[p]] is not None]
        if not scored:
            return results
        rows = [self.valid_rows[self.active[p]] for p in scored]
        longest = max(len(r) for r in rows)
        chunk = max(1, min(active[scored[0]].inference_rows // len(scored), longest))
        sums = [None] * len(scored)
        loss_sums = [0.0] * len(scored)
        members = torch.tensor(scored, device=rows[0].device)
        whole = members if len(scored) < len(active) else None
        for lo in range(0, longest, chunk):
            # Every network's rows [lo, lo + chunk), padded with its first row; the padding
            # is dropped below (evaluation mode: no batch statistics, no dropout).
            index = torch.stack([_padded(r[lo:lo + chunk], r[:1], chunk) for r in rows])
            X, y, w = self.data.gather(index)
            out = self.network.forward(X, whole, training=False)
            for j, r in enumerate(rows):
                k = max(0, min(len(r) - lo, chunk))
                if k == 0:
                    continue
                wj = None if w is None else w[j, :k]
                losses = self.head.losses(out[j, :k], y[j, :k])
                loss_sums[j] += (losses.sum() if wj is None else (losses * wj).sum())
                terms = self.head.score_terms(out[j, :k], y[j, :k], wj)
                sums[j] = terms if sums[j] is None else sums[j] + terms
        name = self.head.score_name
        for j, position in enumerate(scored):
            i = self.active[position]
            _, _, w = self.data.gather(rows[j][None])
            total = float(len(rows[j]) if w is None else w.sum())
            results[position] = {
                "valid_loss": float(loss_sums[j]) / total,
                "valid_batch_count": len(batch_bounds(len(rows[j]), active[position]
                                                      .inference_rows)),
                f"valid_{name}": self.head.score(sums[j], total, self.references[i])}
        return results

    # -- stopping ----------------------------------------------------------------------------
    def _decide(self, position: int, member: Member, row: dict) -> bool:
        """Apply the member's stopping rules to its new row; whether it is finished."""
        decision = member.monitor.decide(row, member.learning_rate)
        if decision.diverged:
            member.error = ValueError(NON_FINITE)
            return True
        if decision.best and member.estimator.early_stopping:
            self._keep_best(position)
            member.has_best = True
        if decision.learning_rate is not None:
            member.learning_rate = decision.learning_rate
        if decision.stop is not None:
            row["stop"] = decision.stop
        return decision.halt or len(member.rows) >= member.plan.epochs

    def _keep_best(self, position: int) -> None:
        tensors = self.network.tensors()
        if self.best is None:
            self.best = {n: t.clone() for n, t in tensors.items()}
            return
        for name, tensor in tensors.items():
            self.best[name][position].copy_(tensor[position])

    def _finish(self, finished: list[int]) -> None:
        """Take the finished networks' results out of the stack; keep the others."""
        finite = self.network.finite()
        for position in finished:
            member = self.members[self.active[position]]
            if member.error is None and not finite[position]:
                member.error = ValueError(NON_FINITE)
            if member.error is None:
                self._extract(position, member)
        keep = [p for p in range(len(self.active)) if p not in finished]
        self.active = [self.active[p] for p in keep]
        if keep:
            positions = torch.tensor(keep, device=self.data.X.device)
            self.network.keep(positions)
            self.optimizer.keep(keep)
            if self.best is not None:
                self.best = {n: t.index_select(0, positions) for n, t in self.best.items()}

    def _extract(self, position: int, member: Member) -> None:
        # Early stopping: the best epoch's weights, as the monitor restores them.
        best = member.has_best and self.best is not None
        member.state = self.network.state(position, self.best if best else None)
        member.optimizer_state = {n: self.optimizer.torch_state(position, n)
                                  for n in self.network.params}
        member.generator_state = member.generator.get_state()


def _padded(rows: torch.Tensor, filler: torch.Tensor, length: int) -> torch.Tensor:
    """``rows`` extended to ``length`` with copies of ``filler`` (one index)."""
    if len(rows) >= length:
        return rows
    return torch.cat([rows, filler.expand(length - len(rows))])
