"""Export a fitted pipeline (scaler + our classifier) to ONNX, for onnxruntime and friends.

The graph is built node by node with :mod:`onnx.helper` (no torch exporter: torch's current
one needs ``onnxscript``, the legacy one is deprecated). Each network exports itself
(``to_onnx(graph, x)``, see :mod:`sknn_mnist.core.network`), usually through
:func:`layers_to_onnx`; the classifier's output head adds the outputs.
Layout of the exported graph:

- input ``input``: float32, shape ``(batch, n_features)``, raw pixels as the pipeline takes
  them;
- the scaling steps of the pipeline (``PixelScaler``, ``MinMaxScaler``, ``StandardScaler``,
  or ``"passthrough"``) as elementwise ``Div``/``Mul``/``Add``/``Sub``/``Clip`` nodes, in the
  order and with the constants the fitted scalers use;
- the network: ``Gemm`` for linear layers, ``BatchNormalization``, the activations, and for
  a CNN ``Reshape``, ``Conv``, ``MaxPool`` and ``Flatten``; dropout disappears (inference);
- outputs ``label`` (the class labels, as ``predict`` returns them: int64, string, bool or
  float) and ``probabilities`` (float32, ``(batch, n_classes)``, as ``predict_proba``);
  for a regressor, ``variable`` (float32, ``(batch, n_outputs)``, as ``predict``; the name
  skl2onnx gives regressors' outputs).
- a :class:`~sknn_mnist.ensemble.SeedEnsembleClassifier`: every member's network and
  probabilities, one ``Mean`` node (``probabilities``) and the ``label`` of its argmax.

The network computes in float32, also for a ``dtype='float64'`` model (its weights are
rounded to float32): the probabilities then differ from ``predict_proba`` by float32
rounding only.

Requires the ``onnx`` extra: ``pip install "sknn_mnist[onnx]"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .files import PathLike, write_bytes_atomic

__all__ = ["ONNX_OPSET", "export_onnx", "to_onnx"]

#: ONNX operator set of the exported graphs (onnxruntime >= 1.14 runs it).
ONNX_OPSET = 17
_IR_VERSION = 8  # the IR that opset 17 came with: readable by older runtimes too


def _require_onnx():
    try:
        import onnx
    except ImportError as exc:  # an optional extra
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'sknn_mnist[onnx]'") from exc
    return onnx


class Graph:
    """Accumulates nodes and float32 constants; names values ``<prefix>_<n>``."""

    def __init__(self):
        self.onnx = _require_onnx()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def const(self, value: Any, prefix: str = "c", dtype: Any = np.float32) -> str:
        name = self.name(prefix)
        array = np.asarray(value, dtype=dtype)
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], prefix: str | None = None, *,
           output: str | None = None, **attrs: Any) -> str:
        """Add a node; return its output's name (``output``, or a fresh one)."""
        out = output or self.name(prefix or op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], **attrs))
        return out


# -- scalers -------------------------------------------------------------------------------
def _scaler(graph: Graph, step: Any, x: str) -> str:
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    from ..study.models import PixelScaler

    if step is None or step == "passthrough":
        return x
    if isinstance(step, PixelScaler):
        return graph.op("Div", [x, graph.const(step.scale_, "pixel_max")], "scaled")
    if isinstance(step, MinMaxScaler):
        x = graph.op("Mul", [x, graph.const(step.scale_, "minmax_scale")])
        x = graph.op("Add", [x, graph.const(step.min_, "minmax_min")], "scaled")
        if step.clip:
            low, high = step.feature_range
            x = graph.op("Clip", [x, graph.const(low), graph.const(high)], "clipped")
        return x
    if isinstance(step, StandardScaler):
        if step.with_mean:
            x = graph.op("Sub", [x, graph.const(step.mean_, "mean")])
        if step.with_std:
            x = graph.op("Div", [x, graph.const(step.scale_, "std")], "scaled")
        return x
    raise TypeError(
        f"cannot export a {type(step).__name__} step to ONNX; supported steps before the "
        "classifier: PixelScaler, MinMaxScaler, StandardScaler, 'passthrough'")


# -- network layers ------------------------------------------------------------------------
def _weights(tensor: Any) -> np.ndarray:
    return tensor.detach().cpu().float().numpy()


def _linear(graph: Graph, layer: Any, x: str) -> str:
    inputs = [x, graph.const(_weights(layer.weight), "weight")]
    if layer.bias is not None:
        inputs.append(graph.const(_weights(layer.bias), "bias"))
    return graph.op("Gemm", inputs, "linear", transB=1)


def _batch_norm(graph: Graph, layer: Any, x: str) -> str:
    if layer.running_mean is None:  # track_running_stats=False: batch statistics
        raise TypeError("cannot export BatchNorm without running statistics to ONNX")
    n = layer.num_features
    scale = _weights(layer.weight) if layer.affine else np.ones(n, np.float32)
    bias = _weights(layer.bias) if layer.affine else np.zeros(n, np.float32)
    return graph.op("BatchNormalization",
                    [x, graph.const(scale), graph.const(bias),
                     graph.const(_weights(layer.running_mean)),
                     graph.const(_weights(layer.running_var))],
                    "batchnorm", epsilon=float(layer.eps))


def _gelu(graph: Graph, layer: Any, x: str) -> str:
    if getattr(layer, "approximate", "none") != "none":
        raise TypeError("cannot export GELU(approximate='tanh') to ONNX")
    # 0.5 x (1 + erf(x / sqrt 2)): opset 17 has Erf but no Gelu operator.
    erf = graph.op("Erf", [graph.op("Div", [x, graph.const(math.sqrt(2.0))])])
    half_x = graph.op("Mul", [x, graph.const(0.5)])
    return graph.op("Mul", [half_x, graph.op("Add", [erf, graph.const(1.0)])], "gelu")


def _conv(graph: Graph, layer: Any, x: str) -> str:
    if isinstance(layer.padding, str) or layer.padding_mode != "zeros":
        raise TypeError("cannot export Conv2d with string padding or non-zero padding modes")
    pad_h, pad_w = layer.padding
    inputs = [x, graph.const(_weights(layer.weight), "kernel")]
    if layer.bias is not None:
        inputs.append(graph.const(_weights(layer.bias), "bias"))
    return graph.op("Conv", inputs, "conv", kernel_shape=list(layer.kernel_size),
                    strides=list(layer.stride), dilations=list(layer.dilation),
                    pads=[pad_h, pad_w, pad_h, pad_w], group=layer.groups)


def _pair(value: Any) -> list[int]:
    return list(value) if isinstance(value, tuple | list) else [value, value]


def _max_pool(graph: Graph, layer: Any, x: str) -> str:
    if _pair(layer.dilation) != [1, 1] or layer.return_indices:
        raise TypeError("cannot export a dilated MaxPool2d or one returning indices")
    pad_h, pad_w = _pair(layer.padding)
    stride = _pair(layer.stride if layer.stride is not None else layer.kernel_size)
    return graph.op("MaxPool", [x], "pool", kernel_shape=_pair(layer.kernel_size),
                    strides=stride, pads=[pad_h, pad_w, pad_h, pad_w],
                    ceil_mode=int(layer.ceil_mode))


def _layer_converters() -> dict[type, Callable[[Graph, Any, str], str]]:
    from torch import nn

    def simple(op_type: str, **attrs: Any) -> Callable[[Graph, Any, str], str]:
        return lambda graph, layer, x: graph.op(op_type, [x], **attrs)

    return {
        nn.Linear: _linear,
        nn.BatchNorm1d: _batch_norm,
        nn.BatchNorm2d: _batch_norm,
        nn.ReLU: simple("Relu"),
        nn.Tanh: simple("Tanh"),
        nn.Sigmoid: simple("Sigmoid"),
        nn.Identity: lambda graph, layer, x: x,
        nn.Dropout: lambda graph, layer, x: x,  # inference: dropout is the identity
        nn.LeakyReLU: lambda g, layer, x: g.op("LeakyRelu", [x],
                                               alpha=float(layer.negative_slope)),
        nn.ELU: lambda g, layer, x: g.op("Elu", [x], alpha=float(layer.alpha)),
        nn.GELU: _gelu,
        nn.Conv2d: _conv,
        nn.MaxPool2d: _max_pool,
        nn.Flatten: lambda g, layer, x: g.op("Flatten", [x], axis=int(layer.start_dim)),
    }


def layers_to_onnx(graph: Graph, layers: Iterable[Any], x: str) -> str:
    """Add a sequence of standard torch layers applied in order; return the output."""
    converters = _layer_converters()
    for layer in layers:
        convert = converters.get(type(layer))
        if convert is None:
            raise TypeError(f"cannot export a {type(layer).__name__} layer to ONNX")
        x = convert(graph, layer, x)
    return x


def _network(graph: Graph, module: Any, x: str) -> str:
    """Add the torch module's nodes (the network exports itself); return the logits."""
    export = getattr(module, "to_onnx", None)
    if export is None:
        raise TypeError(f"cannot export a {type(module).__name__} network to ONNX: it does "
                        "not define to_onnx(graph, x) (see sknn_mnist.core.network)")
    return export(graph, x)


# -- outputs -------------------------------------------------------------------------------
def _classes_tensor(classes: np.ndarray) -> tuple[np.ndarray, int]:
    onnx = _require_onnx()
    values = np.asarray(classes)
    if values.dtype.kind in "OUS":
        return values.astype(object).astype(str).astype(object), onnx.TensorProto.STRING
    if values.dtype.kind == "b":
        return values.astype(bool), onnx.TensorProto.BOOL
    if values.dtype.kind in "iu":
        return values.astype(np.int64), onnx.TensorProto.INT64
    if values.dtype.kind == "f":
        return values.astype(np.float64), onnx.TensorProto.DOUBLE
    raise TypeError(f"cannot export class labels of dtype {values.dtype} to ONNX")


def _outputs(graph: Graph, clf: Any, logits: str) -> tuple[int, int]:
    """Add ``probabilities`` and ``label``; return the label's ONNX type and n columns."""
    onnx = _require_onnx()
    classes, label_type = _classes_tensor(clf.classes_)
    codes, n_columns = clf._head.onnx_outputs(graph, logits, int(clf.n_outputs_))
    table = onnx.numpy_helper.from_array(classes, "classes")
    graph.initializers.append(table)
    graph.op("Gather", ["classes", codes], output="label", axis=0)
    return label_type, n_columns


def _graph_outputs(graph: Graph, clf: Any, logits: str) -> tuple[list[Any], dict[str, str]]:
    """Add the output nodes; return the graph's outputs and the model's properties."""
    from sklearn.base import is_regressor

    onnx = _require_onnx()
    if is_regressor(clf):
        clf._head.onnx_outputs(graph, logits)
        n_outputs = int(clf.n_outputs_)
        return [onnx.helper.make_tensor_value_info("variable", onnx.TensorProto.FLOAT,
                                                   ["batch", n_outputs])], {}
    label_type, n_columns = _outputs(graph, clf, logits)
    outputs = [
        onnx.helper.make_tensor_value_info("label", label_type, ["batch"]),
        onnx.helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT,
                                           ["batch", n_columns]),
    ]
    return outputs, {"classes": ",".join(str(c) for c in clf.classes_)}


def _torch_module(clf: Any) -> Any:
    module = getattr(getattr(clf, "net_", None), "module_", None)
    if module is None:
        raise TypeError(
            f"cannot export a {type(clf).__name__} to ONNX: the last step must be one of "
            "this package's fitted torch classifiers (MLPDigitClassifier, "
            "CNNDigitClassifier, ...) or a SeedEnsembleClassifier of them")
    return module


def _eval_network(graph: Graph, module: Any, x: str) -> str:
    """The network's nodes as in inference (dropout off, batch norm's running statistics)."""
    was_training = module.training
    module.eval()
    try:
        return _network(graph, module, x)
    finally:
        module.train(was_training)


def _single_outputs(graph: Graph, clf: Any, x: str) -> tuple[list[Any], dict[str, str]]:
    """One torch classifier or regressor: its network, then its head's outputs."""
    return _graph_outputs(graph, clf, _eval_network(graph, _torch_module(clf), x))


# -- seed ensembles ------------------------------------------------------------------------
def _member_probabilities(graph: Graph, member: Any, x: str, index: int) -> tuple[str, int]:
    """One member's network and head; its ``probabilities`` renamed to its own name."""
    if not hasattr(member, "classes_"):
        raise TypeError(f"cannot export a seed ensemble of {type(member).__name__} to ONNX")
    logits = _eval_network(graph, _torch_module(member), x)
    _, n_columns = member._head.onnx_outputs(graph, logits, int(member.n_outputs_))
    # The heads name their output "probabilities", the graph's output: rename this one.
    # Its label nodes (the member's codes) are left for _prune: the ensemble's label is the
    # argmax of the averaged probabilities.
    name = f"member{index}_probabilities"
    for node in graph.nodes:
        for values in (node.input, node.output):
            values[:] = [name if value == "probabilities" else value for value in values]
    return name, n_columns


def _prune(graph: Graph, outputs: list[str]) -> None:
    """Drop the nodes and constants that no graph output depends on."""
    needed = set(outputs)
    kept = []
    for node in reversed(graph.nodes):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    graph.nodes[:] = kept[::-1]
    graph.initializers[:] = [t for t in graph.initializers if t.name in needed]


def _ensemble_outputs(graph: Graph, ensemble: Any, x: str) -> tuple[list[Any], dict[str, str]]:
    """A seed ensemble: every member's probabilities, their mean, the label of its argmax.

    The label is ``predict``'s (the argmax of the averaged probabilities, computed here in
    float32: rows whose two best classes tie to float32 rounding may differ).
    """
    onnx = _require_onnx()
    if getattr(ensemble, "_multilabel", False):
        raise TypeError("cannot export a multilabel seed ensemble to ONNX")
    members = [_member_probabilities(graph, member, x, i)
               for i, member in enumerate(ensemble.estimators_)]
    graph.op("Mean", [name for name, _ in members], output="probabilities")
    codes = graph.op("ArgMax", ["probabilities"], "code", axis=1, keepdims=0)
    classes, label_type = _classes_tensor(ensemble.classes_)
    graph.initializers.append(onnx.numpy_helper.from_array(classes, "classes"))
    graph.op("Gather", ["classes", codes], output="label", axis=0)
    _prune(graph, ["label", "probabilities"])
    outputs = [
        onnx.helper.make_tensor_value_info("label", label_type, ["batch"]),
        onnx.helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT,
                                           ["batch", members[0][1]]),
    ]
    return outputs, {"classes": ",".join(str(c) for c in ensemble.classes_),
                     "n_members": str(len(members))}


def _split(model: Any) -> tuple[list[Any], Any]:
    steps = getattr(model, "steps", None)
    if steps is None:
        return [], model
    return [step for _, step in steps[:-1]], steps[-1][1]


def to_onnx(model: Any) -> Any:
    """Build the ONNX graph of a fitted pipeline (or a bare classifier).

    Parameters
    ----------
    model : Pipeline or estimator
        Zero or more scaling steps (``PixelScaler``, ``MinMaxScaler``, ``StandardScaler``,
        ``"passthrough"``) then a fitted ``MLPDigitClassifier``, ``CNNDigitClassifier`` or
        ``TorchMLPRegressor``, or a ``SeedEnsembleClassifier`` of our classifiers (one
        graph: every member's probabilities, their ``Mean``, the label of its argmax).

    Returns
    -------
    onnx.ModelProto
        Checked with :func:`onnx.checker.check_model`.

    Raises
    ------
    TypeError
        A step, layer or label type the export does not support (the message names it).
    sklearn.exceptions.NotFittedError
        The classifier is not fitted.
    """
    from sklearn.utils.validation import check_is_fitted

    from .._version import __version__
    onnx = _require_onnx()
    scalers, clf = _split(model)
    check_is_fitted(clf)
    # Not an isinstance check: the ensemble's module imports the networks, which import
    # this one. A meta-estimator that sets this flag averages its members' predict_proba.
    ensemble = bool(getattr(type(clf), "_averages_members_proba", False))
    if not ensemble:
        _torch_module(clf)  # a TypeError before any work when it is not one of ours
    graph = Graph()
    x = "input"
    for step in scalers:
        x = _scaler(graph, step, x)
    outputs, properties = (_ensemble_outputs if ensemble else _single_outputs)(graph, clf, x)
    n_features = int(clf.n_features_in_)
    inputs = [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                                 ["batch", n_features])]
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, type(clf).__name__, inputs, outputs,
                               graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET)],
        producer_name="sknn_mnist", producer_version=__version__,
        ir_version=_IR_VERSION)
    onnx.helper.set_model_props(proto, {
        "estimator": type(clf).__name__,
        "n_features_in": str(n_features),
        **properties,
    })
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model: Any, path: PathLike, *, overwrite: bool = False) -> Path:
    """Write the ONNX graph of a fitted pipeline to ``path``, atomically.

    Parameters
    ----------
    model : Pipeline or classifier
        See :func:`to_onnx`.
    path : path-like
        Destination, conventionally ``*.onnx``.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        ``path`` exists and ``overwrite`` is False.
    TypeError
        A step, layer or label type the export does not support.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")
    return write_bytes_atomic(path, to_onnx(model).SerializeToString())
