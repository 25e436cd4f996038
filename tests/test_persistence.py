"""Saving and loading models with metadata."""

from __future__ import annotations

import joblib
import numpy as np
import pytest

import sknn_mnist.persistence as persistence
from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import make_model
from sknn_mnist.persistence import (
    FORMAT,
    ModelVersionWarning,
    NotASknnMnistModelError,
    load_model,
    save_model,
)


@pytest.fixture(scope="module")
def fitted():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    model = make_model("mlp", max_iter=2, hidden_layer_sizes=(16,), device="cpu")
    return model.fit(X[:200], y[:200]), X[:50]


def test_round_trip_keeps_predictions_and_metadata(tmp_path, fitted):
    model, X = fitted
    path = save_model(model, tmp_path / "m.joblib", dataset="digits", test_score=0.5,
                      metadata={"note": "x"})
    loaded, meta = load_model(path, return_metadata=True)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert meta["dataset"] == "digits" and meta["test_score"] == 0.5 and meta["note"] == "x"
    assert meta["versions"]["sknn_mnist"] == persistence.__version__
    assert {"scikit-learn", "torch", "numpy"} <= set(meta["versions"])
    assert meta["params"]["hidden_layer_sizes"] == "(16,)"
    assert meta["n_features_in"] == 64 and meta["classes"] == list(range(10))
    assert type(load_model(path)).__name__ == "Pipeline"


def test_no_silent_overwrite_and_no_temp_files_left(tmp_path, fitted):
    path = save_model(fitted[0], tmp_path / "m.joblib")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted[0], path)
    assert path.read_bytes() == before
    save_model(fitted[0], path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.joblib"]


def test_failed_write_keeps_the_old_file(tmp_path, fitted, monkeypatch):
    path = save_model(fitted[0], tmp_path / "m.joblib")
    before = path.read_bytes()

    def broken_dump(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(persistence.joblib, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        save_model(fitted[0], path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.joblib"]


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.joblib")


def test_foreign_files_are_rejected(tmp_path):
    text = tmp_path / "notes.joblib"
    text.write_text("hello")
    with pytest.raises(NotASknnMnistModelError, match="not a sknn_mnist model"):
        load_model(text)
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": [1, 2]}, other)
    with pytest.raises(NotASknnMnistModelError, match="not a sknn_mnist model"):
        load_model(other)
    bare = tmp_path / "bare.joblib"
    joblib.dump(make_model("rf"), bare)
    with pytest.raises(NotASknnMnistModelError):
        load_model(bare)
    assert issubclass(NotASknnMnistModelError, ValueError)


@pytest.mark.parametrize(("saved", "word"), [("99.0.0", "newer"), ("0.0.1", "older")])
def test_other_version_warns(tmp_path, saved, word):
    model = make_model("rf", n_estimators=2).fit(np.eye(4), [0, 1, 0, 1])
    payload = {"format": FORMAT, "format_version": 1, "model": model,
               "metadata": {"versions": {"sknn_mnist": saved}}}
    path = tmp_path / "old.joblib"
    joblib.dump(payload, path)
    with pytest.warns(ModelVersionWarning, match=f"sknn_mnist {saved}, a {word}|an {word}"):
        load_model(path)
