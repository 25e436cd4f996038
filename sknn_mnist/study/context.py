"""The run context: where a study's fits run, how many at once, where progress goes, and
how the run is cancelled, passed down explicitly.

:class:`RunContext` is handed to :func:`~sknn_mnist.compare.compare`,
:func:`~sknn_mnist.compare.grid_search`, :func:`~sknn_mnist.compare.cross_validate_model`
and :func:`~sknn_mnist.reports.cross_validation_report`. The command line builds one per
command (its Ctrl-C handler cancels the context's :class:`CancellationToken`). Library
callers who pass none get :meth:`RunContext.current`: loky processes on this machine, no
progress, no cancellation; inside a :func:`~sknn_mnist.distributed.dask_backend` block, that
block's Dask session (the one place where the block is looked up).

::

    token = CancellationToken()
    context = RunContext(n_jobs=2, cancel=token)   # token.cancel() from any thread stops it
    result = compare(X_train, y_train, X_test, y_test, context=context)

Only the standard library is imported here: the command line imports this module before it
has checked its arguments.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .distributed import DaskSession
    from .progress import ProgressSink

__all__ = ["CancellationToken", "RunCancelled", "RunContext", "resolve_context"]


class RunCancelled(KeyboardInterrupt):
    """The run's :class:`CancellationToken` was cancelled.

    A ``KeyboardInterrupt``: whatever stops cleanly on Ctrl-C (the Dask task cancellation,
    the atomic report and model writes, the command line's exit status 130) stops the same
    way on a cancellation.
    """


class CancellationToken:
    """Set once to stop a run; the run checks it between fits.

    :meth:`cancel` may be called from any thread or from a signal handler (it only sets a
    flag). Work in another process (a loky or Dask worker) gets a copy of the token as it
    was when the work was sent: tasks sent after :meth:`cancel` stop there, after their fit,
    so a parallel search stops within the fits already under way.
    """

    def __init__(self) -> None:
        self._cancelled = False

    def cancel(self) -> None:
        """Ask the run to stop at its next check."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._cancelled

    def raise_if_cancelled(self) -> None:
        """Raise :class:`RunCancelled` if the token was cancelled.

        Also after a fit whose training loop swallowed a ``KeyboardInterrupt`` and returned a
        half-trained model: that model must not be scored, ranked or saved.
        """
        if self._cancelled:
            raise RunCancelled("the run was cancelled")

    def __getstate__(self) -> dict[str, bool]:
        return {"cancelled": self._cancelled}

    def __setstate__(self, state: dict[str, bool]) -> None:
        self._cancelled = bool(state["cancelled"])

    def __repr__(self) -> str:
        return f"CancellationToken(cancelled={self._cancelled})"


@dataclass(frozen=True)
class RunContext:
    """How a study runs its fits: backend, parallel jobs, progress sink, cancellation.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Fits run at once (joblib's meaning: ``-1`` all cores, ``None`` one). A torch model on
        CUDA still runs one fit at a time; on a Dask cluster the worker threads decide.
    dask : DaskSession or None, default=None
        Run the fits on this Dask cluster (:func:`~sknn_mnist.distributed.dask_session`);
        ``None``: loky worker processes on this machine that share its cores.
    progress : ProgressSink or None, default=None
        Where finished fits and step descriptions go (a
        :class:`~sknn_mnist.study.progress.Progress`); ``None``: nowhere.
    cancel : CancellationToken or None, default=None
        Checked before each search and step and after each fit; ``None``: never cancelled.
    """

    n_jobs: int | None = None
    dask: DaskSession | None = None
    progress: ProgressSink | None = None
    cancel: CancellationToken | None = None

    @classmethod
    def current(cls, **fields: Any) -> RunContext:
        """The default context: the given fields, on the Dask session of the enclosing
        :func:`~sknn_mnist.distributed.dask_backend` block if there is one, else on loky."""
        if "dask" not in fields:
            from .distributed import active_session

            fields["dask"] = active_session()
        return cls(**fields)

    @property
    def backend(self) -> str:
        """``"loky"`` or ``"dask"``."""
        return "loky" if self.dask is None else "dask"

    def replace(self, **changes: Any) -> RunContext:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def check(self) -> None:
        """Raise :class:`RunCancelled` if the run was cancelled."""
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()

    def describe(self, text: str) -> None:
        """Tell the progress sink what the run is doing now."""
        if self.progress is not None:
            self.progress.set_description(text)

    def step(self, text: str, fits: int | None = None) -> None:
        """Tell the progress sink that a step of ``fits`` fits starts (None: a step
        without fits to count, such as a refit): a sink with ``start_step`` counts the
        step's fits on their own; any other sink is told the text."""
        if self.progress is None:
            return
        start_step = getattr(self.progress, "start_step", None)
        if start_step is not None:
            start_step(text, fits)
        else:
            self.progress.set_description(text)

    @contextlib.contextmanager
    def joblib_backend(self) -> Iterator[None]:
        """Send every ``joblib.Parallel`` call of the block (a random forest's trees in a
        refit, too) to the context's backend: the Dask cluster, or joblib's default."""
        if self.dask is None:
            yield
            return
        from joblib import parallel_config

        with parallel_config(backend="dask", client=self.dask.client):
            yield

    @contextlib.contextmanager
    def search(self, estimator: Any, X: Any, y: Any = None, *,
               n_jobs: int | None = None) -> Iterator[None]:
        """Run one search (or ``cross_validate``) of ``estimator`` on ``X, y`` inside this.

        On Dask: :meth:`DaskSession.search <sknn_mnist.distributed.DaskSession.search>`
        (the data broadcast once, torch fits on GPU workers). On loky: ``n_jobs`` (default:
        the context's) worker processes that share the cores
        (:func:`~sknn_mnist.study.parallel.shared_cores`).
        """
        if self.dask is not None:
            with self.dask.search(estimator, X, y):
                yield
            return
        from .parallel import shared_cores

        with shared_cores(self.n_jobs if n_jobs is None else n_jobs):
            yield

    @contextlib.contextmanager
    def scorer(self, scoring: Any) -> Iterator[Any]:
        """``with context.scorer(scoring) as scorer:`` pass ``scorer`` to the search.

        It scores as ``scoring`` does, checks the cancellation token before scoring (a fit
        cut short is not scored) and counts each scored fit on the progress sink. Without a
        progress sink or a token it is ``scoring`` itself.
        """
        from .progress import counted_fits

        with counted_fits(scoring, self.progress, cancel=self.cancel) as scorer:
            yield scorer


def resolve_context(context: RunContext | None, *, n_jobs: int | None = None) -> RunContext:
    """``context``, or :meth:`RunContext.current` when None; an ``n_jobs`` that is not None
    overrides the context's (the public functions' ``n_jobs`` argument)."""
    if context is None:
        return RunContext.current(n_jobs=n_jobs)
    return context if n_jobs is None else context.replace(n_jobs=n_jobs)
