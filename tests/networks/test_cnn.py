"""CNNDigitClassifier: its network, image shapes, augmentation, and the estimator on the core."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sknn_mnist import CNNDigitClassifier
from sknn_mnist.compare import compare
from sknn_mnist.models import DEFAULT_MODELS, MODEL_NAMES, PixelScaler, get_model_spec
from sknn_mnist.networks.cnn.augment import RandomAffine
from sknn_mnist.networks.cnn.module import CNNModule, infer_image_shape
from sknn_mnist.persistence import load_model, save_model

ROOT = Path(__file__).resolve().parents[2]


# -- image shapes -------------------------------------------------------------------------
@pytest.mark.parametrize(("n_features", "expected"), [(784, (1, 28, 28)), (64, (1, 8, 8)),
                                                      (1, (1, 1, 1))])
def test_square_rows_are_single_channel_square_images(n_features, expected):
    assert infer_image_shape(n_features) == expected


def test_non_square_rows_need_an_image_shape():
    with pytest.raises(ValueError, match=r"10 features, which is not a square.*image_shape"):
        infer_image_shape(10)


@pytest.mark.parametrize(("shape", "expected"), [((1, -1), (1, 1, 10)), ((2, 5), (1, 2, 5)),
                                                 ((2, -1, 5), (2, 1, 5)), ((-1, 5), (1, 2, 5))])
def test_explicit_shapes_and_one_inferred_dimension(shape, expected):
    assert infer_image_shape(10, shape) == expected


@pytest.mark.parametrize("shape", [(3, 3), (-1, 3), (-1, -1), (0, 10), (1, 2, 3, 4)])
def test_shapes_that_do_not_hold_the_row_are_refused(shape):
    with pytest.raises(ValueError, match="does not fit rows of 10 features"):
        infer_image_shape(10, shape)


# -- the network --------------------------------------------------------------------------
def test_default_network_is_the_course_network():
    module = CNNModule(784, 10, (1, 28, 28))
    convs = [m for m in module.layers if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (1, 1))]
    dense = module.linear_layers()
    assert [(d.in_features, d.out_features) for d in dense] == [(64 * 7 * 7, 128), (128, 10)]
    dropouts = [m.p for m in module.layers if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.25, 0.5]
    assert module.augment is None
    assert module(torch.rand(3, 784)).shape == (3, 10)


@pytest.mark.parametrize(("shape", "flat"), [((1, 8, 8), 64 * 2 * 2), ((1, 1, 10), 64 * 3),
                                             ((1, 1, 1), 64), ((3, 5, 7), 64 * 2 * 2)])
def test_pooling_works_for_small_and_odd_images(shape, flat):
    n_features = shape[0] * shape[1] * shape[2]
    module = CNNModule(n_features, 3, shape)
    assert module.linear_layers()[0].in_features == flat
    assert module(torch.rand(2, n_features)).shape == (2, 3)


def test_input_normalisation_is_the_fixed_course_affine():
    # A network whose first layer sees its input: a 1x1 "image" through a single 1x1 conv
    # with weight 1 and bias 0, no pooling effect, ReLU keeps the positive part.
    module = CNNModule(1, 1, (1, 1, 1), channels=(1,), kernel_size=1, dense_units=0,
                       conv_dropout=0, dense_dropout=0)
    conv, out = module.layers.conv0, module.layers.linear_out
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.zero_()
        out.weight.fill_(1.0)
        out.bias.zero_()
    x = torch.tensor([[0.0], [0.5], [0.75], [1.0]])
    assert torch.allclose(module(x)[:, 0], torch.tensor([0.0, 0.0, 0.5, 1.0]))


def test_batch_norm_and_dtype():
    module = CNNModule(64, 10, (1, 8, 8), channels=(4, 8), batch_norm=True,
                       dtype=torch.float64)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in module.layers) == 2
    assert all(p.dtype == torch.float64 for p in module.parameters())
    assert module(torch.rand(4, 64, dtype=torch.float64)).dtype == torch.float64


# -- augmentation -------------------------------------------------------------------------
def test_augmentation_is_the_identity_in_eval_mode():
    layer = RandomAffine(0.2, 15).eval()
    images = torch.rand(4, 1, 8, 8)
    assert layer(images) is images


def test_augmentation_moves_pixels_per_image_and_is_seeded():
    layer = RandomAffine(0.25, 0).train()
    images = torch.zeros(6, 1, 8, 8)
    images[:, :, 3:5, 3:5] = 1.0
    torch.manual_seed(0)
    first = layer(images)
    torch.manual_seed(0)
    again = layer(images)
    assert torch.equal(first, again)
    assert first.shape == images.shape
    assert not torch.allclose(first, images)
    # Each image gets its own draw: the shifted blobs land in different places.
    centres = {tuple(torch.nonzero(img[0] > 0.5).float().mean(0).round().tolist())
               for img in first}
    assert len(centres) > 1


def test_rotation_alone_keeps_a_centred_symmetric_image():
    layer = RandomAffine(0, 90).train()
    images = torch.zeros(5, 1, 9, 9)
    images[:, :, 4, 4] = 1.0  # a single centre pixel does not move under rotation
    out = layer(images)
    assert torch.allclose(out[:, 0, 4, 4], torch.ones(5), atol=1e-5)


# -- the estimator ------------------------------------------------------------------------
def small_cnn(**params) -> CNNDigitClassifier:
    """A small, fast, seeded CPU CNN for the 8x8 digits; keyword arguments override."""
    defaults = dict(channels=(4, 8), dense_units=32, conv_dropout=0.0, dense_dropout=0.0,
                    learning_rate_init=0.01, max_iter=5, batch_size=64, random_state=0,
                    device="cpu")
    defaults.update(params)
    return CNNDigitClassifier(**defaults)


def checks_cnn() -> CNNDigitClassifier:
    # scikit-learn's checks use all sorts of row lengths (1, 2, 3, 4, 10, ...), most of them
    # not squares: image_shape=(1, -1) reads any row as a 1-pixel-high strip. No dropout,
    # full batches and float64, as for the MLP's checks, so that the sample-weight
    # equivalence checks compare like with like.
    return CNNDigitClassifier(channels=(4,), dense_units=16, image_shape=(1, -1),
                              conv_dropout=0.0, dense_dropout=0.0, learning_rate_init=0.02,
                              max_iter=60, batch_size=1000, dtype="float64", device="cpu")


@parametrize_with_checks([checks_cnn()])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_fits_the_digits_with_the_mlps_attributes(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    model = small_cnn(max_iter=8).fit(X_train, y_train)
    assert model.score(X_test, y_test) > 0.9
    assert model.image_shape_ == (1, 8, 8)
    assert model.n_iter_ == 8 and len(model.loss_curve_) == 8
    assert model.loss_curve_[-1] < model.loss_curve_[0]
    assert model.device_ == "cpu" and model.out_activation_ == "softmax"
    assert model.validation_scores_ is None and model.best_loss_ == min(model.loss_curve_)
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.classes_[proba.argmax(axis=1)], model.predict(X_test))


def test_early_stopping_records_validation_scores(digits_small):
    model = small_cnn(early_stopping=True, max_iter=4).fit(*digits_small)
    assert len(model.validation_scores_) == model.n_iter_
    assert model.best_validation_score_ == max(model.validation_scores_)


def test_non_square_rows_without_image_shape_fail_clearly(digits_small):
    X, y = digits_small
    model = small_cnn()
    with pytest.raises(ValueError, match="60 features, which is not a square"):
        model.fit(X[:, :60], y)
    assert not hasattr(model, "net_")
    model.set_params(image_shape=(6, 10)).fit(X[:, :60], y)
    assert model.image_shape_ == (1, 6, 10)
    with pytest.raises(ValueError, match=r"image_shape=\(7, -1\) does not fit rows of 60"):
        clone(model).set_params(image_shape=(7, -1)).fit(X[:, :60], y)


@pytest.mark.parametrize(("params", "message"), [
    ({"kernel_size": 4}, "'kernel_size' parameter .* must be odd"),
    ({"channels": (4, 0)}, "'channels' parameter .* positive integers"),
    ({"channels": ()}, "'channels' parameter .* positive integers"),
    ({"image_shape": (64,)}, "'image_shape' parameter"),
    ({"image_shape": (-1, -1)}, "'image_shape' parameter"),
    ({"conv_dropout": 1.0}, "'conv_dropout' parameter"),
    ({"augment_rotation": 200}, "'augment_rotation' parameter"),
])
def test_invalid_architecture_parameters(digits_small, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        small_cnn(**params).fit(*digits_small)


def test_augmentation_is_seeded_and_changes_training(digits_split):
    X_train, X_test, y_train, _ = digits_split
    first = small_cnn(augment=True, max_iter=2).fit(X_train, y_train)
    again = small_cnn(augment=True, max_iter=2).fit(X_train, y_train)
    plain = small_cnn(max_iter=2).fit(X_train, y_train)
    np.testing.assert_array_equal(first.predict_proba(X_test), again.predict_proba(X_test))
    assert first.loss_curve_ == again.loss_curve_
    assert first.loss_curve_ != plain.loss_curve_
    # Prediction is deterministic (no augmentation outside training).
    np.testing.assert_array_equal(first.predict_proba(X_test), first.predict_proba(X_test))


def test_partial_fit_and_warm_start(digits_small):
    X, y = digits_small
    model = small_cnn()
    for _ in range(3):
        model.partial_fit(X, y, classes=np.unique(y))
    assert len(model.loss_curve_) == 3
    model = small_cnn(warm_start=True, max_iter=2).fit(X, y)
    model.set_params(channels=(4, 16))
    with pytest.raises(ValueError, match="channels"):
        model.fit(X, y)
    assert model.net_.module_.layers.conv1.out_channels == 8  # the failed call changed nothing


def test_grid_search_over_a_pipeline(digits_small):
    X, y = digits_small
    search = GridSearchCV(make_pipeline(PixelScaler(), small_cnn(max_iter=3)),
                          {"cnndigitclassifier__batch_norm": [False, True]}, cv=2)
    search.fit(X * 16, y)
    assert set(search.cv_results_["param_cnndigitclassifier__batch_norm"]) == {False, True}
    assert search.score(X * 16, y) > 0.5


def test_persistence_joblib_and_skops(digits_small, tmp_path):
    X, y = digits_small
    model = make_pipeline(PixelScaler(), small_cnn(batch_norm=True, augment=True,
                                                   max_iter=2)).fit(X, y)
    expected = model.predict_proba(X)
    joblib.dump(model, tmp_path / "cnn.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "cnn.joblib").predict_proba(X),
                                  expected)
    save_model(model, tmp_path / "cnn.skops")
    loaded = load_model(tmp_path / "cnn.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)
    assert loaded[-1].image_shape_ == (1, 8, 8)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fit_with_augmentation_loads_on_the_cpu(digits_small, tmp_path):
    X, y = digits_small
    model = small_cnn(device="cuda", augment=True, batch_norm=True).fit(X, y)
    assert model.device_.startswith("cuda")
    assert next(model.net_.module_.parameters()).is_cuda
    expected = model.predict_proba(X)
    save_model(model, tmp_path / "cnn.skops")
    loaded = load_model(tmp_path / "cnn.skops")
    np.testing.assert_allclose(loaded.predict_proba(X), expected, atol=1e-5)


# -- the example and the benchmark --------------------------------------------------------
@pytest.mark.subprocess
def test_mlp_vs_cnn_example_on_digits(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "mlp_vs_cnn.py"),
                           "--dataset", "digits", "--max-iter", "4"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "digits: 1437 training rows, 360 test rows" in done.stdout
    rows = re.findall(r"^(MLP|CNN)\s+(\d+)\s+4\s+([01]\.\d+)", done.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["MLP", "CNN"]
    # The CNN has the course's 32/64 channels: more parameters than the 64-100-50-10 MLP.
    assert int(rows[1][1]) > int(rows[0][1])
    assert all(0.5 < float(r[2]) <= 1.0 for r in rows)
    assert re.search(r"wrong by both: \d+; only by the MLP: \d+; only by the CNN: \d+",
                     done.stdout)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.mnist
def test_quick_benchmark_writes_json(tmp_path, mnist_dir):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "cnn.py"), "--quick", "--out",
         str(tmp_path), "--idx-dir", str(mnist_dir), "--data-home", str(tmp_path / "data"),
         "--device", "cpu"], capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "cnn-quick.json").read_text())
    contenders = [row["contender"] for row in result["table"]]
    assert any(c.startswith("CNNDigitClassifier defaults") for c in contenders)
    assert "epoch time: (b) hand-written loop" in contenders
    assert "predict_proba: MLPDigitClassifier" in contenders
    assert (tmp_path / "RESULTS.md").exists()


# -- the comparison -----------------------------------------------------------------------
def test_cnn_in_the_comparison_with_a_learning_curve(digits_split):
    spec = get_model_spec("cnn")
    assert spec.uses_device and spec.learning_curve
    assert "cnn" in MODEL_NAMES and "cnn" in DEFAULT_MODELS  # within the clock, see models
    X_train, X_test, y_train, y_test = digits_split
    result = compare(X_train * 16, y_train, X_test * 16, y_test, models=["cnn"], cv=2,
                     n_jobs=1, device="cpu",
                     param_grids={"cnn": {"clf__channels": [(4, 8)], "clf__max_iter": [4],
                                          "clf__learning_rate_init": [1e-2]}})
    (cnn,) = result.results.values()
    assert isinstance(cnn.estimator[-1], CNNDigitClassifier)
    assert cnn.test_accuracy > 0.8
    curve = cnn.learning_curve_estimator[-1]
    assert len(curve.validation_scores_) == len(curve.loss_curve_) == 4


def test_prediction_in_chunks_matches_one_forward_pass(digits):
    X, y = digits
    X_big = np.concatenate([X, X[:500]])  # 2297 rows: three chunks of at most 1024
    model = small_cnn(batch_norm=True, max_iter=1).fit(X, y)
    assert model.net_.iterator_valid__batch_size == 1024
    module = model.net_.module_.eval()
    with torch.no_grad():
        expected = torch.softmax(module(torch.from_numpy(X_big)).double(), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(X_big), expected, rtol=1e-5, atol=1e-7)
