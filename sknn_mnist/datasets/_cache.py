"""The package's own cache: ``<data_home>/<name>-v1.npz``, checksummed, written atomically.

It holds ``data`` (uint8, training rows first), ``target`` (uint8) and ``meta`` (JSON: format,
counts, origin, sha256 of the arrays); no pickles. Uncompressed: a load is one read and one
sha256, checked every time against the stored and the pinned checksum (measured:
``benchmarks/results/RESULTS.md``, section "Data loading through openml", row "cached
load_mnist").
A write goes to a temporary file renamed over the target (:func:`os.replace`, atomic).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ._errors import CacheCorruptError
from ._registry import DatasetSpec

__all__ = ["CACHE_FORMAT", "cache_path", "content_sha256", "read_cache", "write_cache"]

CACHE_FORMAT = 1
_KEYS = {"data", "target", "meta"}
# Older temporary files were left by a killed writer (SIGKILL, power loss): the next write
# removes them.
_STALE_TMP_SECONDS = 3600.0


def cache_path(data_home: Path, spec: DatasetSpec) -> Path:
    """Return the cache file path of ``spec`` under ``data_home``."""
    return data_home / f"{spec.name}-v{CACHE_FORMAT}.npz"


def content_sha256(X: np.ndarray, y: np.ndarray) -> str:
    """Return the sha256 of two arrays' dtypes, shapes and bytes."""
    h = hashlib.sha256()
    for arr in (X, y):
        arr = np.ascontiguousarray(arr)
        h.update(f"{arr.dtype.str}{arr.shape};".encode())
        h.update(memoryview(arr).cast("B"))
    return h.hexdigest()


def read_cache(path: Path, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Load and verify a cache file; return uint8 ``X``, int64 ``y`` and the metadata.

    Raises :class:`FileNotFoundError` (:class:`IsADirectoryError` for a directory) or
    :class:`CacheCorruptError` (unreadable, truncated, either checksum differs, or the
    content does not match ``spec``).
    """
    if path.is_dir():
        raise IsADirectoryError(21, "is a directory, not a cache file", str(path))
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        # Our own file handle: np.load leaves the one it opens unclosed when the zip is
        # truncated (numpy's NpzFile fails before it owns it), a ResourceWarning later.
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            if set(npz.files) != _KEYS:
                raise CacheCorruptError(f"{path}: holds arrays {sorted(npz.files)}, expected "
                                        f"{sorted(_KEYS)}")
            X, y, meta = npz["data"], npz["target"], json.loads(str(npz["meta"][()]))
    except CacheCorruptError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        # zipfile checks each member's CRC-32 and numpy the .npy header, so truncation and
        # most bit flips already surface here.
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise CacheCorruptError(f"{path}: unreadable ({type(exc).__name__}: {msg})") from None

    if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
        raise CacheCorruptError(f"{path}: unknown cache format {meta!r:.80}")
    shape = (spec.n_samples, spec.n_features)
    if X.dtype != np.uint8 or X.shape != shape:
        raise CacheCorruptError(f"{path}: data is {X.dtype}{X.shape}, expected uint8{shape}")
    if y.dtype != np.uint8 or y.shape != (spec.n_samples,):
        raise CacheCorruptError(f"{path}: target is {y.dtype}{y.shape}, expected "
                                f"uint8({spec.n_samples},)")
    if meta.get("n_train") != spec.n_train or meta.get("n_test") != spec.n_test:
        raise CacheCorruptError(f"{path}: split {meta.get('n_train')}/{meta.get('n_test')} "
                                f"differs from {spec.n_train}/{spec.n_test}")
    got = content_sha256(X, y)
    if got != meta.get("sha256"):
        raise CacheCorruptError(f"{path}: sha256 mismatch: stored {meta.get('sha256')}, "
                                f"computed {got}")
    if spec.sha256 is not None and got != spec.sha256:
        # The stored checksum lives in the file it checks; the pinned one does not.
        raise CacheCorruptError(f"{path}: sha256 {got} differs from the one pinned in the "
                                f"registry for {spec.name!r} ({spec.sha256})")
    return X, y.astype(np.int64), meta


def _dump(fh: BinaryIO, X: np.ndarray, y: np.ndarray, meta_json: str) -> None:
    # A separate function so tests can make it fail half-way through a write.
    np.savez(fh, data=X, target=y, meta=np.array(meta_json))


def _remove_stale_tmp(directory: Path, final_name: str) -> None:
    for p in directory.glob(f".{final_name}.*.tmp"):
        with contextlib.suppress(OSError):
            if time.time() - p.stat().st_mtime > _STALE_TMP_SECONDS:
                p.unlink()


def write_cache(path: Path, X: np.ndarray, y: np.ndarray, spec: DatasetSpec, *,
                meta: dict[str, Any]) -> dict[str, Any]:
    """Atomically write uint8 ``X``, labels ``y`` and ``meta`` (JSON-able: source, origin,
    source checksums) to ``path``, creating its folder; return the full metadata written."""
    X = np.ascontiguousarray(X, dtype=np.uint8)
    y = np.ascontiguousarray(y).astype(np.uint8)
    full_meta = {**meta, "format": CACHE_FORMAT, "name": spec.name, "n_train": spec.n_train,
                 "n_test": spec.n_test, "image_shape": list(spec.image_shape),
                 "sha256": content_sha256(X, y), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_tmp(path.parent, path.name)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            _dump(fh, X, y, json.dumps(full_meta, sort_keys=True))
            fh.flush()
            # Without fsync a power loss after the rename could leave a renamed but empty file.
            os.fsync(fh.fileno())
        # mkstemp creates the file 0600; a cache is plain data that other users may share.
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        # BaseException: KeyboardInterrupt mid-write must not leave the temporary file either.
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return full_meta
