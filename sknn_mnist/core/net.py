"""The skorch net that trains every network: skorch's classifier with a faster epoch loop.

skorch's own loop calls ``loss.item()`` after every batch (a host-device sync on CUDA),
records per-batch history, and expects ``(X, y)`` batches from a ``DataLoader``. This
subclass keeps skorch's machinery (initialisation, ``partial_fit``, optimizer step,
callbacks, history, ``forward``) and overrides only what was measured or needed:

* the epoch loop: the losses and the terms of the head's validation score (accuracy,
  R^2) are summed on the device and read once per epoch, and batches are
  ``(X, y, sample_weight)`` tensor slices;
* the loss: the output head's per-sample loss, sample weights, and the solver's L2 term;
* the optimizer's parameter groups, from the solver (the L2 penalty on every weight tensor
  with two or more dimensions, and on no bias or normalisation parameter).

What is trained against (the :mod:`~sknn_mnist.core.heads` head) and how the optimizer
applies the penalty (the :mod:`~sknn_mnist.core.solvers` solver) are strategies given to
the net; it never tests their names.
"""

from __future__ import annotations

import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EpochTimer

from .heads import HEADS, OutputHead
from .solvers import SOLVERS, Solver


class SlicingNeuralNetClassifier(NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` for :class:`~sknn_mnist.core.data.TensorSet` data.

    It trains the regressor too: what is classification about skorch's class (its
    ``predict``, ``predict_proba``, criterion and target checks) is never used; the head
    says what the outputs mean.

    Parameters
    ----------
    head : OutputHead, default=the multiclass head
        How targets and outputs are read (see :mod:`sknn_mnist.core.heads`).
    solver : Solver, default=the 'adam' solver
        How the optimizer's parameter groups are made and the L2 penalty applied.
    decay : float, default=0.0
        The L2 coefficient; change it between calls with :meth:`set_decay`.
    **kwargs
        Passed to ``skorch.NeuralNetClassifier``.
    """

    def __init__(self, module, *args, head: OutputHead | None = None,
                 solver: Solver | None = None, decay: float = 0.0, **kwargs) -> None:
        super().__init__(module, *args, **kwargs)
        self.head = HEADS["multiclass"] if head is None else head
        self.solver = SOLVERS["adam"] if solver is None else solver
        self.decay = decay

    @property
    def _default_callbacks(self):
        # skorch's scoring callbacks work from per-batch history; the loop below records
        # epoch values directly, so only the timer is kept.
        return [("epoch_timer", EpochTimer())]

    def check_data(self, X, y):
        # The estimator validated the data and encoded the targets already.
        pass

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        # No per-batch history rows: nothing reads them and they cost time every batch.
        pass

    def request_stop(self) -> None:
        """Ask the loop to stop after the current epoch (used by callbacks)."""
        self._stop_requested = True

    # -- optimizer --------------------------------------------------------------------------
    def initialize_optimizer(self, triggered_directly=None):
        kwargs = self.get_params_for("optimizer")
        kwargs.setdefault("lr", self.lr)
        groups = self.solver.parameter_groups(self.module_, self.decay)
        self.optimizer_ = self.optimizer(groups, **kwargs)
        return self

    def set_decay(self, value: float) -> None:
        """Set the L2 coefficient, in the optimizer too when it exists."""
        self.decay = value
        self.solver.set_decay(getattr(self, "optimizer_", None), value)

    # -- loss and steps -------------------------------------------------------------------
    def get_loss(self, y_pred, y_true, X=None, training=False,
                 sample_weight=None):
        losses = self.head.losses(y_pred, y_true)
        if sample_weight is None:
            loss = losses.mean()
        else:
            loss = (losses * sample_weight).sum() / sample_weight.sum()
        penalty = self.solver.loss_penalty(self.module_, self.decay) if training else None
        return loss if penalty is None else loss + penalty

    def train_step_single(self, batch, **fit_params):
        X, y, sample_weight = batch
        y_pred = self.module_(X)
        loss = self.get_loss(y_pred, y, training=True, sample_weight=sample_weight)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        """One optimizer step; skorch's own step when a closure or a listener needs it.

        skorch wraps every step in a closure with a step accumulator and notifies
        ``on_grad_computed`` with a generator over the parameters. Only L-BFGS calls the
        closure more than once, and none of this package's callbacks listens to
        ``on_grad_computed``; skipping that machinery when nothing needs it was measured
        to save time on small batches (profiled with py-spy; benchmarks/results/RESULTS.md).
        """
        if self.solver.uses_closure() or self._listens_to_grads():
            return super().train_step(batch, **fit_params)
        # What zero_grad(set_to_none=True) does, without its profiler scope and checks:
        # 3 us instead of 50 per batch.
        for group in self.optimizer_.param_groups:
            for param in group["params"]:
                param.grad = None
        step = self.train_step_single(batch, **fit_params)
        self.optimizer_.step()
        return step

    def _listens_to_grads(self) -> bool:
        """Whether the net or a callback overrides ``on_grad_computed``."""
        if len(self._optimizers) != 1 or (
                type(self).on_grad_computed is not NeuralNetClassifier.on_grad_computed):
            return True
        return any(type(cb).on_grad_computed is not Callback.on_grad_computed
                   for _, cb in self.callbacks_)

    def validation_step(self, batch, **fit_params):
        X, y, sample_weight = batch
        with torch.no_grad():
            y_pred = self.module_(X)
            loss = self.get_loss(y_pred, y, training=False, sample_weight=sample_weight)
        return {"loss": loss, "y_pred": y_pred}

    def evaluation_step(self, batch, training=False):
        self.check_is_fitted()
        with torch.set_grad_enabled(training):
            self._set_training(training)
            return self.module_(batch[0])

    # -- loops ----------------------------------------------------------------------------
    def fit_loop(self, X, y=None, epochs=None, *, valid_set=None,
                 _routing_method=None, **fit_params):
        """Train ``epochs`` epochs on the :class:`TensorSet` ``X``.

        ``valid_set`` (a :class:`TensorSet` or None) is scored after every epoch; it is
        passed per call rather than through ``train_split`` so that the net never keeps
        a reference to the data. A ``KeyboardInterrupt`` drops the incomplete epoch's
        history row, sets ``interrupted_`` and propagates to skorch's ``partial_fit``,
        which still runs ``on_train_end`` (early stopping restores its best weights).
        """
        self.check_training_readiness()
        epochs = self.max_epochs if epochs is None else epochs
        iterator_train = self.get_iterator(X, training=True)
        iterator_valid = (None if valid_set is None
                          else self.get_iterator(valid_set, training=False))
        epoch_kwargs = {"dataset_train": X, "dataset_valid": valid_set}
        # What the validation score needs of the validation targets (R^2: their total sum
        # of squares), computed once for all the epochs.
        self._score_reference = (None if valid_set is None else self.head.score_reference(
            *_rows(valid_set)))
        self._stop_requested = False
        self.interrupted_ = False
        try:
            for _ in range(epochs):
                self.notify("on_epoch_begin", **epoch_kwargs)
                self.run_single_epoch(iterator_train, training=True, prefix="train",
                                      step_fn=self.train_step)
                self.run_single_epoch(iterator_valid, training=False, prefix="valid",
                                      step_fn=self.validation_step)
                self.history.record("train_samples", len(X))
                self.notify("on_epoch_end", **epoch_kwargs)
                if self._stop_requested:
                    break
        except KeyboardInterrupt:
            if len(self.history) and "dur" not in self.history[-1]:
                self.history.pop()  # the interrupted epoch has no complete record
            self.interrupted_ = True
            raise
        return self

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        self._set_training(training)
        loss_sum = None  # in the loss's dtype: a float64 model's curve is float64
        score_sums = None
        weight_total = 0.0
        n_batches = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            X, y, sample_weight = batch
            # Sums stay on the device; reading them each batch would sync the GPU.
            if loss_sum is None:
                loss_sum = torch.zeros_like(step["loss"].detach())
            if sample_weight is None:
                weight = len(X)
                loss_sum.add_(step["loss"].detach(), alpha=weight)
            else:
                weight = sample_weight.sum()
                loss_sum += step["loss"].detach() * weight
            weight_total = weight_total + weight
            if not training:
                terms = self.head.score_terms(step["y_pred"], y, sample_weight)
                if score_sums is None:
                    score_sums = self.head.score_zero(terms)
                score_sums += terms
            self.notify("on_batch_end", batch=batch, training=training, **step)
            n_batches += 1
        if training:
            self._set_training(False)
        total = float(weight_total)
        self.history.record(prefix + "_loss", loss_sum.item() / total)
        self.history.record(prefix + "_batch_count", n_batches)
        if not training:
            self.history.record(f"{prefix}_{self.head.score_name}", self.head.score(
                score_sums, total, self._score_reference))


def _rows(data) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The targets and sample weights of a :class:`~sknn_mnist.core.data.TensorSet`'s
    rows."""
    y, weights = data.y, data.sample_weight
    if data.rows is not None:
        y = y.index_select(0, data.rows)
        weights = None if weights is None else weights.index_select(0, data.rows)
    return y, weights
