"""Adam, AdamW and SGD for a stacked network, with per-network hyperparameters.

Each network keeps its own hyperparameters (learning rate, betas, epsilon, momentum,
Nesterov, the L2 coefficient), its own moments and its own step counts. An update runs
torch's own fused kernels (``torch._fused_adam_``, ``_fused_adamw_``, ``_fused_sgd_``: the
ones ``fused=True`` optimizers run, as our single fits do) once per set of networks that
share their hyperparameters (the L2 coefficient aside), on those networks' slices of the
stacked parameters. The L2 term (``alpha``) is added to the penalised weights' gradients
first, for all networks in one operation per weight, as torch's kernels add it; AdamW's
decoupled decay is applied by its kernel, to the penalised weights only. So each network follows the
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
    """Base: per-network hyperparameters, the grouping of networks, the tensor lists.

    Parameters
    ----------
    network : StackedNetwork
    hyper : dict of str to list of K floats
        The hyperparameters by name (see each optimizer's :attr:`HYPER`).
    """

    #: The hyperparameters each network has.
    HYPER: tuple[str, ...] = ("lr", "weight_decay")
    #: The per-parameter state (moments) by name, each stacked like its parameter.
    STATE: tuple[str, ...] = ()
    #: Whether L2 is a gradient term (Adam, SGD), not a decoupled decay (AdamW).
    DECAY_IN_GRADIENT = True

    def __init__(self, network: StackedNetwork, hyper: dict[str, list[float]]) -> None:
        self.network = network
        self.hyper = {k: [float(v) for v in hyper[k]] for k in self.HYPER}
        self.state = {name: {s: torch.zeros_like(p.detach()) for s in self.STATE}
                      for name, p in network.params.items()}
        names = list(network.params)
        device = next(iter(network.params.values())).device
        dtype = next(iter(network.params.values())).dtype
        self._decay = torch.tensor(self.hyper["weight_decay"], dtype=dtype, device=device)
        #: The parameters each kernel call takes, with whether the kernel applies the
        #: decay: all of them at once when L2 is a gradient term, else the penalised
        #: weights (decayed) and the rest.
        if self.DECAY_IN_GRADIENT:
            self.parts = [(False, names)]
        else:
            self.parts = [(True, [n for n in names if n in network.penalised]),
                          (False, [n for n in names if n not in network.penalised])]
        self.parts = [(decayed, part) for decayed, part in self.parts if part]
        #: One step count per network, shared by its parameters (torch keeps one per
        #: parameter tensor; they are always equal).
        self.counts = torch.zeros(len(network), dtype=torch.float32, device=device)
        self._lists: dict[tuple[int, ...], list[dict[str, list[torch.Tensor]]]] = {}

    def set_learning_rates(self, lr: list[float]) -> None:
        """Set every network's learning rate."""
        self.hyper["lr"] = [float(v) for v in lr]

    @property
    def key_names(self) -> list[str]:
        """The hyperparameters networks must share to run in one kernel call."""
        return [n for n in self.HYPER
                if not (self.DECAY_IN_GRADIENT and n == "weight_decay")]

    def _key(self, k: int) -> tuple:
        return tuple(self.hyper[name][k] for name in self.key_names)

    def _tensor_lists(self, members: tuple[int, ...]) -> list[dict[str, list[torch.Tensor]]]:
        """Per part: the members' slices of parameters, gradients and state (cached: the
        slices stay valid until :meth:`keep`)."""
        lists = self._lists.get(members)
        if lists is None:
            params = self.network.params
            lists = []
            for _, names in self.parts:
                entry = {"params": [params[n].detach()[k] for k in members for n in names],
                         "grads": [params[n].grad[k] for k in members for n in names]}
                for s in self.STATE:
                    entry[s] = [self.state[n][s][k] for k in members for n in names]
                entry.update(self._extra_lists(members, names))
                lists.append(entry)
            self._lists[members] = lists
        return lists

    def _extra_lists(self, members, names) -> dict[str, list[torch.Tensor]]:
        return {}

    @torch.no_grad()
    def step(self, stepping: list[bool] | None = None) -> None:
        """One update of every network (``stepping``: which ones step; None: all)."""
        if self.DECAY_IN_GRADIENT:
            for name in self.network.penalised:
                param = self.network.params[name]
                decay = self._decay.view(-1, *([1] * (param.ndim - 1)))
                param.grad.addcmul_(decay, param.detach())
        if stepping is None:
            self.counts += 1
        else:
            self.counts += torch.tensor(stepping, dtype=self.counts.dtype,
                                        device=self.counts.device)
        groups: dict[tuple, list[int]] = defaultdict(list)
        for k in range(len(self.network)):
            if stepping is None or stepping[k]:
                groups[self._key(k)].append(k)
        for key, members in groups.items():
            lists = self._tensor_lists(tuple(members))
            for (decayed, _), tensors in zip(self.parts, lists, strict=True):
                self._update(dict(zip(self.key_names, key, strict=True)), tensors,
                             decayed)
        self._after_step(groups)

    def _update(self, hyper: dict[str, Any], tensors: dict[str, list[torch.Tensor]],
                decayed: bool) -> None:
        """Run the kernel on one group's tensors (``decayed``: apply the decoupled decay)."""
        raise NotImplementedError

    def _after_step(self, groups) -> None:
        pass

    def keep(self, positions: list[int]) -> None:
        """Keep the networks at ``positions`` (after :meth:`StackedNetwork.keep`)."""
        index = torch.tensor(positions, device=next(iter(self.network.params.values())).device)
        self.hyper = {k: [v[p] for p in positions] for k, v in self.hyper.items()}
        self._decay = self._decay.index_select(0, index)
        self.counts = self.counts.index_select(0, index)
        self.state = {n: {k: v.index_select(0, index) for k, v in s.items()}
                      for n, s in self.state.items()}
        self._lists = {}

    def torch_state(self, position: int, name: str) -> dict[str, Any]:
        """The torch optimizer's state of one network's parameter ``name``."""
        return {k: v[position].clone() for k, v in self.state[name].items()}


class StackedAdam(StackedOptimizer):
    """``torch.optim.Adam(fused=True)`` (L2 added to the gradient)."""

    HYPER = ("lr", "weight_decay", "beta_1", "beta_2", "epsilon")
    STATE = ("exp_avg", "exp_avg_sq")
    kernel = staticmethod(torch._fused_adam_)

    def _extra_lists(self, members, names):
        # The kernel reads a step count per tensor: the network's own, already counted.
        return {"steps": [self.counts[k] for k in members for _ in names]}

    def _update(self, hyper, tensors, decayed):
        self.kernel(tensors["params"], tensors["grads"], tensors["exp_avg"],
                    tensors["exp_avg_sq"], [], tensors["steps"], lr=hyper["lr"],
                    beta1=hyper["beta_1"], beta2=hyper["beta_2"],
                    weight_decay=hyper["weight_decay"] if decayed else 0.0,
                    eps=hyper["epsilon"], amsgrad=False, maximize=False)

    def torch_state(self, position, name):
        state = super().torch_state(position, name)
        state["step"] = self.counts[position].clone()
        return state


class StackedAdamW(StackedAdam):
    """``torch.optim.AdamW(fused=True)``: decoupled decay, applied by the kernel."""

    DECAY_IN_GRADIENT = False
    kernel = staticmethod(torch._fused_adamw_)


class StackedSGD(StackedOptimizer):
    """``torch.optim.SGD(fused=True)`` with momentum and Nesterov momentum per network.

    ``first`` (1 until a network's first step) tells the kernel to start the momentum
    buffer from the gradient, as torch's first step does.
    """

    HYPER = ("lr", "weight_decay", "momentum", "nesterov", "first")
    STATE = ("momentum_buffer",)

    def __init__(self, network, hyper) -> None:
        super().__init__(network, {**hyper, "first": [1.0] * len(network)})

    def _update(self, hyper, tensors, decayed):
        momentum = hyper["momentum"]
        buffers = [] if momentum == 0 else tensors["momentum_buffer"]
        torch._fused_sgd_(tensors["params"], tensors["grads"], buffers, weight_decay=0.0,
                          momentum=momentum, lr=hyper["lr"], dampening=0.0,
                          nesterov=bool(hyper["nesterov"]), maximize=False,
                          is_first_step=bool(hyper["first"] and momentum != 0))

    def _after_step(self, groups):
        for members in groups.values():
            for k in members:
                self.hyper["first"][k] = 0.0

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
    "adamw": (StackedAdamW, _adam),
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
