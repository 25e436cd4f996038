"""Searches that grow a resource work with our MLP: scikit-learn's HalvingGridSearchCV (rows,
or epochs through ``max_iter``) and dask-ml's HyperbandSearchCV (``partial_fit`` calls, on a
local Dask cluster on 127.0.0.1 that closes with the test)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.experimental import enable_halving_search_cv  # noqa: F401 - enables the import
from sklearn.model_selection import HalvingGridSearchCV, train_test_split

from sknn_mnist import MLPDigitClassifier

LEARNING_RATES = [1e-4, 1e-3, 1e-2, 3e-2]


@pytest.fixture(scope="module")
def split(digits):
    X, y = digits
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def _mlp(**params) -> MLPDigitClassifier:
    return MLPDigitClassifier(hidden_layer_sizes=(32,), random_state=0, device="cpu",
                              **params)


def _iteration(search, i: int) -> dict:
    """``cv_results_`` rows of halving iteration ``i``: learning rate -> (score, params)."""
    results = search.cv_results_
    rows = np.flatnonzero(results["iter"] == i)
    return {results["params"][r]["learning_rate_init"]: (results["mean_test_score"][r],
                                                         results["params"][r]) for r in rows}


def test_halving_grid_search_over_rows(split):
    X, X_test, y, y_test = split
    search = HalvingGridSearchCV(_mlp(max_iter=20), {"learning_rate_init": LEARNING_RATES},
                                 factor=2, min_resources=200, cv=3, random_state=0,
                                 error_score="raise").fit(X, y)
    assert search.n_resources_ == [200, 400, 800]
    assert search.n_candidates_ == [4, 2, 1]
    first, second = _iteration(search, 0), _iteration(search, 1)
    # The networks that learn least in 20 epochs on 200 rows go first: 1e-4 barely moves.
    assert first[1e-4][0] < 0.5 < max(score for score, _ in first.values())
    assert 1e-4 not in second and set(second) < set(first)
    assert set(second) == set(sorted(first, key=lambda lr: first[lr][0])[-2:])
    best = search.best_estimator_  # refit on every training row
    assert best.t_ == len(y) * best.n_iter_ and best.learning_rate_init in second
    assert search.best_score_ > 0.85 and best.score(X_test, y_test) > 0.9


def test_halving_grid_search_over_epochs(split):
    X, X_test, y, y_test = split
    # n_iter_no_change above max_iter: every candidate trains its full budget of epochs.
    search = HalvingGridSearchCV(_mlp(n_iter_no_change=100),
                                 {"learning_rate_init": LEARNING_RATES}, resource="max_iter",
                                 min_resources=3, max_resources=24, factor=2, cv=3,
                                 error_score="raise").fit(X, y)
    assert search.n_resources_ == [3, 6, 12]
    results = search.cv_results_
    np.testing.assert_array_equal(results["param_max_iter"],
                                  np.asarray(search.n_resources_)[results["iter"]])
    first, last = _iteration(search, 0), _iteration(search, 2)
    (lr,) = last
    assert last[lr][0] > first[lr][0]  # 12 epochs of a candidate beat its 3
    best = search.best_estimator_
    assert best.max_iter == 12 and best.n_iter_ == 12 and len(best.loss_curve_) == 12
    assert best.score(X_test, y_test) > 0.9


# -- dask-ml --------------------------------------------------------------------------------
def _persist_on_the_client(*collections):
    """``dask.persist`` as dask-ml 2025.1 expects it: on the current distributed client.

    dask-ml 2025.1.0 calls ``dask.persist`` inside the client's event loop, which dask
    >= 2025.3 refuses ("Attempting to use an asynchronous Client in a synchronous context",
    dask/dask-ml#1016, open). ``Client.persist`` does the same there; dicts of collections
    are persisted value by value, as dask-ml passes them.
    """
    from distributed import default_client

    client = default_client()
    out = []
    for item in collections:
        if isinstance(item, dict):
            keys = list(item)
            out.append(dict(zip(keys, client.persist([item[k] for k in keys]), strict=True)))
        else:
            out.append(client.persist(item))
    return tuple(out)


@pytest.fixture
def dask_ml_on_current_dask(monkeypatch):
    """dask-ml's incremental searches with the work-around of dask/dask-ml#1016 while it
    applies (dask-ml <= 2025.1.0)."""
    import types

    import dask
    from packaging.version import Version

    incremental = pytest.importorskip("dask_ml.model_selection._incremental")
    import dask_ml

    if Version(dask_ml.__version__) <= Version("2025.1.0"):
        shim = types.SimpleNamespace(**{k: getattr(dask, k) for k in dir(dask)
                                        if not k.startswith("__")})
        shim.persist = _persist_on_the_client
        monkeypatch.setattr(incremental, "dask", shim)


@pytest.mark.timeout(300)
def test_hyperband_search_cv_calls_partial_fit_on_a_local_cluster(split,
                                                                   dask_ml_on_current_dask):
    pytest.importorskip("distributed")
    import dask.array as da
    from dask_ml.model_selection import HyperbandSearchCV

    from sknn_mnist.distributed import dask_backend

    X, X_test, y, y_test = split
    with dask_backend(n_workers=2, timeout=60) as session:
        assert all(a.startswith("tcp://127.0.0.1:") for a in session.client.nthreads())
        with session.client.as_current():
            search = HyperbandSearchCV(_mlp(), {"learning_rate_init": LEARNING_RATES,
                                                "alpha": [1e-5, 1e-4, 1e-3, 1e-2]},
                                       max_iter=9, aggressiveness=3, random_state=0)
            search.fit(da.from_array(X, chunks=(250, X.shape[1])),
                       da.from_array(y, chunks=250), classes=np.unique(y))
    assert session.client.status == "closed"  # the cluster stopped with the block
    best = search.best_estimator_
    assert isinstance(best, MLPDigitClassifier) and best.n_features_in_ == X.shape[1]
    np.testing.assert_array_equal(best.classes_, np.arange(10))
    # Every one of dask-ml's partial_fit calls trained the network one epoch on one chunk.
    calls = search.cv_results_["partial_fit_calls"][search.best_index_]
    assert calls > 1 and len(best.loss_curve_) == calls and best.n_iter_ == 1
    assert calls * 100 < best.t_ <= calls * 250
    assert search.best_params_["learning_rate_init"] >= 1e-3
    assert search.best_score_ > 0.8 and best.score(X_test, y_test) > 0.8
