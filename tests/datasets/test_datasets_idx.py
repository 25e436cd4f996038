"""Reading IDX files: format checks, md5 checks, folder layouts, loading through ``idx_dir``."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from sknn_mnist.datasets import (
    ChecksumError,
    DatasetUnavailableError,
    IdxFormatError,
    load_dataset,
)
from sknn_mnist.datasets._idx import read_idx

try:
    from _openml_server import (
        IDX_NAMES,
        TINY_N_TRAIN,
        idx_bytes,
        isolate_env,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )
except ImportError:  # tests/ collected as a package
    from tests._openml_server import (  # type: ignore[no-redef]
        IDX_NAMES,
        TINY_N_TRAIN,
        idx_bytes,
        isolate_env,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )


@pytest.fixture(autouse=True)
def data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture
def idx_dir(tmp_path: Path) -> tuple[Path, dict[str, str], np.ndarray, np.ndarray]:
    X, y = tiny_arrays(seed=3)
    d = tmp_path / "idx"
    md5s = write_idx_dir(d, X, y)
    return d, md5s, X, y


def _write_gz(path: Path, payload: bytes) -> Path:
    path.write_bytes(gzip.compress(payload, mtime=0))
    return path


# ----------------------------------------------------------------------------- read_idx


def test_read_idx_roundtrip(tmp_path: Path) -> None:
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(_write_gz(tmp_path / "a.gz", idx_bytes(arr)), ndim=3)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.uint8


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (bytes([1, 0, 8, 1]), "wrong magic number 0x01000801"),
        (bytes([0, 0, 0x0D, 1]), "data type 0x0d"),
        (bytes([0, 0, 8, 3]), "3 dimensions, expected 1"),
    ],
)
def test_read_idx_wrong_magic(tmp_path: Path, header: bytes, match: str) -> None:
    path = _write_gz(tmp_path / "bad.gz", header + (5).to_bytes(4, "big") + bytes(5))
    with pytest.raises(IdxFormatError, match=match) as info:
        read_idx(path, ndim=1)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_read_idx_truncated_data(tmp_path: Path) -> None:
    payload = idx_bytes(np.zeros((10, 28, 28), dtype=np.uint8))
    path = _write_gz(tmp_path / "short.gz", payload[:-100])
    with pytest.raises(IdxFormatError, match=r"truncated.*\(10, 28, 28\)"):
        read_idx(path, ndim=3)


def test_read_idx_truncated_header(tmp_path: Path) -> None:
    path = _write_gz(tmp_path / "h.gz", bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(IdxFormatError, match="truncated inside the header"):
        read_idx(path, ndim=3)


def test_read_idx_truncated_gzip_stream(tmp_path: Path) -> None:
    data = gzip.compress(idx_bytes(np.ones((50, 28, 28), dtype=np.uint8)))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxFormatError, match="truncated gzip"):
        read_idx(path, ndim=3)


def test_read_idx_trailing_bytes_and_not_gzip(tmp_path: Path) -> None:
    payload = idx_bytes(np.zeros(4, dtype=np.uint8)) + b"xx"
    with pytest.raises(IdxFormatError, match="2 unexpected bytes"):
        read_idx(_write_gz(tmp_path / "t.gz", payload), ndim=1)
    plain = tmp_path / "plain.gz"
    plain.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(IdxFormatError, match="not a valid gzip"):
        read_idx(plain, ndim=1)


# ----------------------------------------------------------------------------- loading


def test_load_from_idx_dir_then_cache(monkeypatch, idx_dir, data_home: Path) -> None:
    d, md5s, X, y = idx_dir
    register_tiny(monkeypatch, tiny_spec(md5s=md5s))
    b = load_dataset("tiny", idx_dir=d, subset="all")
    assert b.source == "idx"
    np.testing.assert_array_equal(b.data, X)
    np.testing.assert_array_equal(b.target, y)
    assert b.checksums["train-images-idx3-ubyte.gz"] == md5s["train-images-idx3-ubyte.gz"]
    assert (data_home / "tiny-v1.npz").is_file()
    # The IDX folder is no longer needed.
    for name in IDX_NAMES:
        (d / name).unlink()
    again = load_dataset("tiny", subset="test")
    assert again.source == "cache"
    np.testing.assert_array_equal(again.target, y[TINY_N_TRAIN:])
    assert str(d) in again.origin


def test_idx_dir_from_environment(monkeypatch, idx_dir) -> None:
    d, md5s, X, _ = idx_dir
    register_tiny(monkeypatch, tiny_spec(md5s=md5s))
    monkeypatch.setenv("SKNN_MNIST_IDX_DIR", str(d))
    b = load_dataset("tiny")
    assert b.source == "idx"
    np.testing.assert_array_equal(b.data, X[:TINY_N_TRAIN])


def test_md5_mismatch_is_an_error(monkeypatch, idx_dir) -> None:
    d, md5s, _, _ = idx_dir
    bad = dict(md5s, **{"t10k-labels-idx1-ubyte.gz": "0" * 32})
    register_tiny(monkeypatch, tiny_spec(md5s=bad))
    with pytest.raises(ChecksumError) as info:
        load_dataset("tiny", idx_dir=d)
    msg = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "expected " + "0" * 32 in msg
    assert md5s["t10k-labels-idx1-ubyte.gz"] in msg


def test_no_md5_means_no_check(monkeypatch, idx_dir) -> None:
    d, _, X, _ = idx_dir
    register_tiny(monkeypatch, tiny_spec(md5s=None))
    np.testing.assert_array_equal(load_dataset("tiny", idx_dir=d).data, X[:TINY_N_TRAIN])


def test_wrong_counts_are_errors(monkeypatch, idx_dir) -> None:
    d, md5s, _, _ = idx_dir
    register_tiny(monkeypatch, tiny_spec(md5s=md5s, n_train=5, n_test=5))
    with pytest.raises(IdxFormatError, match="6 images, expected 5"):
        load_dataset("tiny", idx_dir=d)


def test_images_and_labels_count_mismatch(monkeypatch, tmp_path: Path) -> None:
    X, y = tiny_arrays()
    d = tmp_path / "idx"
    write_idx_dir(d, X, y)
    _write_gz(d / "train-labels-idx1-ubyte.gz", idx_bytes(y[:5].astype(np.uint8)))
    register_tiny(monkeypatch, tiny_spec(md5s=None))
    with pytest.raises(IdxFormatError, match="6 images but .* 5 labels"):
        load_dataset("tiny", idx_dir=d)


def test_label_out_of_range(monkeypatch, tmp_path: Path) -> None:
    X, y = tiny_arrays()
    y[0] = 12
    write_idx_dir(tmp_path / "idx", X, y)
    register_tiny(monkeypatch, tiny_spec(md5s=None))
    with pytest.raises(IdxFormatError, match="label 12 out of range"):
        load_dataset("tiny", idx_dir=tmp_path / "idx")


def test_malformed_file_found_through_loader(monkeypatch, tmp_path: Path) -> None:
    X, y = tiny_arrays()
    d = tmp_path / "idx"
    write_idx_dir(d, X, y)
    raw = gzip.decompress((d / "t10k-images-idx3-ubyte.gz").read_bytes())
    _write_gz(d / "t10k-images-idx3-ubyte.gz", b"\x00\x00\x08\x02" + raw[4:])
    register_tiny(monkeypatch, tiny_spec(md5s=None))
    with pytest.raises(IdxFormatError, match="t10k-images-idx3-ubyte.gz: wrong magic"):
        load_dataset("tiny", idx_dir=d)


def test_dataset_subfolder_layout(monkeypatch, tmp_path: Path) -> None:
    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx" / "tiny", X, y)
    register_tiny(monkeypatch, tiny_spec(md5s=md5s))
    b = load_dataset("tiny", idx_dir=tmp_path / "idx")
    assert b.source == "idx" and str(tmp_path / "idx" / "tiny") in b.origin


def test_another_datasets_files_are_skipped(monkeypatch, tmp_path: Path) -> None:
    # Same file names, different dataset: one SKNN_MNIST_IDX_DIR can hold several datasets.
    Xa, ya = tiny_arrays(seed=1)
    Xb, yb = tiny_arrays(seed=2)
    md5_a = write_idx_dir(tmp_path / "idx", Xa, ya)
    md5_b = write_idx_dir(tmp_path / "elsewhere", Xb, yb)
    register_tiny(monkeypatch, tiny_spec("tiny-a", md5s=md5_a))
    register_tiny(monkeypatch, tiny_spec("tiny-b", md5s=md5_b))
    with pytest.raises(DatasetUnavailableError, match="holds the IDX files of 'tiny-a'"):
        load_dataset("tiny-b", idx_dir=tmp_path / "idx")
    # ... while the sub-folder named after the dataset is found next to them.
    write_idx_dir(tmp_path / "idx" / "tiny-b", Xb, yb)
    b = load_dataset("tiny-b", idx_dir=tmp_path / "idx")
    np.testing.assert_array_equal(b.data, Xb[:TINY_N_TRAIN])
    a = load_dataset("tiny-a", idx_dir=tmp_path / "idx")
    np.testing.assert_array_equal(a.data, Xa[:TINY_N_TRAIN])


def test_incomplete_or_missing_idx_dir_falls_through(monkeypatch, tmp_path: Path) -> None:
    X, y = tiny_arrays()
    d = tmp_path / "idx"
    md5s = write_idx_dir(d, X, y)
    (d / "t10k-labels-idx1-ubyte.gz").unlink()
    register_tiny(monkeypatch, tiny_spec(md5s=md5s))
    with pytest.raises(DatasetUnavailableError, match="missing t10k-labels-idx1-ubyte.gz"):
        load_dataset("tiny", idx_dir=d)
    with pytest.raises(DatasetUnavailableError, match="not a directory"):
        load_dataset("tiny", idx_dir=tmp_path / "nope")
