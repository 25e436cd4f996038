"""The skorch net that trains the MLP: skorch's classifier with a faster epoch loop.

skorch's own loop calls ``loss.item()`` after every batch (a host-device sync on CUDA),
records per-batch history, and expects ``(X, y)`` batches from a ``DataLoader``. This
subclass keeps skorch's machinery (initialisation, optimizer step, callbacks, history,
``forward``) and changes only the epoch loop: losses and accuracy are summed on the device
and read once per epoch, and batches are ``(X, y, sample_weight)`` tensor slices.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochTimer


class SlicingNeuralNetClassifier(NeuralNetClassifier):
    """skorch ``NeuralNetClassifier`` for :class:`~sknn_mnist._data.TensorSet` data.

    Parameters
    ----------
    binary : bool, default=False
        The module has one output unit trained with the logistic loss (targets are float
        0/1) instead of one unit per class trained with the softmax cross-entropy.
    l2_penalty : float, default=0.0
        Coefficient of ``sum ||W||^2`` added to the training loss. Used for L-BFGS, which
        has no weight decay of its own; the other solvers get it as optimizer weight decay.
    **kwargs
        Passed to ``skorch.NeuralNetClassifier``.
    """

    def __init__(self, module, *args, binary: bool = False, l2_penalty: float = 0.0,
                 **kwargs) -> None:
        super().__init__(module, *args, **kwargs)
        self.binary = binary
        self.l2_penalty = l2_penalty

    @property
    def _default_callbacks(self):
        # skorch's scoring callbacks work from per-batch history; the loop below records
        # epoch values directly, so only the timer is kept.
        return [("epoch_timer", EpochTimer())]

    def check_data(self, X, y):  # noqa: N803 - skorch's signature
        # The estimator validated the data and encoded the classes already.
        pass

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        # No per-batch history rows: nothing reads them and they cost time every batch.
        pass

    def request_stop(self) -> None:
        """Ask the loop to stop after the current epoch (used by callbacks)."""
        self._stop_requested = True

    # -- loss and steps -------------------------------------------------------------------
    def get_loss(self, y_pred, y_true, X=None, training=False,  # noqa: N803
                 sample_weight=None):
        if self.binary:
            y_pred = y_pred.squeeze(1)
        if sample_weight is None:
            loss = self.criterion_(y_pred, y_true)
        else:
            if self.binary:
                losses = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
            else:
                losses = F.cross_entropy(y_pred, y_true, reduction="none")
            loss = (losses * sample_weight).sum() / sample_weight.sum()
        if training and self.l2_penalty:
            loss = loss + self.l2_penalty * sum(
                layer.weight.pow(2).sum() for layer in self.module_.linear_layers())
        return loss

    def train_step_single(self, batch, **fit_params):
        X, y, sample_weight = batch  # noqa: N806
        y_pred = self.module_(X)
        loss = self.get_loss(y_pred, y, training=True, sample_weight=sample_weight)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def validation_step(self, batch, **fit_params):
        X, y, sample_weight = batch  # noqa: N806
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
    def fit_loop(self, X, y=None, epochs=None, *, _routing_method=None,  # noqa: N803
                 **fit_params):
        self.check_training_readiness()
        epochs = self.max_epochs if epochs is None else epochs
        dataset_train, dataset_valid = self.get_split_datasets(X, y)
        iterator_train = self.get_iterator(dataset_train, training=True)
        iterator_valid = (None if dataset_valid is None
                          else self.get_iterator(dataset_valid, training=False))
        epoch_kwargs = {"dataset_train": dataset_train, "dataset_valid": dataset_valid}
        self._stop_requested = False
        try:
            for _ in range(epochs):
                self.notify("on_epoch_begin", **epoch_kwargs)
                self.run_single_epoch(iterator_train, training=True, prefix="train",
                                      step_fn=self.train_step)
                self.run_single_epoch(iterator_valid, training=False, prefix="valid",
                                      step_fn=self.validation_step)
                self.notify("on_epoch_end", **epoch_kwargs)
                if self._stop_requested:
                    break
        except KeyboardInterrupt:
            if len(self.history) and "dur" not in self.history[-1]:
                self.history.pop()  # the interrupted epoch has no complete record
            warnings.warn(
                f"Training was interrupted (KeyboardInterrupt) after {len(self.history)} "
                "complete epoch(s). The model keeps the weights it had at that point and "
                "can be used for prediction; call partial_fit to train it further.",
                UserWarning, stacklevel=2,
            )
        return self

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        self._set_training(training)
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device)
        weight_total = 0.0
        n_batches = 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            X, y, sample_weight = batch  # noqa: N806
            # Sums stay on the device; reading them each batch would sync the GPU.
            if sample_weight is None:
                weight = len(X)
                loss_sum.add_(step["loss"].detach(), alpha=weight)
            else:
                weight = sample_weight.sum()
                loss_sum += step["loss"].detach() * weight
            weight_total = weight_total + weight
            if not training:
                hits = self._correct(step["y_pred"], y)
                correct += hits.sum() if sample_weight is None else (hits * sample_weight).sum()
            self.notify("on_batch_end", batch=batch, training=training, **step)
            n_batches += 1
        if training:
            self._set_training(False)
        total = float(weight_total)
        self.history.record(prefix + "_loss", loss_sum.item() / total)
        self.history.record(prefix + "_batch_count", n_batches)
        if not training:
            self.history.record(prefix + "_acc", correct.item() / total)

    def _correct(self, y_pred, y):
        if self.binary:
            return ((y_pred.squeeze(1) > 0).to(y.dtype) == y).to(y_pred.dtype)
        return (y_pred.argmax(1) == y).to(y_pred.dtype)
