"""Output heads: how a network's logits are trained against and read as predictions.

A head is chosen once per fit from the targets (:func:`head_for_targets`) and owns every
place where the kind of target matters: the number of output units, the encoded targets,
the per-sample loss, what counts as a correct row, probabilities, log-probabilities,
labels, and the ONNX nodes that compute the same. The classifier, the skorch net and the
ONNX export ask the head instead of branching on the target type.

* :class:`BinaryHead`: one logit, the logistic loss; ``predict_proba`` stacks ``1 - p, p``.
* :class:`MulticlassHead`: one logit per class, softmax cross-entropy.
* :class:`MultilabelHead`: one independent logit per label, the logistic loss summed over
  labels (scikit-learn's), predictions are a 0/1 indicator matrix.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812 - the usual torch alias


class OutputHead:
    """Base of the output heads; see the module docstring.

    Every method takes and returns torch tensors unless it says otherwise; ``logits`` has
    shape ``(n_samples, n_outputs)``.
    """

    #: Name of the kind of target (``'binary'``, ``'multiclass'``, ``'multilabel'``).
    name: ClassVar[str]
    #: scikit-learn's ``out_activation_`` for this head.
    out_activation: ClassVar[str]

    def n_outputs(self, n_classes: int) -> int:
        """Output units for ``n_classes`` classes (or labels)."""
        return n_classes

    def chance_loss(self, n_outputs: int) -> float:
        """The loss of a model that knows nothing (uniform probabilities): where training
        starts, and what a trained model should be well below."""
        return math.log(n_outputs)

    def encode(self, y: np.ndarray, classes: np.ndarray, dtype: Any) -> np.ndarray:
        """Targets as the loss expects them (``classes`` sorted, ``y`` within them)."""
        raise NotImplementedError

    def losses(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample training loss, shape ``(n_samples,)``."""
        raise NotImplementedError

    def correct(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """1 per correctly predicted row, 0 otherwise, in the logits' dtype."""
        raise NotImplementedError

    def log_proba(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-probabilities, computed stably from the logits."""
        raise NotImplementedError

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


class BinaryHead(OutputHead):
    """Two classes, one logit: the positive class is ``classes[1]``."""

    name = "binary"
    out_activation = "logistic"

    def n_outputs(self, n_classes: int) -> int:
        return 1

    def chance_loss(self, n_outputs: int) -> float:
        return math.log(2)

    def encode(self, y, classes, dtype):
        return np.searchsorted(classes, y).astype(dtype)

    def losses(self, logits, y):
        return F.binary_cross_entropy_with_logits(logits, y.view_as(logits),
                                                  reduction="none").sum(dim=1)

    def correct(self, logits, y):
        return ((logits > 0).to(y.dtype) == y.view_as(logits)).all(dim=1).to(logits.dtype)

    def log_proba(self, logits):
        z = logits[:, 0]
        return torch.stack([F.logsigmoid(-z), F.logsigmoid(z)], dim=1)

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


class MulticlassHead(OutputHead):
    """Three or more classes: one logit per class, softmax cross-entropy."""

    name = "multiclass"
    out_activation = "softmax"

    def encode(self, y, classes, dtype):
        return np.searchsorted(classes, y).astype(np.int64)

    def losses(self, logits, y):
        return F.cross_entropy(logits, y, reduction="none")

    def correct(self, logits, y):
        return (logits.argmax(1) == y).to(logits.dtype)

    def log_proba(self, logits):
        return torch.log_softmax(logits, dim=1)

    def proba(self, logits):
        return torch.softmax(logits, dim=1)

    def codes(self, logits):
        return logits.argmax(dim=1)

    def onnx_outputs(self, graph, logits, n_outputs):
        graph.op("Softmax", [logits], output="probabilities", axis=1)
        return graph.op("ArgMax", [logits], "code", axis=1, keepdims=0), n_outputs


class MultilabelHead(OutputHead):
    """A 0/1 indicator matrix: one independent logistic output per label."""

    name = "multilabel"
    out_activation = "logistic"

    def chance_loss(self, n_outputs: int) -> float:
        return n_outputs * math.log(2)  # summed over the labels

    def encode(self, y, classes, dtype):
        return np.asarray(y, dtype=dtype)

    def losses(self, logits, y):
        return F.binary_cross_entropy_with_logits(logits, y.view_as(logits),
                                                  reduction="none").sum(dim=1)

    def correct(self, logits, y):
        # Every label right, as scikit-learn's accuracy for indicator targets.
        return ((logits > 0).to(y.dtype) == y.view_as(logits)).all(dim=1).to(logits.dtype)

    def log_proba(self, logits):
        return F.logsigmoid(logits)

    def proba(self, logits):
        return torch.sigmoid(logits)

    def predict(self, logits, classes):
        return (logits > 0).numpy().astype(np.int64)


#: The heads by name; a new kind of target (a regressor's identity output) is one more.
HEADS: dict[str, OutputHead] = {head.name: head for head in
                                (BinaryHead(), MulticlassHead(), MultilabelHead())}


def head_for_targets(multilabel: bool, n_classes: int) -> OutputHead:
    """The head for indicator targets (``multilabel``) or ``n_classes`` labels."""
    if multilabel:
        return HEADS["multilabel"]
    return HEADS["binary"] if n_classes == 2 else HEADS["multiclass"]


def head_of(out_activation: str, n_outputs: int) -> OutputHead:
    """The head of a fitted classifier, from its ``out_activation_`` and ``n_outputs_``."""
    if out_activation == "softmax":
        return HEADS["multiclass"]
    return HEADS["binary"] if n_outputs == 1 else HEADS["multilabel"]
