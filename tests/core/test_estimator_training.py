"""Training behaviour: reproducibility, early stopping, convergence, warm_start,
partial_fit, Ctrl-C and verbose output."""

from __future__ import annotations

import warnings
from unittest import mock

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.utils import check_random_state

from sknn_mnist.core.data import TensorBatchIterator

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# -- reproducibility ------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {},
    {"dropout": 0.3},
    {"batch_norm": True},
    {"dropout": 0.2, "batch_norm": True, "hidden_layer_sizes": (16, 8)},
    {"early_stopping": True},
    {"solver": "sgd", "learning_rate": "invscaling"},
])
def test_same_random_state_gives_identical_results(digits_small, make_clf, params):
    X, y = digits_small
    first = make_clf(**params).fit(X, y)
    proba, curve = first.predict_proba(X), list(first.loss_curve_)
    first.fit(X, y)  # refit the same object
    np.testing.assert_array_equal(first.predict_proba(X), proba)
    assert first.loss_curve_ == curve
    cloned = clone(first).fit(X, y)
    np.testing.assert_array_equal(cloned.predict_proba(X), proba)
    assert cloned.loss_curve_ == curve
    for a, b in zip(cloned.coefs_, first.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    other = make_clf(**params, random_state=1).fit(X, y)
    assert other.loss_curve_ != curve
    assert not np.array_equal(other.predict_proba(X), proba)


def test_random_state_none_differs_between_fits(digits_small, make_clf):
    X, y = digits_small
    a = make_clf(random_state=None, max_iter=1).fit(X, y)
    b = make_clf(random_state=None, max_iter=1).fit(X, y)
    assert not np.array_equal(a.coefs_[0], b.coefs_[0])


def test_random_state_instance_is_accepted(digits_small, make_clf):
    X, y = digits_small
    a = make_clf(random_state=np.random.RandomState(3), max_iter=2).fit(X, y)
    b = make_clf(random_state=np.random.RandomState(3), max_iter=2).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


@pytest.mark.parametrize("params", [{}, {"dropout": 0.5, "early_stopping": True},
                                    {"random_state": None}])
def test_fit_leaves_global_rng_state_alone(digits_small, make_clf, params):
    X, y = digits_small
    torch.manual_seed(123)
    torch_state = torch.random.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 - the global state itself
    clf = make_clf(**params, max_iter=2).fit(X, y)
    clf.predict_proba(X)
    if not clf.early_stopping:  # partial_fit does not support early stopping
        clf.partial_fit(X, y)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    if params.get("random_state", 0) is not None:
        np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002


def test_seeded_fit_does_not_depend_on_global_torch_seed(digits_small, make_clf):
    X, y = digits_small
    torch.manual_seed(1)
    a = make_clf(dropout=0.3).fit(X, y)
    torch.manual_seed(2)
    b = make_clf(dropout=0.3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


# -- early stopping -------------------------------------------------------------------------


def _validation_split(clf, y):
    """Recompute the estimator's split: the 4th seed drawn from random_state, stratified."""
    rng = check_random_state(clf.random_state)
    split_seed = [int(rng.randint(np.iinfo(np.int32).max)) for _ in range(4)][-1]
    codes = np.unique(y, return_inverse=True)[1]
    return train_test_split(np.arange(len(y)), test_size=clf.validation_fraction,
                            random_state=split_seed, stratify=codes)


def test_early_stopping_restores_the_best_weights_in_memory(digits, make_clf, tmp_path,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = digits
    # A high constant rate makes the validation accuracy wobble, so the last epoch is
    # not the best one and restoring the best weights is visible.
    clf = make_clf(early_stopping=True, n_iter_no_change=2, learning_rate="constant",
                   learning_rate_init=0.1, max_iter=60, validation_fraction=0.2)
    clf.fit(X, y)
    assert list(tmp_path.iterdir()) == []  # no checkpoint files
    assert clf.n_iter_ < 60
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert clf.validation_scores_[-1] < clf.best_validation_score_  # premise of the test

    train_idx, valid_idx = _validation_split(clf, y)
    assert clf.score(X[valid_idx], y[valid_idx]) == pytest.approx(
        clf.best_validation_score_, abs=1e-12)
    # The stopping rule: no epoch after the best improved on it by tol.
    best_epoch = int(np.argmax(clf.validation_scores_))
    assert clf.n_iter_ - 1 - best_epoch >= clf.n_iter_no_change


def test_early_stopping_stops_sooner_with_small_patience(digits_small, make_clf):
    X, y = digits_small
    params = dict(early_stopping=True, learning_rate="constant", max_iter=40, tol=0.05)
    short = make_clf(n_iter_no_change=1, **params).fit(X, y)
    long = make_clf(n_iter_no_change=5, **params).fit(X, y)
    assert short.n_iter_ < long.n_iter_ <= 40
    assert short.n_iter_ < 40


def test_early_stopping_logs_validation_to_history(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(early_stopping=True, max_iter=3).fit(X, y)
    np.testing.assert_array_equal(clf.net_.history[:, "valid_acc"], clf.validation_scores_)
    assert clf.net_.train_split is None  # the validation data is not kept in the model


# -- convergence ----------------------------------------------------------------------------


def test_tol_stopping_matches_mlpclassifier(digits_small, make_clf):
    X, y = digits_small
    # With a tol no epoch can meet, training stops after n_iter_no_change + 1 epochs
    # without improvement, exactly when scikit-learn stops.
    params = dict(learning_rate="constant", tol=100.0, n_iter_no_change=2, max_iter=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = make_clf(solver="sgd", **params).fit(X, y)
    sk = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", random_state=0,
                       **params).fit(X, y)
    assert clf.n_iter_ == sk.n_iter_ < 50


def test_constant_rate_stops_when_the_loss_plateaus(digits_small, make_clf):
    X, y = digits_small
    tol, patience = 0.01, 3
    clf = make_clf(learning_rate="constant", tol=tol, n_iter_no_change=patience,
                   max_iter=300).fit(X, y)
    assert clf.n_iter_ < 300
    curve = clf.loss_curve_
    # The last patience + 1 epochs each failed to beat the best loss so far by tol.
    for i in range(len(curve) - patience - 1, len(curve)):
        assert curve[i] > min(curve[:i]) - tol


def test_adaptive_divides_the_rate_by_five(digits_small, make_clf):
    X, y = digits_small
    params = dict(learning_rate="adaptive", tol=100.0, n_iter_no_change=1, max_iter=50,
                  learning_rate_init=1e-3)
    clf = make_clf(solver="sgd", **params).fit(X, y)
    lrs = np.array(clf.net_.history[:, "lr"])
    assert lrs[0] == pytest.approx(1e-3)
    ratios = lrs[1:] / lrs[:-1]
    drops = np.isclose(ratios, 0.2)
    assert np.all(drops | np.isclose(ratios, 1.0))
    assert drops.sum() >= 3
    sk = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", random_state=0,
                       **params).fit(X, y)
    # Same stopping point: when the rate would fall below 1e-6.
    assert clf.n_iter_ == sk.n_iter_ < 50
    assert lrs[-1] == pytest.approx(sk._optimizer.learning_rate)


def test_convergence_warning_only_when_max_iter_reached_with_constant(digits_small,
                                                                      make_clf):
    X, y = digits_small
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(3\) reached"):
        make_clf(learning_rate="constant", max_iter=3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        make_clf(max_iter=3).fit(X, y)  # default 'cosine' anneals: no warning
        make_clf(learning_rate="constant", max_iter=3).partial_fit(X, y, classes=range(10))


# -- warm_start -----------------------------------------------------------------------------


def test_warm_start_continues_from_previous_weights(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(warm_start=True, max_iter=4, learning_rate_init=1e-3).fit(X, y)
    first_curve = list(clf.loss_curve_)
    clf.fit(X, y)
    assert clf.n_iter_ == 4  # this call's epochs, as MLPClassifier's n_iter_
    assert clf.t_ == 8 * len(X)
    assert clf.loss_curve_[:4] == first_curve
    assert len(clf.loss_curve_) == 8
    second_first = clf.loss_curve_[4]
    fresh_first = first_curve[0]
    assert second_first < first_curve[-1] + 0.1 * (fresh_first - first_curve[-1])
    assert second_first < fresh_first - 0.5 * (fresh_first - first_curve[-1])
    assert clf.best_loss_ == min(clf.loss_curve_)

    cold = make_clf(warm_start=False, max_iter=4, learning_rate_init=1e-3).fit(X, y)
    cold.fit(X, y)
    assert cold.n_iter_ == 4
    assert cold.loss_curve_ == first_curve  # a cold refit starts over


def test_warm_start_with_changed_classes_is_an_error(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(warm_start=True, max_iter=1).fit(X, y)
    mask = y < 5
    with pytest.raises(ValueError, match="same classes"):
        clf.fit(X[mask], y[mask])


def test_warm_start_with_changed_shape_is_a_clear_error(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(warm_start=True, max_iter=1).fit(X, y)
    clf.set_params(hidden_layer_sizes=(20,))
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        clf.fit(X, y)


def test_warm_start_with_other_features_is_an_error_and_keeps_the_model(digits_small,
                                                                       make_clf):
    X, y = digits_small
    clf = make_clf(warm_start=True, max_iter=1).fit(X, y)
    expected = clf.predict_proba(X)
    with pytest.raises(ValueError, match="X has 10 features"):
        clf.fit(X[:, :10], y)
    assert clf.n_features_in_ == 64
    np.testing.assert_array_equal(clf.predict_proba(X), expected)


def test_warm_start_adds_early_stopping(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(warm_start=True, max_iter=2).fit(X, y)
    clf.set_params(early_stopping=True, max_iter=3)
    clf.fit(X, y)
    assert len(clf.validation_scores_) >= 1
    assert clf.best_validation_score_ == max(clf.validation_scores_)


# -- partial_fit ----------------------------------------------------------------------------


def test_partial_fit_keeps_learning_with_the_default_schedule(digits_split):
    """The issue's stream: 100-row chunks of the digits, default parameters. 'cosine' has
    no horizon in partial_fit (every call trains at learning_rate_init), so the model keeps
    learning long after max_iter calls (before: 64% after 15 calls, 65% after 45;
    MLPClassifier driven the same way: 36%, 79%, 91% after 15, 45, 100)."""
    from sknn_mnist import MLPDigitClassifier

    X_train, X_test, y_train, y_test = digits_split
    clf = MLPDigitClassifier(random_state=0, device="cpu")
    rng = np.random.default_rng(0)
    scores = {}
    for call in range(1, 201):
        rows = rng.choice(len(X_train), 100, replace=False)
        clf.partial_fit(X_train[rows], y_train[rows], classes=np.arange(10))
        if call in (15, 45, 200):
            scores[call] = clf.score(X_test, y_test)
    assert clf.net_.optimizer_.param_groups[0]["lr"] == clf.learning_rate_init
    assert {row["lr"] for row in clf.net_.history} == {clf.learning_rate_init}
    assert scores[15] < scores[45] < scores[200]
    assert scores[45] > 0.85 and scores[200] > 0.95


def test_cosine_still_anneals_over_max_iter_in_fit(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(max_iter=4, learning_rate="cosine").fit(X, y)
    rates = [row["lr"] for row in clf.net_.history]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.2 * clf.learning_rate_init
    clf.partial_fit(X, y)  # then a stream: back at learning_rate_init, no horizon
    assert clf.net_.history[-1]["lr"] == clf.learning_rate_init


def test_partial_fit_needs_classes_on_first_call(digits_small, make_clf):
    X, y = digits_small
    with pytest.raises(ValueError, match="classes must be passed"):
        make_clf().partial_fit(X, y)


def test_partial_fit_with_early_stopping_is_an_error_as_in_mlpclassifier(digits_small,
                                                                        make_clf):
    X, y = digits_small
    sk = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=1)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping") as sk_exc:
        sk.partial_fit(X, y, classes=np.arange(10))
    clf = make_clf(early_stopping=True)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping") as exc:
        clf.partial_fit(X, y, classes=np.arange(10))
    assert str(exc.value) == str(sk_exc.value)
    assert not hasattr(clf, "net_")
    fitted = make_clf(early_stopping=True, max_iter=2).fit(X, y)
    expected = fitted.predict_proba(X)
    with pytest.raises(ValueError, match="early_stopping"):
        fitted.partial_fit(X, y)
    np.testing.assert_array_equal(fitted.predict_proba(X), expected)


def test_partial_fit_defines_every_mlpclassifier_attribute(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf().partial_fit(X, y, classes=np.arange(10))
    sk = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1).partial_fit(
        X, y, classes=np.arange(10))
    for name in {k for k in vars(sk) if k.endswith("_") and not k.startswith("_")}:
        assert hasattr(clf, name), name
    assert clf.best_validation_score_ is None
    assert clf.best_loss_ == min(clf.loss_curve_)


def test_partial_fit_one_epoch_per_call(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf()
    for i in range(1, 4):
        clf.partial_fit(X, y, classes=np.arange(10))
        assert clf.n_iter_ == 1  # one epoch per call, as MLPClassifier's n_iter_
        assert len(clf.loss_curve_) == i
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert clf.t_ == 3 * len(X)


def test_partial_fit_with_classes_missing_from_the_first_batch(digits_small, make_clf):
    X, y = digits_small
    first = y < 5
    clf = make_clf(learning_rate="constant")
    clf.partial_fit(X[first], y[first], classes=np.arange(10))
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.predict_proba(X).shape == (len(X), 10)
    for _ in range(10):
        clf.partial_fit(X, y)
    assert clf.score(X, y) > 0.7
    assert set(np.unique(clf.predict(X))) > set(range(5))


def test_partial_fit_rejects_unknown_labels(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf().partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="not in classes"):
        clf.partial_fit(X, y + 1)
    with pytest.raises(ValueError, match="not in classes"):
        make_clf().partial_fit(X, y, classes=np.arange(5))


def test_partial_fit_rejects_other_feature_counts(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf().partial_fit(X, y, classes=np.arange(10))
    with pytest.raises(ValueError, match="X has 10 features"):
        clf.partial_fit(X[:, :10], y)


def test_partial_fit_after_fit_continues(digits_small, make_clf):
    X, y = digits_small
    clf = make_clf(max_iter=3).fit(X, y)
    weights = clf.coefs_[0].copy()
    clf.partial_fit(X, y)
    assert clf.n_iter_ == 1
    assert len(clf.loss_curve_) == 4
    assert not np.array_equal(clf.coefs_[0], weights)
    # Weights change by one epoch, not a re-initialisation.
    assert np.abs(clf.coefs_[0] - weights).max() < np.abs(weights).max()


def test_partial_fit_is_reproducible(digits_small, make_clf):
    X, y = digits_small
    a, b = make_clf(), make_clf()
    for clf in (a, b):
        for _ in range(2):
            clf.partial_fit(X, y, classes=np.arange(10))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_lbfgs_has_no_partial_fit(make_clf):
    assert not hasattr(make_clf(solver="lbfgs"), "partial_fit")
    with pytest.raises(AttributeError) as excinfo:
        make_clf(solver="lbfgs").partial_fit  # noqa: B018
    assert "stochastic" in str(excinfo.value.__cause__)


# -- Ctrl-C ---------------------------------------------------------------------------------


def _interrupt_on_call(n):
    original = TensorBatchIterator.__iter__
    calls = {"count": 0}

    def iterate(self):
        calls["count"] += 1
        if calls["count"] == n:
            raise KeyboardInterrupt
        yield from original(self)

    return iterate


@pytest.mark.parametrize("early_stopping", [False, True])
def test_keyboard_interrupt_keeps_a_usable_model(digits_small, make_clf, early_stopping):
    X, y = digits_small
    clf = make_clf(max_iter=10, early_stopping=early_stopping)
    # Each epoch iterates the training set, then the validation set when there is one.
    third_epoch = 3 if not early_stopping else 5
    with mock.patch.object(TensorBatchIterator, "__iter__", _interrupt_on_call(third_epoch)):
        # Ctrl-C is re-raised (a grid search or script stops), after the completed
        # epochs were kept so that the model is consistent.
        with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
    assert clf.n_iter_ == 2
    assert len(clf.loss_curve_) == 2
    assert len(clf.net_.history) == 2
    pred = clf.predict(X)
    assert pred.shape == (len(X),)
    assert clf.score(X, y) > 0.3
    if early_stopping:
        assert len(clf.validation_scores_) == 2
    clf.set_params(early_stopping=False).partial_fit(X, y)  # training can go on
    assert len(clf.loss_curve_) == 3


def test_keyboard_interrupt_mid_epoch(digits_small, make_clf):
    X, y = digits_small
    original = TensorBatchIterator.__iter__
    calls = {"count": 0}

    def iterate(self):
        calls["count"] += 1
        for i, batch in enumerate(original(self)):
            if calls["count"] == 2 and i == 2:
                raise KeyboardInterrupt
            yield batch

    clf = make_clf(max_iter=10)
    with mock.patch.object(TensorBatchIterator, "__iter__", iterate):
        with pytest.warns(UserWarning, match="interrupted"), pytest.raises(KeyboardInterrupt):
            clf.fit(X, y)
    assert clf.n_iter_ == 1
    assert np.isfinite(clf.predict_proba(X)).all()


@pytest.mark.parametrize("partial", [False, True])
def test_keyboard_interrupt_in_the_first_epoch_leaves_the_model_as_it_was(
        digits_small, make_clf, partial):
    """No complete epoch: nothing is committed, the previous model stays exactly as it was
    (weights, curves, counters), and Ctrl-C is re-raised without the keep-warning."""
    X, y = digits_small
    clf = make_clf(max_iter=3).fit(X, y)
    before = {k: v for k, v in vars(clf).items() if k != "trainer_"}
    weights = {k: v.clone() for k, v in clf.net_.module_.state_dict().items()}
    history = len(clf.net_.history)
    proba = clf.predict_proba(X)
    with mock.patch.object(TensorBatchIterator, "__iter__", _interrupt_on_call(1)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "model keeps its weights" warning
            with pytest.raises(KeyboardInterrupt):
                clf.partial_fit(X, y) if partial else clf.fit(X, y)
    assert clf.n_iter_ == before["n_iter_"] and clf.loss_curve_ == before["loss_curve_"]
    assert clf.t_ == before["t_"] and len(clf.net_.history) == history
    for k, v in clf.net_.module_.state_dict().items():
        assert torch.equal(v, weights[k]), k
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


# -- verbose --------------------------------------------------------------------------------


def test_verbose_prints_one_line_per_epoch(digits_small, make_clf, capsys):
    X, y = digits_small
    clf = make_clf(verbose=1, max_iter=4).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    # skorch's PrintLog: a header, a rule, then one row per epoch.
    assert len(lines) == 2 + clf.n_iter_ == 6
    assert lines[0].split() == ["epoch", "lr", "train_loss", "dur"]
    assert [int(line.split()[0]) for line in lines[2:]] == [1, 2, 3, 4]
    for line, loss in zip(lines[2:], clf.loss_curve_, strict=True):
        assert float(line.split()[2]) == pytest.approx(loss, rel=1e-3)


def test_verbose_with_early_stopping_shows_validation(digits_small, make_clf, capsys):
    X, y = digits_small
    clf = make_clf(verbose=True, max_iter=3, early_stopping=True).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 + clf.n_iter_
    assert {"valid_acc", "valid_loss", "train_loss"} <= set(lines[0].split())


@pytest.mark.parametrize("params", [{}, {"early_stopping": True}, {"solver": "lbfgs"}])
def test_verbose_zero_prints_nothing(digits_small, make_clf, capsys, params):
    X, y = digits_small
    clf = make_clf(verbose=0, max_iter=3, **params).fit(X, y)
    clf.predict(X)
    if params.get("solver") != "lbfgs" and not clf.early_stopping:
        clf.partial_fit(X, y)
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ""


# -- divergence and batch normalisation ----------------------------------------------------


@pytest.mark.parametrize("cnn", [False, True])
def test_a_finite_but_diverged_fit_warns(digits_small, cnn):
    """A learning rate of 1e3 ends far above chance loss without overflowing: say so."""
    from sknn_mnist import CNNDigitClassifier, MLPDigitClassifier

    X, y = digits_small
    clf = (CNNDigitClassifier(channels=(4,), max_iter=2) if cnn
           else MLPDigitClassifier(max_iter=5))
    clf.set_params(learning_rate_init=1e3, random_state=0, device="cpu")
    with pytest.warns(ConvergenceWarning, match="Training diverged") as record:
        clf.fit(X, y)
    assert record[0].filename == __file__  # points at the user's line
    assert np.isfinite(clf.loss_)


def test_a_sound_fit_does_not_warn_of_divergence(digits_small, make_clf):
    X, y = digits_small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_clf(learning_rate="cosine").fit(X, y)


def test_batch_norm_with_batches_of_one_is_refused_clearly(digits_small, make_clf):
    X, y = digits_small
    with pytest.raises(ValueError, match="batch_norm=True needs batches of at least 2"):
        make_clf(batch_norm=True, batch_size=1).fit(X[:50], y[:50])
