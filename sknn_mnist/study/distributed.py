"""Grid searches and the comparison on a Dask cluster, through joblib's Dask backend.

::

    from sknn_mnist.distributed import dask_backend

    with dask_backend("tcp://scheduler:8786"):      # or dask_backend(n_workers=4)
        search.fit(X, y)                             # any joblib-parallel scikit-learn code
        result = compare(X_train, y_train, X_test, y_test)

Inside :func:`dask_backend` every ``joblib.Parallel`` call (``GridSearchCV``,
``cross_validate``, a random forest's trees...) sends its tasks to the cluster.
:func:`search_backend` goes further for one search (``compare``, ``sknn-mnist cv`` and
``grid-search`` use it): ``X`` and ``y`` go to every worker once (a broadcast scatter)
instead of with the tasks, the search survives the loss of a worker, a torch model's fits
(the MLP, the CNN) run only on workers that declare a ``GPU`` resource when the cluster
has such workers, and an interrupted search cancels its queued tasks. The recipe (one
worker per GPU) is in ``docs/dask.md``.

Without the implicit block: :func:`dask_session` opens a session and nothing else, to be
passed explicitly in a :class:`~sknn_mnist.study.context.RunContext` (what the command line
does)::

    with dask_session("tcp://scheduler:8786") as session:
        result = compare(X_train, y_train, X_test, y_test, context=RunContext(dask=session))

Results do not depend on the backend: each fit is seeded by its ``random_state`` and runs
with one CPU thread on a single-threaded worker (Dask's nanny sets ``OMP_NUM_THREADS=1``,
which torch reads), like a loky worker of a 2-job search on 2 cores. (torch's CPU results
change in the last bits with the number of threads a fit uses.)

``dask[distributed]`` is an optional dependency (``pip install "sknn_mnist[dask]"``); this
module imports it only when a backend is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GPU_RESOURCE",
    "ClusterLostError",
    "DaskSession",
    "SchedulerUnreachableError",
    "active_session",
    "dask_backend",
    "dask_session",
    "search_backend",
    "uses_torch_device",
]

#: Name of the Dask worker resource that marks a worker with a GPU (``--resources GPU=1``).
GPU_RESOURCE = "GPU"
#: Seconds to wait for the scheduler before giving up (Dask's own default is 30).
DEFAULT_TIMEOUT = 5.0

_ACTIVE: contextvars.ContextVar[DaskSession | None] = contextvars.ContextVar(
    "sknn_mnist_dask_session", default=None)


#: Largest first message a server may announce before Dask would read it: a scheduler's
#: handshake is 58 bytes; Dask allocates whatever the first 8 bytes say.
MAX_HANDSHAKE_BYTES = 2**20


class SchedulerUnreachableError(ConnectionError):
    """The Dask scheduler did not answer (or the address is not one)."""


class ClusterLostError(ConnectionError):
    """The Dask cluster lost the work it was running: its workers died, or the scheduler."""


@dataclass
class DaskSession:
    """A connection to a Dask cluster, yielded by :func:`dask_backend`.

    Attributes
    ----------
    client : distributed.Client
        The client, private to this session (not made Dask's default client).
    cluster : distributed.LocalCluster or None
        The cluster this session started (``n_workers=``), None for a running scheduler.
    """

    client: Any
    cluster: Any = None

    @property
    def address(self) -> str:
        """The scheduler's address."""
        return self.client.scheduler.address

    def worker_resources(self) -> dict[str, dict[str, float]]:
        """Each worker's declared resources (``{"GPU": 1}``), by worker address."""
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return {addr: dict(info.get("resources") or {}) for addr, info in workers.items()}

    def n_gpu_workers(self) -> int:
        """Workers that declare a ``GPU`` resource."""
        return sum(1 for res in self.worker_resources().values()
                   if res.get(GPU_RESOURCE, 0) > 0)

    def n_threads(self) -> int:
        """Task slots of the whole cluster (worker threads)."""
        return sum(self.client.nthreads().values())

    @contextlib.contextmanager
    def search(self, estimator: Any, X: Any, y: Any = None) -> Iterator[None]:
        """Run one search (or ``cross_validate``) of ``estimator`` on ``X, y`` on this cluster.

        The Dask backend with ``X`` and ``y`` broadcast to every worker once for the whole
        search (the tasks carry only their folds' indices, and the search survives the loss
        of a worker), and, when ``estimator`` trains a torch network and the cluster has
        workers with a ``GPU`` resource, its fits restricted to those (one fit per GPU at a
        time). The cluster's worker threads decide how many fits run at once. An exception
        in the block (``KeyboardInterrupt`` included) cancels the search's tasks that have
        not run yet.

        ``X`` and ``y`` must be the very objects passed to ``fit`` (joblib matches them by
        identity).
        """
        from joblib import parallel_config

        submit_kwargs: dict[str, Any] = {}
        if uses_torch_device(estimator) and self.n_gpu_workers() > 0:
            submit_kwargs["resources"] = {GPU_RESOURCE: 1}
        keys_before = set(self.client.futures)
        try:
            backend = _search_backend_class()(
                client=self.client, scatter=[a for a in (X, y) if a is not None],
                **submit_kwargs)
            with parallel_config(backend=backend):
                yield
        except BaseException as exc:
            self.cancel_pending(keys_before)
            lost = self.lost_error(exc)
            if lost is not None:
                raise lost from exc
            raise

    def lost_error(self, exc: BaseException) -> ClusterLostError | None:
        """``exc`` as a :class:`ClusterLostError` when it says the cluster lost the work.

        Dask cancels the tasks whose broadcast data died with the workers that held it
        (``FutureCancelledError``), gives up on a task that killed worker after worker
        (``KilledWorker``), and closes the connection when the scheduler dies.
        """
        from distributed.client import FutureCancelledError
        from distributed.comm.core import CommClosedError
        from distributed.scheduler import KilledWorker

        if isinstance(exc, ClusterLostError) or not isinstance(
                exc, FutureCancelledError | KilledWorker | CommClosedError):
            return None
        try:
            workers = f"{len(self.client.nthreads())} workers now"
        except Exception:  # the scheduler is gone too
            workers = "the scheduler does not answer"
        return ClusterLostError(
            f"the Dask cluster at {self.address} lost the work it was running "
            f"({type(exc).__name__}; {workers}): its workers died or were restarted; "
            "run it again once the cluster is back")

    def cancel_pending(self, keys_before: set[Any]) -> int:
        """Cancel the tasks this client submitted since ``keys_before``; return how many.

        joblib's Dask backend, when a search is interrupted, only stops waiting for its
        tasks: the cluster would go on running the whole queue. Tasks already running on a
        worker finish (a Python thread cannot be interrupted) and their results are dropped.
        """
        from distributed import Future

        keys = [key for key in list(self.client.futures) if key not in keys_before]
        if keys:
            futures = [Future(key, client=self.client) for key in keys]
            with contextlib.suppress(Exception):  # the cluster may be gone already
                self.client.cancel(futures, force=True)
        return len(keys)


def active_session() -> DaskSession | None:
    """The :class:`DaskSession` of the innermost active :func:`dask_backend`, if any."""
    return _ACTIVE.get()


def uses_torch_device(estimator: Any) -> bool:
    """Whether ``estimator`` (or a step of a pipeline) trains a torch network on a GPU.

    Those are the fits that belong on a GPU worker: the steps whose class the registry of
    model kinds marks as torch classifiers (``ModelSpec.uses_device``), with a ``device``
    of 'auto' or 'cuda...'.
    """
    from ..registry import qualified_name, torch_classifier_names

    torch_classes = torch_classifier_names()
    steps = [step for _, step in getattr(estimator, "steps", [])] or [estimator]
    for step in steps:
        if qualified_name(type(step)) in torch_classes:
            device = getattr(step, "device", None)
            if isinstance(device, str) and (device == "auto" or device.startswith("cuda")):
                return True
    return False


def _probe_scheduler(address: str, timeout: float) -> dict[str, Any]:
    """Ask the server at ``address`` who it is, giving up after ``timeout`` seconds.

    ``Client(address, timeout=...)`` bounds the TCP connect but can wait forever on a port
    that accepts connections and never answers; ``asyncio.wait_for`` bounds the whole
    exchange. It runs in its own thread and event loop, so it works from inside a running
    loop (Jupyter) too.
    """
    from distributed.core import rpc

    async def identity() -> dict[str, Any]:
        server = rpc(address, timeout=timeout)
        try:
            return await server.identity()
        finally:
            await server.close_rpc()

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["identity"] = asyncio.run(asyncio.wait_for(identity(), timeout))
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="sknn-mnist-dask-probe", daemon=True)
    thread.start()
    thread.join(timeout + 5)
    if "identity" in outcome:
        return outcome["identity"]
    raise outcome.get("error") or TimeoutError()


def _recv_exactly(sock: socket.socket, n: int, deadline: float) -> bytes:
    data = bytearray()
    while len(data) < n:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        data += chunk
    return bytes(data)


def _not_dask(address: str, what: str) -> SchedulerUnreachableError:
    return SchedulerUnreachableError(
        f"{address} answers, but not in the Dask protocol ({what}); pass the address of a "
        "Dask scheduler (port 8786 by default)")


def _check_handshake(address: str, timeout: float) -> None:
    """Read a ``tcp://`` server's first message raw before Dask does, within ``timeout``.

    A scheduler speaks first: an 8-byte length, then a frame table and a small handshake.
    Dask allocates the length it reads before reading the data (an HTTP server's
    ``HTTP/1.1`` reads as 3 EiB: a ``MemoryError``; a plausible gigabyte would be taken and
    filled), so the length and the frame table are checked here first.
    """
    from distributed.comm.addressing import parse_address, parse_host_port

    scheme, location = parse_address(address)
    if scheme != "tcp":
        return  # TLS and other transports: Dask's own connect
    host, port = parse_host_port(location)
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        head = _recv_exactly(sock, 8, deadline)
        (total,) = struct.unpack("<Q", head)
        if total > MAX_HANDSHAKE_BYTES or total < 8:
            raise _not_dask(address, f"its first bytes are {head!r}")
        body = _recv_exactly(sock, total, deadline)
    (n_frames,) = struct.unpack_from("<Q", body)
    if 8 * (1 + n_frames) > total:
        raise _not_dask(address, f"a first message of {n_frames} frames in {total} bytes")
    lengths = struct.unpack_from(f"<{n_frames}Q", body, 8)
    if sum(lengths) > MAX_HANDSHAKE_BYTES:
        raise _not_dask(address, f"a first message of {sum(lengths):,} bytes")


def _connect(address: str, timeout: float) -> Any:
    from distributed import Client

    try:
        _check_handshake(address, timeout)
        info = _probe_scheduler(address, timeout)
    except SchedulerUnreachableError:
        raise
    except (OSError, TimeoutError, asyncio.TimeoutError) as exc:  # distinct in 3.10
        reason = str(exc).splitlines()[0] if str(exc) else "no answer"
        raise SchedulerUnreachableError(
            f"could not reach the Dask scheduler at {address} within {timeout:g} s "
            f"({reason}); is `dask scheduler` running there and the port open? "
            "Or start a local cluster instead (n_workers=N, CLI: --dask-local N)") from None
    except (ValueError, TypeError) as exc:
        raise SchedulerUnreachableError(
            f"{address!r} is not a Dask scheduler address ({exc}); "
            "expected e.g. tcp://HOST:8786") from None
    except Exception as exc:  # a handshake, then bytes Dask cannot decode
        raise _not_dask(address, f"{type(exc).__name__}: {str(exc)[:100]}") from None
    if info.get("type") != "Scheduler":
        raise SchedulerUnreachableError(
            f"{address} answers but is a Dask {info.get('type', 'server')}, not a scheduler; "
            "pass the scheduler's address (port 8786 by default)")
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(
            f"could not connect to the Dask scheduler at {address}: {exc}") from None


def _start_local_cluster(n_workers: int, timeout: float) -> tuple[Any, Any]:
    from distributed import Client, LocalCluster

    # Processes (the GIL), one thread each (one fit per worker, no oversubscription: the
    # nanny sets OMP_NUM_THREADS=1 before the worker starts), loopback only, no dashboard.
    # The scheduler's small HTTP server (health checks) would take port 8787, or warn
    # when it is in use: any free loopback port instead.
    # The worker processes ignore Ctrl-C: a terminal sends SIGINT to the whole process group,
    # and every worker would print its KeyboardInterrupt traceback. This process handles it
    # (cancels the tasks, closes the cluster, which stops them). Ignored signals stay
    # ignored across the spawn of the nannies and of their workers.
    with _sigint_ignored():
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                               silence_logs=logging.CRITICAL)
    try:
        client = Client(cluster, timeout=timeout, set_as_default=False)
        client.run(_quiet_teardown)
    except BaseException:
        cluster.close()
        raise
    return cluster, client


def _ignore_unraisable(unraisable: object) -> None:
    """``sys.unraisablehook`` of our local workers; see :func:`_quiet_teardown`."""


def _quiet_teardown() -> None:
    """Run in each local worker: when the cluster closes under a stopped run, a worker's
    own Dask client can be collected after its event loop closed, and Python would print
    "Exception ignored in ..." with a traceback; the command reports the stop itself."""
    sys.unraisablehook = _ignore_unraisable


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored in the block (from the main thread only: elsewhere it cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_target(address: str | None, n_workers: int | None) -> None:
    if (address is None) == (n_workers is None):
        raise ValueError("pass either address (a running Dask scheduler) or n_workers "
                         "(start a local cluster), not both or neither")
    if n_workers is not None and (isinstance(n_workers, bool) or int(n_workers) != n_workers
                                  or n_workers < 1):
        raise ValueError(f"n_workers must be a positive integer, got {n_workers!r}")


@contextlib.contextmanager
def dask_session(address: str | None = None, n_workers: int | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> Iterator[DaskSession]:
    """Connect to a Dask cluster (or start a local one) for the duration of the block.

    The session is made the default of nothing (not Dask's, not joblib's, not
    :func:`active_session`'s): pass it where it is to be used, in a
    :class:`~sknn_mnist.study.context.RunContext` (``RunContext(dask=session)``).
    :func:`dask_backend` is this plus the implicit defaults.

    Parameters
    ----------
    address : str, optional
        A running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    n_workers : int, optional
        Instead of ``address``: start a :class:`distributed.LocalCluster` of this many
        single-threaded worker processes on 127.0.0.1 for the duration of the block.
    timeout : float, default=5
        Seconds to wait for the scheduler before raising :class:`SchedulerUnreachableError`.

    Yields
    ------
    DaskSession

    Raises
    ------
    ValueError
        Both or neither of ``address`` and ``n_workers``, or ``n_workers < 1``.
    SchedulerUnreachableError
        The scheduler at ``address`` did not answer within ``timeout``, or answers in
        another protocol (its first message is checked before Dask reads it).
    ClusterLostError
        In the block: the cluster lost the work it was running (its workers died).

    Notes
    -----
    An exception in the block (``KeyboardInterrupt`` included) cancels the tasks this
    session submitted that have not run yet; a local cluster is shut down on leaving.
    """
    _check_target(address, n_workers)
    _require_distributed()
    if address is not None:
        cluster, client = None, _connect(address, timeout)
    else:
        cluster, client = _start_local_cluster(int(n_workers), timeout)
    session = DaskSession(client=client, cluster=cluster)
    keys_before = set(client.futures)
    try:
        yield session
    except BaseException as exc:
        session.cancel_pending(keys_before)
        lost = session.lost_error(exc)
        if lost is not None:
            raise lost from exc
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextlib.contextmanager
def dask_backend(address: str | None = None, n_workers: int | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT) -> Iterator[DaskSession]:
    """Run joblib-parallel work (grid searches, :func:`~sknn_mnist.compare.compare`) on Dask.

    A :func:`dask_session` that is also, for the block, joblib's backend (every
    ``joblib.Parallel`` call goes to the cluster) and the session that
    :func:`active_session` returns: :func:`~sknn_mnist.compare.compare`, ``grid_search``
    and the reports called without a ``context`` run on it.

    Parameters
    ----------
    address : str, optional
        A running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    n_workers : int, optional
        Instead of ``address``: start a :class:`distributed.LocalCluster` of this many
        single-threaded worker processes on 127.0.0.1 for the duration of the block.
    timeout : float, default=5
        Seconds to wait for the scheduler before raising :class:`SchedulerUnreachableError`.

    Yields
    ------
    DaskSession

    Raises
    ------
    ValueError
        Both or neither of ``address`` and ``n_workers``, or ``n_workers < 1``.
    SchedulerUnreachableError
        The scheduler at ``address`` did not answer within ``timeout``.

    Notes
    -----
    An exception in the block (``KeyboardInterrupt`` included) cancels the tasks this
    session submitted that have not run yet; a local cluster is shut down on leaving.
    """
    from joblib import parallel_config

    with dask_session(address, n_workers, timeout=timeout) as session:
        token = _ACTIVE.set(session)
        try:
            with parallel_config(backend="dask", client=session.client):
                yield session
        finally:
            _ACTIVE.reset(token)


@contextlib.contextmanager
def search_backend(estimator: Any, X: Any, y: Any = None, *,
                   n_jobs: int | None = None) -> Iterator[None]:
    """Run one search (or ``cross_validate``) of ``estimator`` on ``X, y`` inside this.

    Inside :func:`dask_backend`: :meth:`DaskSession.search` on its session (the data
    broadcast to every worker once, torch fits on the GPU workers, queued tasks cancelled on
    an exception); ``n_jobs`` is ignored: the cluster's worker threads decide.

    Outside: :func:`~sknn_mnist.study.parallel.shared_cores` (``n_jobs`` loky workers that
    share the CPU cores).

    ``X`` and ``y`` must be the very objects passed to ``fit`` (joblib matches them by
    identity).
    """
    session = active_session()
    if session is None:
        from .parallel import shared_cores

        with shared_cores(n_jobs):
            yield
        return
    with session.search(estimator, X, y):
        yield


@functools.cache
def _search_backend_class() -> type:
    """joblib's Dask backend, made to survive the loss of a worker.

    joblib scatters every task argument over 1 kB to a single worker the first time it sees
    it (for a grid search: each fold's index arrays), and scattered data is lost for good
    when that worker dies: the search then fails with ``FutureCancelledError`` instead of
    being rerun elsewhere. Here ``X`` and ``y`` are broadcast to every worker up front (the
    ``scatter`` argument) and the small remaining arguments travel with their task. And a
    cluster of one single-threaded worker (one GPU) still gets the tasks: joblib would run
    them in this process when the backend reports one job.
    """
    from joblib._dask import DaskDistributedBackend

    class _SearchBackend(DaskDistributedBackend):
        def start_call(self) -> None:
            super().start_call()
            # joblib's per-call scatter cache; without it arguments are sent inline.
            self.call_data_futures = None

        def stop_call(self) -> None:
            self.call_data_futures = {}
            super().stop_call()

        def effective_n_jobs(self, n_jobs: int | None) -> int:
            return max(2, super().effective_n_jobs(n_jobs))

    return _SearchBackend


def _require_distributed() -> None:
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise ImportError('the Dask backend needs dask.distributed: pip install '
                          '"sknn_mnist[dask]"') from None
