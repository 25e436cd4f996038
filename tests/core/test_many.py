"""The stacked trainer behind fit_many: each network as its own fit would train it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from sknn_mnist import CNNDigitClassifier, MLPDigitClassifier
from sknn_mnist.core.many import FitJob, fit_many, stack_key
from sknn_mnist.core.stacked import trainer as stacked_trainer


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:600], y[:600]


def _folds(X, y, n=3):
    """Training rows of ``n`` folds of different sizes (the last batch differs)."""
    rows = [np.flatnonzero(np.arange(len(X)) % n != f) for f in range(n)]
    rows[1] = rows[1][:-7]
    return [(X[r], y[r]) for r in rows]


def _jobs(base, candidates, folds, sample_weight=False):
    jobs = []
    for params in candidates:
        for X, y in folds:
            weight = np.linspace(0.5, 1.5, len(X)) if sample_weight else None
            jobs.append(FitJob(clone(base).set_params(**params), X, y, weight))
    return jobs


def _sequential(jobs):
    fitted = []
    for job in jobs:
        estimator = clone(job.estimator)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            estimator.fit(job.X, job.y, sample_weight=job.sample_weight)
        fitted.append(estimator)
    return fitted


def _stacked(jobs, **kwargs):
    calls = []
    original = stacked_trainer.StackedTrainer.train

    def counting(self):
        calls.append(len(self.members))
        return original(self)

    stacked_trainer.StackedTrainer.train = counting
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            results = fit_many(jobs, **kwargs)
    finally:
        stacked_trainer.StackedTrainer.train = original
    return results, calls


def _assert_same_fit(stacked, sequential, atol=1e-6, rtol=1e-9):
    assert stacked.n_iter_ == sequential.n_iter_
    np.testing.assert_allclose(stacked.loss_curve_, sequential.loss_curve_, rtol=rtol)
    for a, b in zip(stacked.net_.module_.state_dict().values(),
                    sequential.net_.module_.state_dict().values(), strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=atol, rtol=0)
    if sequential.validation_scores_ is not None:
        np.testing.assert_allclose(stacked.validation_scores_, sequential.validation_scores_)
        assert stacked.best_validation_score_ == pytest.approx(
            sequential.best_validation_score_)
    assert [r.get("stop") for r in stacked.net_.history] == [
        r.get("stop") for r in sequential.net_.history]
    assert stacked.t_ == sequential.t_


CASES = {
    "adam": ({}, [dict(alpha=1e-4, learning_rate_init=1e-3, random_state=0),
                  dict(alpha=1e-1, learning_rate_init=1e-2, random_state=1)]),
    "sgd-nesterov": ({"solver": "sgd"}, [
        dict(momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.05, random_state=0),
        dict(momentum=0.5, nesterovs_momentum=False, learning_rate_init=0.1, random_state=2),
        dict(momentum=0.0, learning_rate_init=0.1, random_state=3)]),
    "adamw": ({"solver": "adamw"}, [dict(alpha=1e-2, random_state=0),
                                    dict(alpha=1e-3, random_state=4)]),
    "schedules": ({"solver": "sgd"}, [
        dict(learning_rate="invscaling", learning_rate_init=0.2, power_t=0.3, random_state=0),
        dict(learning_rate="adaptive", learning_rate_init=0.5, n_iter_no_change=1, tol=0.5,
             random_state=1),
        dict(learning_rate="cosine", learning_rate_init=0.1, random_state=2)]),
    "early-stopping": ({"early_stopping": True}, [
        dict(n_iter_no_change=2, tol=1e-2, validation_fraction=0.2, random_state=0),
        dict(n_iter_no_change=3, tol=0.0, validation_fraction=0.3, random_state=5,
             learning_rate_init=0.05)]),
    "tol-stop": ({}, [dict(tol=0.05, n_iter_no_change=1, random_state=0),
                      dict(tol=1e-4, n_iter_no_change=10, random_state=1, max_iter=4)]),
    "batch-norm": ({"batch_norm": True}, [dict(random_state=0, batch_size=50),
                                          dict(random_state=1, batch_size=64)]),
    "no-shuffle": ({"shuffle": False}, [dict(random_state=0), dict(random_state=1)]),
    # One random_state: the candidates of a fold read the same batches.
    "same-seed": ({"random_state": 0}, [dict(alpha=1e-4), dict(alpha=1e-2),
                                        dict(learning_rate_init=1e-2, dropout=0.0)]),
    "same-seed-no-shuffle": ({"random_state": 0, "shuffle": False, "solver": "sgd"}, [
        dict(momentum=0.9), dict(momentum=0.0, learning_rate_init=0.2)]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stack_matches_sequential_fits_in_float64(digits, case):
    """In float64 every network's weights match its own fit to 1e-6 after 8 epochs
    (folds of different sizes, per-network hyperparameters)."""
    shared, candidates = CASES[case]
    base = MLPDigitClassifier(hidden_layer_sizes=(24, 12), max_iter=8, batch_size=32,
                              dtype="float64", **shared)
    jobs = _jobs(base, candidates, _folds(*digits))
    # max_networks: stacked even where the CPU policy would fit them alone (batch norm).
    results, calls = _stacked(jobs, max_networks=16)
    assert sum(calls) == len(jobs) and len(calls) >= 1  # trained in stacks, not one by one
    for result, sequential in zip(results, _sequential(jobs), strict=True):
        assert result.error is None
        _assert_same_fit(result.estimator, sequential)


def test_sample_weights_are_each_networks_own(digits):
    base = MLPDigitClassifier(hidden_layer_sizes=(16,), max_iter=5, dtype="float64")
    jobs = _jobs(base, [dict(random_state=0), dict(random_state=1)], _folds(*digits),
                 sample_weight=True)
    results, calls = _stacked(jobs)
    assert calls == [len(jobs)]
    for result, sequential in zip(results, _sequential(jobs), strict=True):
        _assert_same_fit(result.estimator, sequential)


def test_dropout_networks_train_in_a_stack_to_the_same_accuracy(digits):
    """Dropout masks come from the stack's own stream (not the ones a single fit draws):
    the accuracy is that of single fits within seed noise."""
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(64,), dropout=0.3, max_iter=15,
                              batch_size=32)
    jobs = _jobs(base, [dict(random_state=s) for s in range(4)], [(X[:400], y[:400])])
    results, calls = _stacked(jobs)
    assert calls == [4]
    stacked = [r.estimator.score(X[400:], y[400:]) for r in results]
    single = [e.score(X[400:], y[400:]) for e in _sequential(jobs)]
    assert abs(np.mean(stacked) - np.mean(single)) < 3 * np.std(single) + 0.02


def test_float32_stack_matches_within_seed_noise(digits):
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=10, batch_size=32)
    jobs = _jobs(base, [dict(random_state=s) for s in range(3)], [(X[:400], y[:400])])
    results, _ = _stacked(jobs)
    for result, sequential in zip(results, _sequential(jobs), strict=True):
        assert result.estimator.score(X[400:], y[400:]) == pytest.approx(
            sequential.score(X[400:], y[400:]), abs=0.02)


def test_stacked_model_continues_with_partial_fit_as_a_single_fit(digits):
    """The optimizer state, the shuffle generator and the history go to the estimator."""
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(16,), max_iter=3, dtype="float64",
                              learning_rate="invscaling", solver="sgd", momentum=0.9)
    jobs = _jobs(base, [dict(random_state=0), dict(random_state=1)], [(X, y)])
    results, _ = _stacked(jobs)
    for result, sequential in zip(results, _sequential(jobs), strict=True):
        result.estimator.partial_fit(X, y)
        sequential.partial_fit(X, y)
        _assert_same_fit(result.estimator, sequential)


def test_max_networks_splits_the_stack(digits):
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=2)
    jobs = _jobs(base, [dict(random_state=s) for s in range(5)], [(X, y)])
    _, calls = _stacked(jobs, max_networks=2)
    assert calls == [2, 2]  # and the fifth alone: a stack of one is its own fit


def test_failures_are_reported_per_job_and_the_others_train(digits):
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=3)
    jobs = _jobs(base, [dict(random_state=0), dict(random_state=1, learning_rate_init=1e30),
                        dict(random_state=2, alpha=-1.0)], [(X, y)])
    results, calls = _stacked(jobs)
    assert calls == [2]
    # The diverged network's NaNs do not reach the others.
    assert results[0].error is None
    _assert_same_fit(results[0].estimator, _sequential(jobs[:1])[0], atol=1e-5, rtol=1e-5)
    assert isinstance(results[1].error, ValueError)
    assert "non-finite" in str(results[1].error)
    with pytest.raises(ValueError, match="non-finite"):  # as its own fit says
        clone(jobs[1].estimator).fit(X, y)
    assert not hasattr(results[1].estimator, "coefs_")
    assert "alpha" in str(results[2].error)


def test_what_cannot_stack_is_fitted_alone(digits):
    X, y = digits
    lbfgs = MLPDigitClassifier(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5)
    assert stack_key(lbfgs) is None
    assert stack_key(MLPDigitClassifier()) != stack_key(MLPDigitClassifier(
        hidden_layer_sizes=(7,)))
    assert stack_key(MLPDigitClassifier(alpha=1.0)) == stack_key(MLPDigitClassifier())
    jobs = [FitJob(lbfgs, X, y), FitJob(MLPDigitClassifier(hidden_layer_sizes=(8,),
                                                           max_iter=2), X, y)]
    results, calls = _stacked(jobs)
    assert calls == [] and all(r.error is None for r in results)


def test_fold_missing_a_class_gets_its_own_stack(digits):
    X, y = digits
    keep = y != 9
    base = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    jobs = [FitJob(clone(base), X, y), FitJob(clone(base), X[keep], y[keep]),
            FitJob(clone(base).set_params(random_state=1), X, y)]
    results, calls = _stacked(jobs)
    assert calls == [2]  # the 9-class fold trains alone, with its own fit
    assert len(results[1].estimator.classes_) == 9


def test_cnn_trains_in_a_stack(digits):
    X, y = digits
    base = CNNDigitClassifier(channels=(4,), dense_units=16, max_iter=2, batch_size=32,
                              dtype="float64", conv_dropout=0.0, dense_dropout=0.0,
                              batch_norm=True)
    jobs = _jobs(base, [dict(random_state=0), dict(random_state=1, alpha=1e-2)],
                 [(X[:300], y[:300])])
    # On a CPU the vmap path does not pay (benchmarks/stack_scaling.py): fitted alone...
    assert _stacked(jobs)[1] == []
    # ... unless asked for; then each network as its own fit trains it.
    jobs = [FitJob(clone(job.estimator), job.X, job.y) for job in jobs]
    results, calls = _stacked(jobs, max_networks=2)
    assert calls == [2]
    for result, sequential in zip(results, _sequential(jobs), strict=True):
        _assert_same_fit(result.estimator, sequential)


def test_verbose_says_how_it_stacked(digits, capsys):
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=1)
    fit_many(_jobs(base, [dict(random_state=s) for s in range(3)], [(X, y)]), verbose=1)
    assert "3 MLPDigitClassifier networks on cpu: 1 stack(s)" in capsys.readouterr().out


def test_chunks_follow_the_memory_budget(monkeypatch):
    import torch

    from sknn_mnist.core.stacked import memory

    module = MLPDigitClassifier()._build_module(64, 10)
    sample = torch.zeros(1, 64)
    per_network = memory.network_bytes(module, sample, batch_size=200)
    weights = sum(p.numel() for p in module.parameters()) * 4
    assert per_network > 6 * weights  # the activations of a batch come on top
    cpu = torch.device("cpu")
    monkeypatch.setattr(memory, "free_bytes", lambda device: 10 * per_network)
    assert memory.chunk_size(per_network, cpu, 100) == 2  # a quarter of the free memory
    monkeypatch.setattr(memory, "free_bytes", lambda device: 10**15)
    assert memory.chunk_size(per_network, cpu, 100) == memory.MAX_NETWORKS_CPU
    assert memory.chunk_size(per_network, cpu, 3) == 3
    # The CPU stops stacking where a step is large enough on its own.
    step = memory.STEP_FLOPS_CPU / 8
    assert memory.chunk_size(per_network, cpu, 100, step_flops=step) == 8
    assert memory.chunk_size(per_network, cpu, 100, step_flops=10**12) == 2
    assert memory.chunk_size(per_network, cpu, 100, vectorised=True) == 1
    assert memory.chunk_size(per_network, torch.device("cuda"), 1000, vectorised=True) == (
        memory.MAX_NETWORKS_CUDA)
    assert memory.chunk_size(per_network, cpu, 100, max_networks=5) == 5


def test_ctrl_c_leaves_the_stacked_jobs_unfitted(digits, monkeypatch):
    X, y = digits
    base = MLPDigitClassifier(hidden_layer_sizes=(8,), max_iter=5)
    jobs = _jobs(base, [dict(random_state=0), dict(random_state=1)], [(X, y)])
    calls = {"n": 0}
    original = stacked_trainer._Loop.run_epoch

    def interrupt_second_epoch(self):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(stacked_trainer._Loop, "run_epoch", interrupt_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit_many(jobs)
    assert not any(hasattr(job.estimator, "coefs_") for job in jobs)


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_regressors_stack_too(loss):
    from sklearn.datasets import load_diabetes

    from sknn_mnist import TorchMLPRegressor

    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = y / y.std() if loss == "squared_error" else y / 50.0
    base = TorchMLPRegressor(hidden_layer_sizes=(16,), max_iter=6, dtype="float64",
                             loss=loss, early_stopping=True, n_iter_no_change=2)
    jobs = _jobs(base, [dict(random_state=0), dict(random_state=1, alpha=1e-2)],
                 _folds(X, y))
    results, calls = _stacked(jobs, max_networks=16)
    assert sum(calls) == len(jobs)
    for result, sequential in zip(results, _sequential(jobs), strict=True):
        assert result.error is None
        _assert_same_fit(result.estimator, sequential)

