"""Warnings point at the user's line (their ``stacklevel``), not at the package's internals.

Each test calls the public API from this file, so a warning with the right stacklevel has
``filename == __file__``. The dataset loader's warnings are checked where they are raised,
in ``test_datasets_cache.py``.
"""

from __future__ import annotations

import pickle

import pytest
import torch
from sklearn.exceptions import ConvergenceWarning

from sknn_mnist.persistence import ModelVersionWarning, load_model, save_model

# Two warnings raised in core/classifier.py count one frame per call but miss the wrapper
# that scikit-learn's @_fit_context puts around fit and partial_fit: the ConvergenceWarning
# (stacklevel=4: it points at fit() itself; it needs 6) and the interrupted-training
# UserWarning (stacklevel=4: it points at sklearn/base.py; it needs 5). Reported to the owner
# of that file; strict, so that the fix shows up here as an XPASS to remove these marks.
CONVERGENCE_STACKLEVEL_BUG = pytest.mark.xfail(
    strict=True, reason="ConvergenceWarning stacklevel=4 in core/classifier.py points at "
                        "fit(), not at its caller")
INTERRUPT_STACKLEVEL_BUG = pytest.mark.xfail(
    strict=True, reason="the interrupted-training warning's stacklevel=4 in "
                        "core/classifier.py points at scikit-learn's _fit_context wrapper")


def _filenames(record, category: type[Warning]) -> list[str]:
    return [w.filename for w in record if issubclass(w.category, category)]


@CONVERGENCE_STACKLEVEL_BUG
@pytest.mark.parametrize("params", [dict(learning_rate="constant"), dict(solver="lbfgs")],
                         ids=["adam", "lbfgs"])
def test_convergence_warning_points_at_the_fit_call(make_clf, digits_small, params):
    X, y = digits_small
    with pytest.warns(ConvergenceWarning) as record:
        make_clf(max_iter=1, **params).fit(X, y)
    assert _filenames(record, ConvergenceWarning) == [__file__]


@pytest.fixture
def interrupt_third_batch(monkeypatch):
    """Ctrl-C during the third training batch of the next fit."""
    from sknn_mnist.core.net import SlicingNeuralNetClassifier

    train_step_single = SlicingNeuralNetClassifier.train_step_single
    calls = []

    def interrupted(self, batch, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return train_step_single(self, batch, **kwargs)

    monkeypatch.setattr(SlicingNeuralNetClassifier, "train_step_single", interrupted)
    return calls


@INTERRUPT_STACKLEVEL_BUG
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_interrupted_training_warning_points_at_the_call(make_clf, digits_small, method,
                                                         interrupt_third_batch):
    X, y = digits_small
    clf = make_clf(max_iter=2, batch_size=64)
    kwargs = {"classes": sorted(set(y))} if method == "partial_fit" else {}
    if method == "partial_fit":  # two batches' worth of a first call, then Ctrl-C
        clf.partial_fit(X[:128], y[:128], **kwargs)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning,
                                                        match="interrupted") as record:
        getattr(clf, method)(X, y, **kwargs)
    assert _filenames(record, UserWarning) == [__file__]


def test_model_version_warning_points_at_load_model(make_clf, digits_small, tmp_path,
                                                    monkeypatch):
    from sknn_mnist.io import persistence

    X, y = digits_small
    path = save_model(make_clf(max_iter=1).fit(X, y), tmp_path / "m.skops")
    installed = {**persistence.library_versions(), "sknn_mnist": "999.0"}  # an upgrade
    monkeypatch.setattr(persistence, "library_versions", lambda: installed)
    with pytest.warns(ModelVersionWarning) as record:
        load_model(path)
    assert _filenames(record, ModelVersionWarning) == [__file__]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU fallback needs no CUDA")
def test_cuda_model_loaded_without_cuda_warns_at_the_load(make_clf, digits_small):
    X, y = digits_small
    clf = make_clf(max_iter=1).fit(X, y)
    clf.device = "cuda"  # as if it had been trained on a GPU
    data = pickle.dumps(clf)
    with pytest.warns(UserWarning, match="loaded on the CPU instead") as record:
        loaded = pickle.loads(data)
    assert _filenames(record, UserWarning) == [__file__]
    assert loaded.device_ == "cpu"
