"""Digit images built in the tests with Pillow: strokes drawn as a pen would, then saved
in any mode and format, with the defects real photos and scans have."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

#: Strokes of a few digits, as polylines in a unit box (x right, y down).
STROKES = {
    "0": [[(0.5 + 0.32 * np.cos(t), 0.5 + 0.45 * np.sin(t))
           for t in np.linspace(0, 2 * np.pi, 40)]],
    "1": [[(0.42, 0.2), (0.55, 0.05), (0.55, 0.95)]],
    "4": [[(0.62, 0.95), (0.62, 0.05), (0.12, 0.68), (0.85, 0.68)]],
    "7": [[(0.15, 0.08), (0.85, 0.08), (0.4, 0.95)]],
}


def ink(digit: str = "7", size: int = 120, width: float = 0.1,
        box: tuple[float, float, float, float] = (0.2, 0.1, 0.8, 0.9)) -> np.ndarray:
    """The digit's ink (float 0..1, anti-aliased) on a ``size`` x ``size`` field.

    ``box`` is ``(left, top, right, bottom)`` of the digit in the field, as fractions;
    ``width`` the pen's width as a fraction of the field.
    """
    scale = 4  # drawn large, then reduced: anti-aliased edges
    side = size * scale
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = box
    pen = max(1, int(width * side))
    for line in STROKES[digit]:
        points = [((left + x * (right - left)) * side, (top + y * (bottom - top)) * side)
                  for x, y in line]
        draw.line(points, fill=255, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):  # round pen ends
            draw.ellipse([x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2], fill=255)
    return np.asarray(canvas.reduce(scale), np.float32) / 255


def on_paper(ink_map: np.ndarray, paper: float = 245, pen: float = 20) -> np.ndarray:
    """Dark ink on light paper, uint8 grey."""
    return np.clip(paper * (1 - ink_map) + pen * ink_map, 0, 255).astype(np.uint8)


def on_black(ink_map: np.ndarray) -> np.ndarray:
    """MNIST's way round: light ink on black, uint8."""
    return np.round(255 * ink_map).astype(np.uint8)


def encode(image: Image.Image | np.ndarray, fmt: str = "PNG", **options) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient(shape: tuple[int, int], low: float = 0.45, high: float = 1.0) -> np.ndarray:
    """Lighting falling from one corner to the other."""
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]]
    ramp = (xs + ys) / (shape[0] + shape[1] - 2)
    return (low + (high - low) * ramp).astype(np.float32)


PHOTO_BOX = (0.45, 0.3, 0.8, 0.85)


def photo(digit: str = "7", seed: int = 0, size: int = 240) -> np.ndarray:
    """A phone photo of the digit on paper, RGB: off-centre, a colour cast, a lighting
    gradient, sensor noise and a slight blur. ``on_paper(ink(digit, size, box=PHOTO_BOX))``
    is the same digit without the defects."""
    rng = np.random.default_rng(seed)
    field = ink(digit, size, box=PHOTO_BOX)
    paper = np.array([235.0, 225.0, 195.0])  # warm light: a yellow cast
    pen = np.array([25.0, 30.0, 70.0])  # blue ballpoint
    rgb = paper * (1 - field[..., None]) + pen * field[..., None]
    rgb = rgb * gradient(field.shape)[..., None]
    rgb = ndi.gaussian_filter(rgb, (0.8, 0.8, 0)) + rng.normal(0, 6, rgb.shape)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two pixel rows: 1 for the same picture."""
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])


def aligned_correlation(a: np.ndarray, b: np.ndarray, side: int = 28) -> float:
    """The best :func:`correlation` of two square images over shifts of up to one pixel:
    a symmetric digit's centre of mass can round either way to the centre."""
    a = np.asarray(a, np.float64).reshape(side, side)
    b = np.asarray(b, np.float64).reshape(side, side)
    return max(correlation(np.roll(a, (dy, dx), axis=(0, 1)), b)
               for dy in (-1, 0, 1) for dx in (-1, 0, 1))
