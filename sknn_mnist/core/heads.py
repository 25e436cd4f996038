"""Output heads: how a network's outputs are trained against and read as predictions.

A head is chosen once per fit from the targets (:func:`head_for_targets` for a classifier,
:data:`REGRESSION_HEADS` by ``loss`` for a regressor) and owns every place where the kind
of target matters: the number of output units, the encoded targets, the per-sample loss,
the validation score of early stopping, probabilities, labels or values, and the ONNX
nodes that compute the same. The estimators, the skorch net and the ONNX export ask the
head instead of branching on the target type.

Classification (the network's outputs are logits; validation score: accuracy):

* :class:`BinaryHead`: one logit, the logistic loss; ``predict_proba`` stacks ``1 - p, p``.
* :class:`MulticlassHead`: one logit per class, softmax cross-entropy.
* :class:`MultilabelHead`: one independent logit per label, the logistic loss summed over
  labels (scikit-learn's), predictions are a 0/1 indicator matrix.
* :class:`SingleClassHead`: ``y`` holds one class. One logistic unit is trained on
  targets 0, as ``MLPClassifier`` trains its one unit on its label binarizer's column of
  zeros, and every prediction is that class, with probability 1.

Regression (validation score: R^2, as the regressor's ``score``):

* :class:`SquaredErrorHead`: identity output, half the squared error averaged over the
  outputs (``loss='squared_error'``, scikit-learn's ``squared_loss``);
* :class:`PoissonHead`: the network's outputs are log-means and ``exp`` gives the
  prediction; half the Poisson deviance summed over the outputs (``loss='poisson'``,
  scikit-learn's ``poisson_loss``), computed from the log-means, which is stable.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F


class OutputHead:
    """Base of the output heads; see the module docstring.

    Every method takes and returns torch tensors unless it says otherwise; ``outputs`` (for
    a classifier: ``logits``) has shape ``(n_samples, n_outputs)``.
    """

    #: Name of the kind of target (``'binary'``, ``'multiclass'``, ``'squared_error'``...).
    name: ClassVar[str]
    #: scikit-learn's ``out_activation_`` for this head.
    out_activation: ClassVar[str]
    #: The validation score's name in the net's history (``valid_<score_name>``).
    score_name: ClassVar[str] = "acc"

    def chance_loss(self, y: np.ndarray, n_outputs: int) -> float:
        """The loss of a model that knows nothing (all outputs 0), on the encoded targets
        ``y``: about where training starts, and what a trained model should be well
        below."""
        raise NotImplementedError

    def losses(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample training loss, shape ``(n_samples,)``."""
        raise NotImplementedError

    # -- the validation score: sums over batches, kept on the device ------------------------
    def score_zero(self, terms: torch.Tensor) -> torch.Tensor:
        """The accumulator of :meth:`score_terms`, zero, for terms like ``terms``."""
        return torch.zeros((), device=terms.device)

    def score_terms(self, outputs: torch.Tensor, y: torch.Tensor,
                    sample_weight: torch.Tensor | None) -> torch.Tensor:
        """One batch's contribution to the validation score (added to the accumulator)."""
        raise NotImplementedError

    def score_reference(self, y: torch.Tensor,
                        sample_weight: torch.Tensor | None) -> torch.Tensor | None:
        """What the score needs of the whole validation set's targets, computed once."""
        return None

    def score(self, sums: torch.Tensor, total_weight: float,
              reference: torch.Tensor | None) -> float:
        """The validation score from the summed terms (one host read)."""
        raise NotImplementedError


# -- classification -------------------------------------------------------------------------
class ClassifierHead(OutputHead):
    """A head whose outputs are logits of classes (or labels)."""

    def n_outputs(self, n_classes: int) -> int:
        """Output units for ``n_classes`` classes (or labels)."""
        return n_classes

    def chance_loss(self, y: np.ndarray, n_outputs: int) -> float:
        # Uniform probabilities: zero logits.
        return math.log(n_outputs)

    def encode(self, y: np.ndarray, classes: np.ndarray, dtype: Any) -> np.ndarray:
        """Targets as the loss expects them (``classes`` sorted, ``y`` within them)."""
        raise NotImplementedError

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """1 per correctly predicted row, 0 otherwise, in the logits' dtype."""
        raise NotImplementedError

    def score_terms(self, outputs, y, sample_weight):
        hits = self.correct(outputs, y)
        return hits.sum() if sample_weight is None else (hits * sample_weight).sum()

    def score(self, sums, total_weight, reference):
        return sums.item() / total_weight  # the (weighted) accuracy

    def proba(self, logits: torch.Tensor) -> torch.Tensor:
        """Probabilities: columns in ``classes_`` order."""
        raise NotImplementedError

    def predict(self, logits: torch.Tensor, classes: np.ndarray) -> np.ndarray:
        """Predicted labels (numpy), taken from ``classes``."""
        return classes[self.codes(logits).numpy()]

    def codes(self, logits: torch.Tensor) -> torch.Tensor:
        """Index of the predicted class of each row."""
        raise NotImplementedError

    def onnx_outputs(self, graph: Any, logits: str, n_outputs: int) -> tuple[str, int]:
        """Add the ``probabilities`` output to an ONNX graph (``n_outputs`` logits).

        Returns the name of the predicted class codes (int64, one per row) and the number
        of probability columns; :mod:`sknn_mnist.io.onnx` turns the codes into labels.
        """
        raise TypeError(f"cannot export a {self.name} classifier to ONNX")


class BinaryHead(ClassifierHead):
    """Two classes, one logit: the positive class is ``classes[1]``."""

    name = "binary"
    out_activation = "logistic"

    def n_outputs(self, n_classes: int) -> int:
        return 1

    def chance_loss(self, y, n_outputs):
        return math.log(2)

    def encode(self, y, classes, dtype):
        return np.searchsorted(classes, y).astype(dtype)

    def losses(self, outputs, y):
        return F.binary_cross_entropy_with_logits(outputs, y.view_as(outputs),
                                                  reduction="none").sum(dim=1)

    def correct(self, logits, y):
        return ((logits > 0).to(y.dtype) == y.view_as(logits)).all(dim=1).to(logits.dtype)

    def proba(self, logits):
        positive = torch.sigmoid(logits[:, 0])
        return torch.stack([1 - positive, positive], dim=1)

    def codes(self, logits):
        return (logits[:, 0] > 0).long()

    def onnx_outputs(self, graph, logits, n_outputs):
        onnx = graph.onnx
        positive = graph.op("Sigmoid", [logits], "positive")
        negative = graph.op("Sub", [graph.const(1.0), positive], "negative")
        graph.op("Concat", [negative, positive], output="probabilities", axis=1)
        # predict's rule: the positive class where the logit is > 0.
        above = graph.op("Greater", [logits, graph.const(0.0)])
        squeezed = graph.op("Squeeze", [above, graph.const([1], "axis", dtype=np.int64)])
        return graph.op("Cast", [squeezed], "code", to=onnx.TensorProto.INT64), 2


class MulticlassHead(ClassifierHead):
    """Three or more classes: one logit per class, softmax cross-entropy."""

    name = "multiclass"
    out_activation = "softmax"

    def encode(self, y, classes, dtype):
        return np.searchsorted(classes, y).astype(np.int64)

    def losses(self, outputs, y):
        return F.cross_entropy(outputs, y, reduction="none")

    def correct(self, logits, y):
        return (logits.argmax(1) == y).to(logits.dtype)

    def proba(self, logits):
        return torch.softmax(logits, dim=1)

    def codes(self, logits):
        return logits.argmax(dim=1)

    def onnx_outputs(self, graph, logits, n_outputs):
        graph.op("Softmax", [logits], output="probabilities", axis=1)
        return graph.op("ArgMax", [logits], "code", axis=1, keepdims=0), n_outputs


class MultilabelHead(ClassifierHead):
    """A 0/1 indicator matrix: one independent logistic output per label."""

    name = "multilabel"
    out_activation = "logistic"

    def chance_loss(self, y, n_outputs):
        return n_outputs * math.log(2)  # summed over the labels

    def encode(self, y, classes, dtype):
        return np.asarray(y, dtype=dtype)

    def losses(self, outputs, y):
        return F.binary_cross_entropy_with_logits(outputs, y.view_as(outputs),
                                                  reduction="none").sum(dim=1)

    def correct(self, logits, y):
        # Every label right, as scikit-learn's accuracy for indicator targets.
        return ((logits > 0).to(y.dtype) == y.view_as(logits)).all(dim=1).to(logits.dtype)

    def proba(self, logits):
        return torch.sigmoid(logits)

    def predict(self, logits, classes):
        return (logits > 0).numpy().astype(np.int64)


class SingleClassHead(ClassifierHead):
    """``y`` holds one class: the network has one logistic output, trained on targets 0
    (the single column of zeros ``MLPClassifier``'s label binarizer gives).

    Every prediction is that class and its probability is 1, whatever the logit says:
    with one class there is nothing else to predict (``MLPClassifier`` also always
    predicts the class).
    """

    name = "single-class"
    out_activation = "logistic"

    def n_outputs(self, n_classes: int) -> int:
        return 1

    def chance_loss(self, y, n_outputs):
        return math.log(2)

    def encode(self, y, classes, dtype):
        return np.zeros(len(y), dtype=dtype)

    def losses(self, outputs, y):
        return F.binary_cross_entropy_with_logits(outputs, y.view_as(outputs),
                                                  reduction="none").sum(dim=1)

    def correct(self, logits, y):
        return torch.ones(len(logits), dtype=logits.dtype, device=logits.device)

    def proba(self, logits):
        return torch.ones((len(logits), 1), dtype=logits.dtype)

    def codes(self, logits):
        return torch.zeros(len(logits), dtype=torch.long)

    def onnx_outputs(self, graph, logits, n_outputs):
        onnx = graph.onnx
        rows = graph.op("Shape", [logits], "rows", end=1)  # [batch]
        columns = graph.op("Shape", [logits], "shape")  # [batch, 1]
        graph.op("ConstantOfShape", [columns], output="probabilities",
                 value=onnx.numpy_helper.from_array(np.ones(1, np.float32)))
        zero = onnx.numpy_helper.from_array(np.zeros(1, np.int64))
        return graph.op("ConstantOfShape", [rows], "code", value=zero), 1


#: The classification heads by name.
HEADS: dict[str, ClassifierHead] = {
    head.name: head
    for head in (BinaryHead(), MulticlassHead(), MultilabelHead(), SingleClassHead())}


def head_for_targets(multilabel: bool, n_classes: int) -> ClassifierHead:
    """The head for indicator targets (``multilabel``) or ``n_classes`` labels."""
    if multilabel:
        return HEADS["multilabel"]
    if n_classes == 1:
        return HEADS["single-class"]
    return HEADS["binary"] if n_classes == 2 else HEADS["multiclass"]


# -- regression -----------------------------------------------------------------------------
class RegressionHead(OutputHead):
    """A head whose outputs (after the output activation) are predicted values.

    The validation score is scikit-learn's ``r2_score`` (weighted by the sample weights,
    the outputs' R^2 averaged uniformly), from per-output sums of squared errors kept on
    the device and the validation targets' total sum of squares, computed once.
    """

    score_name = "r2"

    def check_targets(self, y: np.ndarray) -> None:
        """Raise ``ValueError`` for targets outside the loss's domain."""

    def encode(self, y: np.ndarray, dtype: Any) -> np.ndarray:
        """Targets as a 2-D ``(n_samples, n_outputs)`` array of ``dtype``."""
        return np.asarray(y, dtype=dtype).reshape(len(y), -1)

    def inverse_link(self, outputs: torch.Tensor) -> torch.Tensor:
        """Predicted values from the network's outputs."""
        return outputs

    def predict(self, outputs: torch.Tensor) -> np.ndarray:
        """Predicted values, float64, shape ``(n_samples, n_outputs)``."""
        return self.inverse_link(outputs.double()).numpy()

    def score_zero(self, terms):
        return torch.zeros_like(terms)

    def score_terms(self, outputs, y, sample_weight):
        errors = (self.inverse_link(outputs).double() - y.view_as(outputs).double()) ** 2
        if sample_weight is not None:
            errors = errors * sample_weight.double()[:, None]
        return errors.sum(dim=0)

    def score_reference(self, y, sample_weight):
        y = y.reshape(len(y), -1).double()
        w = (torch.ones(len(y), dtype=torch.float64, device=y.device)
             if sample_weight is None else sample_weight.double())
        mean = (w[:, None] * y).sum(dim=0) / w.sum()
        return (w[:, None] * (y - mean) ** 2).sum(dim=0)

    def score(self, sums, total_weight, reference):
        sse, sst = sums.cpu().numpy(), reference.cpu().numpy()
        if not np.isfinite(sse).all():
            return float("nan")  # as MLPRegressor's score of non-finite predictions
        # r2_score's force_finite rule: a constant output scores 1 if predicted exactly,
        # else 0.
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(sst > 0, 1 - sse / np.where(sst > 0, sst, 1),
                          np.where(sse == 0, 1.0, 0.0))
        return float(np.mean(r2))

    def onnx_outputs(self, graph: Any, outputs: str) -> str:
        """Add the nodes from the network's outputs to the predictions; return the name
        of the predictions (float32, ``(batch, n_outputs)``)."""
        return graph.op("Identity", [outputs], output="variable")


class SquaredErrorHead(RegressionHead):
    """Identity output and half the squared error, averaged over the outputs."""

    name = "squared_error"
    out_activation = "identity"

    def chance_loss(self, y, n_outputs):
        return float(0.5 * np.mean(np.square(y, dtype=np.float64)))

    def losses(self, outputs, y):
        return 0.5 * ((outputs - y.view_as(outputs)) ** 2).mean(dim=1)


class PoissonHead(RegressionHead):
    """Log-link: the outputs are log-means; half the Poisson deviance summed over outputs.

    Per output: ``y log(y / mu) - y + mu`` with ``mu = exp(z)``, written as
    ``exp(z) - y z + (y log y - y)`` so that it never takes the log of a prediction.
    """

    name = "poisson"
    out_activation = "exp"

    def check_targets(self, y):
        if np.any(np.asarray(y) < 0):
            raise ValueError("loss='poisson' needs non-negative targets: y has negative "
                             "values. Use loss='squared_error' for such targets.")

    def chance_loss(self, y, n_outputs):
        y = np.asarray(y, dtype=np.float64)  # outputs 0: every predicted mean is 1
        with np.errstate(divide="ignore", invalid="ignore"):
            y_log_y = np.where(y > 0, y * np.log(np.where(y > 0, y, 1)), 0.0)
        return float(np.mean(np.sum(y_log_y - y + 1, axis=1)))

    def losses(self, outputs, y):
        y = y.view_as(outputs)
        return (torch.exp(outputs) - y * outputs + torch.special.xlogy(y, y) - y).sum(dim=1)

    def inverse_link(self, outputs):
        return torch.exp(outputs)

    def onnx_outputs(self, graph, outputs):
        return graph.op("Exp", [outputs], output="variable")


#: The regression heads by ``loss``.
REGRESSION_HEADS: dict[str, RegressionHead] = {
    head.name: head for head in (SquaredErrorHead(), PoissonHead())}


def head_of(out_activation: str, n_outputs: int, n_classes: int | None = None) -> OutputHead:
    """The head of a fitted estimator, from its ``out_activation_``, ``n_outputs_`` and
    (classifiers) number of classes."""
    if out_activation == "softmax":
        return HEADS["multiclass"]
    if out_activation == "identity":
        return REGRESSION_HEADS["squared_error"]
    if out_activation == "exp":
        return REGRESSION_HEADS["poisson"]
    if n_classes == 1:
        return HEADS["single-class"]
    return HEADS["binary"] if n_outputs == 1 else HEADS["multilabel"]
