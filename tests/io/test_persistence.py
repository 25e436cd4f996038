"""Saving and loading models with metadata: skops by default, joblib on explicit trust."""

from __future__ import annotations

import os
import zipfile

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC

import sknn_mnist.persistence as persistence
from sknn_mnist.models import PixelScaler
from sknn_mnist.persistence import (
    FORMAT,
    METADATA_MEMBER,
    ModelVersionWarning,
    NotASknnMnistModelError,
    PickleNotAllowedError,
    detect_format,
    load_model,
    read_metadata,
    save_model,
)

FORMATS = [("skops", "m.skops"), ("joblib", "m.joblib")]


def _load(path, fmt):
    return load_model(path, allow_pickle=fmt == "joblib")


@pytest.fixture(scope="module")
def fitted(digits_raw):
    from sknn_mnist import MLPDigitClassifier

    X, y = digits_raw
    model = make_pipeline(PixelScaler(), MLPDigitClassifier(
        hidden_layer_sizes=(16,), max_iter=2, random_state=0, device="cpu"))
    return model.fit(X[:200], y[:200]), X[:50]


def test_skops_is_the_default_and_keeps_predictions_and_metadata(tmp_path, fitted):
    model, X = fitted
    path = save_model(model, tmp_path / "m.skops", dataset="digits", test_score=0.5,
                      cv_score=0.25, metadata={"note": "x", "best_params": {"C": 1.0}})
    assert detect_format(path) == "skops"
    assert zipfile.is_zipfile(path)
    loaded, meta = load_model(path, return_metadata=True)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert meta["dataset"] == "digits" and meta["test_score"] == 0.5 and meta["note"] == "x"
    assert meta["cv_score"] == 0.25 and meta["best_params"] == {"C": 1.0}
    assert meta["format"] == "skops" and meta["training_device"] == "cpu"
    assert meta["versions"]["sknn_mnist"] == persistence.__version__
    assert {"scikit-learn", "torch", "numpy", "skops"} <= set(meta["versions"])
    assert meta["params"]["hidden_layer_sizes"] == "(16,)"
    assert meta["n_features_in"] == 64 and meta["classes"] == list(range(10))
    assert type(loaded).__name__ == "Pipeline"
    # The metadata is readable on its own, the same as load_model returns.
    assert read_metadata(path) == meta | {"format_version": persistence.FORMAT_VERSION}


def test_name_picks_the_written_format_and_content_decides_on_load(tmp_path, fitted):
    model, X = fitted
    for name in ("m.skops", "m", "m.model"):
        assert detect_format(save_model(model, tmp_path / name)) == "skops"
    for name in ("m.joblib", "m.pkl"):
        assert detect_format(save_model(model, tmp_path / name)) == "pickle"
    # A pickle named .skops is still a pickle: refused without trust, loaded with it.
    disguised = save_model(model, tmp_path / "d.skops", format="joblib")
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        load_model(disguised)
    np.testing.assert_array_equal(load_model(disguised, allow_pickle=True).predict(X),
                                  model.predict(X))
    with pytest.raises(ValueError, match="unknown model file format"):
        save_model(model, tmp_path / "x.skops", format="onnx")


@pytest.mark.parametrize(("fmt", "name"), FORMATS)
@pytest.mark.parametrize("case", ["float32", "float64", "binary", "strings", "partial_fit",
                                  "minmax", "standard"])
def test_round_trip_is_bit_identical(tmp_path, digits_raw, make_clf, fmt, name, case):
    X, y = digits_raw
    X, y = X[:240], y[:240]
    clf = make_clf(max_iter=2, dtype="float64" if case == "float64" else "float32")
    if case == "binary":
        y = np.where(y < 5, "low", "high")
    elif case == "strings":
        y = np.array(["zero one two three four five six seven eight nine".split()[v]
                      for v in y], dtype=object)
    if case == "partial_fit":
        clf.partial_fit(X / 16, y, classes=np.unique(y))
        model = clf.partial_fit(X / 16, y)
        X = X / 16
    else:
        scaler = {"minmax": MinMaxScaler(), "standard": StandardScaler()}.get(case,
                                                                             PixelScaler())
        model = make_pipeline(scaler, clf).fit(X, y)
    loaded = _load(save_model(model, tmp_path / name), fmt)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == model.predict(X).dtype


@pytest.mark.parametrize(("fmt", "name"), FORMATS)
def test_compared_pipelines_load_without_trusted(tmp_path, digits_raw, fmt, name):
    X, y = digits_raw
    for clf in (SVC(), RandomForestClassifier(n_estimators=3, random_state=0)):
        model = Pipeline([("scale", PixelScaler() if isinstance(clf, SVC) else "passthrough"),
                          ("clf", clf)]).fit(X[:300], y[:300])
        loaded = _load(save_model(model, tmp_path / name, overwrite=True), fmt)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_no_silent_overwrite_and_no_temp_files_left(tmp_path, fitted):
    path = save_model(fitted[0], tmp_path / "m.skops")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_model(fitted[0], path)
    assert path.read_bytes() == before
    save_model(fitted[0], path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.skops"]


@pytest.mark.parametrize(("target", "name"), [("joblib.dump", "m.joblib"),
                                              ("_skops_bytes", "m.skops")])
def test_failed_write_keeps_the_old_file(tmp_path, fitted, monkeypatch, target, name):
    path = save_model(fitted[0], tmp_path / name)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    owner, attr = (persistence.joblib, "dump") if "." in target else (persistence, target)
    monkeypatch.setattr(owner, attr, broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(fitted[0], path, overwrite=True)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
@pytest.mark.parametrize("name", ["m.skops", "m.joblib"])
def test_files_get_the_users_umask(tmp_path, fitted, umask, name):
    old = os.umask(umask)
    try:
        path = save_model(fitted[0], tmp_path / name)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.skops")
    with pytest.raises(FileNotFoundError):
        read_metadata(tmp_path / "nope.skops")


def test_foreign_pickles_are_rejected_even_when_trusted(tmp_path):
    other = tmp_path / "other.joblib"
    joblib.dump({"weights": [1, 2]}, other)
    with pytest.raises(NotASknnMnistModelError, match="not a sknn_mnist model"):
        load_model(other, allow_pickle=True)
    bare = tmp_path / "bare.joblib"
    joblib.dump(RandomForestClassifier(), bare)
    with pytest.raises(NotASknnMnistModelError, match="RandomForestClassifier"):
        load_model(bare, allow_pickle=True)
    assert issubclass(NotASknnMnistModelError, ValueError)


@pytest.mark.parametrize(("saved", "word"), [("99.0.0", "newer"), ("0.0.1", "older")])
def test_other_version_warns(tmp_path, saved, word):
    model = RandomForestClassifier(n_estimators=2).fit(np.eye(4), [0, 1, 0, 1])
    payload = {"format": FORMAT, "format_version": 1, "model": model,
               "metadata": {"versions": {"sknn_mnist": saved}}}
    path = tmp_path / "old.joblib"
    joblib.dump(payload, path)
    with pytest.warns(ModelVersionWarning, match=f"sknn_mnist {saved}, a {word}|an {word}"):
        load_model(path, allow_pickle=True)


def test_skops_version_check_reads_the_metadata_member(tmp_path, fitted):
    path = save_model(fitted[0], tmp_path / "m.skops")
    old = tmp_path / "old.skops"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == METADATA_MEMBER:
                data = data.replace(persistence.__version__.encode(), b"0.0.1")
            dst.writestr(item, data)
    with pytest.warns(ModelVersionWarning, match="sknn_mnist 0.0.1, an older"):
        load_model(old)
