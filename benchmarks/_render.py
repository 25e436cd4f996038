"""Render MNIST test digits as users deliver them: photos, canvas exports, scans, numbers.

Each renderer takes one or more MNIST digits (28x28 uint8, light ink on black) and a
numpy Generator, and returns encoded image bytes (PNG or JPEG), so that the benchmark
reads them exactly as a user's files are read. Every kind draws its own random scale,
placement and defects from the generator: a seed reproduces the set.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

__all__ = ["KINDS", "naive_row", "render_canvas", "render_number", "render_photo",
           "render_scan"]


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _enlarged(digit: np.ndarray, factor: float) -> np.ndarray:
    """The digit's ink (float 0..1) enlarged smoothly, as a pen stroke on paper."""
    ink = digit.astype(np.float32) / 255
    return np.clip(ndi.zoom(ink, factor, order=3), 0, 1)


def _place(ink: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """``ink`` at a random position of a ``height`` x ``width`` field of zeros."""
    field = np.zeros((height, width), np.float32)
    top = int(rng.integers(0, height - ink.shape[0] + 1))
    left = int(rng.integers(0, width - ink.shape[1] + 1))
    field[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return field


def _lighting(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A lighting gradient across the page in a random direction (0.6 to 1.05)."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    ramp = (np.cos(angle) * xs / width + np.sin(angle) * ys / height)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    low = rng.uniform(0.55, 0.75)
    return (low + (1.05 - low) * ramp).astype(np.float32)


def render_photo(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A photo of the digit written on paper: dark ink, enlarged 4-8x, off-centre in a
    frame 1.8-3x larger, a lighting gradient, a colour cast, noise, blur, a rotation of up
    to 6 degrees, JPEG at quality 60-90."""
    ink = _enlarged(digit, rng.uniform(4, 8))
    side = ink.shape[0]
    height = int(side * rng.uniform(1.8, 3.0))
    width = int(side * rng.uniform(1.8, 3.0))
    field = _place(ink, height, width, rng)
    field = ndi.rotate(field, rng.uniform(-6, 6), reshape=False, order=1)
    paper = np.array([rng.uniform(200, 250), rng.uniform(190, 245), rng.uniform(160, 235)])
    pen = np.array([rng.uniform(10, 60), rng.uniform(10, 60), rng.uniform(30, 90)])
    rgb = paper * (1 - field[..., None]) + pen * field[..., None]
    rgb *= _lighting(height, width, rng)[..., None]
    rgb = ndi.gaussian_filter(rgb, (rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5), 0))
    rgb += rng.normal(0, rng.uniform(3, 8), rgb.shape)
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    return _encode(image, "JPEG", quality=int(rng.integers(60, 91)))


def render_canvas(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A browser canvas export: 280x280, the stroke only in the alpha channel (black,
    transparent background), the digit drawn 6-9x, not centred."""
    ink = _enlarged(digit, rng.uniform(6, 9))
    ink = ink[: 280, : 280]
    field = _place(ink, 280, 280, rng)
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = np.round(field * 255).astype(np.uint8)
    return _encode(Image.fromarray(rgba, "RGBA"), "PNG")


def render_scan(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A scan: black on white, enlarged 3-6x, cropped tight (0-3 pixels of margin), grey
    PNG with slight noise."""
    ink = _enlarged(digit, rng.uniform(3, 6))
    rows = np.flatnonzero(ink.max(axis=1) > 0.1)
    cols = np.flatnonzero(ink.max(axis=0) > 0.1)
    margin = int(rng.integers(0, 4))
    top, bottom = max(rows[0] - margin, 0), rows[-1] + 1 + margin
    left, right = max(cols[0] - margin, 0), cols[-1] + 1 + margin
    crop = ink[top:bottom, left:right]
    gray = 255 * (1 - crop) + rng.normal(0, 2, crop.shape)
    return _encode(Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8), "L"), "PNG")


def render_number(digits: list[np.ndarray], rng: np.random.Generator,
                  gaps: tuple[int, int] = (3, 11)) -> bytes:
    """A number written on paper: the digits side by side (each cropped to its ink,
    3-10 pixels apart at MNIST's scale, or as ``gaps`` says: negative gaps overlap), a
    little vertical jitter, enlarged 3-5x, dark ink on light paper, a lighting gradient,
    noise, JPEG at quality 75-90."""
    pieces = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 0)
        pieces.append(digit[:, cols[0]:cols[-1] + 1])
    strip_w = sum(p.shape[1] for p in pieces) + max(gaps[1], 0) * len(pieces) + 20
    strip = np.zeros((40, strip_w), np.float32)
    x = 10
    for piece in pieces:
        top = int(rng.integers(4, 9))
        region = strip[top:top + 28, x:x + piece.shape[1]]
        np.maximum(region, piece / 255, out=region)
        x += piece.shape[1] + int(rng.integers(*gaps))
    strip = strip[:, :x + 10 - min(gaps[0], 0)]
    field = np.clip(ndi.zoom(strip, rng.uniform(3, 5), order=3), 0, 1)
    height, width = field.shape
    paper, pen = rng.uniform(215, 250), rng.uniform(10, 60)
    gray = paper * (1 - field) + pen * field
    gray = gray * _lighting(height, width, rng) + rng.normal(0, 4, field.shape)
    image = Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8), "L")
    return _encode(image, "JPEG", quality=int(rng.integers(75, 91)))


#: The single-digit kinds of the benchmark set.
KINDS = {"photo": render_photo, "canvas": render_canvas, "scan": render_scan}


def naive_row(data: bytes) -> np.ndarray:
    """What a user's own conversion gives: the whole image (over white where it is
    transparent) to grey, resized to 28x28, inverted."""
    image = Image.open(io.BytesIO(data))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    gray = image.convert("L").resize((28, 28), Image.Resampling.LANCZOS)
    return (255 - np.asarray(gray, np.uint8)).ravel()
