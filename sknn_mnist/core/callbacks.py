"""skorch callbacks that give training scikit-learn's semantics.

* :class:`LearningRateSchedule` implements ``learning_rate`` ('constant', 'invscaling',
  'cosine'; 'adaptive' lives in :class:`ConvergenceMonitor` because it reacts to the loss).
* :class:`ConvergenceMonitor` implements ``tol``/``n_iter_no_change`` stopping and
  ``early_stopping`` with the best weights kept in memory and restored at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from skorch.callbacks import Callback


def set_learning_rate(net, lr: float) -> None:
    """Set the learning rate of every parameter group of the net's optimizer."""
    for group in net.optimizer_.param_groups:
        group["lr"] = lr


def current_learning_rate(net) -> float:
    return float(net.optimizer_.param_groups[0]["lr"])


def cosine_rate(learning_rate_init: float, progress: float, floor: float = 0.01) -> float:
    """Cosine decay from ``learning_rate_init`` to ``floor * learning_rate_init``.

    ``progress`` is the fraction of the schedule done; past 1 the rate stays at the floor.
    """
    progress = min(max(progress, 0.0), 1.0)
    return learning_rate_init * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


class LearningRateSchedule(Callback):
    """Set the optimizer's learning rate from the epoch (and batch) position.

    Parameters
    ----------
    kind : {'constant', 'invscaling', 'adaptive', 'cosine'}
        'invscaling' follows scikit-learn: ``lr = learning_rate_init / (t + 1) ** power_t``
        with ``t`` the number of samples seen (over warm starts too: the estimator's
        ``t_``), updated after each epoch; a new optimizer's first epoch (a fit, a warm
        fit) trains at ``learning_rate_init``, as scikit-learn's new optimizer does.
        'cosine' anneals over ``max_epochs`` epochs, updated every batch. 'constant' and
        'adaptive' keep the rate (the monitor divides it for 'adaptive').
    learning_rate_init, power_t
        As the estimator parameters of the same names.
    max_epochs : int or None
        The horizon of 'cosine' (``max_iter`` for ``fit``). ``None``, as for
        ``partial_fit``, means there is none: a stream has no known end, so 'cosine' then
        trains at ``learning_rate_init``, every call, as 'constant' does. The trainer sets
        it for each call.

    Attributes
    ----------
    samples_before : int or None
        Training samples seen before this call (the estimator's ``t_``), set by the
        trainer for each call; None counts the net's own history.
    """

    samples_before: int | None = None

    def __init__(self, kind: str, learning_rate_init: float, power_t: float,
                 max_epochs: int | None) -> None:
        self.kind = kind
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_epochs = max_epochs

    def on_train_begin(self, net, **kwargs) -> None:
        # The position comes from the net's history, so that a resumed ``partial_fit``
        # (or a model loaded from a file) goes on where the last epoch left off.
        self.epoch_ = len(net.history)
        self.samples_seen_ = (sum(row.get("train_samples", 0) for row in net.history)
                              if self.samples_before is None else self.samples_before)
        if self.kind == "constant" or not self._annealing():
            set_learning_rate(net, self.learning_rate_init)

    def _annealing(self) -> bool:
        """Whether 'cosine' anneals in this call (it has a horizon)."""
        return self.kind == "cosine" and self.max_epochs is not None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs) -> None:
        self.n_batches_ = max(len(net.get_iterator(dataset_train, training=True)), 1)
        self.batch_ = 0
        rate = self.epoch_rate(self.epoch_, self.samples_seen_)
        if rate is not None:
            set_learning_rate(net, rate)
        self.samples_seen_ += len(dataset_train)

    def epoch_rate(self, epoch: int, samples_seen: int) -> float | None:
        """The rate an epoch starts at (None: keep the current one).

        ``epoch`` counts the net's epochs before this one, ``samples_seen`` the training
        samples before it (the estimator's ``t_``).
        """
        if self.kind == "invscaling":
            # A new net's first epoch: learning_rate_init, whatever t_ says (scikit-learn
            # makes a new optimizer, at learning_rate_init, for every fit).
            seen = 0 if epoch == 0 else samples_seen
            return self.learning_rate_init / (seen + 1) ** self.power_t
        if self._annealing():
            return cosine_rate(self.learning_rate_init, epoch / self.max_epochs)
        return None

    def batch_rate(self, epoch: int, batch: int, n_batches: int) -> float | None:
        """The rate of a training batch (None: keep the current one): 'cosine' anneals
        within the epoch."""
        if not self._annealing():
            return None
        progress = (epoch + batch / n_batches) / self.max_epochs
        return cosine_rate(self.learning_rate_init, progress)

    def on_batch_begin(self, net, training=False, **kwargs) -> None:
        if not training:
            return
        rate = self.batch_rate(self.epoch_, self.batch_, self.n_batches_)
        if rate is not None:
            set_learning_rate(net, rate)
            self.batch_ += 1

    def on_epoch_end(self, net, **kwargs) -> None:
        self.epoch_ += 1
        net.history.record("lr", current_learning_rate(net))


@dataclass(frozen=True)
class Decision:
    """What the stopping rules say after one epoch.

    Attributes
    ----------
    best : bool
        This epoch is the best so far (early stopping keeps its weights).
    learning_rate : float or None
        The new rate ('adaptive' divides it by 5), or None to keep it.
    stop : str or None
        The reason to record in the history row (``'converged'``).
    halt : bool
        Training ends after this epoch (converged, or the loss is not finite).
    diverged : bool
        The epoch's training loss is not finite.
    """

    best: bool = False
    learning_rate: float | None = None
    stop: str | None = None
    halt: bool = False
    diverged: bool = False


class ConvergenceMonitor(Callback):
    """scikit-learn's stopping rules, and best-weight keeping for early stopping.

    Without early stopping, an epoch whose training loss is not below the best loss by at
    least ``tol`` counts as "no improvement"; with it, an epoch whose validation score
    (the history's ``score_key``: accuracy for a classifier, R^2 for a regressor) is not
    above the best by at least ``tol``. After more than ``n_iter_no_change`` such
    epochs in a row training stops, or, for ``learning_rate='adaptive'``, the learning rate
    is divided by 5 (until it falls below 1e-6), exactly as ``MLPClassifier`` does.

    The best weights are copied on the device (no checkpoint files, so parallel
    GridSearchCV jobs cannot collide) and restored when training ends. Why training
    stopped goes into the epoch's history row: ``stop`` is 'converged' or 'max_fun'.
    """

    def __init__(self, *, early_stopping: bool, tol: float, n_iter_no_change: float,
                 adaptive: bool, max_fun: int | None = None, verbose: int = 0,
                 score_key: str = "valid_acc") -> None:
        self.early_stopping = early_stopping
        self.score_key = score_key
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.adaptive = adaptive
        self.max_fun = max_fun
        self.verbose = verbose

    def on_train_begin(self, net, **kwargs) -> None:
        # Replaying the history restores the counters of a resumed partial_fit; a new
        # net starts from scratch.
        self.best_loss_ = math.inf
        self.best_score_ = -math.inf
        self.best_state_: dict[str, torch.Tensor] | None = None
        self.no_improvement_count_ = 0
        self.converged_ = False
        for row in net.history:
            self._observe(row)
            if self.no_improvement_count_ > self.n_iter_no_change:
                self.no_improvement_count_ = 0

    def _observe(self, row) -> bool:
        """Update the best values and the no-improvement count from one epoch's row;
        return whether this epoch is the best so far (for early stopping)."""
        if self.early_stopping and self.score_key in row:
            score = row[self.score_key]
            improved = score >= self.best_score_ + self.tol
            best = score > self.best_score_
            self.best_score_ = max(self.best_score_, score)
        else:
            loss = row["train_loss"]
            improved = loss <= self.best_loss_ - self.tol
            best = loss < self.best_loss_
            self.best_loss_ = min(self.best_loss_, loss)
        self.no_improvement_count_ = 0 if improved else self.no_improvement_count_ + 1
        return best

    def on_epoch_end(self, net, **kwargs) -> None:
        row = net.history[-1]
        decision = self.decide(row, current_learning_rate(net))
        if decision.best and self.early_stopping:
            self.best_state_ = {k: v.detach().clone()
                                for k, v in net.module_.state_dict().items()}
        if decision.learning_rate is not None:
            set_learning_rate(net, decision.learning_rate)
            if self.verbose:
                print(f"Setting learning rate to {decision.learning_rate:f}", flush=True)
        if decision.stop is not None:
            net.history.record("stop", decision.stop)
        if decision.halt:
            net.request_stop()
        if decision.diverged:
            return
        if self.max_fun is not None and self._function_evaluations(net) >= self.max_fun:
            net.history.record("stop", "max_fun")
            net.request_stop()

    def decide(self, row: dict, learning_rate: float) -> Decision:
        """Apply the rules to one epoch's history row, given the rate it trained at.

        The one place where scikit-learn's stopping rules live: the skorch callback and the
        stacked trainer (one monitor per network) both ask it.
        """
        if not math.isfinite(row["train_loss"]):
            return Decision(halt=True, diverged=True)  # the estimator raises after training
        best = self._observe(row)
        if self.no_improvement_count_ <= self.n_iter_no_change:
            return Decision(best=best)
        if self.adaptive and learning_rate > 1e-6:
            self.no_improvement_count_ = 0
            return Decision(best=best, learning_rate=learning_rate / 5.0)
        self.converged_ = True
        return Decision(best=best, stop="converged", halt=True)

    @staticmethod
    def _function_evaluations(net) -> int:
        state = net.optimizer_.state
        first = next(iter(net.optimizer_.param_groups[0]["params"]))
        return int(state.get(first, {}).get("func_evals", 0))

    def on_train_end(self, net, **kwargs) -> None:
        if self.early_stopping and self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
            self.best_state_ = None  # the copy is no longer needed; free device memory
