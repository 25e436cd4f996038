"""The pretrained MNIST models shipped as package data: load by name, no pickle, and score
what their index records (where the MNIST files are present)."""

from __future__ import annotations

import json
import pickle
import zipfile

import numpy as np
import pytest

import sknn_mnist
from sknn_mnist.io.pretrained import (
    PretrainedModelError,
    load_pretrained,
    pretrained_info,
    pretrained_names,
    pretrained_path,
)

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

NAMES = ["mnist-cnn", "mnist-mlp"]


def test_the_shipped_models_are_listed_with_their_accuracy():
    assert pretrained_names() == NAMES
    for name in NAMES:
        info = pretrained_info(name)
        assert info["dataset"] == "mnist" and info["n_train"] == 60000
        assert 0.97 <= info["test_accuracy"] <= 1
        assert pretrained_path(name).stat().st_size == info["bytes"]
    # Small enough to ship: about 340 KB (MLP) and 1.7 MB (CNN) of weights.
    assert pretrained_info("mnist-mlp")["bytes"] < 1_000_000
    assert pretrained_info("mnist-cnn")["bytes"] < 2_500_000


class _NoPickle(pickle.Unpickler):
    def __init__(self, *args, **kwargs):
        raise AssertionError("a pretrained model was unpickled")


@pytest.mark.parametrize("name", NAMES)
def test_loads_without_pickle(name, monkeypatch):
    monkeypatch.setattr(pickle, "Unpickler", _NoPickle)
    monkeypatch.setattr(pickle, "loads", _NoPickle)
    monkeypatch.setattr(pickle, "load", _NoPickle)
    model, metadata = sknn_mnist.pretrained(name, return_metadata=True)
    assert metadata["pretrained"] == name
    assert model.n_features_in_ == 784 and list(model.classes_) == list(range(10))
    with zipfile.ZipFile(pretrained_path(name)) as archive:  # a skops archive, no pickles
        assert "schema.json" in archive.namelist()
        assert not [m for m in archive.namelist() if m.endswith((".pkl", ".pickle"))]


def test_unknown_name_and_damaged_file(monkeypatch, tmp_path):
    with pytest.raises(PretrainedModelError, match="no pretrained model named 'mnist-rf'; "
                                                    "the shipped ones are: mnist-cnn, mnist-mlp"):
        load_pretrained("mnist-rf")
    # A file that differs from the one shipped is refused before it is parsed.
    import sknn_mnist.io.pretrained as pretrained

    damaged = tmp_path / "pretrained"
    damaged.mkdir()
    real = pretrained._folder()
    (damaged / "pretrained.json").write_text((real / "pretrained.json").read_text())
    (damaged / "mnist-mlp.skops").write_bytes(b"PK\x03\x04tampered")
    monkeypatch.setattr(pretrained, "_folder", lambda: damaged)
    with pytest.raises(PretrainedModelError, match="differs from the file that was shipped"):
        load_pretrained("mnist-mlp")


@pytest.mark.parametrize("digit", ["0", "1", "4", "7"])
def test_the_mlp_reads_a_photo_of_a_digit(digit):
    from sknn_mnist.images import load_images

    model = load_pretrained("mnist-mlp")
    assert model.predict(load_images([T.photo(digit)]))[0] == int(digit)


@pytest.mark.mnist
@pytest.mark.parametrize("name", NAMES)
def test_scores_its_recorded_test_accuracy(name, mnist_dir):
    from sknn_mnist.datasets import load_mnist

    X, y = load_mnist(subset="test", idx_dir=mnist_dir, return_X_y=True, download=False)
    model = load_pretrained(name)
    assert model.score(X, y) == pytest.approx(pretrained_info(name)["test_accuracy"], abs=1e-9)


def test_the_index_is_plain_json_beside_the_files():
    folder = pretrained_path("mnist-mlp").parent
    index = json.loads((folder / "pretrained.json").read_text())
    assert index["made_by"] == "scripts/make_pretrained.py"
    assert sorted(index["models"]) == NAMES
    assert all(np.isfinite(m["test_accuracy"]) for m in index["models"].values())
