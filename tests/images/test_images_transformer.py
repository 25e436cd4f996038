"""ImageNormalizer: load_images as a stateless scikit-learn transformer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.images import ImageNormalizer, NoInkError, load_images

#: scikit-learn's checks that transform random rows of 2 to 10 Gaussian values: those are
#: not images (not square, no ink), and an image reader refuses them with a clear error.
#: Every other check runs and passes.
_NOT_IMAGES = "transforms random rows that are not square images"
EXPECTED_FAILED = {name: _NOT_IMAGES for name in (
    "check_fit_score_takes_y", "check_estimators_dtypes", "check_dtype_object",
    "check_pipeline_consistency", "check_estimators_pickle",
    "check_f_contiguous_array_estimator", "check_transformer_data_not_an_array",
    "check_transformer_general", "check_transformers_unfitted_stateless",
    "check_methods_sample_order_invariance", "check_methods_subset_invariance",
    "check_dict_unchanged", "check_fit_idempotent", "check_array_api_input")}


@parametrize_with_checks([ImageNormalizer()],
                         expected_failed_checks=lambda est: EXPECTED_FAILED)
def test_sklearn_checks(estimator, check):
    check(estimator)


class _Memory(BaseEstimator):
    """A fitted "model" that returns what it was given, to see what a pipeline passes."""

    def __init__(self):
        self.seen = None

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        self.seen = X
        return np.zeros(len(X))

    def __sklearn_is_fitted__(self):
        return True


def test_pipeline_predicts_straight_from_files(tmp_path):
    paths = []
    for digit in "17":
        path = tmp_path / f"{digit}.png"
        path.write_bytes(T.encode(T.on_paper(T.ink(digit))))
        paths.append(str(path))
    model = _Memory()
    make_pipeline(ImageNormalizer(), model).predict(paths)
    assert model.seen.shape == (2, 784) and model.seen.dtype == np.uint8
    assert np.array_equal(model.seen, load_images(paths))


def test_rows_of_flattened_images_any_range_and_polarity():
    paper = T.on_paper(T.ink("7", 28, width=0.09))
    rows = np.stack([paper.ravel(), paper.ravel() / 255.0])
    out = ImageNormalizer().fit(rows).transform(rows)
    assert out.shape == (2, 784)
    assert np.array_equal(out[0], out[1])
    assert np.array_equal(out[0], load_images([paper])[0])


def test_row_shape_reads_rows_of_non_square_images():
    paper = T.on_paper(T.ink("7", 40))[:, 5:35]           # 40 x 30
    rows = np.stack([paper.ravel(), 255 - paper.ravel()])
    out = ImageNormalizer(row_shape=(40, 30)).transform(rows)
    assert np.array_equal(out[0], load_images([paper])[0])
    assert np.array_equal(out[0], out[1])                  # either polarity
    inferred = ImageNormalizer(row_shape=(-1, 30)).transform(rows)
    assert np.array_equal(inferred, out)
    with pytest.raises(ValueError, match="not flattened square images.*row_shape"):
        ImageNormalizer().transform(rows)
    with pytest.raises(ValueError, match=r"rows of 1200 values do not fit row_shape=\(7, -1\)"):
        ImageNormalizer(row_shape=(7, -1)).transform(rows)


@pytest.mark.parametrize("row_shape", [(0, 5), (-1, -1), (2, 3, 4), (2.0, 3), (True, 4)])
def test_bad_row_shape_is_refused_at_fit(row_shape):
    rows = np.ones((2, 12))
    with pytest.raises(ValueError, match="row_shape must be"):
        ImageNormalizer(row_shape=row_shape).fit(rows)


def test_lists_of_mixed_sources_and_object_columns():
    paper = T.on_paper(T.ink("1"))
    mixed = [paper, T.encode(paper), paper.astype(np.float64) / 255]
    out = ImageNormalizer().transform(mixed)
    assert out.shape == (3, 784) and (out[0] == out[1]).all()
    column = np.empty(2, dtype=object)
    column[:] = [paper, T.encode(paper)]
    assert ImageNormalizer().transform(column).shape == (2, 784)


def test_shape_parameter_and_feature_names():
    est = ImageNormalizer(shape="digits")
    out = est.fit_transform([T.on_paper(T.ink("7"))])
    assert out.shape == (1, 64) and out.max() <= 16
    names = est.get_feature_names_out()
    assert names[0] == "pixel_0" and len(names) == 64
    assert clone(est).get_params()["shape"] == "digits"
    with pytest.raises(ValueError, match="shape must be"):
        ImageNormalizer(shape="large").fit([])


def test_limits_are_parameters():
    data = T.encode(T.on_paper(T.ink("7")))
    with pytest.raises(ValueError, match="limit"):
        ImageNormalizer(max_bytes=100).transform([data])
    with pytest.raises(ValueError, match="limit"):
        ImageNormalizer(max_pixels=100).transform([data])


def test_bad_images_raise_the_reading_errors():
    with pytest.raises(NoInkError):
        ImageNormalizer().transform([np.zeros((20, 20))])
    with pytest.raises(ValueError, match="not flattened square images"):
        ImageNormalizer().transform(np.zeros((2, 10)))
