"""Progress that counts real work: fits done, in this process or in parallel workers.

- :class:`Progress`: a tqdm bar on a terminal; in a log (stderr not a TTY) one plain line
  per update instead of carriage-return redraws piling up on one line. A run of several
  steps (a comparison: each model's grid search, selection CV, refit) starts each with
  :meth:`Progress.start_step`: the count is then the step's (``mlp: grid search on 300
  rows: 1/4 fits done``), and a step without fits to count (a refit) shows its name and
  its time, not a full bar.
- :class:`FitCounter`: a scorer that scores as usual and appends one byte to a small file
  per call; scorers run in the worker that fitted the fold, so the count is right with any
  ``n_jobs`` (loky processes write to the same file). A thread in this process watches the
  file's size and moves the bar. It also checks the run's cancellation token before it
  scores: a fit cut short by Ctrl-C is never scored.
- :class:`ProgressSink`: what a :class:`~sknn_mnist.study.context.RunContext` reports to.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .context import CancellationToken

__all__ = ["FitCounter", "Progress", "ProgressSink", "counted_fits"]


class ProgressSink(Protocol):
    """Where a run reports progress: :class:`Progress`, or anything with these members."""

    #: ``False``: nothing is shown, and fits are not counted.
    enabled: bool

    def update(self, n: int = 1) -> None:
        """Count ``n`` more finished fits."""

    def set_description(self, desc: str) -> None:
        """Say what the run is doing now."""

    # Optional: ``start_step(desc, total)`` starts a step of ``total`` fits (None: a step
    # without fits to count); :meth:`RunContext.step` uses it when the sink has it.


class Progress:
    """A progress display on stderr: tqdm on a terminal, one line per update in a log.

    Parameters
    ----------
    total : int or None
        Units of work expected (``None``: unknown).
    desc : str
        What is being done.
    unit : str, default='fit'
    enabled : bool, default=True
        ``False``: show nothing.
    stream : file, optional
        Default ``sys.stderr``.
    """

    def __init__(self, total: int | None, desc: str, *, unit: str = "fit",
                 enabled: bool = True, stream: IO[str] | None = None):
        self.total = total
        self.desc = desc
        self.unit = unit
        self.n = 0
        #: The current step's fits expected and done (the whole run until a step starts).
        self.step_total = total
        self.step_n = 0
        self._stepped = False
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._start = time.perf_counter()
        self._lock = threading.Lock()
        self._bar: Any = None
        if enabled and _isatty(self.stream):
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, leave=False, file=self.stream)

    def set_description(self, desc: str) -> None:
        """Change the description; in a log it is printed as a line of its own, so that
        steps without fits to count (a refit of several minutes) still show."""
        with self._lock:
            if desc == self.desc:
                return
            self.desc = desc
            if self._bar is not None:
                self._bar.set_description(desc)
            elif self.enabled:
                elapsed = time.perf_counter() - self._start
                print(f"{desc} ({elapsed:.0f} s)", file=self.stream, flush=True)

    def start_step(self, desc: str, total: int | None) -> None:
        """Start a step of the run: ``desc``, and ``total`` units of its own (None: a step
        without units to count, such as a refit, shown by its name and time).

        The count restarts at 0, so that a line says how far this step is (``1/4 fits
        done``), with the run's total beside it; on a terminal the bar restarts, and a
        step without a total shows no percentage (a full bar during a refit of minutes
        would say that the run is done).
        """
        with self._lock:
            self.desc, self.step_total, self.step_n, self._stepped = desc, total, 0, True
            if self._bar is not None:
                self._bar.reset(total=total)
                # No bar, no rate for a step without a count: its name and its time.
                self._bar.bar_format = None if total else "{desc}[{elapsed}{postfix}]"
                self._bar.set_description(desc, refresh=False)
                self._bar.set_postfix_str(self._in_all(), refresh=False)
                self._bar.refresh()
            elif self.enabled:
                elapsed = time.perf_counter() - self._start
                print(f"{desc} ({elapsed:.0f} s)", file=self.stream, flush=True)

    def _in_all(self) -> str:
        return f"{self.n}/{self.total} {self.unit}s in all" if self.total else ""

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units of work (of the current step, and of the run)."""
        if n <= 0:
            return
        with self._lock:
            self.n += n
            self.step_n += n
            if self._bar is not None:
                if self._stepped:
                    self._bar.set_postfix_str(self._in_all(), refresh=False)
                self._bar.update(n)
            elif self.enabled:
                of = f"/{self.step_total}" if self.step_total else ""
                elapsed = time.perf_counter() - self._start
                in_all = f"{self._in_all()}, " if self._stepped and self.total else ""
                print(f"{self.desc}: {self.step_n}{of} {self.unit}s done "
                      f"({in_all}{elapsed:.0f} s)", file=self.stream, flush=True)

    def close(self) -> None:
        """Remove the bar (so that what is printed next starts on a clean line)."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class FitCounter:
    """A scorer that checks a cancellation token and appends one byte to ``path`` per call
    (a finished fold).

    Picklable, so that it works in loky or dask worker processes on this machine.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scorer name (or scorer).
    path : str or None
        The tick file; ``None``: count nothing.
    cancel : CancellationToken or None, default=None
        Checked before scoring.
    """

    def __init__(self, scoring: Any, path: str | None, cancel: CancellationToken | None = None):
        self.scoring = scoring
        self.path = path
        self.cancel = cancel

    def __repr__(self) -> str:  # reports name the scoring, not this wrapper
        return str(self.scoring)

    def __call__(self, estimator: Any, X: Any, y: Any) -> float:
        from sklearn.metrics import get_scorer

        # A training loop that swallowed Ctrl-C returns a half-trained model: do not score it.
        if self.cancel is not None:
            self.cancel.raise_if_cancelled()
        score = get_scorer(self.scoring)(estimator, X, y)
        if self.path is not None:
            with open(self.path, "ab") as fh:
                fh.write(b".")
        return score


class counted_fits:
    """``with counted_fits(scoring, progress) as scorer:`` pass ``scorer`` as ``scoring``.

    Every call of the scorer (in any worker) moves ``progress`` by one, after checking
    ``cancel``. With ``progress`` None or disabled, starts nothing, and yields ``scoring``
    unchanged when there is no ``cancel`` either.
    """

    def __init__(self, scoring: Any, progress: ProgressSink | None, *,
                 cancel: CancellationToken | None = None, poll_seconds: float = 0.2):
        self.scoring = scoring
        self.progress = progress
        self.cancel = cancel
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._path: Path | None = None
        self._seen = 0

    def __enter__(self) -> Any:
        if self.progress is None or not self.progress.enabled:
            return self.scoring if self.cancel is None else FitCounter(self.scoring, None,
                                                                       self.cancel)
        fd, name = tempfile.mkstemp(prefix="sknn-mnist-fits-", suffix=".ticks")
        os.close(fd)
        self._path = Path(name)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return FitCounter(self.scoring, name, self.cancel)

    def _poll(self) -> None:
        assert self._path is not None and self.progress is not None
        try:
            size = self._path.stat().st_size
        except OSError:
            return
        if size > self._seen:
            self.progress.update(size - self._seen)
            self._seen = size

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            self._poll()

    def __exit__(self, *exc: object) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._poll()
        assert self._path is not None
        self._path.unlink(missing_ok=True)
