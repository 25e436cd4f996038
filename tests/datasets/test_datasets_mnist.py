"""Real MNIST from the shared IDX files (skipped when ../shared/data/mnist is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sknn_mnist.datasets import DATASETS, load_mnist

pytestmark = [pytest.mark.slow, pytest.mark.mnist]


def test_real_mnist_via_idx_dir_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           mnist_dir: Path) -> None:
    monkeypatch.delenv("SKNN_MNIST_IDX_DIR", raising=False)
    # Nothing listens on port 9 of localhost: the test must never need the network.
    monkeypatch.setenv("SKNN_MNIST_OPENML_URL", "http://127.0.0.1:9")
    home = tmp_path / "data_home"

    train = load_mnist(subset="train", data_home=home, idx_dir=mnist_dir)
    assert train.source == "idx"
    assert train.data.shape == (60_000, 784) and train.data.dtype == np.uint8
    assert train.images.shape == (60_000, 28, 28)
    assert train.target[:5].tolist() == [5, 0, 4, 1, 9]
    # The arrays match the checksum pinned in the registry (the cache is checked against it).
    assert train.checksums["sha256"] == DATASETS["mnist"].sha256

    # Its speed (< 1 s) is measured in benchmarks/data_loading.py, not asserted here.
    test = load_mnist(subset="test", data_home=home)
    assert test.source == "cache"
    assert test.data.shape == (10_000, 784)
    counts = np.bincount(test.target, minlength=10)
    assert counts[0] == 980 and counts[1] == 1135
    assert int(test.data.max()) == 255

    full = load_mnist(subset="all", data_home=home)
    assert full.source == "cache" and full.data.shape == (70_000, 784)
    np.testing.assert_array_equal(full.data[:60_000], train.data)
