"""Reading the four standard gzip-compressed IDX files of an MNIST-style dataset.

IDX format: a big-endian header (two zero bytes, a type byte - 0x08 for uint8 -, a byte with
the number of dimensions, then one big-endian uint32 per dimension) followed by the data in
row-major order. Files are verified against their published md5 before being parsed.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import ChecksumError, IdxFormatError
from ._registry import DATASETS, DatasetSpec, IdxFile

__all__ = ["IdxSearchResult", "file_md5", "find_idx_files", "load_idx_dir", "read_idx"]

_UINT8_TYPE = 0x08


def file_md5(path: Path) -> str:
    """Return the hex md5 of a file, read in 1 MiB blocks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_idx(path: Path, *, ndim: int) -> np.ndarray:
    """Read one gzip-compressed uint8 IDX file.

    Parameters
    ----------
    path : pathlib.Path
        The ``.gz`` file.
    ndim : int
        Expected number of dimensions (3 for images, 1 for labels).

    Returns
    -------
    numpy.ndarray
        uint8 array of the shape given in the header.

    Raises
    ------
    IdxFormatError
        Not gzip, truncated, wrong magic number, wrong type or dimension count, or more or
        fewer data bytes than the header announces.
    """
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise IdxFormatError(f"{path}: not a valid gzip file ({exc})") from None
    except EOFError:
        raise IdxFormatError(f"{path}: truncated gzip stream (file cut short)") from None

    if len(raw) < 4:
        raise IdxFormatError(f"{path}: truncated: {len(raw)} bytes, shorter than the IDX header")
    zero0, zero1, type_code, n_dims = raw[0], raw[1], raw[2], raw[3]
    magic = int.from_bytes(raw[:4], "big")
    if zero0 != 0 or zero1 != 0:
        raise IdxFormatError(
            f"{path}: wrong magic number 0x{magic:08x}; an IDX file starts with two zero bytes"
        )
    if type_code != _UINT8_TYPE:
        raise IdxFormatError(
            f"{path}: wrong magic number 0x{magic:08x}: data type 0x{type_code:02x}, "
            f"expected 0x{_UINT8_TYPE:02x} (uint8)"
        )
    if n_dims != ndim:
        raise IdxFormatError(
            f"{path}: wrong magic number 0x{magic:08x}: {n_dims} dimensions, expected {ndim}"
        )
    header_len = 4 + 4 * n_dims
    if len(raw) < header_len:
        raise IdxFormatError(f"{path}: truncated inside the header ({len(raw)} bytes)")
    shape = struct.unpack(f">{n_dims}I", raw[4:header_len])
    expected = int(np.prod(shape, dtype=np.int64))
    got = len(raw) - header_len
    if got < expected:
        raise IdxFormatError(
            f"{path}: truncated: header announces shape {shape} ({expected} bytes of data) "
            f"but only {got} bytes follow"
        )
    if got > expected:
        raise IdxFormatError(
            f"{path}: {got - expected} unexpected bytes after the {expected} announced by "
            f"the header (shape {shape})"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


@dataclass(frozen=True)
class IdxSearchResult:
    """Outcome of looking for a dataset's IDX files under an ``idx_dir``.

    ``directory`` is the folder holding all four files with matching md5s, or ``None`` with
    ``reason`` saying why none was found.
    """

    directory: Path | None
    reason: str = ""


def _candidate_dirs(spec: DatasetSpec, idx_dir: Path) -> list[Path]:
    # Per-dataset sub-folders first: they are unambiguous, while the IDX file names are the
    # same for MNIST, Fashion-MNIST and KMNIST.
    subdirs = [spec.name, *spec.idx_subdirs]
    out: list[Path] = []
    for sub in subdirs:
        d = idx_dir / sub
        if d not in out:
            out.append(d)
    out.append(idx_dir)
    return out


def _owner_of(md5s: list[str], exclude: str) -> str | None:
    """Name of another registered dataset whose published md5s are exactly ``md5s``."""
    for name, other in DATASETS.items():
        if name == exclude or other.idx_files is None:
            continue
        if [f.md5 for f in other.idx_files] == md5s:
            return name
    return None


def find_idx_files(spec: DatasetSpec, idx_dir: Path) -> IdxSearchResult:
    """Find the folder under ``idx_dir`` that holds ``spec``'s four IDX files.

    Searched in order: ``idx_dir/<name>``, ``idx_dir/<each of spec.idx_subdirs>``, ``idx_dir``.
    A folder holding all four files of *another* registered dataset (same file names,
    that dataset's md5s) is skipped, so one ``SKNN_MNIST_IDX_DIR`` can serve several datasets.

    Raises
    ------
    ChecksumError
        A folder holds all four files but they match neither this dataset's md5s nor another
        registered dataset's; the message names the first mismatching file.
    """
    if spec.idx_files is None:
        return IdxSearchResult(None, f"{spec.name!r} has no IDX files")
    if not idx_dir.is_dir():
        return IdxSearchResult(None, f"idx_dir {idx_dir}: not a directory")

    notes: list[str] = []
    for d in _candidate_dirs(spec, idx_dir):
        paths = [d / f.filename for f in spec.idx_files]
        present = [p.is_file() for p in paths]
        if not any(present):
            continue
        if not all(present):
            missing = ", ".join(p.name for p, ok in zip(paths, present, strict=True) if not ok)
            notes.append(f"{d}: incomplete, missing {missing}")
            continue
        md5s = [file_md5(p) for p in paths]
        mismatches = [
            (p, f, got)
            for p, f, got in zip(paths, spec.idx_files, md5s, strict=True)
            if f.md5 is not None and got != f.md5.lower()
        ]
        if not mismatches:
            return IdxSearchResult(d)
        owner = _owner_of(md5s, exclude=spec.name)
        if owner is not None:
            notes.append(f"{d}: holds the IDX files of {owner!r}, not {spec.name!r}")
            continue
        path, f, got = mismatches[0]
        raise ChecksumError(
            f"{path}: md5 mismatch for {spec.name!r}: expected {f.md5}, got {got} "
            "(file corrupt, truncated or from another dataset; delete it or fetch it again)"
        )
    if not notes:
        names = ", ".join(f.filename for f in spec.idx_files)
        notes.append(f"{idx_dir}: none of {names} (also looked in sub-folder {spec.name}/)")
    return IdxSearchResult(None, "; ".join(notes))


def _verify_md5(path: Path, f: IdxFile) -> None:
    if f.md5 is None:
        return
    got = file_md5(path)
    if got != f.md5.lower():
        raise ChecksumError(f"{path}: md5 mismatch: expected {f.md5}, got {got}")


def load_idx_dir(
    spec: DatasetSpec, directory: Path, *, check_md5: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Read and validate the four IDX files in ``directory``.

    Parameters
    ----------
    spec : DatasetSpec
        Gives the file names, md5s, expected counts and image shape.
    directory : pathlib.Path
        Folder holding the files (typically from :func:`find_idx_files`).
    check_md5 : bool, default True
        Verify the md5s first; :func:`find_idx_files` already did, so the loader skips it.

    Returns
    -------
    X : numpy.ndarray
        ``(n_train + n_test, n_features)`` uint8, training rows first.
    y : numpy.ndarray
        int64 labels.

    Raises
    ------
    ChecksumError, IdxFormatError
        md5 mismatch, malformed file, or counts/shapes that differ from the spec.
    """
    files = spec.idx_files
    if files is None:
        raise ValueError(f"dataset {spec.name!r} has no IDX files")
    parts_X: list[np.ndarray] = []
    parts_y: list[np.ndarray] = []
    for img_f, lab_f, n_expected in (
        (files.train_images, files.train_labels, spec.n_train),
        (files.test_images, files.test_labels, spec.n_test),
    ):
        img_path, lab_path = directory / img_f.filename, directory / lab_f.filename
        if check_md5:
            _verify_md5(img_path, img_f)
            _verify_md5(lab_path, lab_f)
        images = read_idx(img_path, ndim=3)
        labels = read_idx(lab_path, ndim=1)
        if images.shape[1:] != tuple(spec.image_shape):
            raise IdxFormatError(
                f"{img_path}: images of shape {images.shape[1:]}, expected {spec.image_shape}"
            )
        if images.shape[0] != labels.shape[0]:
            raise IdxFormatError(
                f"{img_path} holds {images.shape[0]} images but {lab_path} holds "
                f"{labels.shape[0]} labels"
            )
        if images.shape[0] != n_expected:
            raise IdxFormatError(
                f"{img_path}: {images.shape[0]} images, expected {n_expected} for {spec.name!r}"
            )
        if labels.size and int(labels.max()) >= spec.n_classes:
            raise IdxFormatError(
                f"{lab_path}: label {int(labels.max())} out of range 0..{spec.n_classes - 1}"
            )
        parts_X.append(images.reshape(images.shape[0], -1))
        parts_y.append(labels)
    X = np.concatenate(parts_X, axis=0)
    y = np.concatenate(parts_y).astype(np.int64)
    return X, y
