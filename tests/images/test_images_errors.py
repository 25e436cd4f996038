"""Bad images get clear errors naming them, before native code decodes what it should not."""

from __future__ import annotations

import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.images import (
    ImageError,
    ImageLimits,
    ImageNotFoundError,
    ImageTooLargeError,
    NoImagesError,
    NoInkError,
    UnreadableImageError,
    load_image,
    load_images,
    split_digits,
)

PAPER_7 = T.on_paper(T.ink("7"))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG claiming a huge 1-bit image: a few kB of zlib that would inflate to
    width * height / 8 bytes."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(min(height, 2000)))
    body += compressor.flush()
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
            + _png_chunk(b"IEND", b""))


def test_errors_are_value_errors_and_file_errors_are_os_errors():
    assert issubclass(NoInkError, ValueError) and issubclass(ImageTooLargeError, ValueError)
    assert issubclass(UnreadableImageError, ValueError)
    assert issubclass(UnreadableImageError, OSError)
    assert issubclass(ImageNotFoundError, FileNotFoundError)


def test_decompression_bomb_is_refused_from_the_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb_png(100_000, 100_000))  # 10 gigapixels in a few kB
    assert path.stat().st_size < 100_000
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r"bomb\.png: .*over the limit of "
                                                 r"50,000,000 pixels"):
        load_image(path)
    # Under Pillow's own limit, ours applies, with the size from the header.
    path.write_bytes(bomb_png(10_000, 9_000))
    with pytest.raises(ImageTooLargeError, match=r"10000 x 9000 pixels is over the limit"):
        load_image(path)
    assert time.perf_counter() - start < 5  # nothing was decompressed


def test_pixel_limit_is_configurable():
    data = T.encode(PAPER_7)
    with pytest.raises(ImageTooLargeError, match="over the limit of 1,000 pixels"):
        load_image(data, limits=ImageLimits(max_pixels=1000))
    with pytest.raises(ImageTooLargeError, match="limit"):
        load_image(np.zeros((100, 100)), limits=ImageLimits(max_pixels=1000))
    with pytest.raises(ImageTooLargeError, match="MiB limit"):
        load_image(data, limits=ImageLimits(max_bytes=100))
    with pytest.raises(ValueError, match="positive int"):
        ImageLimits(max_pixels=0)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"])
def test_truncated_file(fmt, tmp_path):
    data = T.encode(Image.fromarray(T.photo("7")), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UnreadableImageError, match=r"cut\.\w+: .*(truncated|damaged|not a "
                                                    r"readable)") as info:
        load_image(path)
    assert info.value.source == str(path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, not a PNG at all")
    with pytest.raises(UnreadableImageError, match="notes.png: not a readable image.*PNG, "
                                                   "JPEG"):
        load_image(path)
    with pytest.raises(UnreadableImageError, match="empty file"):
        load_image(b"")


def test_unsupported_formats_are_refused_by_content(tmp_path):
    # A real image in a format outside the list (PPM): refused before any plugin parses it.
    path = tmp_path / "digit.png"
    Image.fromarray(PAPER_7).save(path, format="PPM")
    with pytest.raises(UnreadableImageError, match="not a readable image"):
        load_image(path)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageNotFoundError, match="nope.png: no such file"):
        load_image(tmp_path / "nope.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoImagesError, match="empty: no images in this folder"):
        load_images(empty)
    (empty / "readme.txt").write_text("no images here")
    with pytest.raises(NoImagesError):
        load_images(str(empty))
    with pytest.raises(NoImagesError, match="no images given"):
        load_images([])


@pytest.mark.parametrize("blank", [
    np.full((50, 50), 255, np.uint8),                           # white paper
    np.zeros((50, 50), np.uint8),                              # black
    np.full((50, 50), 0.4),                                    # uniform grey
    np.random.default_rng(0).normal(128, 20, (200, 200)).clip(0, 255).astype(np.uint8),
    np.zeros((40, 40, 4), np.uint8),                           # an empty transparent canvas
])
def test_no_ink(blank):
    with pytest.raises(NoInkError, match="no ink found"):
        load_image(blank)
    with pytest.raises(NoInkError):
        split_digits(blank)


def test_bad_arrays():
    with pytest.raises(ImageError, match="NaN or infinite"):
        load_image(np.full((10, 10), np.nan))
    with pytest.raises(ImageError, match="real numbers"):
        load_image(np.zeros((10, 10), complex))
    with pytest.raises(ImageError, match="real numbers"):
        load_image(np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ImageError, match="not a square image"):
        load_image(np.zeros(10))
    with pytest.raises(ImageError, match="channels"):
        load_image(np.zeros((4, 4, 4, 4, 4)))
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros((0, 5)))


def test_bad_source_types():
    with pytest.raises(TypeError, match="cannot read an image from 'int'"):
        load_images([PAPER_7, 3])
    with pytest.raises(TypeError, match="sequence"):
        load_images({"a": PAPER_7})


def test_the_name_says_which_item_in_a_list():
    with pytest.raises(NoInkError, match=r"^<array> #1: no ink"):
        load_images([PAPER_7, np.zeros((30, 30))])


def test_a_folder_with_one_bad_image_names_it(tmp_path):
    (tmp_path / "a.png").write_bytes(T.encode(PAPER_7))
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(UnreadableImageError, match=r"b\.png"):
        load_images(tmp_path)
