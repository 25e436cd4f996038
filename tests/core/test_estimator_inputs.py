"""Inputs: numpy of any real dtype, DataFrames, lists, sparse; scikit-learn's input errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_blobs
from sklearn.metrics import accuracy_score


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float64, np.float32, np.int32,
                                   np.float16])
def test_any_real_dtype_gives_the_same_model(digits_raw, make_clf, dtype):
    # Pixel values 0..16 are exact in every dtype, so every dtype trains the same model.
    X, y = digits_raw
    # Unscaled pixels: wider and longer than make_clf's default (made for scaled data).
    params = dict(hidden_layer_sizes=(32,), max_iter=10)
    ref = make_clf(**params).fit(X.astype(np.float32), y)
    clf = make_clf(**params).fit(X.astype(dtype), y)
    np.testing.assert_array_equal(clf.predict_proba(X.astype(dtype)),
                                  ref.predict_proba(X.astype(np.float32)))
    assert clf.score(X.astype(dtype), y) > 0.8


def test_non_contiguous_arrays(digits_raw, make_clf):
    X, y = digits_raw
    ref = make_clf().fit(np.ascontiguousarray(X[:, ::2]), y)
    for X_view in (X[:, ::2], np.asfortranarray(X[:, ::2])):
        clf = make_clf().fit(X_view, y)
        np.testing.assert_array_equal(clf.predict_proba(X_view),
                                      ref.predict_proba(np.ascontiguousarray(X[:, ::2])))


def test_column_vector_y_warns_and_works(digits_small, make_clf):
    from sklearn.exceptions import DataConversionWarning

    X, y = digits_small
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        clf = make_clf().fit(X, y.reshape(-1, 1))
    np.testing.assert_array_equal(clf.predict(X), make_clf().fit(X, y).predict(X))


def test_lists(digits_small, make_clf):
    X, y = digits_small
    ref = make_clf().fit(X, y)
    clf = make_clf().fit(X.tolist(), y.tolist())
    np.testing.assert_array_equal(clf.predict(X.tolist()), ref.predict(X))
    assert clf.n_features_in_ == X.shape[1]


def test_dataframe_sets_feature_names(digits, make_clf):
    X, y = digits
    columns = [f"pixel{i}" for i in range(X.shape[1])]
    df = pd.DataFrame(X, columns=columns)
    clf = make_clf().fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, columns)
    ref = make_clf().fit(X, y)
    assert not hasattr(ref, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same names: no warning
        np.testing.assert_array_equal(clf.predict(df), ref.predict(X))

    renamed = df.rename(columns={"pixel0": "other"})
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(renamed)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        clf.predict(X)
    with pytest.warns(UserWarning, match="fitted without feature names"):
        ref.predict(df)


def test_dataframe_with_mixed_dtype_columns(digits_raw, make_clf):
    X, y = digits_raw
    df = pd.DataFrame(X[:, :4].astype(np.uint8), columns=list("abcd"))
    df["e"] = X[:, 4]  # float64 column next to uint8 ones
    clf = make_clf().fit(df, y)
    assert clf.n_features_in_ == 5
    assert clf.predict(df).shape == (len(y),)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_input_matches_dense(digits, make_clf, fmt):
    X, y = digits
    X_sparse = sp.csr_matrix(X).asformat(fmt)
    dense = make_clf().fit(X, y)
    sparse = make_clf().fit(X_sparse, y)
    np.testing.assert_array_equal(sparse.predict(X_sparse), dense.predict(X))
    np.testing.assert_allclose(sparse.predict_proba(X_sparse), dense.predict_proba(X),
                               rtol=0, atol=1e-12)
    # A dense model predicts sparse input as it predicts dense input.
    np.testing.assert_array_equal(dense.predict_proba(X_sparse), dense.predict_proba(X))


def test_nan_and_inf_are_rejected(digits, make_clf):
    X, y = digits
    X_nan = X.copy()
    X_nan[3, 5] = np.nan
    X_inf = X.copy()
    X_inf[3, 5] = np.inf
    with pytest.raises(ValueError, match="Input X contains NaN"):
        make_clf().fit(X_nan, y)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        make_clf().fit(X_inf, y)
    clf = make_clf(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clf.predict(X_nan)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clf.predict_proba(X_inf)


def test_nan_in_y_is_rejected(digits, make_clf):
    X, y = digits
    y_nan = y.astype(float)
    y_nan[0] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        make_clf().fit(X, y_nan)


def test_1d_x_is_rejected(digits, make_clf):
    X, y = digits
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        make_clf().fit(X[:, 0], y)
    clf = make_clf(max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array instead"):
        clf.predict(X[0])


def test_empty_x_is_rejected(digits, make_clf):
    X, y = digits
    with pytest.raises(ValueError, match=r"Found array with 0 sample\(s\)"):
        make_clf().fit(X[:0], y[:0])
    with pytest.raises(ValueError, match=r"0 feature\(s\)"):
        make_clf().fit(X[:, :0], y)


def test_inconsistent_lengths_are_rejected(digits, make_clf):
    X, y = digits
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        make_clf().fit(X, y[:-1])


def test_different_number_of_features_at_predict(digits, make_clf):
    X, y = digits
    clf = make_clf(max_iter=1).fit(X, y)
    msg = "X has 5 features, but MLPDigitClassifier is expecting 64 features as input"
    for method in (clf.predict, clf.predict_proba, clf.predict_log_proba):
        with pytest.raises(ValueError, match=msg):
            method(X[:, :5])
    with pytest.raises(ValueError, match=msg):
        clf.score(X[:, :5], y)


def test_string_x_is_rejected(digits, make_clf):
    X, y = digits
    X_str = np.full((len(y), 3), "a", dtype=object)
    with pytest.raises(ValueError, match="could not convert string to float"):
        make_clf().fit(X_str, y)
    df = pd.DataFrame({"a": ["x"] * len(y), "b": np.arange(len(y))})
    with pytest.raises(ValueError, match="could not convert string to float"):
        make_clf().fit(df, y)


def test_numeric_object_array_is_accepted(digits, make_clf):
    X, y = digits
    ref = make_clf().fit(X, y)
    clf = make_clf().fit(X.astype(object), y)
    np.testing.assert_array_equal(clf.predict(X.astype(object)), ref.predict(X))


def test_unfitted_model_raises_not_fitted(digits, make_clf):
    from sklearn.exceptions import NotFittedError

    X, _ = digits
    clf = make_clf()
    for method in (clf.predict, clf.predict_proba, clf.predict_log_proba):
        with pytest.raises(NotFittedError):
            method(X)


def test_784_features(make_clf):
    rng = np.random.default_rng(0)
    X = rng.random((400, 784), dtype=np.float32)
    w = rng.standard_normal((784, 4))
    y = (X - 0.5) @ w  # a linear rule, learnable
    y = y.argmax(axis=1)
    clf = make_clf(hidden_layer_sizes=(32,), max_iter=30, learning_rate_init=1e-3).fit(X, y)
    assert clf.n_features_in_ == 784
    assert clf.coefs_[0].shape == (784, 32)
    assert clf.predict(X).shape == (400,)
    assert clf.score(X, y) > 0.6  # chance is 0.25


def test_three_features(make_clf):
    X, y = make_blobs(n_samples=300, n_features=3, centers=3, random_state=0)
    clf = make_clf(max_iter=30).fit(X, y)
    assert clf.n_features_in_ == 3
    assert clf.coefs_[0].shape == (3, 16)
    assert accuracy_score(y, clf.predict(X)) > 0.9


def test_single_feature(make_clf):
    X = np.linspace(-1, 1, 200).reshape(-1, 1)
    y = (X[:, 0] > 0.1).astype(int)
    clf = make_clf(max_iter=100, batch_size=200, learning_rate_init=0.05).fit(X, y)
    assert clf.coefs_[0].shape == (1, 16)
    assert clf.score(X, y) > 0.9


def test_float64_dtype(digits_split, make_clf):
    X_train, X_test, y_train, y_test = digits_split
    f32 = make_clf(max_iter=10).fit(X_train, y_train)
    f64 = make_clf(max_iter=10, dtype="float64").fit(X_train, y_train)
    assert all(c.dtype == np.float64 for c in f64.coefs_ + f64.intercepts_)
    assert all(c.dtype == np.float32 for c in f32.coefs_ + f32.intercepts_)
    assert f64.predict_proba(X_test).dtype == np.float64
    assert f32.predict_proba(X_test).dtype == np.float64
    # Same initial weights (drawn in float32), same batches: most predictions agree.
    agree = np.mean(f64.predict(X_test) == f32.predict(X_test))
    assert agree > 0.97
    np.testing.assert_allclose(f64.loss_curve_, f32.loss_curve_, rtol=1e-3)
