"""Mapping ``solver`` names to torch optimizers and their keyword arguments."""

from __future__ import annotations

from typing import Any

import torch

#: Solvers accepted by ``MLPDigitClassifier(solver=...)``: scikit-learn's three plus more.
SOLVERS = ("adam", "sgd", "lbfgs", "adamw", "rmsprop", "adagrad")


def optimizer_for(
    solver: str,
    *,
    learning_rate_init: float,
    momentum: float,
    nesterovs_momentum: bool,
    beta_1: float,
    beta_2: float,
    epsilon: float,
) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """Return the optimizer class and its keyword arguments (``lr`` included).

    ``momentum`` and ``nesterovs_momentum`` apply to 'sgd' only, as in scikit-learn.
    For 'lbfgs' one optimizer ``step`` is one L-BFGS iteration, so that ``max_iter``
    counts iterations as in scikit-learn; the learning rate is L-BFGS's usual 1 with a
    strong Wolfe line search, and ``learning_rate_init`` is ignored, as in scikit-learn.
    """
    # fused=True runs one kernel per parameter group instead of several per tensor: on
    # the CPU it makes a 784-100-50-10 Adam epoch ~25% faster (benchmarks/epoch_time.py).
    if solver == "adam":
        return torch.optim.Adam, {"lr": learning_rate_init, "betas": (beta_1, beta_2),
                                  "eps": epsilon, "fused": True}
    if solver == "adamw":
        return torch.optim.AdamW, {"lr": learning_rate_init, "betas": (beta_1, beta_2),
                                   "eps": epsilon, "weight_decay": 0.0, "fused": True}
    if solver == "sgd":
        return torch.optim.SGD, {"lr": learning_rate_init, "momentum": momentum,
                                 "nesterov": bool(nesterovs_momentum and momentum > 0),
                                 "fused": True}
    if solver == "rmsprop":
        return torch.optim.RMSprop, {"lr": learning_rate_init, "eps": epsilon,
                                     "foreach": True}
    if solver == "adagrad":
        return torch.optim.Adagrad, {"lr": learning_rate_init, "eps": epsilon,
                                     "fused": True}
    if solver == "lbfgs":
        # max_eval bounds the evaluations of one step; torch's default for max_iter=1
        # (1) would leave the line search no evaluation at all.
        return torch.optim.LBFGS, {"lr": 1.0, "max_iter": 1, "max_eval": 26,
                                   "line_search_fn": "strong_wolfe"}
    raise ValueError(f"solver={solver!r} is not one of {SOLVERS}")
