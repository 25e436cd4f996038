"""The four standard gzip-compressed IDX files of an MNIST-style dataset, md5-checked.

IDX: two zero bytes, a type byte (0x08: uint8), the number of dimensions, one big-endian
uint32 per dimension, then the data in row-major order."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from ._errors import ChecksumError, IdxFormatError
from ._registry import DATASETS, DatasetSpec

__all__ = ["file_md5", "find_idx_files", "load_idx_dir", "read_idx"]


def file_md5(path: Path) -> str:
    """Return the hex md5 of a file, read in 1 MiB blocks."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_idx(path: Path, *, ndim: int) -> np.ndarray:
    """Read one gzip-compressed uint8 IDX file with ``ndim`` dimensions.

    Raises :class:`IdxFormatError` when the file is not gzip, is truncated, has a wrong magic
    number, type or dimension count, or more or fewer data bytes than its header announces.
    """
    try:
        raw = gzip.decompress(path.read_bytes())
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise IdxFormatError(f"{path}: not a valid gzip file ({exc})") from None
    except EOFError:
        raise IdxFormatError(f"{path}: truncated gzip stream (file cut short)") from None
    if len(raw) < 4:
        raise IdxFormatError(f"{path}: truncated: {len(raw)} bytes, shorter than the IDX header")
    magic = f"{path}: wrong magic number 0x{int.from_bytes(raw[:4], 'big'):08x}"
    if raw[0] != 0 or raw[1] != 0:
        raise IdxFormatError(f"{magic}; an IDX file starts with two zero bytes")
    if raw[2] != 0x08:
        raise IdxFormatError(f"{magic}: data type 0x{raw[2]:02x}, expected 0x08 (uint8)")
    if raw[3] != ndim:
        raise IdxFormatError(f"{magic}: {raw[3]} dimensions, expected {ndim}")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise IdxFormatError(f"{path}: truncated inside the header ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header_len])
    expected, got = int(np.prod(shape, dtype=np.int64)), len(raw) - header_len
    if got < expected:
        raise IdxFormatError(f"{path}: truncated: header announces shape {shape} ({expected} "
                             f"bytes of data) but only {got} bytes follow")
    if got > expected:
        raise IdxFormatError(f"{path}: {got - expected} unexpected bytes after the {expected} "
                             f"announced by the header (shape {shape})")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(shape)


def find_idx_files(spec: DatasetSpec, idx_dir: Path) -> tuple[Path | None, str]:
    """The folder under ``idx_dir`` holding ``spec``'s four IDX files, or ``None``, and why not.

    Searched in order: ``idx_dir/<name>``, ``idx_dir/<each of spec.idx_subdirs>``, ``idx_dir``
    (per-dataset folders first: MNIST, Fashion-MNIST and KMNIST share the file names). A
    folder holding another registered dataset's files (its md5s) is skipped, so one
    ``SKNN_MNIST_IDX_DIR`` can serve several datasets.

    Raises :class:`ChecksumError` when a folder holds all four files but they match neither
    this dataset's md5s nor another registered dataset's (naming the first mismatching file).
    """
    if spec.idx_files is None:
        return (None, f"{spec.name!r} has no IDX files")
    if not idx_dir.is_dir():
        return (None, f"idx_dir {idx_dir}: not a directory")
    notes: list[str] = []
    for d in dict.fromkeys([idx_dir / s for s in (spec.name, *spec.idx_subdirs)] + [idx_dir]):
        paths = [d / f.filename for f in spec.idx_files]
        present = [p.is_file() for p in paths]
        if not any(present):
            continue
        if not all(present):
            missing = ", ".join(p.name for p, ok in zip(paths, present, strict=True) if not ok)
            notes.append(f"{d}: incomplete, missing {missing}")
            continue
        md5s = [file_md5(p) for p in paths]
        bad = [(p, f.md5, got) for p, f, got in zip(paths, spec.idx_files, md5s, strict=True)
               if f.md5 is not None and got != f.md5.lower()]
        if not bad:
            return d, ""
        owner = next((n for n, o in DATASETS.items() if n != spec.name and o.idx_files
                      and [f.md5 for f in o.idx_files] == md5s), None)
        if owner is not None:
            notes.append(f"{d}: holds the IDX files of {owner!r}, not {spec.name!r}")
            continue
        path, want, got = bad[0]
        raise ChecksumError(f"{path}: md5 mismatch for {spec.name!r}: expected {want}, got "
                            f"{got} (file corrupt, truncated or from another dataset; delete "
                            "it or fetch it again)")
    if not notes:
        names = ", ".join(f.filename for f in spec.idx_files)
        notes.append(f"{idx_dir}: none of {names} (also looked in sub-folder {spec.name}/)")
    return (None, "; ".join(notes))


def load_idx_dir(spec: DatasetSpec, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the four IDX files in ``directory`` (md5s checked by :func:`find_idx_files`).

    Returns uint8 ``X`` ``(n_train + n_test, n_features)``, training rows first, and int64
    ``y``; raises :class:`IdxFormatError` for malformed files or counts and shapes that
    differ from the spec.
    """
    files = spec.idx_files
    if files is None:
        raise ValueError(f"dataset {spec.name!r} has no IDX files")
    parts_X, parts_y = [], []
    for img_f, lab_f, n_expected in ((files.train_images, files.train_labels, spec.n_train),
                                     (files.test_images, files.test_labels, spec.n_test)):
        img_path, lab_path = directory / img_f.filename, directory / lab_f.filename
        images, labels = read_idx(img_path, ndim=3), read_idx(lab_path, ndim=1)
        if images.shape[1:] != tuple(spec.image_shape):
            raise IdxFormatError(f"{img_path}: images of shape {images.shape[1:]}, expected "
                                 f"{spec.image_shape}")
        if images.shape[0] != labels.shape[0]:
            raise IdxFormatError(f"{img_path} holds {images.shape[0]} images but {lab_path} "
                                 f"holds {labels.shape[0]} labels")
        if images.shape[0] != n_expected:
            raise IdxFormatError(f"{img_path}: {images.shape[0]} images, expected "
                                 f"{n_expected} for {spec.name!r}")
        if labels.size and int(labels.max()) >= spec.n_classes:
            raise IdxFormatError(f"{lab_path}: label {int(labels.max())} out of range "
                                 f"0..{spec.n_classes - 1}")
        parts_X.append(images.reshape(images.shape[0], -1))
        parts_y.append(labels)
    return np.concatenate(parts_X, axis=0), np.concatenate(parts_y).astype(np.int64)
