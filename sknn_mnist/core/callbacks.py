"""skorch callbacks that give training scikit-learn's semantics.

* :class:`LearningRateSchedule` implements ``learning_rate`` ('constant', 'invscaling',
  'cosine'; 'adaptive' lives in :class:`ConvergenceMonitor` because it reacts to the loss).
* :class:`ConvergenceMonitor` implements ``tol``/``n_iter_no_change`` stopping and
  ``early_stopping`` with the best weights kept in memory and restored at the end.
"""

from __future__ import annotations

import math

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
        if self.kind == "invscaling":
            # A new net's first epoch: learning_rate_init, whatever t_ says (scikit-learn
            # makes a new optimizer, at learning_rate_init, for every fit).
            seen = 0 if self.epoch_ == 0 else self.samples_seen_
            set_learning_rate(net, self.learning_rate_init / (seen + 1) ** self.power_t)
        elif self._annealing():
            set_learning_rate(net, cosine_rate(self.learning_rate_init,
                                               self.epoch_ / self.max_epochs))
        self.samples_seen_ += len(dataset_train)

    def on_batch_begin(self, net, training=False, **kwargs) -> None:
        if not training or not self._annealing():
            return
        progress = (self.epoch_ + self.batch_ / self.n_batches_) / self.max_epochs
        set_learning_rate(net, cosine_rate(self.learning_rate_init, progress))
        self.batch_ += 1

    def on_epoch_end(self, net, **kwargs) -> None:
        self.epoch_ += 1
        net.history.record("lr", current_learning_rate(net))


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
        if not math.isfinite(row["train_loss"]):
            net.request_stop()  # diverged: the estimator raises after training
            return
        if self._observe(row) and self.early_stopping:
            self.best_state_ = {k: v.detach().clone()
                                for k, v in net.module_.state_dict().items()}
        if self.no_improvement_count_ > self.n_iter_no_change:
            lr = current_learning_rate(net)
            if self.adaptive and lr > 1e-6:
                set_learning_rate(net, lr / 5.0)
                self.no_improvement_count_ = 0
                if self.verbose:
                    print(f"Setting learning rate to {lr / 5.0:f}", flush=True)
            else:
                self.converged_ = True
                net.history.record("stop", "converged")
                net.request_stop()
        if self.max_fun is not None and self._function_evaluations(net) >= self.max_fun:
            net.history.record("stop", "max_fun")
            net.request_stop()

    @staticmethod
    def _function_evaluations(net) -> int:
        state = net.optimizer_.state
        first = next(iter(net.optimizer_.param_groups[0]["params"]))
        return int(state.get(first, {}).get("func_evals", 0))

    def on_train_end(self, net, **kwargs) -> None:
        if self.early_stopping and self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
            self.best_state_ = None  # the copy is no longer needed; free device memory
