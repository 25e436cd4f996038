"""Decoding: any image source to grey levels (and alpha), bounded in size and time.

A source is a file path, raw encoded bytes, a binary file object, a PIL image or a numpy
array. Everything read from outside is checked before Pillow decodes it: the byte count
(:attr:`ImageLimits.max_bytes`), the format (only :data:`FORMATS`, recognised by content,
never by the file name) and the pixel count from the header
(:attr:`ImageLimits.max_pixels`, which stops decompression bombs before a pixel is
decompressed). Large images are then reduced (box filter) so that the image work runs at
no more than :attr:`ImageLimits.work_side` pixels on the longer side: the time per image
stays bounded whatever the camera.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import (
    ImageError,
    ImageNotFoundError,
    ImageTooLargeError,
    NoImagesError,
    UnreadableImageError,
)

__all__ = [
    "FORMATS",
    "IMAGE_SUFFIXES",
    "Decoded",
    "ImageLimits",
    "decode",
    "iter_sources",
    "list_folder",
]

#: The formats Pillow may decode (identified by content). Others are refused before any
#: plugin parses them.
FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
#: File names a folder listing takes as images (case-insensitive).
IMAGE_SUFFIXES: frozenset[str] = frozenset({
    ".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".bmp", ".dib", ".gif", ".tif", ".tiff",
    ".webp"})

# Errors Pillow's decoders raise on damaged data, besides OSError (truncated files).
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                  struct.error, IndexError, TypeError, KeyError, ZeroDivisionError)


@dataclass(frozen=True)
class ImageLimits:
    """Bounds on what one image may cost.

    Parameters
    ----------
    max_bytes : int, default=32 MiB
        Largest encoded image (file, bytes, upload) read.
    max_pixels : int, default=50,000,000
        Largest width x height decoded (a 50-megapixel photo). Checked from the header,
        before decompression: a small file claiming a huge image (a decompression bomb)
        is refused without decoding it.
    work_side : int, default=1024
        Longer side the image work runs at: larger images are first reduced by an integer
        box filter (JPEGs are decoded at a reduced scale directly). Digits stay far above
        the 20 pixels they end up in.
    """

    max_bytes: int = 32 * 2**20
    max_pixels: int = 50_000_000
    work_side: int = 1024

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "work_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ImageLimits.{name} must be a positive int, got {value!r}")
        if self.work_side < 32:
            raise ValueError(f"ImageLimits.work_side must be >= 32, got {self.work_side}")


@dataclass(frozen=True)
class Decoded:
    """One decoded image at working resolution.

    Attributes
    ----------
    name : str
        The image's name (its path, ``"<bytes>"``, ...), for messages and listings.
    gray : ndarray of shape (height, width), float32
        Grey levels in [0, 1], 1 white; colour is converted to luminance.
    alpha : ndarray of shape (height, width), float32, or None
        Opacity in [0, 1]; None when the image has no alpha or is opaque everywhere.
    """

    name: str
    gray: np.ndarray
    alpha: np.ndarray | None


# -- sources -------------------------------------------------------------------------------
def _natural_key(name: str) -> list[Any]:
    # "img2.png" before "img10.png": digits compare as numbers.
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r"(\d+)", name)]


def list_folder(folder: Path) -> list[Path]:
    """The image files of ``folder`` (not its subfolders), in natural name order.

    Hidden files are skipped; a file is an image by its suffix (:data:`IMAGE_SUFFIXES`),
    its content is checked when it is decoded.

    Raises
    ------
    NoImagesError
        The folder has no image files.
    """
    try:
        entries = [p for p in folder.iterdir()
                   if not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
                   and p.is_file()]
    except PermissionError as exc:
        raise UnreadableImageError(f"{folder}: cannot list the folder ({exc.strerror})",
                                   str(folder)) from None
    if not entries:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        raise NoImagesError(f"{folder}: no images in this folder (looked for {suffixes})",
                            str(folder))
    return sorted(entries, key=lambda p: _natural_key(p.name))


def _is_single(source: Any) -> bool:
    return isinstance(source, str | os.PathLike | bytes | bytearray | memoryview
                      | Image.Image | np.ndarray) or hasattr(source, "read")


def _array_items(array: np.ndarray) -> list[np.ndarray]:
    """One image, or the images of a stack: (n, H, W) or (n, H, W, C)."""
    if array.ndim == 4 or (array.ndim == 3 and array.shape[-1] not in (1, 2, 3, 4)):
        return list(array)
    return [array]


def iter_sources(sources: Any) -> Iterator[tuple[str, Any]]:
    """``(name, source)`` for every image in ``sources``, folders expanded.

    ``sources`` is one source (a path, bytes, a file object, a PIL image, an array or a
    stack of arrays) or an iterable of them. Names are paths for files and
    ``"<bytes>"``, ``"<PIL image>"``, ``"<array>"`` otherwise, with the item's position
    (``"<array> #3"``) when there are several.

    Raises
    ------
    ImageNotFoundError
        A path that does not exist.
    NoImagesError
        A folder with no images, or no sources at all.
    TypeError
        A source of another type.
    """
    items = [sources] if _is_single(sources) else sources
    if isinstance(items, dict | set | frozenset):
        raise TypeError(f"images must be given as a sequence, not a {type(items).__name__}")
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"cannot read an image from {type(sources).__name__!r}: give a path, "
                        "bytes, a PIL image, a numpy array, or a list of them") from None
    flat: list[tuple[str | None, Any]] = []
    for item in items:
        if isinstance(item, np.ndarray):
            flat.extend((None, a) for a in _array_items(item))
        elif isinstance(item, str | os.PathLike):
            path = Path(item)
            if path.is_dir():
                flat.extend((str(p), p) for p in list_folder(path))
            else:
                flat.append((str(path), path))
        elif _is_single(item):
            flat.append((None, item))
        else:
            raise TypeError(f"cannot read an image from {type(item).__name__!r}: give a "
                            "path, bytes, a PIL image or a numpy array")
    if not flat:
        raise NoImagesError("no images given", "")
    several = len(flat) > 1
    for i, (name, item) in enumerate(flat):
        yield (name or _anonymous_name(item) + (f" #{i}" if several else "")), item


def _anonymous_name(source: Any) -> str:
    if isinstance(source, Image.Image):
        return "<PIL image>"
    if isinstance(source, np.ndarray):
        return "<array>"
    if isinstance(source, bytes | bytearray | memoryview):
        return "<bytes>"
    return "<file object>"


# -- reading -------------------------------------------------------------------------------
def _read_path(path: Path, name: str, limits: ImageLimits) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limits.max_bytes + 1)
    except FileNotFoundError:
        raise ImageNotFoundError(f"{name}: no such file or folder", name) from None
    except IsADirectoryError:
        raise UnreadableImageError(f"{name}: is a folder", name) from None
    except OSError as exc:
        raise UnreadableImageError(f"{name}: cannot read the file ({exc.strerror or exc})",
                                   name) from None
    return data


def _check_bytes(data: bytes, name: str, limits: ImageLimits) -> bytes:
    if len(data) > limits.max_bytes:
        raise ImageTooLargeError(
            f"{name}: the image is over the {limits.max_bytes / 2**20:g} MiB limit; "
            "send a smaller file (a digit needs no more than a few hundred pixels)", name)
    if not data:
        raise UnreadableImageError(f"{name}: empty file, not an image", name)
    return data


def _too_many_pixels(name: str, width: int, height: int,
                     limits: ImageLimits) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"{name}: {width} x {height} pixels is over the limit of {limits.max_pixels:,} "
        "pixels (a decompression bomb, or a needlessly large image); resize it first", name)


def _open(data: bytes, name: str, limits: ImageLimits) -> Image.Image:
    """Parse the header (format and size) and check the size, decoding nothing yet."""
    try:
        with warnings.catch_warnings():
            # Pillow warns (and past twice its limit raises) about huge images; our own
            # limit below is the one that applies, with a clearer message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"{name}: the image is over the limit of {limits.max_pixels:,} pixels (a "
            f"decompression bomb: {_reason(exc)})", name) from None
    except _DECODE_ERRORS as exc:
        formats = ", ".join(FORMATS)
        # Pillow's "cannot identify image file <_io.BytesIO ...>" says nothing more.
        reason = ("not in a format it knows" if isinstance(exc, UnidentifiedImageError)
                  else _reason(exc))
        raise UnreadableImageError(
            f"{name}: not a readable image ({reason}); supported formats: {formats}",
            name) from None
    width, height = image.size
    if width * height > limits.max_pixels:
        raise _too_many_pixels(name, width, height, limits)
    if width < 1 or height < 1:
        raise UnreadableImageError(f"{name}: the image has no pixels", name)
    return image


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _load(image: Image.Image, name: str, limits: ImageLimits, *,
          draft: bool = True) -> Image.Image:
    """Decode the pixels: the first frame, at reduced scale for large JPEGs, upright."""
    try:
        if draft and image.format == "JPEG":
            # DCT scaling: decode straight at 1/2, 1/4 or 1/8 when that still covers
            # work_side; much faster than decoding 12 megapixels and reducing.
            image.draft(None, (limits.work_side, limits.work_side))
        image.load()
    except _DECODE_ERRORS as exc:
        raise UnreadableImageError(
            f"{name}: the image is truncated or damaged ({_reason(exc)})", name) from None
    return _upright(image)


def _upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (a phone photo taken sideways), if any."""
    try:
        return ImageOps.exif_transpose(image)
    except _DECODE_ERRORS:
        # A damaged EXIF block only loses the orientation, not the picture.
        return image


# Modes converted before the work: Pillow cannot reduce them, or they are colour spaces.
_CONVERT = {"1": "L", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB",
            "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "I;16": "I", "I;16L": "I",
            "I;16B": "I", "I;16N": "I"}


def _canonical(image: Image.Image) -> Image.Image:
    """One of L, LA, RGB, RGBA, I, F."""
    mode = image.mode
    if mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")
    if mode in _CONVERT:
        return image.convert(_CONVERT[mode])
    if mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
        return image
    return image.convert("RGBA" if "A" in mode else "RGB")


def _reduced(image: Image.Image, work_side: int) -> Image.Image:
    factor = math.ceil(max(image.size) / work_side)
    return image.reduce(factor) if factor > 1 else image


def _luminance(rgb: np.ndarray) -> np.ndarray:
    # ITU-R 601, as Pillow's convert("L").
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _stretch(values: np.ndarray, name: str) -> np.ndarray:
    """Values of any range to [0, 1] (min to 0, max to 1); a flat image becomes zeros."""
    values = values.astype(np.float64, copy=False)
    if not np.all(np.isfinite(values)):
        raise ImageError(f"{name}: the image has NaN or infinite pixel values", name)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _opaque_to_none(alpha: np.ndarray | None) -> np.ndarray | None:
    if alpha is None or float(alpha.min()) > 0.98:
        return None
    return alpha


def _from_pil(image: Image.Image, name: str, limits: ImageLimits) -> Decoded:
    image = _reduced(_canonical(image), limits.work_side)
    array = np.asarray(image)
    alpha = None
    if image.mode in ("I", "F"):
        gray = _stretch(array, name)
    else:
        array = array.astype(np.float32) / np.float32(255)
        if image.mode in ("LA", "RGBA"):
            alpha = array[..., -1]
            array = array[..., :-1]
        gray = array if image.mode == "L" else (
            array[..., 0] if image.mode == "LA" else _luminance(array))
    return Decoded(name, np.ascontiguousarray(gray, np.float32), _opaque_to_none(alpha))


def _array_levels(array: np.ndarray, name: str) -> np.ndarray:
    """An array's values as float32 in [0, 1] by its dtype's convention."""
    if array.dtype == np.bool_:
        return array.astype(np.float32)
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise ImageError(f"{name}: an image array must hold real numbers, not "
                         f"{array.dtype}", name)
    values = array.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ImageError(f"{name}: the image has NaN or infinite pixel values", name)
    if values.size and values.min() >= 0 and values.max() <= 1 and np.issubdtype(
            array.dtype, np.floating):
        return values.astype(np.float32)  # already intensities in [0, 1]
    return _stretch(values, name)


def _array_shape(array: np.ndarray, name: str) -> np.ndarray:
    """(H, W) or (H, W, C) with C in 1..4; a flat square row becomes a square image."""
    if array.ndim == 1:
        side = math.isqrt(array.size)
        if side < 1 or side * side != array.size:
            raise ImageError(f"{name}: a 1-D array of {array.size} values is not a square "
                             "image; give an array of shape (height, width)", name)
        return array.reshape(side, side)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 2, 3, 4)):
        return array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array
    raise ImageError(f"{name}: an image array must have shape (height, width) or (height, "
                     f"width, channels) with 1 to 4 channels, got {array.shape}", name)


def _from_array(array: np.ndarray, name: str, limits: ImageLimits) -> Decoded:
    array = _array_shape(array, name)
    height, width = array.shape[:2]
    if height < 1 or width < 1:
        raise ImageError(f"{name}: the image array is empty ({array.shape})", name)
    if height * width > limits.max_pixels:
        raise _too_many_pixels(name, width, height, limits)
    levels = _array_levels(array, name)
    alpha = None
    if levels.ndim == 3:
        channels = levels.shape[-1]
        if channels in (2, 4):
            alpha = levels[..., -1]
        levels = levels[..., 0] if channels <= 2 else _luminance(levels[..., :3])
    factor = math.ceil(max(height, width) / limits.work_side)
    if factor > 1:
        levels = np.asarray(Image.fromarray(np.ascontiguousarray(levels, np.float32),
                                            "F").reduce(factor))
        if alpha is not None:
            alpha = np.asarray(Image.fromarray(np.ascontiguousarray(alpha, np.float32),
                                               "F").reduce(factor))
    return Decoded(name, np.ascontiguousarray(levels, np.float32), _opaque_to_none(alpha))


def decode(source: Any, name: str, limits: ImageLimits | None = None) -> Decoded:
    """Decode one image source (see :func:`iter_sources`) to grey levels and alpha.

    Raises
    ------
    ImageNotFoundError, UnreadableImageError, ImageTooLargeError, ImageError
        With ``name`` in the message.
    TypeError
        A source of another type.
    """
    limits = limits or ImageLimits()
    if isinstance(source, np.ndarray):
        return _from_array(source, name, limits)
    if isinstance(source, Image.Image):
        width, height = source.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels(name, width, height, limits)
        if width < 1 or height < 1:
            raise ImageError(f"{name}: the image has no pixels", name)
        # No draft: it would change the caller's image object.
        return _from_pil(_load(source, name, limits, draft=False), name, limits)
    if isinstance(source, str | os.PathLike):
        data = _read_path(Path(source), name, limits)
    elif isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source[:limits.max_bytes + 1])
    elif hasattr(source, "read"):
        data = source.read(limits.max_bytes + 1)
        if not isinstance(data, bytes):
            raise TypeError(f"{name}: the file object must be opened in binary mode")
    else:
        raise TypeError(f"cannot read an image from {type(source).__name__!r}")
    image = _open(_check_bytes(data, name, limits), name, limits)
    return _from_pil(_load(image, name, limits), name, limits)
