"""Bounds on what a model file can make the loader read, checked before anything parses it.

A skops file is a zip archive: its members are inflated into memory, ``.npy`` members become
arrays of the shape their header claims, nested archives (``.npz`` members, torch's weight
blob) are inflated again, and ``schema.json`` is parsed recursively. A crafted file of a few
kilobytes can therefore claim gigabytes (a decompression bomb), arrays larger than their
data, or JSON nested deeply enough to exhaust the interpreter's stack. :func:`check_archive`
reads every member once, in chunks, before any of that happens, and checks:

- the central directory is at most :attr:`ArchiveLimits.max_directory_bytes` (zipfile parses
  all of it into memory);
- the inflated size of all members together, nested archives included, is at most
  :attr:`ArchiveLimits.max_bytes`, and no large member inflates more than
  :attr:`ArchiveLimits.max_ratio` times (deflate's own limit is about 1,032);
- every member inflates without zlib or CRC errors to exactly the size it declares;
- every ``.npy`` header (nested ones included) describes exactly the data that follows it,
  with no object dtype;
- no member is a pickle stream (none in a file written by sknn_mnist is: torch's legacy
  format, which is one, would size its tensors from the pickle).

:func:`check_json` bounds a JSON document's size and nesting depth before it is parsed.
Violations raise :class:`ArchiveError`, a :class:`ValueError` whose message says what is
wrong without the file name; :mod:`sknn_mnist.io.persistence` adds it.

Only the standard library is imported at module level (numpy reads ``.npy`` dtypes):
``sknn-mnist info`` checks the metadata member with it and stays fast.
"""

from __future__ import annotations

import ast
import io
import math
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from itertools import accumulate
from typing import IO

__all__ = ["ArchiveError", "ArchiveLimits", "DEFAULT_LIMITS", "check_archive", "check_json",
           "json_depth"]

_MiB = 2**20
_CHUNK = _MiB
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
#: numpy's own limit on a ``.npy`` header (``max_header_size`` of ``numpy.load``).
_MAX_NPY_HEADER = 10_000
# The first opcode of a pickle of protocol 2 or more; torch's legacy (non-zip) format too.
_PICKLE_PROTO = b"\x80"


class ArchiveError(ValueError):
    """A model archive breaks one of the bounds of :class:`ArchiveLimits`, or is damaged."""


@dataclass(frozen=True)
class ArchiveLimits:
    """The bounds :func:`check_archive` and :func:`check_json` enforce.

    Parameters
    ----------
    max_bytes : int, default=2 GiB
        Inflated size of all members together, members of nested archives included.
        Loading needs about twice this much memory at most (skops holds a member's bytes
        and the array built from them). The largest model the package writes, a 200-tree
        forest on all of MNIST, inflates to about 0.4 GiB.
    max_ratio : float, default=200
        Largest inflated / compressed size of a member above ``ratio_floor``. Model data
        (weights, tree tables, support vectors) compresses 1-20x; a bomb compresses ~1,000x.
    ratio_floor : int, default=64 MiB
        Members that inflate to less are not ratio-checked.
    max_directory_bytes : int, default=16 MiB
        Size of the zip's central directory (about 250,000 members; a 100-tree forest
        has 500).
    max_json_bytes : int, default=64 MiB
        Size of ``schema.json`` (a 100-tree forest on digits: 2 MB) and of the metadata.
    max_json_depth : int, default=100
        Nesting depth of a JSON document (ours: 20 at most).
    """

    max_bytes: int = 2 * 2**30
    max_ratio: float = 200.0
    ratio_floor: int = 64 * _MiB
    max_directory_bytes: int = 16 * _MiB
    max_json_bytes: int = 64 * _MiB
    max_json_depth: int = 100


DEFAULT_LIMITS = ArchiveLimits()


def _size(n: float) -> str:
    return f"{n / _MiB:,.1f} MiB" if n >= _MiB else f"{int(n):,} bytes"


# -- JSON ------------------------------------------------------------------------------------
# A JSON string (escapes included); what is left once they are removed are the brackets.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = tuple(1 if b in b"[{" else -1 if b in b"]}" else 0 for b in range(256))


def json_depth(data: bytes) -> int:
    """Nesting depth of a JSON document, computed without parsing it (no recursion).

    Brackets inside strings do not count. For malformed input the result may be too large,
    never too small.
    """
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def check_json(data: bytes, what: str, limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
    """Refuse a JSON document too large or too deeply nested to parse safely.

    Raises
    ------
    ArchiveError
        Larger than ``limits.max_json_bytes`` or nested deeper than ``limits.max_json_depth``.
    """
    if len(data) > limits.max_json_bytes:
        raise ArchiveError(f"{what} holds {_size(len(data))}, more than the "
                           f"{_size(limits.max_json_bytes)} allowed")
    depth = json_depth(data)
    if depth > limits.max_json_depth:
        raise ArchiveError(f"{what} is nested {depth} levels deep, more than the "
                           f"{limits.max_json_depth} allowed")


# -- zip archives ----------------------------------------------------------------------------
def check_directory(file: IO[bytes], limits: ArchiveLimits = DEFAULT_LIMITS) -> None:
    """Refuse a zip whose central directory is too large, before :mod:`zipfile` parses it.

    Raises
    ------
    ArchiveError
        The central directory is larger than ``limits.max_directory_bytes``.
    """
    try:
        # zipfile's own end-of-archive reader: the directory size it would then read.
        end = zipfile._EndRecData(file)  # type: ignore[attr-defined]
    except (OSError, struct.error, AttributeError):
        return  # no readable end record: zipfile's error for it is the clearer one
    finally:
        file.seek(0)
    if end is None:
        return
    size = end[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
    if size > limits.max_directory_bytes:
        raise ArchiveError(f"its zip directory holds {_size(size)}, more than the "
                           f"{_size(limits.max_directory_bytes)} allowed")


@dataclass
class _Budget:
    """Inflated bytes still allowed, shared by an archive and the archives it holds."""

    left: int
    limits: ArchiveLimits

    def take(self, info: zipfile.ZipInfo, where: str) -> None:
        size, packed = info.file_size, info.compress_size
        if size > self.left:
            raise ArchiveError(
                f"member {where} inflates to {_size(size)}, beyond the "
                f"{_size(self.limits.max_bytes)} a model file may hold in all")
        if size > self.limits.ratio_floor and size > self.limits.max_ratio * max(packed, 1):
            raise ArchiveError(
                f"member {where} inflates {size / max(packed, 1):,.0f} times "
                f"({_size(packed)} to {_size(size)}): a decompression bomb")
        self.left -= size


def check_archive(archive: zipfile.ZipFile, limits: ArchiveLimits = DEFAULT_LIMITS, *,
                  verify_data: bool = True) -> None:
    """Read every member of ``archive`` once, in chunks, and check it against ``limits``.

    Nested archives (a member that is itself a zip) are checked too, within the same budget.
    With ``verify_data=False`` only the sizes and the first bytes of each member (the
    ``.npy`` headers) are read: for an archive whose reader checks each member's CRC anyway
    (``numpy.load`` of an ``.npz``), this bounds what it allocates at no extra read.

    Raises
    ------
    ArchiveError
        A bound is broken, a member is damaged (zlib or CRC error, shorter or longer than
        it claims), encrypted, or compressed with a method this Python cannot read.
    """
    _check_members(archive, _Budget(limits.max_bytes, limits), nested=False,
                   verify=verify_data)


def _check_members(archive: zipfile.ZipFile, budget: _Budget, *, nested: bool,
                   verify: bool = True, prefix: str = "") -> None:
    infos = archive.infolist()
    # Sizes first, all of them: a bomb is refused before a byte of it is inflated.
    for info in infos:
        budget.take(info, prefix + info.filename)
    for info in infos:
        if not info.is_dir():
            _check_member(archive, info, budget, nested=nested, verify=verify, prefix=prefix)


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget, *,
                  nested: bool, verify: bool, prefix: str) -> None:
    where = prefix + info.filename
    try:
        with archive.open(info) as member:
            head = member.read(_MAX_NPY_HEADER + 16)
            # (A torch blob holds its own pickle, data.pkl, which torch reads restricted.)
            if head.startswith(_PICKLE_PROTO) and not nested:
                raise ArchiveError(f"member {where} is a pickle, which sknn_mnist never "
                                   "writes into a skops file")
            if head.startswith(_NPY_MAGIC):
                _check_npy_header(head, info.file_size, where)
            if head.startswith(_ZIP_MAGIC) and not nested:
                # Read whole (it is within the budget) and check what it holds.
                data = head + member.read()
                _check_nested(data, budget, where)
            elif verify:
                while member.read(_CHUNK):  # inflating checks the CRC and the length
                    pass
    except ArchiveError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        raise ArchiveError(f"member {where} is damaged ({type(exc).__name__}: {exc})") from exc
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, unknown compression
        raise ArchiveError(f"member {where} cannot be read ({exc})") from exc


def _check_nested(data: bytes, budget: _Budget, where: str) -> None:
    buffer = io.BytesIO(data)
    check_directory(buffer, budget.limits)
    try:
        inner = zipfile.ZipFile(buffer)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        # It starts as an archive: torch or numpy would read it as one, differently.
        raise ArchiveError(f"member {where} is a damaged zip archive ({exc})") from exc
    with inner:
        _check_members(inner, budget, nested=True, prefix=f"{where}/")


def _check_npy_header(head: bytes, size: int, where: str) -> None:
    """The array a ``.npy`` header describes must be exactly the data after it."""
    try:
        major = head[6]
        if major == 1:
            (length,), start = struct.unpack("<H", head[8:10]), 10
        elif major in (2, 3):
            (length,), start = struct.unpack("<I", head[8:12]), 12
        else:
            raise ValueError(f"unknown .npy format version {major}")
        if length > _MAX_NPY_HEADER or start + length > len(head):
            raise ValueError("header too long")
        header = ast.literal_eval(head[start:start + length].decode("latin1"))
        shape, descr = header["shape"], header["descr"]
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0
                                                 for n in shape)):
            raise ValueError(f"invalid shape {shape!r}")
        itemsize = _itemsize(descr)
    except (ValueError, TypeError, KeyError, SyntaxError, IndexError, MemoryError,
            RecursionError, struct.error, UnicodeDecodeError) as exc:
        raise ArchiveError(f"array member {where} has an invalid header ({exc})") from exc
    claimed = math.prod(shape) * itemsize
    if start + length + claimed != size:
        raise ArchiveError(f"array member {where} claims shape {shape} ({_size(claimed)}) "
                           f"but holds {_size(max(size - start - length, 0))}")


def _itemsize(descr: object) -> int:
    import numpy as np

    dtype = np.dtype(descr)  # type: ignore[call-overload]
    if dtype.hasobject:
        raise ValueError("object arrays are not loaded")
    return dtype.itemsize
