"""load_images / load_image: every source, mode and format; MNIST's layout; real defects."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage as ndi

try:
    import _images as T
except ImportError:  # run from the repository root as a package
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.images import DIGITS, Layout, load_image, load_images

#: The reference: a dark 7 on white paper, read as MNIST's row.
PAPER_7 = T.on_paper(T.ink("7"))


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return load_image(PAPER_7)


def _check_mnist_layout(row: np.ndarray) -> None:
    image = row.reshape(28, 28)
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21)  # the 20x20 box
    com = ndi.center_of_mass(image.astype(np.float64))
    assert np.all(np.abs(np.array(com) - 14) <= 0.75), com
    assert image.max() == 255 and image[0].max() == 0 and image[:, 0].max() == 0


def test_output_is_mnist_layout(reference):
    assert reference.shape == (784,) and reference.dtype == np.uint8
    _check_mnist_layout(reference)


def test_light_on_dark_and_dark_on_light_read_the_same(reference):
    light_on_dark = load_image(T.on_black(T.ink("7")))
    assert T.correlation(light_on_dark, reference) > 0.97


def test_an_mnist_digit_comes_back_as_itself():
    # A digit already in MNIST's layout (box 20, centred) is left as it is.
    digit = T.on_black(T.ink("4", 28, width=0.09, box=(0.2, 0.15, 0.8, 0.85)))
    row = load_image(digit)
    again = load_image(row.reshape(28, 28))
    assert T.correlation(row, again) > 0.99


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "I;16",
                                  "I", "F", "YCbCr"])
def test_every_pil_mode(mode, reference):
    gray = Image.fromarray(PAPER_7)
    if mode == "1":
        image = gray.point(lambda v: 255 if v > 128 else 0).convert("1")
    elif mode in ("I;16", "I"):
        image = Image.fromarray(PAPER_7.astype(np.uint16) * 257).convert(mode) \
            if mode == "I" else Image.fromarray(PAPER_7.astype(np.uint16) * 257)
    elif mode == "F":
        image = Image.fromarray(PAPER_7.astype(np.float32) / 255 * 3.0 - 1.0, "F")
    elif mode in ("P", "PA"):
        image = gray.convert("RGB").convert("P")
        if mode == "PA":
            image = image.convert("PA")
    else:
        image = gray.convert(mode)
    row = load_image(image)
    assert T.correlation(row, reference) > 0.95, mode


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP"])
def test_every_format_from_bytes_and_files(fmt, reference, tmp_path):
    data = T.encode(Image.fromarray(PAPER_7).convert("RGB"), fmt)
    path = tmp_path / f"seven.{fmt.lower()}"
    path.write_bytes(data)
    from_bytes, from_file = load_images([data, path])
    assert T.correlation(from_bytes, reference) > 0.95
    assert np.array_equal(from_bytes, from_file)


def test_file_objects_memoryviews_and_pil_images(reference):
    data = T.encode(PAPER_7)
    X = load_images([io.BytesIO(data), memoryview(data), bytearray(data),
                     Image.open(io.BytesIO(data))])
    assert all(np.array_equal(row, reference) for row in X)


@pytest.mark.parametrize("orientation, undo", [
    (3, Image.Transpose.ROTATE_180), (6, Image.Transpose.ROTATE_90),
    (8, Image.Transpose.ROTATE_270), (2, Image.Transpose.FLIP_LEFT_RIGHT)])
def test_exif_orientation_is_applied(orientation, undo, reference):
    # A camera stores the sensor's pixels and says in EXIF how to turn them upright.
    stored = Image.fromarray(PAPER_7).transpose(undo)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = T.encode(stored.convert("RGB"), "JPEG", quality=95, exif=exif.tobytes())
    assert T.correlation(load_image(data), reference) > 0.95


def test_transparent_canvas_export(reference):
    # A browser canvas: black strokes whose shape is only in the alpha channel.
    rgba = np.zeros(PAPER_7.shape + (4,), np.uint8)
    rgba[..., 3] = T.on_black(T.ink("7"))
    assert T.correlation(load_image(T.encode(Image.fromarray(rgba, "RGBA"))), reference) > 0.97
    # White strokes on a transparent canvas read the same.
    rgba[..., :3] = 255
    assert T.correlation(load_image(Image.fromarray(rgba, "RGBA")), reference) > 0.97


def test_palette_image_with_a_transparent_index(reference):
    strokes = T.on_black(T.ink("7")) > 128
    palette = Image.fromarray(np.where(strokes, 1, 0).astype(np.uint8), "P")
    palette.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # both entries black
    data = T.encode(palette, "PNG", transparency=0)
    assert T.correlation(load_image(data), reference) > 0.9


def test_transparent_margins_around_a_photo(reference):
    # An opaque picture of paper and ink with transparent margins: composited on white.
    rgba = np.zeros((200, 200, 4), np.uint8)
    rgba[40:160, 40:160, :3] = PAPER_7[..., None]
    rgba[40:160, 40:160, 3] = 255
    assert T.correlation(load_image(rgba), reference) > 0.9


@pytest.mark.parametrize("digit", ["0", "1", "4", "7"])
def test_photo_with_gradient_colour_cast_noise_and_blur(digit):
    clean = load_image(T.on_paper(T.ink(digit, 240, box=T.PHOTO_BOX)))
    assert T.correlation(load_image(T.photo(digit)), clean) > 0.9


def test_strong_lighting_gradient(reference):
    lit = (PAPER_7 * T.gradient(PAPER_7.shape, 0.3, 1.0)).astype(np.uint8)
    assert T.correlation(load_image(lit), reference) > 0.95


def test_paper_texture_and_noise(reference):
    rng = np.random.default_rng(0)
    texture = ndi.gaussian_filter(rng.normal(0, 25, PAPER_7.shape), 1.5)
    noisy = np.clip(PAPER_7 + texture + rng.normal(0, 12, PAPER_7.shape), 0, 255)
    assert T.correlation(load_image(noisy.astype(np.uint8)), reference) > 0.9


def test_specks_and_dust_are_dropped():
    clean = T.on_paper(T.ink("7", 240, box=(0.3, 0.25, 0.7, 0.75)))
    dirty = clean.copy()
    rng = np.random.default_rng(1)
    for _ in range(25):
        y, x = rng.integers(0, 240, 2)
        if 50 < y < 190 and 60 < x < 180:
            continue  # dust on the paper, not on the digit
        dirty[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = 30
    dirty[5:12, 5:12] = 0  # a dark blot in a corner
    assert T.correlation(load_image(dirty), load_image(clean)) > 0.99


def test_jpeg_artefacts(reference):
    data = T.encode(Image.fromarray(PAPER_7), "JPEG", quality=15)
    assert T.correlation(load_image(data), reference) > 0.93


def test_digit_touching_the_border(reference):
    cut = T.on_paper(T.ink("7", box=(0.0, 0.0, 0.6, 1.0)))
    row = load_image(cut)
    _check_mnist_layout(row)
    assert T.correlation(row, reference) > 0.9


def test_thin_pen_strokes_are_thickened_to_mnist_width():
    thin = T.on_paper(T.ink("7", 600, width=0.004))
    row = load_image(thin).reshape(28, 28)
    # MNIST's strokes are 2-3 pixels wide with cores at full ink: a hairline reduced to
    # 20 pixels would be a faint grey trace of ~0.1 pixel.
    assert (row >= 200).sum() >= 25


def test_large_image_is_reduced_before_the_work(reference):
    big = np.asarray(Image.fromarray(PAPER_7).resize((3000, 3000)))
    assert T.correlation(load_image(big), reference) > 0.95


def test_arrays_of_any_dtype_and_shape(reference):
    ink = T.ink("7")
    sources = [
        (1 - ink),                                # float [0, 1], dark on light
        (1 - ink).astype(np.float64) * 1000 - 7,  # any range
        PAPER_7.astype(np.uint16) * 257,          # 16 bits
        PAPER_7.astype(np.int64),
        ink > 0.5,                                # bool, light on dark
        np.repeat(PAPER_7[..., None], 3, axis=2),  # RGB
        np.dstack([np.zeros_like(PAPER_7)] * 3 + [T.on_black(ink)]),  # RGBA canvas
        PAPER_7[..., None],                        # one channel
        PAPER_7.ravel(),                           # a flat square
    ]
    for row in load_images(sources):
        assert T.correlation(row, reference) > 0.93


def test_a_stack_of_arrays_is_several_images(reference):
    stack = np.stack([PAPER_7, T.on_paper(T.ink("1")), PAPER_7])
    X, names = load_images(stack, return_names=True)
    assert X.shape == (3, 784)
    assert np.array_equal(X[0], X[2]) and not np.array_equal(X[0], X[1])
    assert names == ["<array> #0", "<array> #1", "<array> #2"]


def test_folder_in_natural_order_images_only(tmp_path, reference):
    for name, digit in [("img10.png", "1"), ("img2.png", "7"), ("img1.jpg", "0")]:
        (tmp_path / name).write_bytes(T.encode(T.on_paper(T.ink(digit)),
                                               "PNG" if name.endswith("png") else "JPEG"))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"junk")
    (tmp_path / "sub").mkdir()
    X, names = load_images(tmp_path, return_names=True)
    assert [n.rsplit("/", 1)[-1] for n in names] == ["img1.jpg", "img2.png", "img10.png"]
    assert T.correlation(X[1], reference) > 0.99


def test_digits_layout_is_scikit_learn_s():
    row = load_image(PAPER_7, shape="digits")
    assert row.shape == (64,) and row.max() <= 16 and row.max() >= 12
    image = row.reshape(8, 8)
    assert image[0].any() and image[-1].any()  # the digit fills the frame's height
    assert np.array_equal(row, load_image(PAPER_7, shape=(8, 8)))
    assert load_images([PAPER_7], shape=DIGITS).shape == (1, 64)


def test_digits_layout_reads_scikit_learn_digits():
    # scikit-learn's own digits, enlarged as a photo of them would be, are read back to
    # rows that a model trained on those digits recognises.
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier

    X, y = load_digits(return_X_y=True)
    model = KNeighborsClassifier(3).fit(X[:1500], y[:1500])
    images = [np.kron(16 - x.reshape(8, 8), np.ones((12, 12))) for x in X[1500:1600]]
    read = load_images([ndi.gaussian_filter(i, 3) for i in images], shape="digits")
    assert (model.predict(read) == y[1500:1600]).mean() >= 0.85


def test_other_sizes_keep_mnist_s_convention():
    row = load_image(PAPER_7, shape=16)
    assert row.shape == (256,) and row.max() == 255
    assert load_image(PAPER_7, shape=(14, 20)).shape == (280,)
    custom = Layout(28, 28, box=26)
    assert load_image(PAPER_7, shape=custom).reshape(28, 28).any(axis=1).sum() >= 25
    with pytest.raises(ValueError, match="shape must be"):
        load_image(PAPER_7, shape="huge")


def test_load_image_refuses_several():
    with pytest.raises(ValueError, match="one image"):
        load_image(np.stack([PAPER_7, PAPER_7]))
