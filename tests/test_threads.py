"""The thread policy: how many intra-op threads torch uses around our own work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed, parallel_config
from torch import nn

from sknn_mnist.core import threads as _threads
from sknn_mnist.core.threads import (
    SINGLE_THREAD_BELOW_FLOPS,
    forward_flops,
    mlp_step_flops,
    step_flops,
    thread_policy,
    threads_for,
    user_chose_threads,
)

SMALL = SINGLE_THREAD_BELOW_FLOPS / 10
LARGE = SINGLE_THREAD_BELOW_FLOPS * 10


@pytest.fixture
def default_threads(monkeypatch):
    """torch at 2 threads, that count being torch's default, no env limits, idle machine.

    The suite runs with OMP_NUM_THREADS=1; this recreates the situation of a user who set
    nothing, and puts the caller's count back afterwards.
    """
    before = torch.get_num_threads()
    for name in _threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    torch.set_num_threads(2)
    monkeypatch.setattr(_threads, "_THREADS_AT_IMPORT", 2)
    monkeypatch.setattr(_threads, "busy_cores", lambda: 0)
    monkeypatch.setattr(_threads, "usable_cores", lambda: 2)
    yield 2
    torch.set_num_threads(before)


def test_mlp_step_flops_counts_matrix_products():
    # 64-100-50-10 on 64 rows: forward 2 * 64 * (6400 + 5000 + 500); training 3x that.
    assert mlp_step_flops(64, (100, 50), 10, 64, training=False) == 2 * 64 * 11_900
    assert mlp_step_flops(64, (100, 50), 10, 64) == 3 * 2 * 64 * 11_900
    assert mlp_step_flops(784, (), 10, 1, training=False) == 2 * 7840


def test_forward_flops_matches_the_formula_and_counts_convolutions():
    mlp = nn.Sequential(nn.Linear(64, 100), nn.ReLU(), nn.Linear(100, 50), nn.ReLU(),
                        nn.Linear(50, 10))
    assert forward_flops(mlp, torch.zeros(8, 64)) == mlp_step_flops(64, (100, 50), 10, 8,
                                                                    training=False)
    # 1 -> 4 channels, 3x3 kernel on 8x8: 4 * 6 * 6 outputs, 9 multiply-adds each,
    # then Linear(144, 10).
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Flatten(),
                        nn.Linear(144, 10))
    cnn.train()
    assert forward_flops(cnn, torch.zeros(1, 1, 8, 8)) == 2 * 144 * 9 + 2 * 1440
    assert all(m.training for m in cnn.modules()), "the module's mode must be restored"
    assert not any(m._forward_hooks for m in cnn.modules()), "hooks must be removed"


def test_step_flops_counts_mlps_by_shape_and_cnns_by_a_forward_pass():
    mlp = nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10))
    sample = torch.zeros(5, 784)
    assert step_flops(mlp, sample, 64, training=True) == mlp_step_flops(784, (100,), 10, 64)
    assert step_flops(mlp, sample, 8, training=False) == forward_flops(mlp, sample[:1]) * 8
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Dropout(0.5), nn.Flatten(), nn.Linear(144, 10))
    state = torch.get_rng_state()
    assert step_flops(cnn, torch.zeros(3, 1, 8, 8), 2, training=True) == (
        3 * 2 * (2 * 144 * 9 + 2 * 1440))
    assert torch.equal(torch.get_rng_state(), state), "the caller's RNG must not move"


def test_threads_for_small_steps_is_one_and_large_steps_keep_the_free_cores(monkeypatch):
    monkeypatch.setattr(_threads, "usable_cores", lambda: 4)
    assert threads_for(SMALL, 4) == 1
    assert threads_for(LARGE, 4) == 4
    assert threads_for(LARGE, 2) == 2, "never more than the caller allows"
    assert threads_for(LARGE, 4, busy=3) == 1, "cores busy elsewhere are not used"
    assert threads_for(LARGE, 4, busy=9) == 1


def test_busy_cores_reads_a_count():
    assert _threads.busy_cores() >= 0


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_own_running_threads_sees_the_calling_thread():
    # busy_cores subtracts these, so that our own spinning OpenMP workers never make an idle
    # machine look busy (that halved predict_proba's speed before).
    assert _threads._own_running_threads() >= 1


def test_small_work_runs_single_threaded_and_restores(default_threads):
    with thread_policy(SMALL) as threads:
        assert threads == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == default_threads


def test_large_work_keeps_the_threads(default_threads):
    with thread_policy(LARGE) as threads:
        assert threads == torch.get_num_threads() == default_threads
    assert torch.get_num_threads() == default_threads


def test_large_work_on_a_busy_machine_runs_single_threaded(default_threads, monkeypatch):
    monkeypatch.setattr(_threads, "busy_cores", lambda: 1)
    with thread_policy(LARGE) as threads:
        assert threads == torch.get_num_threads() == 1
    assert torch.get_num_threads() == default_threads


def test_flops_are_computed_only_when_there_is_a_choice(default_threads, monkeypatch):
    calls = []

    def flops() -> float:
        calls.append(1)
        return SMALL

    with thread_policy(flops, device="cuda"):
        pass
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    with thread_policy(flops):
        pass
    assert calls == []
    monkeypatch.delenv("OMP_NUM_THREADS")
    with thread_policy(flops) as threads:
        assert threads == 1
    assert calls == [1]


def test_restores_after_an_exception(default_threads):
    with pytest.raises(KeyboardInterrupt), thread_policy(SMALL):
        assert torch.get_num_threads() == 1
        raise KeyboardInterrupt
    assert torch.get_num_threads() == default_threads


def test_nested_blocks_keep_the_outer_choice(default_threads):
    with thread_policy(SMALL):
        with thread_policy(LARGE) as inner:
            assert inner == torch.get_num_threads() == 1
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == default_threads


@pytest.mark.parametrize("name", _threads.THREAD_ENV_VARS)
def test_environment_limits_are_respected(default_threads, monkeypatch, name):
    monkeypatch.setenv(name, "2")
    assert user_chose_threads()
    with thread_policy(SMALL) as threads:
        assert threads == torch.get_num_threads() == default_threads


def test_an_explicit_set_num_threads_is_respected(default_threads):
    torch.set_num_threads(3)  # differs from torch's count at import: the user's choice
    with thread_policy(SMALL) as threads:
        assert threads == torch.get_num_threads() == 3
    assert torch.get_num_threads() == 3


def test_a_threadpoolctl_limit_is_respected(default_threads):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(3, user_api="openmp"):  # torch reads OpenMP's count
        with thread_policy(SMALL) as threads:
            assert threads == torch.get_num_threads() == 3
    assert torch.get_num_threads() == default_threads


def test_cuda_work_leaves_the_threads_alone(default_threads):
    with thread_policy(SMALL, device="cuda") as threads:
        assert threads == torch.get_num_threads() == default_threads


def _worker_sees_a_choice() -> bool:
    from sknn_mnist.core.threads import user_chose_threads

    return user_chose_threads()


def test_joblib_inner_max_num_threads_reaches_loky_workers_as_a_choice(monkeypatch):
    # loky passes the limit to its workers as OMP_NUM_THREADS & co. in their environment;
    # the parent's own limits are removed so that the workers cannot inherit them.
    for name in _threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        seen = Parallel(n_jobs=2)(delayed(_worker_sees_a_choice)() for _ in range(2))
    assert seen == [True, True]


@pytest.fixture
def threads_seen(monkeypatch):
    """Record torch's thread count at every training step and prediction forward pass."""
    from sknn_mnist.core.net import SlicingNeuralNetClassifier

    seen: dict[str, set[int]] = {"train": set(), "predict": set()}
    train_step_single = SlicingNeuralNetClassifier.train_step_single
    evaluation_step = SlicingNeuralNetClassifier.evaluation_step

    def spy_train(self, batch, **kwargs):
        seen["train"].add(torch.get_num_threads())
        return train_step_single(self, batch, **kwargs)

    def spy_eval(self, batch, training=False):
        seen["predict"].add(torch.get_num_threads())
        return evaluation_step(self, batch, training)

    monkeypatch.setattr(SlicingNeuralNetClassifier, "train_step_single", spy_train)
    monkeypatch.setattr(SlicingNeuralNetClassifier, "evaluation_step", spy_eval)
    return seen


def test_a_small_fit_and_predict_run_single_threaded(default_threads, threads_seen, make_clf,
                                                      digits_small):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=(32,), max_iter=2, batch_size=64).fit(X, y)
    clf.predict(X)
    assert threads_seen == {"train": {1}, "predict": {1}}
    assert torch.get_num_threads() == default_threads


def test_a_large_fit_keeps_the_cores_unless_they_are_busy(default_threads, threads_seen,
                                                          make_clf, digits_small, monkeypatch):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=(1024, 1024), max_iter=1, batch_size=200)
    clf.fit(X[:200], y[:200])
    assert threads_seen["train"] == {default_threads}
    monkeypatch.setattr(_threads, "busy_cores", lambda: 1)
    threads_seen["train"].clear()
    clf.fit(X[:200], y[:200])
    assert threads_seen["train"] == {1}
    assert torch.get_num_threads() == default_threads


def test_an_interrupted_fit_restores_the_callers_threads(default_threads, make_clf,
                                                        digits_small, monkeypatch):
    from sknn_mnist.core.net import SlicingNeuralNetClassifier

    X, y = digits_small
    train_step_single = SlicingNeuralNetClassifier.train_step_single
    calls = []

    def interrupted(self, batch, **kwargs):
        calls.append(torch.get_num_threads())
        if len(calls) == 3:
            raise KeyboardInterrupt
        return train_step_single(self, batch, **kwargs)

    monkeypatch.setattr(SlicingNeuralNetClassifier, "train_step_single", interrupted)
    with pytest.raises(KeyboardInterrupt), pytest.warns(UserWarning, match="interrupted"):
        make_clf(max_iter=2, batch_size=64).fit(X, y)
    assert calls == [1, 1, 1]
    assert torch.get_num_threads() == default_threads


def test_the_direct_training_step_gives_skorchs_results(make_clf, digits_small, monkeypatch):
    from sknn_mnist.core.net import SlicingNeuralNetClassifier

    X, y = digits_small
    fast = make_clf(max_iter=3, batch_size=32).fit(X, y)
    assert not fast.net_._listens_to_grads()
    monkeypatch.setattr(SlicingNeuralNetClassifier, "_listens_to_grads", lambda self: True)
    skorch_step = make_clf(max_iter=3, batch_size=32).fit(X, y)
    assert fast.loss_curve_ == skorch_step.loss_curve_
    np.testing.assert_array_equal(fast.predict_proba(X), skorch_step.predict_proba(X))


def test_a_gradient_listener_gets_skorchs_step(make_clf, digits_small):
    from skorch.callbacks import Callback

    from sknn_mnist.core.data import TensorSet

    class GradNorm(Callback):
        def on_grad_computed(self, net, named_parameters, **kwargs):
            self.calls = getattr(self, "calls", 0) + 1

    X, y = digits_small
    net = make_clf(max_iter=1).fit(X, y).net_
    listener = GradNorm()
    net.callbacks_.append(("grad_norm", listener))
    assert net._listens_to_grads()
    train_set = TensorSet(torch.from_numpy(X), torch.from_numpy(y.astype(np.int64)))
    net.partial_fit(train_set, None, epochs=1)
    assert listener.calls == net.history[-1]["train_batch_count"]
