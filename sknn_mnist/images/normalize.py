"""MNIST's normalisation, and scikit-learn's digits' layout.

MNIST (LeCun et al.): the digit's bounding box is scaled to fit a 20x20 box, preserving
its aspect ratio, with anti-aliasing (grey edges); the result is placed in a 28x28 field
so that its centre of mass is at the field's centre (pixel 14, 14); light ink (255) on
black (0). Measured on MNIST itself: every digit's longer side is 20 pixels and its centre
of mass lies within half a pixel of (14, 14).

scikit-learn's digits (UCI optdigits): the digit's bounding box is scaled to fit 32x32 and
centred, thresholded to black and white, and each 4x4 block's ink pixels are counted:
8x8 pixels of 0..16, the digit filling the frame's height.

A :class:`Layout` describes either, or MNIST's convention at another size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from .errors import NoInkError

__all__ = ["DIGITS", "MNIST", "Layout", "layout_for", "layout_for_features", "normalize"]

#: Ink at or above this level is inside the digit's bounding box.
_BOX_INK = 0.1
#: A stroke thinner than this many output pixels is thickened (a fine pen on a large page);
#: MNIST's strokes are 1.7 to 4.5 pixels wide (5th to 95th percentile), 2.6 typically.
_THIN = 1.5
_TARGET_WIDTH = 2.4


@dataclass(frozen=True)
class Layout:
    """The pixel layout a model was trained on.

    Parameters
    ----------
    height, width : int, default=28
        Output image size; rows are ``height * width`` pixels long, row-major.
    box : int, default=20
        Side of the box the digit's bounding box is scaled to fit (aspect kept).
    center : {'mass', 'box'}, default='mass'
        Centre the digit's centre of mass (MNIST) or its bounding box (digits).
    pixel_max : int, default=255
        Value of full ink (255 for MNIST, 16 for digits).
    blocks : int, default=1
        Draw at ``blocks`` times the size, threshold, and count the ink pixels of each
        ``blocks x blocks`` square (4 for digits: 32x32 bitmaps to 8x8 counts of 0..16).
    """

    height: int = 28
    width: int = 28
    box: int = 20
    center: str = "mass"
    pixel_max: int = 255
    blocks: int = 1

    def __post_init__(self) -> None:
        if not (1 <= self.height <= 1024 and 1 <= self.width <= 1024):
            raise ValueError(f"image size must be 1..1024 pixels a side, got "
                             f"{self.height}x{self.width}")
        if not 1 <= self.box <= min(self.height, self.width):
            raise ValueError(f"box must be 1..{min(self.height, self.width)}, got {self.box}")
        if self.center not in ("mass", "box"):
            raise ValueError(f"center must be 'mass' or 'box', got {self.center!r}")
        if self.blocks > 1 and self.pixel_max != self.blocks ** 2:
            raise ValueError("with blocks > 1, pixel_max is the count of a full block "
                             f"({self.blocks ** 2})")
        if not 1 <= self.pixel_max <= 255:
            raise ValueError(f"pixel_max must be 1..255, got {self.pixel_max}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @property
    def n_pixels(self) -> int:
        """Pixels in a row: ``height * width``."""
        return self.height * self.width

    @classmethod
    def mnist_like(cls, height: int, width: int | None = None) -> Layout:
        """MNIST's convention scaled to another size: the box is 20/28 of the side."""
        width = height if width is None else width
        return cls(height, width, box=max(1, round(min(height, width) * 20 / 28)))


#: MNIST: 28x28, the digit in a 20x20 box, centre of mass centred, 0..255.
MNIST = Layout()
#: scikit-learn's digits: 8x8 counts (0..16) of a 32x32 bitmap, the digit filling it.
DIGITS = Layout(8, 8, box=8, center="box", pixel_max=16, blocks=4)


def layout_for(shape: Any = None) -> Layout:
    """The layout for ``shape``.

    Parameters
    ----------
    shape : None, 'mnist', 'digits', int, (height, width) or Layout
        ``None`` and ``'mnist'``: :data:`MNIST`; ``'digits'`` and ``(8, 8)``:
        :data:`DIGITS`; an int ``n`` or ``(h, w)``: MNIST's convention at that size.

    Raises
    ------
    ValueError
        Anything else.
    """
    if shape is None or (isinstance(shape, str) and shape.lower() == "mnist"):
        return MNIST
    if isinstance(shape, Layout):
        return shape
    if isinstance(shape, str) and shape.lower() == "digits":
        return DIGITS
    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        shape = (int(shape), int(shape))
    if (isinstance(shape, tuple | list) and len(shape) == 2
            and all(isinstance(s, int | np.integer) and not isinstance(s, bool)
                    for s in shape)):
        height, width = int(shape[0]), int(shape[1])
        if (height, width) == (8, 8):
            return DIGITS
        if (height, width) == (28, 28):
            return MNIST
        return Layout.mnist_like(height, width)
    raise ValueError(f"shape must be 'mnist', 'digits', an int or (height, width), got "
                     f"{shape!r}")


def layout_for_features(n_features: int) -> Layout:
    """The layout of a model with ``n_features`` inputs: 784 MNIST, 64 digits, n*n MNIST's
    convention at n x n.

    Raises
    ------
    ValueError
        ``n_features`` is not a square number.
    """
    side = math.isqrt(int(n_features)) if n_features > 0 else 0
    if side < 1 or side * side != n_features:
        raise ValueError(f"a model with {n_features} input features does not take square "
                         "images; images can only be read for square pixel inputs "
                         "(784 = 28x28 for MNIST, 64 = 8x8 for digits)")
    return layout_for((side, side))


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    # Pillow's resampling filters widen with the reduction factor: a true anti-aliased
    # reduction, as LeCun's normalisation of the 128x128 NIST bitmaps.
    return np.asarray(Image.fromarray(np.ascontiguousarray(image, np.float32), "F").resize(
        (width, height), Image.Resampling.LANCZOS if min(width, height) > 1
        else Image.Resampling.BOX))


def _stroke_width(crop: np.ndarray) -> float:
    """Mean stroke width in pixels: area over half the outline (exact for strokes of 2+
    pixels, 2 for thinner ones)."""
    core = crop >= 0.5
    area = int(core.sum())
    if area == 0:
        return 0.0
    outline = int((core & ~ndi.binary_erosion(core)).sum())
    return 2.0 * area / max(outline, 1)


def _thickened(crop: np.ndarray, box: int) -> np.ndarray:
    """Widen strokes that would come out thinner than :data:`_THIN` output pixels."""
    scale = box / max(crop.shape)
    width = _stroke_width(crop)
    if width == 0 or width * scale >= _THIN:
        return crop
    radius = (_TARGET_WIDTH / scale - width) / 2
    pad = math.ceil(radius) + 1
    padded = np.pad(crop, pad)
    distance = ndi.distance_transform_edt(padded < 0.5)
    # An anti-aliased edge: full ink within the radius, fading over one pixel.
    return np.maximum(padded, np.clip(radius + 0.5 - distance, 0, 1)).astype(np.float32)


def _bounding_box(ink: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero((ink >= _BOX_INK).any(axis=1))
    cols = np.flatnonzero((ink >= _BOX_INK).any(axis=0))
    if rows.size == 0:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _offset(patch: np.ndarray, size: int, axis: int, center: str) -> int:
    length = patch.shape[axis]
    if center == "box":
        start = (size - length) // 2
    else:
        mass = patch.sum(axis=1 - axis)
        com = float((np.arange(length) * mass).sum() / mass.sum())
        start = round(size / 2 - com)
    return int(np.clip(start, 0, size - length))


def normalize(ink: np.ndarray, layout: Layout = MNIST, name: str = "") -> np.ndarray:
    """Lay one digit's ink map (float, 0 background, 1 ink) out as ``layout`` says.

    Returns
    -------
    ndarray of shape (layout.n_pixels,), uint8
        Values 0..``layout.pixel_max``, light ink on black.

    Raises
    ------
    NoInkError
        The ink map is empty.
    """
    box = _bounding_box(ink)
    if box is None:
        raise NoInkError(f"{name}: no ink found", name)
    scale = layout.blocks
    crop = _thickened(ink[box], layout.box * scale)
    box = _bounding_box(crop)
    crop = crop[box]
    height, width = crop.shape
    fit = layout.box * scale / max(height, width)
    new_h, new_w = max(1, round(height * fit)), max(1, round(width * fit))
    patch = np.clip(_resize(crop, new_w, new_h), 0, 1)
    peak = float(patch.max())
    if peak <= 0:
        raise NoInkError(f"{name}: no ink found", name)
    patch /= peak  # the strokes' cores at full ink, as MNIST's
    out_h, out_w = layout.height * scale, layout.width * scale
    top = _offset(patch, out_h, 0, layout.center)
    left = _offset(patch, out_w, 1, layout.center)
    field = np.zeros((out_h, out_w), np.float32)
    field[top:top + new_h, left:left + new_w] = patch
    if layout.blocks > 1:
        bitmap = field >= 0.5
        counts = bitmap.reshape(layout.height, scale, layout.width, scale).sum(axis=(1, 3))
        return counts.astype(np.uint8).ravel()
    return np.round(field * layout.pixel_max).astype(np.uint8).ravel()
