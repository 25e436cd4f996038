"""Solvers: the optimizer and everything that depends on it, chosen once per fit.

A :class:`Solver` answers every question whose answer depends on ``solver``: which torch
optimizer and with which arguments, how the L2 penalty is applied (weight decay in the
optimizer's parameter groups, or a term in the loss), the batch size, whether the
learning-rate schedule and the adaptive rule apply, whether ``max_fun`` bounds training,
how a step runs, and what the non-convergence warning says. The estimator, the skorch net
and the callbacks ask the solver instead of testing its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


def penalised_parameters(module: torch.nn.Module) -> list[tuple[str, torch.nn.Parameter]]:
    """The parameters scikit-learn's ``alpha`` shrinks: weights with ndim >= 2.

    Biases and batch-norm scales are vectors and are left alone, as in scikit-learn.
    """
    return [(n, p) for n, p in module.named_parameters() if p.ndim >= 2]


@dataclass(frozen=True)
class Solver:
    """A gradient-based stochastic solver (``adam``, ``sgd``, ...).

    Parameters
    ----------
    name : str
        The ``solver`` parameter's value.
    optimizer : type
        The torch optimizer class.
    arguments : callable
        ``arguments(estimator) -> dict``: the optimizer's keyword arguments (``lr``
        included) from the estimator's parameters.
    """

    name: str
    optimizer: type[torch.optim.Optimizer]
    arguments: Callable[[Any], dict[str, Any]]

    #: ``partial_fit`` is available (scikit-learn: stochastic solvers only).
    stochastic = True

    def optimizer_arguments(self, estimator: Any) -> dict[str, Any]:
        """Keyword arguments of the optimizer, ``lr`` included."""
        return self.arguments(estimator)

    def batch_size(self, requested: int | str, n_samples: int) -> int:
        """Rows per step for ``batch_size=requested`` and ``n_samples`` training rows."""
        if requested == "auto":
            return min(200, n_samples)
        return min(int(requested), max(n_samples, 1))

    def schedule(self, learning_rate: str) -> str:
        """The learning-rate schedule that applies for ``learning_rate``."""
        return learning_rate

    def max_fun(self, max_fun: int) -> int | None:
        """The bound on loss evaluations, or None when it does not apply."""
        return None

    def parameter_groups(self, module: torch.nn.Module, decay: float) -> list[dict]:
        """The optimizer's parameter groups: ``decay`` on the penalised weights only.

        The decayed group comes first, so that :meth:`set_decay` can find it.
        """
        penalised = {id(p) for _, p in penalised_parameters(module)}
        params = [p for p in module.parameters() if p.requires_grad]
        groups = [
            {"params": [p for p in params if id(p) in penalised], "weight_decay": decay},
            {"params": [p for p in params if id(p) not in penalised], "weight_decay": 0.0},
        ]
        return [g for g in groups if g["params"]]

    def set_decay(self, optimizer: torch.optim.Optimizer | None, decay: float) -> None:
        """Apply a new L2 coefficient to an existing optimizer."""
        if optimizer is not None:
            optimizer.param_groups[0]["weight_decay"] = decay

    def loss_penalty(self, module: torch.nn.Module, decay: float) -> torch.Tensor | None:
        """The L2 term added to the training loss (None: the optimizer decays)."""
        return None

    def uses_closure(self) -> bool:
        """Whether a step must go through skorch's closure (evaluated several times)."""
        return False

    def not_converged(self, *, stop: str | None, n_epochs: int, epochs: int,
                      estimator: Any) -> str | None:
        """The ``ConvergenceWarning`` message for a finished fit, or None."""
        if n_epochs == epochs and stop != "converged" and estimator.learning_rate != "cosine":
            return (f"Stochastic Optimizer: Maximum iterations ({estimator.max_iter}) reached "
                    "and the optimization hasn't converged yet.")
        return None


class LBFGSSolver(Solver):
    """torch's L-BFGS: full batch, the penalty in the loss, one iteration per epoch.

    One optimizer ``step`` is one L-BFGS iteration, so that ``max_iter`` counts
    iterations as in scikit-learn; the learning rate is L-BFGS's usual 1 with a strong
    Wolfe line search, and ``learning_rate_init`` is ignored, as in scikit-learn.
    """

    stochastic = False

    def batch_size(self, requested, n_samples):
        return max(n_samples, 1)

    def schedule(self, learning_rate):
        return "constant"

    def max_fun(self, max_fun):
        return max_fun

    def parameter_groups(self, module, decay):
        # L-BFGS takes a single group and has no weight decay: the penalty is in the loss.
        return [p for p in module.parameters() if p.requires_grad]

    def set_decay(self, optimizer, decay):
        pass

    def loss_penalty(self, module, decay):
        # scikit-learn's alpha / 2 ||W||^2, already divided by the rows (``decay``).
        return decay / 2 * sum(p.pow(2).sum() for _, p in penalised_parameters(module))

    def uses_closure(self):
        return True

    def not_converged(self, *, stop, n_epochs, epochs, estimator):
        if stop == "converged":
            return None
        if stop == "max_fun":
            reason = (f"STOP: TOTAL NO. OF f AND g EVALUATIONS EXCEEDS LIMIT "
                      f"(max_fun={estimator.max_fun})")
        elif n_epochs == epochs:
            reason = f"STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT (max_iter={epochs})"
        else:
            return None
        return (f"lbfgs failed to converge after {n_epochs} iteration(s): {reason}. "
                "Increase max_iter or max_fun, or scale the data.")


# fused=True runs one kernel per parameter group instead of several per tensor (measured
# in benchmarks/epoch_time.py; see benchmarks/results/RESULTS.md).
def _adam(e: Any) -> dict[str, Any]:
    return {"lr": e.learning_rate_init, "betas": (e.beta_1, e.beta_2), "eps": e.epsilon,
            "fused": True}


def _sgd(e: Any) -> dict[str, Any]:
    # momentum and nesterovs_momentum apply to 'sgd' only, as in scikit-learn.
    return {"lr": e.learning_rate_init, "momentum": e.momentum,
            "nesterov": bool(e.nesterovs_momentum and e.momentum > 0), "fused": True}


def _rmsprop(e: Any) -> dict[str, Any]:
    return {"lr": e.learning_rate_init, "eps": e.epsilon, "foreach": True}


def _adagrad(e: Any) -> dict[str, Any]:
    return {"lr": e.learning_rate_init, "eps": e.epsilon, "fused": True}


def _lbfgs(e: Any) -> dict[str, Any]:
    # max_eval bounds the evaluations of one step; torch's default for max_iter=1 (1)
    # would leave the line search no evaluation at all.
    return {"lr": 1.0, "max_iter": 1, "max_eval": 26, "line_search_fn": "strong_wolfe"}


#: Solvers accepted by ``solver=...``: scikit-learn's three plus more. One entry each.
SOLVERS: dict[str, Solver] = {
    "adam": Solver("adam", torch.optim.Adam, _adam),
    "sgd": Solver("sgd", torch.optim.SGD, _sgd),
    "lbfgs": LBFGSSolver("lbfgs", torch.optim.LBFGS, _lbfgs),
    # AdamW's decay is decoupled from the gradient: the same coefficient, its own rule.
    "adamw": Solver("adamw", torch.optim.AdamW, _adam),
    "rmsprop": Solver("rmsprop", torch.optim.RMSprop, _rmsprop),
    "adagrad": Solver("adagrad", torch.optim.Adagrad, _adagrad),
}


def get_solver(name: str) -> Solver:
    """The :class:`Solver` of ``name`` (validated by the estimator's constraints)."""
    return SOLVERS[name]
