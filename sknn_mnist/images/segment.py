"""Cutting a written number into its digits, left to right.

The ink map (:mod:`~sknn_mnist.images.ink`) is split into connected pieces; specks go;
pieces one above the other (a broken digit: the bar of a 5, a 4 written in two strokes)
are joined; marks much shorter than the digits (dust, a dash, a decimal point) go; a piece
much wider than the others is cut where its ink is thinnest (touching digits). Each digit
is then normalised on its own, as MNIST's digits were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from .decode import ImageLimits, decode, iter_sources
from .errors import NoInkError
from .ink import EIGHT, box_gap, contrast, ink_signal, label_pieces
from .normalize import layout_for, normalize

__all__ = ["DigitBox", "digit_boxes", "split_digits"]

#: Pieces smaller than this share of the largest are specks.
_SPECK = 0.03
#: Groups shorter than this share of the tallest are not digits.
_SHORT = 0.4
#: A group wider than this many times its height holds touching digits.
_WIDE = 1.45


@dataclass(frozen=True)
class DigitBox:
    """One digit of a number: where it is and its ink.

    Attributes
    ----------
    top, left, bottom, right : int
        Its bounding box in the image as decoded (at working resolution).
    ink : ndarray of shape (height, width), float32
        The ink of this digit alone in the box (0 background, 1 full ink).
    """

    top: int
    left: int
    bottom: int
    right: int
    ink: np.ndarray


class _Pieces:
    """Union-find over the labelled pieces: each group is one digit."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, k: int) -> int:
        while self.parent[k] != k:
            self.parent[k] = self.parent[self.parent[k]]
            k = self.parent[k]
        return k

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)

    def groups(self, members: list[int]) -> list[list[int]]:
        out: dict[int, list[int]] = {}
        for k in members:
            out.setdefault(self.find(k), []).append(k)
        return list(out.values())


def _overlap(a: tuple[slice, slice], b: tuple[slice, slice]) -> float:
    """Horizontal overlap of two boxes as a share of the narrower one's width."""
    common = min(a[1].stop, b[1].stop) - max(a[1].start, b[1].start)
    narrower = min(a[1].stop - a[1].start, b[1].stop - b[1].start)
    return max(common, 0) / max(narrower, 1)


def _union(boxes: list[tuple[slice, slice]]) -> tuple[slice, slice]:
    return (slice(min(b[0].start for b in boxes), max(b[0].stop for b in boxes)),
            slice(min(b[1].start for b in boxes), max(b[1].stop for b in boxes)))


def _grouped(boxes: list[tuple[slice, slice]], members: list[int]) -> list[list[int]]:
    """Join pieces that lie one above the other (half the narrower one's width shared)."""
    pieces = _Pieces(len(boxes))
    for i in members:
        for j in members:
            if i < j and _overlap(boxes[i], boxes[j]) >= 0.5:
                pieces.join(i, j)
    return pieces.groups(members)


def _cuts(profile: np.ndarray, n_digits: int) -> list[int]:
    """Columns where a group of touching digits is cut: the thinnest ink near each of the
    evenly spaced positions."""
    width = profile.size
    cuts = []
    for j in range(1, n_digits):
        centre = j * width / n_digits
        lo = int(max(1, centre - width / (6 * n_digits)))
        hi = int(min(width - 1, centre + width / (6 * n_digits)))
        cuts.append(lo + int(np.argmin(profile[lo:hi + 1])))
    return cuts


def _split_wide(ink: np.ndarray, box: tuple[slice, slice], digit_width: float,
                digit_height: float) -> list[tuple[slice, slice]]:
    """Cut a group of touching digits into as many digit-wide columns as it holds.

    A group is several digits when it is wider than :data:`_WIDE` times the digits'
    height (a digit is hardly ever: 1.3% of MNIST's are wider than 1.25 times their
    height), or, beside separate digits whose median width is ``digit_width``, wider than
    1.8 of those and than 1.1 times the digits' height. The height is the larger of the
    group's and the digits' median (``digit_height``): a wide piece of a broken digit is
    not two digits.
    """
    width = box[1].stop - box[1].start
    height = max(box[0].stop - box[0].start, digit_height)
    wide = width > _WIDE * height or (digit_width > 0 and width > 1.8 * digit_width
                                      and width > 1.1 * height)
    if not wide:
        return [box]
    typical = max(digit_width if digit_width > 0 else 0.7 * height, 0.5 * height)
    n_digits = max(2, round(width / typical))
    profile = ink[box].sum(axis=0)
    edges = [0, *_cuts(profile, n_digits), width]
    return [(box[0], slice(box[1].start + a, box[1].start + b))
            for a, b in zip(edges[:-1], edges[1:], strict=True) if b > a]


def _digit_width(boxes: list[tuple[slice, slice]]) -> float:
    """A typical digit's width: the median of the groups' widths (with three or more;
    else 0, unknown)."""
    widths = [b[1].stop - b[1].start for b in boxes]
    return float(np.median(widths)) if len(widths) > 2 else 0.0


def _attach(short: tuple[slice, slice], tall: list[tuple[slice, slice]],
            reach: float) -> int | None:
    """The digit a short mark belongs to (the bar of a 5 that does not touch it): the
    tall group it overlaps most horizontally, else the nearest within ``reach``."""
    best, best_key = None, None
    for k, box in enumerate(tall):
        gap = box_gap(short, box)
        if _overlap(short, box) < 0.3 and gap > reach:
            continue
        key = (-_overlap(short, box), gap)
        if best_key is None or key < best_key:
            best, best_key = k, key
    return best


def _group_ink(ink: np.ndarray, labels: np.ndarray, members: list[int],
               box: tuple[slice, slice]) -> np.ndarray:
    """The group's own ink inside ``box``: its pieces, with their anti-aliased edges."""
    mask = np.isin(labels[box], [k + 1 for k in members])
    mask = ndi.binary_dilation(mask, EIGHT, iterations=2)
    return np.where(mask, ink[box], 0).astype(np.float32)


def _shrink(ink: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def digit_boxes(ink: np.ndarray, name: str = "") -> list[DigitBox]:
    """The digits of a number's ink map, left to right.

    Raises
    ------
    NoInkError
        No digit-sized ink.
    """
    labels, areas = label_pieces(ink)
    if areas.size == 0:
        raise NoInkError(f"{name}: no ink found", name)
    boxes = ndi.find_objects(labels)
    members = [k for k, area in enumerate(areas) if area >= _SPECK * areas.max()]
    groups = [(g, _union([boxes[k] for k in g])) for g in _grouped(boxes, members)]
    tallest = max(b[0].stop - b[0].start for _, b in groups)
    tall = [(g, b) for g, b in groups if b[0].stop - b[0].start >= _SHORT * tallest]
    for g, b in groups:
        if b[0].stop - b[0].start < _SHORT * tallest:
            k = _attach(b, [tb for _, tb in tall], 0.2 * tallest)
            if k is not None:  # else dust, a dash, a point: not a digit
                members_k, box_k = tall[k]
                tall[k] = (members_k + g, _union([box_k, b]))
    kept = tall
    digit_width = _digit_width([b for _, b in kept])
    digit_height = float(np.median([b[0].stop - b[0].start for _, b in kept]))
    digits = []
    for group, box in kept:
        own = np.zeros_like(ink)
        own[box] = _group_ink(ink, labels, group, box)
        for part in _split_wide(own, box, digit_width, digit_height):
            inner = _shrink(own[part])
            if inner is None:
                continue
            top, left = part[0].start + inner[0].start, part[1].start + inner[1].start
            piece = own[part][inner]
            digits.append(DigitBox(top, left, top + piece.shape[0], left + piece.shape[1],
                                   piece))
    if not digits:
        raise NoInkError(f"{name}: no digits found", name)
    return sorted(digits, key=lambda d: (d.left + d.right) / 2)


def split_digits(source: Any, *, shape: Any = None, limits: ImageLimits | None = None,
                 name: str | None = None, return_boxes: bool = False):
    """Cut an image of a written number into its digits, each normalised as MNIST's.

    Parameters
    ----------
    source : path, bytes, file object, PIL image or array
        One image (see :func:`~sknn_mnist.images.load_images`).
    shape : None, 'mnist', 'digits', int, (height, width) or Layout, default=None
        The layout of each digit's row (MNIST's 28x28 by default).
    limits : ImageLimits, optional
        Byte, pixel and working-size limits.
    name : str, optional
        The image's name in error messages (default: its path, or ``"<bytes>"``...).
    return_boxes : bool, default=False
        Also return each digit's :class:`DigitBox` (its place in the image).

    Returns
    -------
    X : ndarray of shape (n_digits, n_pixels), uint8
        The digits, left to right.
    boxes : list of DigitBox
        Only with ``return_boxes=True``.

    Raises
    ------
    NoInkError
        No digit in the image; and the reading errors of
        :func:`~sknn_mnist.images.load_images`.
    """
    layout = layout_for(shape)
    items = list(iter_sources(source))
    if len(items) != 1:
        raise ValueError(f"split_digits reads one image; got {len(items)}")
    default_name, item = items[0]
    decoded = decode(item, name or default_name, limits)
    ink = contrast(ink_signal(decoded), decoded.name)
    boxes = digit_boxes(ink, decoded.name)
    X = np.stack([normalize(b.ink, layout, decoded.name) for b in boxes])
    return (X, boxes) if return_boxes else X
