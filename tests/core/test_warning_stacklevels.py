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


def _filenames(record, category: type[Warning]) -> list[str]:
    return [w.filename for w in record if issubclass(w.category, category)]


@pytest.mark.parametrize("params", [dict(learning_rate="constant"), dict(solver="lbfgs")],
                         ids=["adam", "lbfgs"])
def test_convergence_warning_points_at_the_fit_call(make_clf, digits_small, params):
    X, y = digits_small
    with pytest.warns(ConvergenceWarning) as record:
        make_clf(max_iter=1, **params).fit(X, y)
    assert _filenames(record, ConvergenceWarning) == [__file__]


@pytest.fixture
def interrupt_in_the_second_epoch(monkeypatch):
    """Ctrl-C during the second batch of the second epoch of the next fit (600 rows in
    batches of 64: 10 batches an epoch), after one complete epoch."""
    from sknn_mnist.core.net import SlicingNeuralNetClassifier

    train_step_single = SlicingNeuralNetClassifier.train_step_single
    calls = []

    def interrupted(self, batch, **kwargs):
        calls.append(1)
        if len(calls) == 12:
            raise KeyboardInterrupt
        return train_step_single(self, batch, **kwargs)

    monkeypatch.setattr(SlicingNeuralNetClassifier, "train_step_single", interrupted)
    return calls


def test_interrupted_training_warning_points_at_the_call(make_clf, digits_small,
                                                         interrupt_in_the_second_epoch):
    X, y = digits_small
    clf = make_clf(max_iter=3, batch_size=64)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning,
                                                        match="interrupted") as record:
        clf.fit(X, y)
    assert _filenames(record, UserWarning) == [__file__]
    assert clf.n_iter_ == 1  # the complete epoch was kept


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
