"""ONNX export, checked against onnxruntime: same labels, probabilities within 1e-5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, Normalizer, StandardScaler

import sknn_mnist
from sknn_mnist.models import PixelScaler
from sknn_mnist.onnx_export import export_onnx, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

def _run(proto_or_path, X):
    source = proto_or_path if isinstance(proto_or_path, str | Path) else (
        proto_or_path.SerializeToString())
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    label, proba = session.run(None, {"input": np.asarray(X, dtype=np.float32)})
    return label, proba


def _assert_matches(model, X, proto=None):
    label, proba = _run(proto if proto is not None else to_onnx(model), X)
    assert proba.shape == (len(X), len(model.classes_))
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(label, model.predict(X).astype(label.dtype))


@pytest.mark.parametrize(("scaler", "params", "labels"), [
    (PixelScaler(), {}, "int"),
    (MinMaxScaler(), {"activation": "tanh", "hidden_layer_sizes": ()}, "int"),
    (MinMaxScaler(clip=True), {"activation": "gelu", "batch_norm": True}, "str"),
    (StandardScaler(), {"activation": "elu", "dropout": 0.3}, "binary"),
    ("passthrough", {"activation": "leaky_relu", "dtype": "float64"}, "int"),
    (PixelScaler(), {"activation": "logistic"}, "binary-int"),
    (PixelScaler(), {}, "single"),
])
def test_mlp_pipelines_match_onnxruntime(digits_raw, make_clf, scaler, params, labels):
    X, y = digits_raw
    if labels == "str":
        y = np.array([f"digit-{v}" for v in y], dtype=object)
    elif labels == "binary":
        y = np.where(y % 2 == 0, "even", "odd")
    elif labels == "binary-int":
        y = (y >= 5).astype(int) * 7  # labels 0 and 7
    elif labels == "single":
        y = np.full(len(y), "only")  # one class: probability 1, that label
    model = make_pipeline(scaler, make_clf(max_iter=3, **params)).fit(X[:600], y[:600])
    _assert_matches(model, X)


def test_bare_classifier_and_file_export(tmp_path, digits, make_clf):
    X, y = digits
    clf = make_clf(max_iter=2).fit(X[:300], y[:300])
    path = sknn_mnist.export_onnx(clf, tmp_path / "m.onnx")
    assert path == tmp_path / "m.onnx"
    _assert_matches(clf, X, proto=str(path))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_onnx(clf, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert meta["classes"] == ",".join(map(str, range(10))) and meta["n_features_in"] == "64"


def test_cnn_matches_onnxruntime(digits_raw):
    cnn = pytest.importorskip("sknn_mnist.cnn")
    X, y = digits_raw
    model = make_pipeline(PixelScaler(), cnn.CNNDigitClassifier(
        channels=(4, 8), dense_units=16, batch_norm=True, max_iter=1, random_state=0,
        device="cpu")).fit(X[:300], y[:300])
    _assert_matches(model, X)


def test_unsupported_and_unfitted_models_are_refused(tmp_path, digits, make_clf):
    X, y = digits
    with pytest.raises(NotFittedError):
        to_onnx(make_pipeline(PixelScaler(), make_clf()))
    model = make_pipeline(Normalizer(), make_clf(max_iter=1)).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="Normalizer"):
        export_onnx(model, tmp_path / "m.onnx")
    from sklearn.dummy import DummyClassifier

    with pytest.raises(TypeError, match="DummyClassifier"):
        to_onnx(make_pipeline(PixelScaler(), DummyClassifier()).fit(X[:100], y[:100]))
    multilabel = make_clf(max_iter=1).fit(X[:100], np.column_stack([y[:100] > 4, y[:100] % 2]))
    with pytest.raises(TypeError, match="multilabel"):
        to_onnx(multilabel)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.mnist
@pytest.mark.parametrize("scaler", [PixelScaler(), MinMaxScaler()], ids=["pixel", "minmax"])
def test_mnist_test_set_matches_onnxruntime(tmp_path, scaler, mnist_dir):
    from sknn_mnist import MLPDigitClassifier
    from sknn_mnist.datasets import load_mnist

    X_train, y_train = load_mnist(subset="train", idx_dir=mnist_dir, data_home=tmp_path,
                                  return_X_y=True)
    X_test, _ = load_mnist(subset="test", idx_dir=mnist_dir, data_home=tmp_path,
                           return_X_y=True)
    model = make_pipeline(scaler, MLPDigitClassifier(max_iter=2, random_state=0,
                                                     device="cpu"))
    model.fit(X_train[:20000], y_train[:20000])
    _assert_matches(model, X_test)


@pytest.mark.subprocess
def test_benchmark_quick_run_writes_json(tmp_path):
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "onnx_inference.py"), "--quick",
         # No MNIST folder: the quick run falls back to scikit-learn's digits (seconds).
         "--out", str(tmp_path), "--idx-dir", str(tmp_path / "none"), "--data-home",
         str(tmp_path / "data"), "--rounds", "1"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "onnx_inference-quick.json").read_text())
    assert result["same_labels"] and result["max_abs_probability_difference"] < 1e-5
    assert [row["contender"] for row in result["table"]] == ["predict_proba", "onnxruntime"] * 2


def test_cli_export(tmp_path, digits_raw, make_clf, capsys):
    from sknn_mnist.cli import main
    from sknn_mnist.persistence import save_model

    X, y = digits_raw
    model = make_pipeline(PixelScaler(), make_clf(max_iter=2)).fit(X[:300], y[:300])
    path = save_model(model, tmp_path / "m.skops")
    out = tmp_path / "m.onnx"
    assert main(["export", str(path), str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    _assert_matches(model, X, proto=str(out))
    assert main(["export", str(path), str(out)]) == 2  # exists: checked before loading
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", str(path), str(out), "--overwrite"]) == 0
    rf = save_model(make_pipeline(PixelScaler(), Normalizer()).fit(X), tmp_path / "n.skops")
    assert main(["export", str(rf), str(tmp_path / "n.onnx")]) == 2
    assert "Normalizer" in capsys.readouterr().err
    assert not (tmp_path / "n.onnx").exists()
