"""Grid searches on a real Dask cluster (worker processes on 127.0.0.1) against local runs."""

from __future__ import annotations

import _thread
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import joblib
import numpy as np
import pytest
from joblib import parallel_config
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

distributed = pytest.importorskip("distributed")

from sknn_mnist import MLPDigitClassifier  # noqa: E402
from sknn_mnist.distributed import (  # noqa: E402
    SchedulerUnreachableError,
    dask_backend,
    search_backend,
)

pytestmark = pytest.mark.timeout(180)

GRID = {"mlpdigitclassifier__learning_rate_init": [1e-3, 1e-2]}
CV = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)


def _pipe(max_iter: int = 8):
    return make_pipeline(MinMaxScaler(), MLPDigitClassifier(
        hidden_layer_sizes=(32,), max_iter=max_iter, random_state=0))


def _search(pipe, grid=GRID, n_jobs=2):
    return GridSearchCV(pipe, grid, cv=CV, n_jobs=n_jobs, refit=False, error_score="raise")


def _assert_same_results(a: dict, b: dict) -> None:
    keys = [k for k in a if "time" not in k]
    assert keys == [k for k in b if "time" not in k]
    for k in keys:
        assert np.array_equal(np.asarray(a[k], dtype=object), np.asarray(b[k], dtype=object)), k


@pytest.fixture(scope="module")
def cluster():
    """The local cluster of ``dask_backend(n_workers=2)``, shared by the tests below.

    The backend is entered in a thread of its own, so that its joblib configuration stays in
    that thread: the tests connect to the cluster by address, each with its own session.
    """
    ready, done, box = threading.Event(), threading.Event(), {}

    def hold() -> None:
        try:
            with dask_backend(n_workers=2, timeout=30) as session:
                box["session"] = session
                ready.set()
                done.wait()
        except BaseException as exc:  # handed to the test
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    ready.wait(120)
    if "session" not in box:
        raise box.get("error") or TimeoutError("the local cluster did not start")
    session = box["session"]
    assert session.n_threads() == 2 and session.n_gpu_workers() == 0
    assert all(addr.startswith("tcp://127.0.0.1:") for addr in session.client.nthreads())
    yield session.cluster, session.client
    done.set()
    thread.join(60)
    assert "error" not in box
    assert session.client.status == "closed" and session.cluster.status.name == "closed"


@pytest.fixture(scope="module")
def loky_reference(digits_raw):
    """The grid search of the MLP pipeline on joblib's local default backend, 2 processes."""
    X, y = digits_raw
    with parallel_config(backend="loky", inner_max_num_threads=1):
        return _search(_pipe()).fit(X, y).cv_results_


def _batch_tasks(client) -> list[str]:
    """States of the joblib tasks the scheduler holds (queued, processing, memory...)."""
    return client.run_on_scheduler(
        lambda dask_scheduler: [ts.state for key, ts in dask_scheduler.tasks.items()
                                if "batch_of" in str(key)])


def test_grid_search_on_cluster_equals_local(cluster, digits_raw, loky_reference):
    local, client = cluster
    X, y = digits_raw
    pipe = _pipe()
    with dask_backend(local.scheduler_address) as session:
        # The data goes to every worker once (one broadcast), never with the tasks.
        scatters = []
        real_scatter = session.client.scatter
        session.client.scatter = lambda data, **kw: scatters.append((data, kw)) or \
            real_scatter(data, **kw)
        with distributed.get_task_stream(client=session.client) as stream, \
                search_backend(pipe, X, y):
            search = _search(pipe).fit(X, y)
    ran = [t for t in stream.data if "fit_and_score" in str(t["key"])]
    assert {t["worker"] for t in ran} == set(client.nthreads())  # both workers fitted
    # (Only the folds' index arrays go with the tasks.)
    with_data = [(data, kw) for data, kw in scatters
                 if any(obj is X or obj is y for obj in (data if isinstance(data, list)
                                                         else [data]))]
    assert len(with_data) == 1
    assert with_data[0][0] == [X, y] and with_data[0][1].get("broadcast") is True
    _assert_same_results(search.cv_results_, loky_reference)


def test_scheduler_that_does_not_answer(cluster):
    # A port nobody listens on, and a listener that accepts connections but never speaks.
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed_port = free.getsockname()[1]
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen()
        for port in (closed_port, mute.getsockname()[1]):
            address = f"tcp://127.0.0.1:{port}"
            start = time.perf_counter()
            with pytest.raises(SchedulerUnreachableError, match="could not reach the Dask "
                               f"scheduler at {address} within 2 s"):
                with dask_backend(address, timeout=2):
                    pass
            assert time.perf_counter() - start < 10
    with pytest.raises(SchedulerUnreachableError, match="not a Dask scheduler address"):
        with dask_backend("http://127.0.0.1:1", timeout=2):
            pass
    with pytest.raises(ValueError, match="either address"):
        with dask_backend(cluster[0].scheduler_address, n_workers=2):
            pass


def test_interrupt_cancels_pending_tasks(cluster, digits_raw):
    local, client = cluster
    X, y = digits_raw
    pipe = _pipe(max_iter=15)
    grid = {"mlpdigitclassifier__learning_rate_init": list(np.geomspace(1e-4, 1e-1, 8))}

    def interrupt_after_first_fit():
        deadline = time.monotonic() + 60
        while "memory" not in _batch_tasks(client) and time.monotonic() < deadline:
            time.sleep(0.05)
        _thread.interrupt_main()

    with dask_backend(local.scheduler_address) as session:
        threading.Thread(target=interrupt_after_first_fit, daemon=True).start()
        with pytest.raises(KeyboardInterrupt), search_backend(pipe, X, y):
            _search(pipe, grid).fit(X, y)
        # Still connected, the 24 queued fits are gone from the cluster within seconds
        # (a fit already running on a worker finishes; its result is dropped).
        deadline = time.monotonic() + 10
        while _batch_tasks(session.client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _batch_tasks(session.client) == []
        assert session.client.futures == {}


COMPARE_GRIDS = {
    "mlp": {"clf__hidden_layer_sizes": [(16,)], "clf__max_iter": [4],
            "clf__learning_rate_init": [1e-3, 1e-2]},
    "svm": {"clf__C": [1.0, 10.0]},
    "rf": {"clf__n_estimators": [5, 10]},
}


def test_compare_on_cluster_equals_local(cluster, digits_raw):
    from sknn_mnist.compare import compare

    X, y = digits_raw
    data = (X[:500], y[:500], X[1500:], y[1500:])
    kwargs = dict(models=list(COMPARE_GRIDS), param_grids=COMPARE_GRIDS, cv=3,
                  subsamples={"svm": 300},
                  learning_curve=False, random_state=0)
    local = compare(*data, n_jobs=2, **kwargs)
    with dask_backend(cluster[0].scheduler_address) as session, \
            distributed.get_task_stream(client=session.client) as stream:
        on_dask = compare(*data, n_jobs=2, **kwargs)
    fits = [t for t in stream.data if "fit_and_score" in str(t["key"])]
    assert len({t["worker"] for t in fits}) == 2
    assert len(on_dask) == len(local) == 3
    for a, b in zip(local, on_dask, strict=True):
        assert (a.name, a.best_params, a.cv_mean, a.cv_std, a.test_accuracy) == \
            (b.name, b.best_params, b.cv_mean, b.cv_std, b.test_accuracy)
        assert (a.selection_cv_mean, a.selection_cv_std) == \
            (b.selection_cv_mean, b.selection_cv_std)
        _assert_same_results(a.cv_results, b.cv_results)
        np.testing.assert_array_equal(a.y_pred, b.y_pred)
    assert local.best.name == on_dask.best.name


def test_torch_fits_go_to_gpu_workers(cluster, digits_raw, tmp_path):
    # A third worker that declares a GPU (as `dask worker --resources GPU=1` on a GPU
    # machine does; here it trains on its CPU): the MLP's fits all run there, the
    # random forest's anywhere.
    local, client = cluster
    X, y = digits_raw
    gpu = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", local.scheduler_address,
         "--nthreads", "1", "--resources", "GPU=1", "--host", "127.0.0.1", "--no-dashboard",
         "--name", "gpu-0", "--local-directory", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(3, timeout=60)
        with dask_backend(local.scheduler_address) as session:
            assert session.n_gpu_workers() == 1
            (gpu_address,) = [w for w, r in session.worker_resources().items() if r]
            pipe = _pipe(max_iter=2)
            with distributed.get_task_stream(client=session.client) as stream:
                with search_backend(pipe, X, y):
                    _search(pipe).fit(X, y)
            rf = make_pipeline(RandomForestClassifier(n_estimators=5, random_state=0))
            with search_backend(rf, X, y):
                plan = joblib.parallel.get_active_backend()[0]
            assert plan.submit_kwargs == {}
        workers = {t["worker"] for t in stream.data if "fit_and_score" in str(t["key"])}
        assert workers == {gpu_address}
    finally:
        client.retire_workers(names=["gpu-0"], close_workers=True)
        gpu.terminate()
        gpu.wait(timeout=30)
    assert len(client.nthreads()) == 2


def test_cli_runs_on_cluster_and_reports_unreachable_scheduler(cluster, tmp_path, capsys):
    from sknn_mnist.cli import main

    grid = tmp_path / "grid.json"
    grid.write_text('{"C": [1.0, 10.0]}')
    args = ["grid-search", "--model", "svm", "--dataset", "digits", "--param-grid", str(grid)]
    assert main([*args, "--quiet", "--n-jobs", "2"]) == 0
    local = [line for line in capsys.readouterr().out.splitlines() if line.startswith("best:")]
    assert main([*args, "--dask", cluster[0].scheduler_address]) == 0
    out, err = capsys.readouterr()
    assert [line for line in out.splitlines() if line.startswith("best:")] == local != []
    assert "fits run on the Dask cluster at tcp://127.0.0.1:" in err
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{free.getsockname()[1]}"
    start = time.perf_counter()
    assert main([*args, "--quiet", "--dask", address]) == 2
    assert time.perf_counter() - start < 30
    err = capsys.readouterr().err
    assert err.startswith(f"sknn-mnist grid-search: error: could not reach the Dask scheduler "
                          f"at {address}") and err.count("\n") == 1


def test_a_session_in_the_context_is_used_without_any_implicit_default(cluster, digits_raw,
                                                                       loky_reference):
    from sknn_mnist.compare import grid_search
    from sknn_mnist.distributed import active_session, dask_session
    from sknn_mnist.study.context import RunContext

    local, client = cluster
    X, y = digits_raw
    pipe = _pipe()
    with dask_session(local.scheduler_address) as session:
        # An explicit session: not the default of Dask, of joblib or of active_session().
        assert active_session() is None
        assert type(joblib.parallel.get_active_backend()[0]).__name__ != "DaskDistributedBackend"
        with distributed.get_task_stream(client=session.client) as stream:
            search = grid_search(pipe, GRID, X, y, cv=CV, n_jobs=2,
                                 context=RunContext(dask=session))
        assert RunContext(dask=session).backend == "dask"
    ran = {t["worker"] for t in stream.data if "fit_and_score" in str(t["key"])}
    assert ran == set(client.nthreads())  # both workers of the cluster fitted
    _assert_same_results(search.cv_results_, loky_reference)
    assert session.client.status == "closed"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_worker_search_completes_with_same_results(cluster, digits_raw,
                                                          loky_reference):
    # Last test of the module: it kills one of the shared cluster's workers.
    local, client = cluster
    X, y = digits_raw
    pids = client.run(os.getpid)
    killed: list[str] = []

    def kill_a_busy_worker():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
                return
            time.sleep(0.02)

    pipe = _pipe()
    with dask_backend(local.scheduler_address):
        threading.Thread(target=kill_a_busy_worker, daemon=True).start()
        with search_backend(pipe, X, y):
            search = _search(pipe).fit(X, y)
    assert killed and killed[0] not in client.nthreads()  # the worker really died
    _assert_same_results(search.cv_results_, loky_reference)
