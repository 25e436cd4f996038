"""The thread policy: how many intra-op threads torch uses around our own work."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from joblib import Parallel, delayed, parallel_config
from torch import nn

from sknn_mnist.core import threads as _threads
from sknn_mnist.core.threads import (
    SINGLE_THREAD_BELOW_FLOPS,
    ThreadPolicy,
    busy_cores,
    forward_flops,
    mlp_step_flops,
    step_flops,
    thread_policy,
    threads_for,
    user_chose_threads,
)

SMALL = SINGLE_THREAD_BELOW_FLOPS / 10
LARGE = SINGLE_THREAD_BELOW_FLOPS * 10


class Machine:
    """What a test's policy sees: the cores other processes are busy on."""

    def __init__(self) -> None:
        self.busy = 0
        self.samples = 0

    def busy_cores(self) -> int:
        self.samples += 1
        return self.busy


@pytest.fixture
def machine() -> Machine:
    return Machine()


@pytest.fixture
def default_threads(monkeypatch, machine):
    """torch at 2 threads, that count being torch's default, no env limits, idle machine.

    The suite runs with OMP_NUM_THREADS=1; this recreates the situation of a user who set
    nothing (a fresh default policy on 2 cores whose busy count is ``machine.busy``, read at
    every decision), and puts the caller's count back afterwards.
    """
    before = torch.get_num_threads()
    for name in _threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    torch.set_num_threads(2)
    policy = ThreadPolicy(default_threads=2, cores=2, busy_source=machine.busy_cores,
                          busy_sample_seconds=0)
    monkeypatch.setattr(_threads, "default_policy", policy)
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


def _fake_proc(root: Path, loadavg: str, states: dict[str, str]) -> Path:
    """A folder laid out like /proc: ``loadavg`` and one ``self/task/ID/stat`` per thread."""
    root.mkdir()
    (root / "loadavg").write_text(loadavg, encoding="ascii")
    for tid, state in states.items():
        task = root / "self" / "task" / tid
        task.mkdir(parents=True)
        # The command name may hold spaces and parentheses: the state follows the last ')'.
        (task / "stat").write_text(f"{tid} (py (worker) 1) {state} 1 2 3", encoding="ascii")
    return root


def test_busy_cores_is_runnable_tasks_less_our_own_running_threads(tmp_path):
    proc = _fake_proc(tmp_path / "a", "0.50 0.40 0.30 5/321 999\n",
                      {"10": "R", "11": "R", "12": "S", "13": "D"})
    assert busy_cores(proc) == 3, "5 runnable, 2 of them ours"
    idle = _fake_proc(tmp_path / "b", "0.00 0.00 0.00 1/100 9\n", {"10": "R", "11": "S"})
    assert busy_cores(idle) == 0, "the reading thread alone is no one else's load"
    asleep = _fake_proc(tmp_path / "c", "1.0 1.0 1.0 4/100 9\n", {"10": "S"})
    assert busy_cores(asleep) == 3, "the reading thread counts as running even if seen asleep"
    assert busy_cores(_fake_proc(tmp_path / "d", "9/100", {})) == 0, "malformed: no opinion"
    assert busy_cores(tmp_path / "missing") == 0, "no /proc: no opinion"


@pytest.mark.skipif(not Path("/proc/loadavg").is_file(), reason="needs Linux's /proc")
def test_busy_cores_sees_spinning_processes():
    # Runnable tasks only add up: whatever else the machine runs, n spinning processes make
    # at least n busy cores, once they have started (bounded: a few seconds at most).
    n = 2
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        deadline, seen = time.monotonic() + 10, []
        while time.monotonic() < deadline:
            seen.append(busy_cores())
            if seen[-1] >= n:
                break
            time.sleep(0.05)
        assert seen[-1] >= n, f"busy_cores never reached {n}: {seen[-10:]}"
    finally:
        for proc in spinners:
            proc.kill()
        for proc in spinners:
            proc.wait(timeout=10)


def test_a_new_policy_measures_nothing_until_its_first_decision(monkeypatch):
    for name in _threads.THREAD_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    calls = []
    policy = ThreadPolicy(busy_source=lambda: calls.append(1) or 0)
    assert policy.default_threads is None and policy.cores is None and calls == []
    assert not policy.user_chose(5), "the first count seen is taken as torch's default"
    assert policy.default_threads == 5
    assert policy.user_chose(3), "a different count later is someone's choice"
    assert policy.usable_cores() == _threads.usable_cores() == policy.cores


def test_the_busy_sample_is_reused_for_a_while(monkeypatch):
    now, calls = [100.0], []
    policy = ThreadPolicy(cores=4, busy_source=lambda: calls.append(1) or len(calls),
                          clock=lambda: now[0], busy_sample_seconds=1.0)
    assert policy.threads_for(SMALL, 4) == 1 and calls == [], "small steps never sample"
    assert policy.threads_for(LARGE, 4) == 3 and calls == [1]
    now[0] += 0.5
    assert policy.threads_for(LARGE, 4) == 3 and calls == [1], "reused within the period"
    now[0] += 0.5
    assert policy.threads_for(LARGE, 4) == 2 and calls == [1, 1], "read again after it"


def test_repeated_small_predictions_never_read_the_machine(default_threads, machine,
                                                            make_clf, digits_small):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=(32,), max_iter=1).fit(X, y)
    for _ in range(20):
        clf.predict_proba(X[:10])
    assert machine.samples == 0


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


def test_large_work_on_a_busy_machine_runs_single_threaded(default_threads, machine):
    machine.busy = 1
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
    torch.set_num_threads(3)  # differs from torch's default: the user's choice
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
                                                          make_clf, digits_small, machine):
    X, y = digits_small
    clf = make_clf(hidden_layer_sizes=(1024, 1024), max_iter=1, batch_size=200)
    clf.fit(X[:200], y[:200])
    assert threads_seen["train"] == {default_threads}
    machine.busy = 1
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
