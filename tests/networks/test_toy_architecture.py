"""Adding a network architecture is one module and one registry entry.

This file is that module: a small residual network (which a layer-by-layer walk could not
export) and its estimator, with one :class:`~sknn_mnist.registry.ModelSpec` entry. The tests
show that it fits, runs in ``compare``, saves and loads as skops without pickle, and exports
to ONNX; and that a network that does not say how to export is refused with a clear error.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import Interval
from torch import nn

from sknn_mnist.core.classifier import TorchDigitClassifierBase
from sknn_mnist.core.network import DigitNetwork
from sknn_mnist.registry import MODEL_SPECS, ModelSpec


class ToyResidualModule(DigitNetwork):
    """``x -> relu(W0 x) -> h + relu(W1 h) -> W2``: a skip connection around one layer."""

    def __init__(self, n_features: int, n_outputs: int, width: int) -> None:
        super().__init__()
        self.stem = nn.Linear(n_features, width)
        self.block = nn.Linear(width, width)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, X):
        h = torch.relu(self.stem(X))
        return self.head(h + torch.relu(self.block(h)))

    def to_onnx(self, graph, x: str) -> str:
        from sknn_mnist.io.onnx import layers_to_onnx

        h = layers_to_onnx(graph, [self.stem, nn.ReLU()], x)
        branch = layers_to_onnx(graph, [self.block, nn.ReLU()], h)
        return layers_to_onnx(graph, [self.head], graph.op("Add", [h, branch], "skip"))


class ToyResidualClassifier(TorchDigitClassifierBase):
    """A residual toy network as a scikit-learn classifier."""

    _parameter_constraints: dict = {
        **TorchDigitClassifierBase._parameter_constraints,
        "width": [Interval(Integral, 1, None, closed="left")],
    }
    _architecture_params = ("width",)

    def __init__(self, width=32, *, solver="adam", alpha=1e-4, batch_size=64,
                 learning_rate="cosine", learning_rate_init=1e-2, power_t=0.5, max_iter=10,
                 shuffle=True, random_state=None, tol=1e-4, verbose=0, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, device="auto", dtype="float32"):
        self.width = width
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.device = device
        self.dtype = dtype

    def _build_module(self, n_features, n_outputs):
        return ToyResidualModule(n_features, n_outputs, int(self.width))


#: The one registry entry (registered by the fixture, so that other tests do not see it).
TOY_SPEC = ModelSpec(
    name="toy", title="Toy residual network",
    estimator=f"{__name__}.ToyResidualClassifier",
    grid={"clf__width": [16, 32]}, quick_grid={"clf__width": [16]},
    uses_device=True, learning_curve=True, default=False)


@pytest.fixture
def toy_registered(monkeypatch):
    monkeypatch.setitem(MODEL_SPECS, TOY_SPEC.name, TOY_SPEC)
    return TOY_SPEC


def test_the_toy_network_fits_and_predicts(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = ToyResidualClassifier(random_state=0, device="cpu").fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.9
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    np.testing.assert_allclose(clf.predict_proba(X_test[:5]).sum(axis=1), 1, rtol=1e-6)


def test_the_toy_network_runs_in_compare_then_saves_and_loads_without_pickle(
        toy_registered, digits_split, tmp_path):
    from sknn_mnist.compare import compare
    from sknn_mnist.persistence import detect_format, load_model, save_model
    from sknn_mnist.reports import comparison_report

    X_train, X_test, y_train, y_test = digits_split
    result = compare(X_train, y_train, X_test, y_test, models=["toy"], cv=2, n_jobs=1,
                     param_grids={"toy": {"clf__width": [16], "clf__max_iter": [5]}})
    toy = result["toy"]
    assert toy.title == "Toy residual network" and toy.test_accuracy > 0.85
    assert "Toy residual network" in comparison_report(result).to_markdown()

    path = save_model(toy.estimator, tmp_path / "toy.skops")
    assert detect_format(path) == "skops"
    loaded = load_model(path)  # no trusted=, no allow_pickle: the registry trusts it
    assert type(loaded.named_steps["clf"]) is ToyResidualClassifier
    np.testing.assert_array_equal(loaded.predict(X_test), toy.estimator.predict(X_test))


def test_the_toy_network_exports_to_onnx(digits_split, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from sknn_mnist.onnx_export import export_onnx

    X_train, X_test, y_train, _ = digits_split
    clf = ToyResidualClassifier(width=16, max_iter=3, random_state=0,
                                device="cpu").fit(X_train, y_train)
    path = export_onnx(clf, tmp_path / "toy.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    label, proba = session.run(["label", "probabilities"],
                               {"input": X_test.astype(np.float32)})
    np.testing.assert_allclose(proba, clf.predict_proba(X_test), atol=1e-5)
    np.testing.assert_array_equal(label, clf.predict(X_test))


class PlainModule(nn.Module):
    """A network that is a bare torch module: it trains, but cannot say how to export."""

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, X):
        return self.linear(X)


class PlainClassifier(ToyResidualClassifier):
    def _build_module(self, n_features, n_outputs):
        return PlainModule(n_features, n_outputs)


def test_a_network_without_an_export_is_refused_clearly(digits_split):
    pytest.importorskip("onnx")
    from sknn_mnist.onnx_export import to_onnx

    X_train, X_test, y_train, y_test = digits_split
    clf = PlainClassifier(max_iter=3, random_state=0, device="cpu").fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.8  # FLOPs measured, trained as any other
    with pytest.raises(TypeError, match="cannot export a PlainModule network to ONNX: it "
                                        "does not define to_onnx"):
        to_onnx(clf)
