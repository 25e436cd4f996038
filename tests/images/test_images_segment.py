"""split_digits and read_number: a written number cut into its digits, left to right."""

from __future__ import annotations

import numpy as np
import pytest

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.images import NumberReading, load_image, read_number, split_digits


def number(digits: str, gap: int | list[int] = 20, size: int = 120) -> np.ndarray:
    """The digits' ink side by side, ``gap`` pixels apart (negative: overlapping; a list:
    one gap after each digit but the last)."""
    gaps = [gap] * (len(digits) - 1) if isinstance(gap, int) else list(gap)
    fields = []
    for d in digits:
        field = T.ink(d, size)
        cols = np.flatnonzero(field.max(axis=0) > 0)
        fields.append(field[:, cols[0]:cols[-1] + 1])
    width = sum(f.shape[1] for f in fields) + sum(gaps) + 40
    strip = np.zeros((size, width), np.float32)
    x = 20
    for f, after in zip(fields, [*gaps, 0], strict=True):
        region = strip[:, x:x + f.shape[1]]
        np.maximum(region, f, out=region)
        x += f.shape[1] + after
    return strip


def test_digits_come_out_left_to_right_each_normalised():
    X = split_digits(T.on_paper(number("1407")))
    assert X.shape == (4, 784) and X.dtype == np.uint8
    for row, digit in zip(X, "1407", strict=True):
        alone = load_image(T.on_paper(T.ink(digit)))
        assert T.aligned_correlation(row, alone) > 0.95, digit


def test_boxes_say_where_each_digit_is():
    X, boxes = split_digits(T.on_paper(number("70")), return_boxes=True)
    assert len(boxes) == 2 and boxes[0].right <= boxes[1].left
    assert boxes[0].ink.shape == (boxes[0].bottom - boxes[0].top,
                                  boxes[0].right - boxes[0].left)


def test_a_broken_digit_stays_one_digit():
    # A 7 whose bar does not touch its stem (lifted pen), between a 1 and a 0.
    strip = number("170", gap=30)
    seven_cols = np.flatnonzero(T.ink("1", 120).max(axis=0) > 0)
    start = 20 + seven_cols.size + 30
    bar_rows = slice(int(0.1 * 120) - 8, int(0.1 * 120) + 10)
    strip[bar_rows.stop:bar_rows.stop + 6, start:start + 200] = 0  # cut under the bar
    assert len(split_digits(T.on_paper(strip))) == 3


def test_specks_dashes_and_dots_are_not_digits():
    strip = number("47", gap=60)
    page = T.on_paper(np.pad(strip, 30))
    rng = np.random.default_rng(0)
    for y, x in rng.integers(0, 25, (20, 2)):
        page[y, x] = 0  # dust in the margin
    middle = 30 + 20 + (strip.shape[1] - 40) // 2
    page[30 + 60:30 + 66, middle - 10:middle + 10] = 20  # a dash between the digits
    page[30 + 110:30 + 116, -40:-34] = 20  # a full stop after them
    assert len(split_digits(page)) == 2


def test_touching_digits_are_cut_apart():
    # Two 0s touching between separate digits: far wider than those, cut in two.
    X = split_digits(T.on_paper(number("1001", gap=[20, -4, 20])))
    assert len(X) == 4
    assert T.aligned_correlation(X[1], X[2]) > 0.8  # two alike halves, not one wide 0
    # Alone, touching digits much wider than tall are cut too.
    strip = np.concatenate([T.ink("0", 120)[:, 10:-20], T.ink("4", 120)[:, 20:-10]], axis=1)
    assert len(split_digits(T.on_paper(strip))) == 2


def test_a_single_wide_digit_is_not_cut():
    wide = T.ink("0", 120, box=(0.05, 0.2, 0.95, 0.8))  # a 0 wider than tall
    assert len(split_digits(T.on_paper(wide))) == 1


def test_a_photo_of_a_number():
    strip = number("741", gap=25)
    lit = T.on_paper(strip).astype(np.float32) * T.gradient(strip.shape, 0.5, 1.0)
    noisy = lit + np.random.default_rng(0).normal(0, 6, strip.shape)
    X = split_digits(np.clip(noisy, 0, 255).astype(np.uint8))
    assert len(X) == 3


class _Oracle:
    """A stand-in model for the reading logic: it labels a digit by the clean digit its
    row is most like."""

    def __init__(self, digits: str, shape=None):
        self.classes_ = np.array(sorted(digits))
        self.rows = np.stack([load_image(T.on_paper(T.ink(d)), shape=shape)
                              for d in self.classes_]).astype(float)
        self.n_features_in_ = self.rows.shape[1]

    def predict_proba(self, X):
        similarity = np.array([[T.correlation(x, r) for r in self.rows] for x in X])
        weights = np.exp(20 * similarity)
        return weights / weights.sum(axis=1, keepdims=True)


def test_read_number_returns_the_text_and_each_digit_s_probabilities():
    reading = read_number(T.on_paper(number("4071")), _Oracle("0147"))
    assert isinstance(reading, NumberReading)
    assert reading.text == "4071" and str(reading) == "4071"
    assert reading.probabilities.shape == (4, 4)
    np.testing.assert_allclose(reading.probabilities.sum(axis=1), 1)
    assert list(reading.labels) == list("4071")
    assert reading.images.shape == (4, 784) and 0 < reading.confidence <= 1


def test_read_number_gives_an_8x8_model_8x8_digits():
    reading = read_number(T.on_paper(number("71")), _Oracle("17", shape="digits"))
    assert reading.images.shape == (2, 64) and reading.images.max() <= 16
    assert reading.text == "71"


def test_read_number_with_a_model_of_odd_inputs():
    class Odd:
        n_features_in_ = 10
        classes_ = np.arange(10)

    with pytest.raises(ValueError, match="10 input features"):
        read_number(T.on_paper(number("1")), Odd())
