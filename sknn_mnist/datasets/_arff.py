"""A small, fast parser for dense ARFF files of integer pixels plus one class column.

OpenML serves MNIST-style datasets as ~120 MB of text: 784 numeric pixel columns and a nominal
class column per row. A general ARFF parser (e.g. ``liac-arff``) spends most of its time in
per-value Python code; here the header is parsed in Python, each row is split once to peel
off the class value, and all pixel values are converted by :func:`numpy.fromstring` in C, in
chunks so memory stays bounded.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass

import numpy as np

from ._errors import ArffFormatError

__all__ = ["ArffAttribute", "parse_arff_pixels"]

_DATA_RE = re.compile(rb"^[ \t]*@data[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_ATTR_RE = re.compile(
    r"""^\s*@attribute\s+(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\S+))\s+(.+?)\s*$""",
    re.IGNORECASE,
)
_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class ArffAttribute:
    """One ``@attribute`` line: its name, and its nominal values (``None`` if not nominal)."""

    name: str
    kind: str
    nominal: tuple[str, ...] | None = None


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return token[1:-1]
    return token


def _parse_header(header: str, source: str) -> list[ArffAttribute]:
    attrs: list[ArffAttribute] = []
    for line in header.splitlines():
        stripped = line.strip()
        if not stripped.lower().startswith("@attribute"):
            continue
        m = _ATTR_RE.match(stripped)
        if m is None:
            raise ArffFormatError(f"{source}: cannot parse attribute line {stripped[:80]!r}")
        name = next(g for g in m.groups()[:3] if g is not None)
        kind = m.group(4).strip()
        if kind.startswith("{"):
            if not kind.endswith("}"):
                raise ArffFormatError(f"{source}: unterminated nominal type for {name!r}")
            values = tuple(_unquote(v) for v in kind[1:-1].split(",") if v.strip())
            attrs.append(ArffAttribute(name, "nominal", values))
        else:
            attrs.append(ArffAttribute(name, kind.lower()))
    if not attrs:
        raise ArffFormatError(f"{source}: no @attribute lines before @data")
    return attrs


def _label_mapping(attr: ArffAttribute, n_classes: int, source: str) -> dict[bytes, int]:
    if attr.nominal is None:
        # A numeric class column: accept exactly the integer codes 0..n_classes-1.
        return {str(i).encode(): i for i in range(n_classes)}
    values = list(attr.nominal)
    try:
        codes = [int(v) for v in values]
    except ValueError:
        # Non-numeric nominal values: the class index is the position in the declaration.
        codes = list(range(len(values)))
    if sorted(codes) != list(range(n_classes)):
        raise ArffFormatError(
            f"{source}: class attribute {attr.name!r} has values {values}, expected "
            f"{n_classes} classes coded 0..{n_classes - 1}"
        )
    return {v.encode(): c for v, c in zip(values, codes, strict=True)}


def _fromstring(text: bytes, dtype: type) -> np.ndarray | None:
    """Parse comma-separated numbers in C; ``None`` if a token is not a number of ``dtype``."""
    with warnings.catch_warnings():
        # Older numpy only *warns* when it stops early at an unparsable token; make that an
        # error too, so a bad token never silently truncates the result.
        warnings.simplefilter("error", DeprecationWarning)
        try:
            return np.fromstring(text, dtype=dtype, sep=",")
        except (ValueError, DeprecationWarning):
            return None


def _parse_pixels(text: bytes, n_rows: int, n_features: int, source: str) -> np.ndarray:
    expected = n_rows * n_features
    # int32 parsing is ~10x faster than float64; floats ("0.0", "1e2") are the rare fallback.
    values = _fromstring(text, np.int32)
    if values is None or values.size != expected:
        values = _fromstring(text, np.float64)
        if values is None or values.size != expected:
            what = "missing values ('?')" if b"?" in text else "non-numeric pixel values"
            raise ArffFormatError(f"{source}: {what} in the data rows")
        if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
            raise ArffFormatError(f"{source}: non-integer pixel values")
    if values.size and (values.min() < 0 or values.max() > 255):
        raise ArffFormatError(
            f"{source}: pixel values in {values.min():g}..{values.max():g}, outside 0..255"
        )
    return values.astype(np.uint8).reshape(n_rows, n_features)


def parse_arff_pixels(
    content: bytes,
    *,
    target: str,
    n_features: int,
    n_classes: int,
    source: str = "ARFF",
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a dense ARFF of integer pixels and one class column into uint8/int64 arrays.

    Parameters
    ----------
    content : bytes
        The (decompressed) ARFF file.
    target : str
        Name of the class attribute (OpenML's ``default_target_attribute``). It must be the
        first or the last column, as in every MNIST-style OpenML dataset.
    n_features : int
        Expected number of pixel columns.
    n_classes : int
        Expected number of classes; labels must be ``0 .. n_classes - 1`` (or, for
        non-numeric nominal values, are their positions in the declaration).
    source : str
        Name used in error messages (e.g. the URL).

    Returns
    -------
    X : numpy.ndarray
        ``(n_rows, n_features)`` uint8.
    y : numpy.ndarray
        ``(n_rows,)`` int64.

    Raises
    ------
    ArffFormatError
        Any structural problem: no ``@data``, sparse rows, wrong column counts, missing or
        non-integer or out-of-range pixels, unknown class values.
    """
    m = _DATA_RE.search(content)
    if m is None:
        raise ArffFormatError(f"{source}: no @data line; not an ARFF file?")
    header = content[: m.start()].decode("utf-8", errors="replace")
    attrs = _parse_header(header, source)
    names = [a.name for a in attrs]
    if target not in names:
        raise ArffFormatError(
            f"{source}: no attribute {target!r}; attributes end with {names[-3:]}"
        )
    t_idx = names.index(target)
    if len(attrs) - 1 != n_features:
        raise ArffFormatError(f"{source}: {len(attrs) - 1} feature columns, expected {n_features}")
    if t_idx not in (0, len(attrs) - 1):
        raise ArffFormatError(f"{source}: class column must be first or last, is #{t_idx + 1}")
    mapping = _label_mapping(attrs[t_idx], n_classes, source)

    rows = [
        r
        for r in (line.strip() for line in content[m.end() :].split(b"\n"))
        if r and not r.startswith(b"%")
    ]
    if not rows:
        raise ArffFormatError(f"{source}: no data rows")
    if rows[0].startswith(b"{"):
        raise ArffFormatError(f"{source}: sparse ARFF rows are not supported")
    n_commas = n_features
    for i, r in enumerate(rows):
        if r.count(b",") != n_commas:
            raise ArffFormatError(
                f"{source}: data row {i + 1} has {r.count(b',') + 1} values, "
                f"expected {n_features + 1}"
            )

    n = len(rows)
    X = np.empty((n, n_features), dtype=np.uint8)
    y = np.empty(n, dtype=np.int64)
    last = t_idx == len(attrs) - 1
    for start in range(0, n, _CHUNK_ROWS):
        chunk = rows[start : start + _CHUNK_ROWS]
        if last:
            parts = [r.rsplit(b",", 1) for r in chunk]
            pixels, labels = [p[0] for p in parts], [p[1] for p in parts]
        else:
            parts = [r.split(b",", 1) for r in chunk]
            labels, pixels = [p[0] for p in parts], [p[1] for p in parts]
        for j, lab in enumerate(labels):
            key = lab.strip().strip(b"'\"")
            code = mapping.get(key)
            if code is None:
                raise ArffFormatError(
                    f"{source}: data row {start + j + 1}: class value {key!r} not declared"
                )
            y[start + j] = code
        X[start : start + len(chunk)] = _parse_pixels(
            b",".join(pixels), len(chunk), n_features, source
        )
    return X, y
