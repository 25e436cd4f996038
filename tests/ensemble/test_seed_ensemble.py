"""The seed ensemble: seeds as scikit-learn draws them, one fit_many call, averaged
probabilities, persistence, ONNX export and the comparison."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline

from sknn_mnist import CNNDigitClassifier, MLPDigitClassifier
from sknn_mnist.core import many
from sknn_mnist.ensemble import SeedEnsembleClassifier, draw_member_seeds
from sknn_mnist.ensemble import seed as seed_module
from sknn_mnist.models import PixelScaler, get_model_spec, make_model
from sknn_mnist.registry import qualified_name


@pytest.fixture(scope="module")
def fitted(digits_split):
    X_train, _, y_train, _ = digits_split
    member = MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=15, batch_size=128,
                                learning_rate_init=1e-2, device="cpu")
    return SeedEnsembleClassifier(member, n_estimators=4, random_state=0).fit(X_train, y_train)


def test_seeds_are_drawn_as_scikit_learns_ensembles_draw_them():
    from sklearn.ensemble._base import _set_random_states

    members = draw_member_seeds(MLPDigitClassifier(random_state=123), 4, 7)
    rng = np.random.RandomState(7)
    expected = []
    for _ in range(4):
        reference = MLPDigitClassifier()
        _set_random_states(reference, rng)
        expected.append(reference.random_state)
    assert [m.random_state for m in members] == expected
    assert len(set(expected)) == 4
    # Nested estimators: every *__random_state, in sorted order, as scikit-learn does.
    pipe = make_pipeline(PixelScaler(), MLPDigitClassifier())
    (drawn,) = draw_member_seeds(pipe, 1, 0)
    assert drawn.get_params()["mlpdigitclassifier__random_state"] == (
        np.random.RandomState(0).randint(np.iinfo(np.int32).max))
    assert pipe.get_params()["mlpdigitclassifier__random_state"] is None  # a clone's


def test_members_differ_only_in_their_seeds(fitted):
    template = fitted.estimator.get_params()
    seeds = set()
    for member in fitted.estimators_:
        params = member.get_params()
        seeds.add(params.pop("random_state"))
        assert params == {k: v for k, v in template.items() if k != "random_state"}
    assert len(seeds) == fitted.n_estimators


def test_members_train_in_one_fit_many_call_on_one_array(monkeypatch, digits_small):
    X, y = digits_small
    calls = []

    def spy(jobs, *, verbose=0):
        calls.append((list(jobs), verbose))
        return many.fit_many(jobs, verbose=verbose)

    monkeypatch.setattr(seed_module, "fit_many", spy)
    member = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=2, device="cpu")
    ens = SeedEnsembleClassifier(member, n_estimators=3, random_state=0, verbose=0).fit(X, y)
    assert len(calls) == 1
    jobs, verbose = calls[0]
    assert len(jobs) == 3 and verbose == 0
    assert all(job.X is jobs[0].X for job in jobs)  # shared: on the device once when stacked
    assert [job.estimator for job in jobs] == ens.estimators_
    assert ens.fit_times_.shape == (3,) and np.all(ens.fit_times_ > 0)


def test_each_member_is_its_own_sequential_fit(fitted, digits_split):
    X_train, X_test, y_train, _ = digits_split
    for member in fitted.estimators_[:2]:
        alone = clone(member).fit(X_train, y_train)
        np.testing.assert_array_equal(alone.predict_proba(X_test), member.predict_proba(X_test))


def test_probabilities_are_the_members_mean(fitted, digits_split):
    _, X_test, _, y_test = digits_split
    probas = np.stack([m.predict_proba(X_test) for m in fitted.estimators_])
    proba = fitted.predict_proba(X_test)
    np.testing.assert_allclose(proba, probas.mean(axis=0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(fitted.predict(X_test),
                                  fitted.classes_[proba.argmax(axis=1)])
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(fitted.predict_log_proba(X_test), np.log(proba))
    # Averaging probabilities never loses log-likelihood (-log is convex): the ensemble's
    # log loss is at most the members' mean.
    members = [log_loss(y_test, p, labels=fitted.classes_) for p in probas]
    assert log_loss(y_test, proba, labels=fitted.classes_) <= np.mean(members)
    assert fitted.score(X_test, y_test) > 0.9


def test_the_default_member_is_our_mlp_and_the_seed_fixes_the_fit(digits_small):
    X, y = digits_small
    ens = SeedEnsembleClassifier(n_estimators=2, random_state=3)
    ens.set_params(estimator=None)
    assert isinstance(ens._template(), MLPDigitClassifier)
    small = dict(estimator=MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=2,
                                              device="cpu"))
    a = clone(ens).set_params(**small).fit(X, y)
    b = clone(ens).set_params(**small).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_binary_string_labels_and_a_foreign_member(binary_digits):
    X, y = binary_digits
    labels = np.where(y == 3, "three", "eight")
    member = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=5, device="cpu")
    ens = SeedEnsembleClassifier(member, n_estimators=2, random_state=0).fit(X, labels)
    assert list(ens.classes_) == ["eight", "three"]
    assert ens.predict_proba(X).shape == (len(X), 2)
    assert ens.score(X, labels) > 0.8
    # Any classifier with predict_proba can be a member (fitted one by one by fit_many).
    logistic = SeedEnsembleClassifier(LogisticRegression(max_iter=200), n_estimators=2)
    assert logistic.fit(X, labels).score(X, labels) > 0.9


def test_a_member_that_fails_makes_fit_raise_its_error(digits_small):
    X, y = digits_small
    bad = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=2, device="cpu",
                             early_stopping=True, validation_fraction=0.999)
    with pytest.raises(ValueError, match="early_stopping=True could not hold out"):
        SeedEnsembleClassifier(bad, n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="n_estimators"):
        SeedEnsembleClassifier(n_estimators=0).fit(X, y)


# -- persistence ------------------------------------------------------------------------------
def test_saved_and_loaded_without_trust(tmp_path, digits_small):
    from sknn_mnist.persistence import CorruptModelFileError, load_model, save_model

    X, y = digits_small
    model = make_model("mlp-ensemble", device="cpu", clf__n_estimators=2,
                       clf__estimator__max_iter=2).fit(X, y)
    loaded = load_model(save_model(model, tmp_path / "ensemble.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert len(loaded.named_steps["clf"].estimators_) == 2
    # A file whose members contradict the ensemble is refused before predict.
    forged = model.named_steps["clf"]
    forged.estimators_[1].classes_ = forged.estimators_[1].classes_[::-1].copy()
    save_model(model, tmp_path / "forged.skops")
    with pytest.raises(CorruptModelFileError, match="member 1 of SeedEnsembleClassifier"):
        load_model(tmp_path / "forged.skops")
    forged.estimators_ = forged.estimators_[:1]
    save_model(model, tmp_path / "short.skops")
    with pytest.raises(CorruptModelFileError, match="n_estimators=2 members"):
        load_model(tmp_path / "short.skops")


def test_members_are_checked_as_models_of_their_own(digits_small):
    from sknn_mnist.io.validate import InconsistentModelError, check_model

    X, y = digits_small
    member = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=1, device="cpu")
    ens = SeedEnsembleClassifier(member, n_estimators=2, random_state=0).fit(X, y)
    check_model(ens)
    ens.estimators_[0].out_activation_ = "exp"  # not a classifier's output
    with pytest.raises(InconsistentModelError, match="out_activation_='exp'"):
        check_model(ens)


# -- ONNX -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mlp", "mlp-binary", "cnn"])
def test_onnx_graph_averages_the_members(kind, digits_raw):
    ort = pytest.importorskip("onnxruntime")
    from sknn_mnist.io.onnx import to_onnx

    X, y = digits_raw
    if kind == "mlp-binary":
        y = np.where(y % 2 == 0, "even", "odd")
    member = (CNNDigitClassifier(max_iter=1, device="cpu") if kind == "cnn" else
              MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=5, device="cpu",
                                 dropout=0.2, batch_norm=True))
    model = make_pipeline(PixelScaler(), SeedEnsembleClassifier(member, n_estimators=3,
                                                                random_state=0))
    model.fit(X[:600], y[:600])
    proto = to_onnx(model)
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Mean") == 1 and ops[-3:] == ["Mean", "ArgMax", "Gather"]
    assert ops.count("ArgMax") == 1  # the members' own label nodes are pruned
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["estimator"] == "SeedEnsembleClassifier" and props["n_members"] == "3"
    session = ort.InferenceSession(proto.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {"input": X.astype(np.float32)})
    np.testing.assert_allclose(proba, model.predict_proba(X), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(labels.astype(str), model.predict(X).astype(str))


def test_onnx_refuses_members_that_are_not_ours(binary_digits):
    pytest.importorskip("onnx")
    from sknn_mnist.io.onnx import to_onnx

    X, y = binary_digits
    ens = SeedEnsembleClassifier(LogisticRegression(), n_estimators=2).fit(X, y)
    with pytest.raises(TypeError, match="cannot export a LogisticRegression"):
        to_onnx(ens)


# -- the comparison ---------------------------------------------------------------------------
def test_registered_compared_when_named_not_by_default():
    from sknn_mnist.registry import DEFAULT_MODELS, MODEL_NAMES, trusted_types

    spec = get_model_spec("mlp-ensemble")
    assert "mlp-ensemble" in MODEL_NAMES and "mlp-ensemble" not in DEFAULT_MODELS
    assert "sknn_mnist.ensemble.seed.SeedEnsembleClassifier" in trusted_types()
    clf = make_model("mlp-ensemble", device="cpu", random_state=5).named_steps["clf"]
    assert isinstance(clf, SeedEnsembleClassifier) and clf.n_estimators == 5
    assert clf.random_state == 5 and clf.estimator.device == "cpu"
    assert spec.uses_device and not spec.learning_curve
    assert spec.build.builds == qualified_name(type(clf))  # what persistence trusts


def test_trusting_it_imports_nothing_heavy():
    # Every load_model reads the trusted types before it checks the file: a decompression
    # bomb must be refused without importing torch to build an ensemble.
    code = ("import sys\nfrom sknn_mnist.registry import trusted_types, "
            "torch_classifier_names\n"
            "assert 'sknn_mnist.ensemble.seed.SeedEnsembleClassifier' in trusted_types()\n"
            "assert 'sknn_mnist.ensemble.seed.SeedEnsembleClassifier' in "
            "torch_classifier_names()\n"
            "assert not {'torch', 'sklearn'} & set(sys.modules), sorted(sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_runs_in_compare_when_named(digits_split):
    from sknn_mnist.compare import compare

    X_train, X_test, y_train, y_test = digits_split
    grids = {"mlp-ensemble": {"clf__n_estimators": [2], "clf__estimator__max_iter": [5],
                              "clf__estimator__learning_rate_init": [1e-2],
                              "clf__estimator__hidden_layer_sizes": [(32,)]},
             "mlp": {"clf__max_iter": [5], "clf__learning_rate_init": [1e-2],
                     "clf__hidden_layer_sizes": [(32,)]}}
    result = compare(X_train[:400], y_train[:400], X_test[:150], y_test[:150],
                     models=["mlp", "mlp-ensemble"], param_grids=grids, cv=2, device="cpu")
    ens = result["mlp-ensemble"]
    assert ens.title == "MLP seed ensemble (5 members)"
    clf = ens.estimator.named_steps["clf"]
    assert isinstance(clf, SeedEnsembleClassifier) and len(clf.estimators_) == 2
    assert ens.test_accuracy == pytest.approx(np.mean(ens.y_pred == y_test[:150]))
    assert ens.test_accuracy > 0.8
    assert ens.device == "cpu" == clf.device_  # the members', in the report's column
    assert not hasattr(SeedEnsembleClassifier(), "device_")
