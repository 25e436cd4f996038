"""CUDA: training on the GPU, agreement with the CPU, and GPU models that load anywhere.

Skipped without a CUDA device.
"""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "auto"])
def test_fit_on_cuda(digits_small, make_clf, device):
    X, y = digits_small
    clf = make_clf(device=device).fit(X, y)
    assert clf.device_.startswith("cuda")
    assert next(clf.net_.module_.parameters()).is_cuda
    assert all(isinstance(c, np.ndarray) for c in clf.coefs_)
    proba = clf.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.dtype == np.float64
    assert clf.score(X, y) > 0.8


def test_cuda_index_out_of_range_is_a_clear_error(digits_small, make_clf):
    X, y = digits_small
    bad = f"cuda:{torch.cuda.device_count()}"
    with pytest.raises(ValueError, match="CUDA device"):
        make_clf(device=bad).fit(X, y)


def test_cuda_and_cpu_agree(digits_split, make_clf):
    X_train, X_test, y_train, y_test = digits_split
    # float64 removes the float32 differences between CPU and GPU kernels.
    cpu = make_clf(device="cpu", dtype="float64", max_iter=10).fit(X_train, y_train)
    gpu = make_clf(device="cuda", dtype="float64", max_iter=10).fit(X_train, y_train)
    np.testing.assert_allclose(gpu.predict_proba(X_test), cpu.predict_proba(X_test),
                               atol=1e-5)
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=1e-6)
    cpu32 = make_clf(device="cpu", max_iter=10).fit(X_train, y_train)
    gpu32 = make_clf(device="cuda", max_iter=10).fit(X_train, y_train)
    assert np.mean(gpu32.predict(X_test) == cpu32.predict(X_test)) > 0.97
    np.testing.assert_allclose(gpu32.loss_curve_, cpu32.loss_curve_, rtol=1e-2)


@pytest.mark.parametrize("params", [{}, {"dropout": 0.2, "batch_norm": True},
                                    {"early_stopping": True}])
def test_cuda_reproducibility(digits_small, make_clf, params):
    X, y = digits_small
    a = make_clf(device="cuda", **params).fit(X, y)
    b = make_clf(device="cuda", **params).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-5)
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-5)


def test_fit_on_cuda_leaves_cuda_rng_alone(digits_small, make_clf):
    X, y = digits_small
    state = torch.cuda.get_rng_state()
    make_clf(device="cuda", dropout=0.3).fit(X, y)
    assert torch.equal(torch.cuda.get_rng_state(), state)


def test_cuda_model_pickles_with_cpu_tensors(digits_small, make_clf, monkeypatch):
    X, y = digits_small
    clf = make_clf(device="cuda").fit(X, y)
    expected = clf.predict_proba(X)
    data = pickle.dumps(clf)

    state = clf.__getstate__()
    saved = torch.load(io.BytesIO(state["_net_state"]["torch"]), weights_only=True)
    assert all(t.device.type == "cpu" for t in saved["module"].values())

    loaded = pickle.loads(data)  # on this GPU machine it goes back to the GPU
    assert loaded.device_.startswith("cuda")
    np.testing.assert_array_equal(loaded.predict_proba(X), expected)

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU-only machine
    with pytest.warns(UserWarning, match="CUDA"):
        on_cpu = pickle.loads(data)
    assert on_cpu.device_ == "cpu"
    np.testing.assert_allclose(on_cpu.predict_proba(X), expected, atol=1e-5)
    on_cpu.partial_fit(X, y)
    assert len(on_cpu.loss_curve_) == len(clf.loss_curve_) + 1


def test_stacked_fits_on_cuda_match_single_cuda_fits(digits_small):
    """fit_many on the GPU: each float64 network as its own CUDA fit trains it."""
    from sklearn.base import clone

    from sknn_mnist import MLPDigitClassifier
    from sknn_mnist.core.many import FitJob, fit_many

    X, y = digits_small
    base = MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=4, dtype="float64",
                              device="cuda", batch_size=32)
    params = [dict(random_state=0), dict(random_state=1, alpha=1e-2),
              dict(random_state=2, learning_rate_init=1e-2)]
    jobs = [FitJob(clone(base).set_params(**p), X, y) for p in params]
    results = fit_many(jobs)
    for job, result in zip(jobs, results, strict=True):
        assert result.error is None and result.estimator.device_.startswith("cuda")
        single = clone(job.estimator).fit(X, y)
        for a, b in zip(result.estimator.coefs_, single.coefs_, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6)
