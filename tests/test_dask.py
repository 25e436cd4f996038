"""Grid searches on a real Dask cluster (worker processes on 127.0.0.1) against local runs."""

from __future__ import annotations

import _thread
import os
import signal
import socket
import sys
import threading
import time

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

distributed = pytest.importorskip("distributed")

from sknn_mnist import MLPDigitClassifier  # noqa: E402
from sknn_mnist.distributed import (  # noqa: E402
    SchedulerUnreachableError,
    _start_local_cluster,
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
    """Two single-threaded worker processes on 127.0.0.1, shared by the tests below."""
    local, client = _start_local_cluster(2, timeout=30)
    try:
        yield local, client
    finally:
        client.close()
        local.close()


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
                search_backend(X, y, pipe):
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
        with pytest.raises(KeyboardInterrupt), search_backend(X, y, pipe):
            _search(pipe, grid).fit(X, y)
        # Still connected, the 24 queued fits are gone from the cluster within seconds
        # (a fit already running on a worker finishes; its result is dropped).
        deadline = time.monotonic() + 10
        while _batch_tasks(session.client) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _batch_tasks(session.client) == []
        assert session.client.futures == {}


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
        with search_backend(X, y, pipe):
            search = _search(pipe).fit(X, y)
    assert killed and killed[0] not in client.nthreads()  # the worker really died
    _assert_same_results(search.cv_results_, loky_reference)
