"""The ``.npz`` cache: checksums, corruption detection and atomic writes."""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from sknn_mnist.datasets import (
    CacheCorruptError,
    ChecksumError,
    DatasetUnavailableError,
    load_dataset,
)
from sknn_mnist.datasets import _cache as cache_mod
from sknn_mnist.datasets._cache import cache_path, content_sha256, read_cache, write_cache

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


@pytest.fixture(autouse=True)
def data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture
def spec():
    return tiny_spec(openml_id=None)


def _write(tmp_path: Path, spec) -> tuple[Path, np.ndarray, np.ndarray]:
    X, y = tiny_arrays()
    path = cache_path(tmp_path / "cache", spec)
    write_cache(path, X, y, spec, meta={"source": "test", "origin": "unit test"})
    return path, X, y


def _idx_tiny(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **spec_kw):
    """Tiny IDX files in ``tmp_path/idx`` and their dataset registered; (idx_dir, X, y, spec)."""
    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx", X, y)
    spec = register_tiny(monkeypatch, tiny_spec(md5s=md5s, openml_id=None, **spec_kw))
    return tmp_path / "idx", X, y, spec


def test_roundtrip_and_metadata(tmp_path: Path, spec) -> None:
    path, X, y = _write(tmp_path, spec)
    X2, y2, meta = read_cache(path, spec)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert X2.dtype == np.uint8 and y2.dtype == np.int64
    assert meta["sha256"] == content_sha256(X, y.astype(np.uint8))
    assert meta["origin"] == "unit test" and meta["n_train"] == spec.n_train
    # Uncompressed (fast to load) and no pickles.
    with zipfile.ZipFile(path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    with np.load(path, allow_pickle=False) as npz:
        assert json.loads(str(npz["meta"][()]))["format"] == cache_mod.CACHE_FORMAT


def test_missing_cache_is_file_not_found(tmp_path: Path, spec) -> None:
    with pytest.raises(FileNotFoundError):
        read_cache(tmp_path / "none.npz", spec)


def _rewrite_npz(path: Path, **arrays) -> None:
    with np.load(path, allow_pickle=False) as npz:
        content = {k: npz[k] for k in npz.files}
    content.update(arrays)
    content = {k: v for k, v in content.items() if v is not None}
    with open(path, "wb") as fh:
        np.savez(fh, **content)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-1000]), "unreadable"),
        (lambda p: p.write_bytes(b""), "unreadable"),
        (
            lambda p: _rewrite_npz(p, data=np.zeros((10, 784), dtype=np.uint8)),
            "sha256 mismatch",
        ),
        (lambda p: _rewrite_npz(p, target=None), "holds arrays"),
        (lambda p: _rewrite_npz(p, data=np.zeros((3, 784), dtype=np.uint8)), "expected uint8"),
        (lambda p: _rewrite_npz(p, meta=np.array("{}")), "unknown cache format"),
    ],
)
def test_corruption_is_detected(tmp_path: Path, spec, damage, match: str) -> None:
    path, _, _ = _write(tmp_path, spec)
    damage(path)
    with pytest.raises(CacheCorruptError, match=match) as info:
        read_cache(path, spec)
    assert str(path) in str(info.value)


def test_every_single_byte_flip_is_caught(tmp_path: Path, spec) -> None:
    path, _, _ = _write(tmp_path, spec)
    original = path.read_bytes()
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(original), size=40, replace=False):
        data = bytearray(original)
        data[pos] ^= 0x5A
        path.write_bytes(bytes(data))
        try:
            X, y, _ = read_cache(path, spec)
        except CacheCorruptError:
            continue
        # Flips in bytes no reader uses (e.g. zip comment lengths) must not change the data.
        np.testing.assert_array_equal(X, tiny_arrays()[0])
        np.testing.assert_array_equal(y, tiny_arrays()[1])


class Boom(Exception):
    pass


def _failing_dump(exc: BaseException):
    def dump(fh, X, y, meta_json):
        fh.write(b"PK\x03\x04 half of a zip file")
        fh.flush()
        raise exc

    return dump


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, spec, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    monkeypatch.setattr(cache_mod, "_dump", _failing_dump(exc))
    path = cache_path(tmp_path / "cache", spec)
    X, y = tiny_arrays()
    with pytest.raises(type(exc)):
        write_cache(path, X, y, spec, meta={})
    assert list(path.parent.iterdir()) == []


def test_interrupted_rewrite_keeps_the_old_file(
    tmp_path: Path, spec, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, X, y = _write(tmp_path, spec)
    before = path.read_bytes()
    monkeypatch.setattr(cache_mod, "_dump", _failing_dump(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        write_cache(path, X[::-1], y, spec, meta={})
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_loader_survives_unwritable_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_home: Path
) -> None:
    _, X, y, _ = _idx_tiny(monkeypatch, tmp_path)
    monkeypatch.setattr(cache_mod, "_dump", _failing_dump(OSError(30, "Read-only file system")))
    with pytest.warns(UserWarning, match="could not write") as record:
        b = load_dataset("tiny", idx_dir=tmp_path / "idx")
    assert [w.filename for w in record] == [__file__], "the warning points at the caller"
    np.testing.assert_array_equal(b.data, X[:6])
    assert b.cache_path is None and b.checksums["sha256"]
    assert list(data_home.iterdir()) == []


def test_stale_temporary_files_are_cleaned(tmp_path: Path, spec) -> None:
    path, X, y = _write(tmp_path, spec)
    stale = path.parent / f".{path.name}.abc123.tmp"
    fresh = path.parent / f".{path.name}.def456.tmp"
    stale.write_bytes(b"left by a killed writer")
    fresh.write_bytes(b"maybe another writer right now")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    write_cache(path, X, y, spec, meta={})
    assert not stale.exists() and fresh.exists()


def test_corrupt_cache_rebuilt_from_idx(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_home: Path
) -> None:
    _, X, y, spec = _idx_tiny(monkeypatch, tmp_path)
    load_dataset("tiny", idx_dir=tmp_path / "idx")
    path = cache_path(data_home, spec)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="corrupt") as record:
        b = load_dataset("tiny", idx_dir=tmp_path / "idx", subset="all")
    assert [w.filename for w in record] == [__file__], "the warning points at the caller"
    assert b.source == "idx"
    np.testing.assert_array_equal(b.data, X)
    assert read_cache(path, spec)[2]["sha256"] == b.checksums["sha256"]


def test_pinned_checksum_catches_a_rewritten_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_home: Path
) -> None:
    X, y = tiny_arrays()
    pinned = content_sha256(X, y.astype(np.uint8))
    _, X, y, spec = _idx_tiny(monkeypatch, tmp_path, sha256=pinned)
    load_dataset("tiny", idx_dir=tmp_path / "idx")
    path = cache_path(data_home, spec)
    # All labels rewritten to 7, with the stored checksum recomputed to match.
    sevens = np.full_like(y, 7, dtype=np.uint8)
    with np.load(path, allow_pickle=False) as npz:
        meta = json.loads(str(npz["meta"][()]))
    meta["sha256"] = content_sha256(X, sevens)
    _rewrite_npz(path, target=sevens, meta=np.array(json.dumps(meta)))
    with pytest.raises(CacheCorruptError, match="pinned in the registry"):
        read_cache(path, spec)
    with pytest.warns(UserWarning, match="pinned"):
        b = load_dataset("tiny", idx_dir=tmp_path / "idx", subset="all")
    assert b.source == "idx"
    np.testing.assert_array_equal(b.target, y)
    assert read_cache(path, spec)[2]["sha256"] == pinned


def test_fresh_data_must_match_the_pinned_checksum(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_home: Path
) -> None:
    X, y = tiny_arrays()
    write_idx_dir(tmp_path / "idx", X, y)
    register_tiny(monkeypatch, tiny_spec(openml_id=None, sha256="0" * 64))
    with pytest.raises(ChecksumError, match="pinned in the registry"):
        load_dataset("tiny", idx_dir=tmp_path / "idx")
    assert not data_home.exists()


def test_cache_path_that_is_a_directory_is_reported_as_such(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_home: Path
) -> None:
    _, X, y, spec = _idx_tiny(monkeypatch, tmp_path)
    path = cache_path(data_home, spec)
    path.mkdir(parents=True)
    with pytest.warns(UserWarning, match="is a directory") as record:
        with pytest.raises(DatasetUnavailableError) as info:
            load_dataset("tiny")
    assert [w.filename for w in record] == [__file__], "the warning points at the caller"
    assert f"cache {path}: is a directory" in info.value.attempts[0]
    assert "not found" not in info.value.attempts[0]
    # The IDX files still load; only the cache cannot be written.
    with pytest.warns(UserWarning) as record:
        assert load_dataset("tiny", idx_dir=tmp_path / "idx").source == "idx"
    assert [("is a directory" in str(w.message), "could not write" in str(w.message))
            for w in record] == [(True, False), (False, True)]
    assert {w.filename for w in record} == {__file__}
    assert path.is_dir()


def test_unwritable_default_data_folder_loads_idx_without_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, X, y, _ = _idx_tiny(monkeypatch, tmp_path)
    # A data home that cannot be created, even by root: its parent is a regular file.
    (tmp_path / "home_is_a_file").write_text("")
    monkeypatch.delenv("SKNN_MNIST_DATA")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "home_is_a_file" / "data"))
    with pytest.warns(UserWarning, match="could not write") as record:
        b = load_dataset("tiny", idx_dir=tmp_path / "idx", subset="all")
    assert [w.filename for w in record] == [__file__], "the warning points at the caller"
    np.testing.assert_array_equal(b.data, X)
    assert b.source == "idx" and b.cache_path is None
