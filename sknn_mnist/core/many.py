"""Many fits at once: the entry point of grid searches, cross-validation and ensembles.

:func:`fit_many` takes a list of :class:`FitJob` (an unfitted estimator with its
parameters set, and its training data) and fits them all. Jobs whose networks can share
one stacked fit (see :func:`stack_key`) are trained together by the stacked trainer; the
others are fitted one by one with their own ``fit``. Either way each job's estimator ends
up exactly as its own ``fit`` call would leave it, and a job that fails reports its error
instead of raising, so that a search can apply its ``error_score``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass
class FitJob:
    """One fit to run: ``estimator.fit(X, y, sample_weight=sample_weight)``.

    Jobs may share ``X`` (the same array object): the stacked trainer then puts it on
    the device once for all of them.
    """

    estimator: Any
    X: Any
    y: Any
    sample_weight: Any = None


@dataclass
class FitResult:
    """What one job's fit did.

    Attributes
    ----------
    estimator : estimator
        The job's estimator: fitted, or as it was when ``error`` is set.
    error : Exception or None
        The exception its fit raised.
    fit_time : float
        Seconds of fitting attributed to this job (a stacked fit's time is shared out
        evenly between its networks).
    """

    estimator: Any
    error: BaseException | None
    fit_time: float


def stack_key(estimator: Any) -> Hashable | None:
    """What estimators must share to train in one stacked fit; None when this one can't.

    Estimators with equal keys are stacked together.
    """
    return None


def fit_many(jobs: Sequence[FitJob], *, verbose: int = 0) -> list[FitResult]:
    """Fit every job; results in the order of ``jobs``.

    Parameters
    ----------
    jobs : sequence of FitJob
    verbose : int, default=0
        Above 0, say how the jobs were grouped and chunked.

    Returns
    -------
    list of FitResult
        ``KeyboardInterrupt`` is not caught: it propagates after the current fit.
    """
    return [_fit_one(job) for job in jobs]


def _fit_one(job: FitJob) -> FitResult:
    start = time.perf_counter()
    try:
        if job.sample_weight is None:
            job.estimator.fit(job.X, job.y)
        else:
            job.estimator.fit(job.X, job.y, sample_weight=job.sample_weight)
    except Exception as exc:  # reported to the caller, which applies its error_score
        return FitResult(job.estimator, exc, time.perf_counter() - start)
    return FitResult(job.estimator, None, time.perf_counter() - start)
