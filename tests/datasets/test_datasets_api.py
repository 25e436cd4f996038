"""Registry, the public API, the bundled digits (offline) and the ``info`` command."""

from __future__ import annotations

import inspect
import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sknn_mnist.datasets as ds
from sknn_mnist.cli.datasets import main as cli_main
from sknn_mnist.datasets import (
    DATASETS,
    DatasetUnavailableError,
    dataset_info,
    list_datasets,
    load_dataset,
    load_mnist,
    register_dataset,
)

try:
    from _openml_server import isolate_env, register_tiny, tiny_arrays, tiny_spec, write_idx_dir
except ImportError:  # tests/ collected as a package
    from tests._openml_server import (  # type: ignore[no-redef]
        isolate_env,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch):
    """Any attempt to open a network connection fails the test loudly."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# ----------------------------------------------------------------------------- registry


def test_public_names() -> None:
    for name in ("load_mnist", "load_dataset", "DatasetUnavailableError", "DATASETS"):
        assert hasattr(ds, name) and name in ds.__all__
    assert issubclass(ds.DatasetUnavailableError, OSError)
    assert issubclass(ds.DatasetFormatError, ValueError)
    assert set(list_datasets()) >= {"mnist", "fashion-mnist", "kmnist", "digits"}
    assert DATASETS["mnist"].openml_id == 554
    assert DATASETS["fashion-mnist"].openml_id == 40996
    assert DATASETS["kmnist"].openml_id == 41982


def test_options_are_keyword_only() -> None:
    for fn in (load_mnist, load_dataset, dataset_info):
        params = list(inspect.signature(fn).parameters.values())
        positional = [p.name for p in params if p.kind is not p.KEYWORD_ONLY]
        assert positional == ([] if fn is load_mnist else ["name"])
    with pytest.raises(TypeError):
        load_mnist("train")  # type: ignore[misc]


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'emnist'") as info:
        load_dataset("emnist")
    for name in list_datasets():
        assert repr(name) in str(info.value)


def test_names_are_normalised() -> None:
    assert load_dataset("DIGITS").name == "digits"
    assert ds.get_spec("Fashion_MNIST").name == "fashion-mnist"


def test_bad_subset() -> None:
    with pytest.raises(ValueError, match="subset must be one of"):
        load_dataset("digits", subset="validation")  # type: ignore[arg-type]


def test_register_dataset_is_one_entry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ds._registry, "DATASETS", dict(DATASETS))
    monkeypatch.setattr(ds._idx, "DATASETS", ds._registry.DATASETS)
    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx", X, y)
    register_dataset(tiny_spec("my-set", md5s=md5s, openml_id=None))
    assert "my-set" in ds._registry.list_datasets()
    assert load_dataset("my-set", idx_dir=tmp_path / "idx").data.shape == (6, 784)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset(tiny_spec("my-set"))
    with pytest.raises(ValueError, match="lower-case"):
        register_dataset(tiny_spec("My_Set"))


# ----------------------------------------------------------------------------- digits


def test_digits_works_without_network(no_network, data_home: Path) -> None:
    b = load_dataset("digits")
    assert b.source == "bundled" and b.cache_path is None
    assert b.data.shape == (1437, 64) and b.data.dtype == np.uint8
    assert b.images.shape == (1437, 8, 8) and b.images.dtype == np.uint8
    assert b.target.dtype == np.int64
    assert int(b.data.max()) == 16 and int(b.data.min()) == 0
    assert "0..16" in b.DESCR
    assert len(b.feature_names) == 64 and list(b.target_names) == [str(i) for i in range(10)]
    assert not data_home.exists()  # nothing to cache for bundled data


def test_digits_split_is_deterministic_and_stratified(no_network) -> None:
    from sklearn.datasets import load_digits

    train = load_dataset("digits", subset="train")
    test = load_dataset("digits", subset="test")
    full = load_dataset("digits", subset="all")
    assert test.data.shape == (360, 64) and full.data.shape == (1797, 64)
    np.testing.assert_array_equal(full.data, np.vstack([train.data, test.data]))
    np.testing.assert_array_equal(full.target, np.concatenate([train.target, test.target]))
    again = load_dataset("digits", subset="test")
    np.testing.assert_array_equal(again.data, test.data)
    # Stratified: every class has ~20% of its rows in the test set.
    frac = np.bincount(test.target, minlength=10) / np.bincount(full.target, minlength=10)
    assert np.all(np.abs(frac - 360 / 1797) < 0.02)
    # Same rows as scikit-learn's, pixels unchanged.
    X_sk, y_sk = load_digits(return_X_y=True)
    key = {(r.tobytes(), t) for r, t in zip(X_sk.astype(np.uint8), y_sk, strict=True)}
    got = {(r.tobytes(), t) for r, t in zip(full.data, full.target, strict=True)}
    assert got == key


def test_return_X_y_and_as_frame() -> None:
    X, y = load_dataset("digits", subset="test", return_X_y=True)
    assert X.shape == (360, 64) and y.shape == (360,)
    pd = pytest.importorskip("pandas")
    b = load_dataset("digits", as_frame=True)
    assert isinstance(b.data, pd.DataFrame) and isinstance(b.target, pd.Series)
    assert list(b.data.columns) == b.feature_names and b.frame.shape == (1437, 65)
    Xf, yf = load_dataset("digits", as_frame=True, return_X_y=True)
    assert Xf.dtypes.unique().tolist() == [np.dtype(np.uint8)] and yf.name == "class"


def test_mnist_bunch_fields_from_idx(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx", X, y)
    register_tiny(monkeypatch, tiny_spec(md5s=md5s))
    b = load_dataset("tiny", idx_dir=tmp_path / "idx")
    for key in (
        "data",
        "target",
        "images",
        "feature_names",
        "target_names",
        "DESCR",
        "source",
        "origin",
        "cache_path",
        "checksums",
    ):
        assert key in b
    assert b.feature_names[0] == "pixel1" and b.feature_names[-1] == "pixel784"
    np.testing.assert_array_equal(b.images[1], X[1].reshape(28, 28))


# ----------------------------------------------------------------------------- info / CLI


def test_dataset_info_text(no_network) -> None:
    text = dataset_info("digits")
    assert "source      : bundled" in text
    assert "(1437, 64)" in text and "(360, 8, 8)" in text
    assert "sha256 (arrays data+target): " in text
    # Class counts: one row per class with train / test / all columns.
    assert any(
        line.split()[:1] == ["0"] and line.split()[-1] == "178" for line in text.splitlines()
    )


def test_cli_info_with_idx_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx", X, y)
    register_tiny(monkeypatch, tiny_spec(md5s=md5s))
    home = tmp_path / "home2"
    rc = cli_main(["info", "tiny", "--data-home", str(home), "--idx-dir", str(tmp_path / "idx")])
    out = capsys.readouterr().out
    assert rc == 0
    assert "source      : idx" in out and str(tmp_path / "idx") in out
    assert md5s["train-images-idx3-ubyte.gz"] in out
    assert (home / "tiny-v1.npz").is_file()
    rc = cli_main(["info", "tiny", "--data-home", str(home), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["source"] == "cache"
    assert summary["subsets"]["train"]["n_samples"] == 6
    assert sum(summary["subsets"]["test"]["class_counts"].values()) == 4


def test_cli_error_is_one_message_without_traceback(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["info", "mnist", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: dataset 'mnist'") and "Traceback" not in err
    assert cli_main(["info", "nope"]) == 1
    assert "known datasets" in capsys.readouterr().err


def test_cli_list(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("mnist", "fashion-mnist", "kmnist", "digits"))


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sknn_mnist.datasets", "info", "digits"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "scikit-learn digits" in proc.stdout and "class counts" in proc.stdout


def test_unavailable_error_attributes() -> None:
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset("fashion-mnist", download=False)
    assert info.value.dataset == "fashion-mnist"
    assert len(info.value.attempts) == 3
