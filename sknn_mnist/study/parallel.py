"""Parallel fits that share the CPU cores instead of oversubscribing them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from joblib import effective_n_jobs, parallel_config


def threads_per_worker(n_jobs: int) -> int:
    """CPU threads each of ``n_jobs`` workers may use so that together they fill the cores."""
    return max(1, (os.cpu_count() or 1) // max(1, n_jobs))


@contextlib.contextmanager
def shared_cores(n_jobs: int | None) -> Iterator[int]:
    """Run joblib-parallel scikit-learn code (GridSearchCV, cross_validate) inside this.

    With more than one job, loky workers get OMP/MKL/torch thread limits through
    ``inner_max_num_threads`` (torch reads ``OMP_NUM_THREADS`` when a worker imports it):
    without them 2 workers on 2 cores would each start 2 torch threads, and an
    oversubscribed torch slows down several-fold (measured: ``benchmarks/results/RESULTS.md``,
    section "Contention", row "ours, threads not managed"). Yields the effective number of
    jobs.
    """
    jobs = effective_n_jobs(n_jobs)
    limits = (parallel_config(backend="loky", inner_max_num_threads=threads_per_worker(jobs))
              if jobs > 1 else contextlib.nullcontext())
    with limits:
        yield jobs
