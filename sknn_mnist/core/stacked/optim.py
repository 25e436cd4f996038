"""Adam, AdamW and SGD for a stacked network, with per-network hyperparameters.

Each network keeps its own hyperparameters (learning rate, betas, epsilon, momentum,
Nesterov, the L2 coefficient), its own moments and its own step counts. An update runs
torch's own fused kernels (``torch._fused_adam_``, ``_fused_adamw_``, ``_fused_sgd_``: the
ones ``fused=True`` optimizers run, as our single fits do) once per set of networks that
share their hyperparameters, on the rows of the stacked parameters: the penalised weights
with the network's L2 coefficient, the rest without. So each network follows the
trajectory its own optimizer would, for about the cost of one optimizer over all of them.
A network that has no batch in a step (its fold is shorter) is left out of that update.

:meth:`StackedOptimizer.torch_state` gives one network's state in the layout of the torch
optimizer's ``state_dict``, so that a model trained in a stack continues with
``partial_fit`` as if trained alone.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from .network import StackedNetwork


class StackedOptimizer:
    """Base: per-network hyperparameters, grouping, and the two parts of each row.

    Parameters
    ----------
    network : StackedNetwork
    hyper : dict of str to list of K floats
        The hyperparameters by name (see each optimizer's :attr:`HYPER`).
    """

    #: The hyperparameters each network has.
    HYPER: tuple[str, ...] = ("lr", "weight_decay")
    #: The per-parameter state (moments) by name, each a ``(K, P)`` tensor.
    STATE: tuple[str, ...] = ()

    def __init__(self, network: StackedNetwork, hyper: dict[str, list[float]]) -> None:
        self.network = network
        self.hyper = {k: [float(v) for v in hyper[k]] for k in self.HYPER}
        flat = network.flat.detach()
        self.state = {name: torch.zeros_like(flat) for name in self.STATE}
        #: Column ranges of the two parts of a row: penalised weights, the rest.
        split = network.n_penalised
        self.parts = [(0, split, True), (split, flat.shape[1], False)]
        self.parts = [p for p in self.parts if p[1] > p[0]]

    def set_learning_rates(self, lr: list[float]) -> None:
        """Set every network's learning rate."""
        self.hyper["lr"] = [float(v) for v in lr]

    def _key(self, k: int) -> tuple:
        return tuple(self.hyper[name][k] for name in self.HYPER)

    @torch.no_grad()
    def step(self, stepping: list[bool] | None = None) -> None:
        """One update of every network (``stepping``: which ones step; None: all)."""
        flat = self.network.flat.detach()
        grad = self.network.flat.grad
        groups: dict[tuple, list[int]] = defaultdict(list)
        for k in range(len(flat)):
            if stepping is None or stepping[k]:
                groups[self._key(k)].append(k)
        for members in groups.values():
            for part, (lo, hi, penalised) in enumerate(self.parts):
                self._update(members, part, flat[:, lo:hi], grad[:, lo:hi],
                             {n: s[:, lo:hi] for n, s in self.state.items()}, penalised)
        self._after_step(groups)

    def _update(self, members, part, params, grads, state, penalised) -> None:
        raise NotImplementedError

    def _after_step(self, groups) -> None:
        pass

    def keep(self, positions: list[int]) -> None:
        """Keep the networks at ``positions`` (after :meth:`StackedNetwork.keep`)."""
        index = torch.tensor(positions, device=self.network.flat.device)
        self.hyper = {k: [v[p] for p in positions] for k, v in self.hyper.items()}
        self.state = {n: s.index_select(0, index) for n, s in self.state.items()}

    def torch_state(self, position: int, name: str) -> dict[str, Any]:
        """The torch optimizer's state of one network's parameter ``name``."""
        a, b, shape = self.network.layout[name]
        return {k: s[position, a:b].view(shape).clone() for k, s in self.state.items()}

    def _part_of(self, name: str) -> int:
        a = self.network.layout[name][0]
        return next(i for i, (lo, hi, _) in enumerate(self.parts) if lo <= a < hi)


class StackedAdam(StackedOptimizer):
    """``torch.optim.Adam(fused=True)`` (L2 added to the gradient), or AdamW."""

    HYPER = ("lr", "weight_decay", "beta_1", "beta_2", "epsilon")
    STATE = ("exp_avg", "exp_avg_sq")

    def __init__(self, network, hyper, *, decoupled: bool = False) -> None:
        super().__init__(network, hyper)
        self.kernel = torch._fused_adamw_ if decoupled else torch._fused_adam_
        # torch keeps one float32 step count per parameter tensor (fused form): one per
        # network and part here.
        device = network.flat.device
        self.steps = [[torch.zeros((), dtype=torch.float32, device=device)
                       for _ in range(len(network))] for _ in self.parts]

    def _update(self, members, part, params, grads, state, penalised):
        lr, decay, beta_1, beta_2, eps = self._key(members[0])
        steps = [self.steps[part][k] for k in members]
        torch._foreach_add_(steps, 1)  # as torch's optimizer does before its kernel
        self.kernel([params[k] for k in members], [grads[k] for k in members],
                    [state["exp_avg"][k] for k in members],
                    [state["exp_avg_sq"][k] for k in members], [],
                    steps, lr=lr, beta1=beta_1,
                    beta2=beta_2, weight_decay=decay if penalised else 0.0, eps=eps,
                    amsgrad=False, maximize=False)

    def keep(self, positions):
        super().keep(positions)
        self.steps = [[steps[p] for p in positions] for steps in self.steps]

    def torch_state(self, position, name):
        state = super().torch_state(position, name)
        state["step"] = self.steps[self._part_of(name)][position].clone()
        return state


class StackedSGD(StackedOptimizer):
    """``torch.optim.SGD(fused=True)`` with momentum and Nesterov momentum per network."""

    HYPER = ("lr", "weight_decay", "momentum", "nesterov")
    STATE = ("momentum_buffer",)

    def __init__(self, network, hyper) -> None:
        super().__init__(network, hyper)
        self.first = [True] * len(network)

    def _key(self, k):
        return (*super()._key(k), self.first[k])

    def _update(self, members, part, params, grads, state, penalised):
        lr, decay, momentum, nesterov, first = self._key(members[0])
        buffers = [] if momentum == 0 else [state["momentum_buffer"][k] for k in members]
        torch._fused_sgd_([params[k] for k in members], [grads[k] for k in members], buffers,
                          weight_decay=decay if penalised else 0.0, momentum=momentum,
                          lr=lr, dampening=0.0, nesterov=bool(nesterov), maximize=False,
                          is_first_step=bool(first and momentum != 0))

    def _after_step(self, groups):
        for members in groups.values():
            for k in members:
                self.first[k] = False

    def keep(self, positions):
        super().keep(positions)
        self.first = [self.first[p] for p in positions]

    def torch_state(self, position, name):
        if self.hyper["momentum"][position] == 0:
            return {}  # torch keeps no buffer without momentum
        return super().torch_state(position, name)


def _adam(estimator: Any) -> dict[str, float]:
    return {"beta_1": estimator.beta_1, "beta_2": estimator.beta_2,
            "epsilon": estimator.epsilon}


def _sgd(estimator: Any) -> dict[str, float]:
    nesterov = bool(estimator.nesterovs_momentum and estimator.momentum > 0)
    return {"momentum": estimator.momentum, "nesterov": float(nesterov)}


#: The solvers a stack can train, by ``solver``: the optimizer and the estimator's
#: hyperparameters it takes (besides the learning rate and the L2 coefficient).
STACKED_SOLVERS: dict[str, tuple[Any, Any]] = {
    "adam": (StackedAdam, _adam),
    "adamw": (lambda network, hyper: StackedAdam(network, hyper, decoupled=True), _adam),
    "sgd": (StackedSGD, _sgd),
}


def make_optimizer(solver: str, network: StackedNetwork, estimators: list[Any],
                   decays: list[float]) -> StackedOptimizer:
    """The stacked optimizer of ``solver`` with each estimator's hyperparameters."""
    factory, arguments = STACKED_SOLVERS[solver]
    rows = [arguments(e) for e in estimators]
    hyper = {k: [r[k] for r in rows] for k in rows[0]}
    hyper["lr"] = [e.learning_rate_init for e in estimators]
    hyper["weight_decay"] = list(decays)
    return factory(network, hyper)
