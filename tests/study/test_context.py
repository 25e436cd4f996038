"""The run context: progress sink, cancellation between fits, backend, passed explicitly."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from sknn_mnist.compare import compare, cross_validate_model, grid_search, make_folds
from sknn_mnist.datasets import load_dataset
from sknn_mnist.study.context import CancellationToken, RunCancelled, RunContext, resolve_context
from sknn_mnist.study.plan import plan_comparison

X_TOY, Y_TOY = np.zeros((40, 2)), np.arange(40) % 2


class _Counts(ClassifierMixin, BaseEstimator):
    """Counts its fits in ``fits``; cancels ``token`` during fit number ``cancel_at``.

    (Class attributes: the search clones, and so copies, its parameters.)
    """

    fits: list[int] = []
    token: CancellationToken | None = None
    cancel_at = 0

    def __init__(self, c=1, sleep=0.0):
        self.c = c
        self.sleep = sleep

    def fit(self, X, y):
        cls = type(self)
        cls.fits.append(self.c)
        if cls.token is not None and len(cls.fits) == cls.cancel_at:
            cls.token.cancel()  # as Ctrl-C's handler does, while a fit runs
        time.sleep(self.sleep)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class _Sink:
    """A progress sink that records what it is told."""

    enabled = True

    def __init__(self):
        self.n, self.descriptions = 0, []

    def update(self, n=1):
        self.n += n

    def set_description(self, desc):
        self.descriptions.append(desc)


@pytest.fixture(autouse=True)
def _reset_counts():
    _Counts.fits, _Counts.token, _Counts.cancel_at = [], None, 0


def test_token_cancels_once_and_pickles_with_its_state():
    token = CancellationToken()
    token.raise_if_cancelled()
    assert not pickle.loads(pickle.dumps(token)).cancelled
    token.cancel()
    assert token.cancelled and "cancelled=True" in repr(token)
    with pytest.raises(RunCancelled) as info:
        token.raise_if_cancelled()
    assert isinstance(info.value, KeyboardInterrupt)  # the CLI exits 130, Dask cancels
    assert pickle.loads(pickle.dumps(token)).cancelled


def test_cancellation_stops_a_search_between_fits():
    token = CancellationToken()
    _Counts.token, _Counts.cancel_at = token, 2
    grid = {"c": [1, 2, 3]}  # 3 candidates x 2 folds = 6 fits
    with pytest.raises(RunCancelled):
        grid_search(_Counts(), grid, X_TOY, Y_TOY, cv=make_folds(2), n_jobs=1,
                    context=RunContext(cancel=token))
    # The second fit cancelled the run: it is not scored, and no third fit starts.
    assert len(_Counts.fits) == 2
    # A cancelled context starts nothing at all.
    _Counts.fits = []
    for run in (lambda ctx: grid_search(_Counts(), grid, X_TOY, Y_TOY, cv=2, context=ctx),
                lambda ctx: cross_validate_model(_Counts(), X_TOY, Y_TOY, cv=2, context=ctx)):
        with pytest.raises(RunCancelled):
            run(RunContext(cancel=token))
    assert _Counts.fits == []


def test_cancellation_reaches_parallel_workers():
    # Loky workers get the token as it is when each fit is sent: cancelled after the
    # first scored fit, the search stops well before its 16 fits.
    token = CancellationToken()

    class CancelOnFirstFit(_Sink):
        def update(self, n=1):
            super().update(n)
            token.cancel()

    sink = CancelOnFirstFit()
    grid = {"c": list(range(8))}
    start = time.perf_counter()
    with pytest.raises(RunCancelled):
        grid_search(_Counts(sleep=0.3), grid, X_TOY, Y_TOY, cv=make_folds(2),
                    context=RunContext(n_jobs=2, cancel=token, progress=sink))
    assert 1 <= sink.n < 16
    assert time.perf_counter() - start < 30


def test_compare_reports_to_the_context_and_stops_when_cancelled():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    grids = {"rf": {"clf__n_estimators": [5, 10]}, "svm": {"clf__C": [1.0]}}
    plan = plan_comparison(y[:200], models=["rf", "svm"], cv=2, param_grids=grids,
                           subsamples={"svm": 150})
    sink = _Sink()
    result = compare(X[:200], y[:200], X[200:260], y[200:260], plan=plan,
                     context=RunContext(progress=sink))
    assert sink.n == plan.n_fits == 2 * 2 + 2 + 1 * 2  # rf grid + rf selection + svm grid
    assert sink.descriptions == ["rf: grid search on 200 rows", "svm: grid search on 150 rows",
                                 "rf: selection CV on 150 rows", "rf: refit on 200 rows",
                                 "svm: refit on 200 rows"]
    assert list(result.results) == ["rf", "svm"]
    token = CancellationToken()
    token.cancel()
    with pytest.raises(RunCancelled):
        compare(X[:200], y[:200], X[200:260], y[200:260], plan=plan,
                context=RunContext(cancel=token))


def test_default_context_and_overrides():
    ctx = RunContext.current()
    assert (ctx.backend, ctx.n_jobs, ctx.progress, ctx.cancel) == ("loky", None, None, None)
    assert resolve_context(None, n_jobs=3).n_jobs == 3
    mine = RunContext(n_jobs=2, cancel=CancellationToken())
    assert resolve_context(mine) is mine
    assert resolve_context(mine, n_jobs=4) == mine.replace(n_jobs=4)
    ctx.check()  # no token: never cancelled
    # Without a sink or a token the scorer is the scoring itself (library calls unchanged).
    with ctx.scorer("accuracy") as scorer:
        assert scorer == "accuracy"
    with mine.scorer("accuracy") as scorer:
        assert repr(scorer) == "accuracy" and scorer.cancel is mine.cancel
