"""Issue 22, Dask: endpoints that are not schedulers, a cluster that loses its workers, Ctrl-C.

The hostile endpoints are servers on 127.0.0.1 that the tests start and stop; every loop
is bounded in count and time.
"""

from __future__ import annotations

import http.server
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest
from _hostile import RawServer

distributed = pytest.importorskip("distributed")

from sknn_mnist.distributed import (  # noqa: E402
    ClusterLostError,
    SchedulerUnreachableError,
    dask_backend,
    search_backend,
)

pytestmark = pytest.mark.timeout(240)


def _speaks_first(payload: bytes, linger: float = 2.0):
    def reply(conn):
        conn.sendall(payload)
        time.sleep(linger)  # then hangs up
    return reply


HOSTILE = {
    # What an HTTP answer reads as: "HTTP/1.1" is a length of 3 EiB (MemoryError before).
    "http answer": _speaks_first(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    "ssh banner": _speaks_first(b"SSH-2.0-OpenSSH_9.6\r\n"),
    # A plausible gigabyte: Dask would allocate it and wait for the data.
    "a gigabyte": _speaks_first(struct.pack("<Q", 2**30) + b"\0" * 64),
    # A small first message whose frame table announces a gigabyte to follow.
    "huge frames": _speaks_first(struct.pack("<QQQ", 16, 1, 2**30)),
    "frame count": _speaks_first(struct.pack("<QQ", 8, 10**6)),
}


@pytest.mark.parametrize("kind", list(HOSTILE))
def test_endpoints_that_do_not_speak_dask(kind):
    with RawServer(HOSTILE[kind]) as server:
        start = time.perf_counter()
        with pytest.raises(SchedulerUnreachableError, match="not in the Dask protocol"):
            with dask_backend(server.address, timeout=3):
                pass
        assert time.perf_counter() - start < 10


def test_an_http_server_that_waits_for_a_request():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        address = f"tcp://127.0.0.1:{httpd.server_address[1]}"
        with pytest.raises(SchedulerUnreachableError, match="could not reach"):
            with dask_backend(address, timeout=2):
                pass
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_the_cli_reports_an_http_port_in_one_line(capsys):
    from sknn_mnist.cli import main

    with RawServer(HOSTILE["http answer"]) as server:
        assert main(["cv", "--model", "svm", "--dataset", "digits", "-q", "--dask",
                     server.address]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not in the Dask protocol" in err


@pytest.fixture
def own_cluster():
    """A local cluster of 2 workers for one test (its workers get killed)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, silence_logs=50,
                      scheduler_kwargs={"dashboard_address": "127.0.0.1:0"}) as cluster:
        yield cluster


def _kill_all_workers_when_busy(client, done: threading.Event) -> None:
    pids = client.run(os.getpid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not done.is_set():
        if any(client.processing().values()):
            for pid in pids.values():
                os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.02)


def test_losing_every_worker_is_a_clear_error(own_cluster, digits_raw):
    from sklearn.model_selection import GridSearchCV

    from sknn_mnist.study.models import make_model

    X, y = digits_raw
    pipe = make_model("mlp", random_state=0, device="cpu").set_params(clf__max_iter=40)
    grid = {"clf__learning_rate_init": [1e-3, 3e-3, 1e-2, 3e-2]}
    done = threading.Event()
    with dask_backend(own_cluster.scheduler_address, timeout=30) as session:
        killer = threading.Thread(target=_kill_all_workers_when_busy,
                                  args=(session.client, done), daemon=True)
        killer.start()
        with pytest.raises(ClusterLostError, match="lost the work it was running"):
            with search_backend(pipe, X, y):
                GridSearchCV(pipe, grid, cv=3, n_jobs=2).fit(X, y)
        done.set()
        killer.join(10)


def test_the_cli_reports_lost_workers_in_one_line(own_cluster, capsys):
    from distributed import Client

    from sknn_mnist.cli import main

    done = threading.Event()
    with Client(own_cluster.scheduler_address, set_as_default=False) as client:
        killer = threading.Thread(target=_kill_all_workers_when_busy, args=(client, done),
                                  daemon=True)
        killer.start()
        code = main(["cv", "--model", "mlp", "--dataset", "digits", "-q", "--cv", "3",
                     "--dask", own_cluster.scheduler_address, "max_iter=40"])
        done.set()
        killer.join(10)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "lost the work it was running" in err


def test_local_workers_ignore_ctrl_c():
    """A terminal's Ctrl-C reaches every process of the group: the local cluster's workers
    must leave it to this process (which cancels and closes), not die printing tracebacks."""
    from sknn_mnist.distributed import dask_session

    with dask_session(n_workers=1, timeout=30) as session:
        (pid,) = session.client.run(os.getpid).values()
        os.kill(pid, signal.SIGINT)
        time.sleep(2)
        os.kill(pid, 0)  # still alive (ProcessLookupError if it died)
        assert list(session.client.run(os.getpid).values()) == [pid]  # not restarted
        assert session.client.submit(sum, [1, 2]).result(timeout=30) == 3


@pytest.mark.subprocess
def test_ctrl_c_with_a_local_cluster_prints_one_line(tmp_path):
    """A terminal's Ctrl-C goes to the whole process group: the workers too."""
    # Fits of a minute or more each (no early stop), so that Ctrl-C comes while they run.
    cmd = [sys.executable, "-m", "sknn_mnist", "cv", "--model", "mlp", "--dataset", "digits",
           "--dask-local", "2", "max_iter=3000", "n_iter_no_change=3000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        # Wait for the cluster note (stderr), then for the fits to be running.
        line = ""
        while "fits run on the Dask cluster" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
        time.sleep(5)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)
    assert proc.returncode == 130, err
    # The progress lines of this process, then its one line; nothing from the workers.
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    lines = err.strip().splitlines()
    assert lines[-1] == "sknn-mnist cv: interrupted", err[-3000:]
    assert all(line.startswith("5-fold CV of mlp") for line in lines[:-1]), err[-3000:]
