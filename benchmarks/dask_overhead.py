"""What the Dask cluster costs: the same work on joblib's loky backend (2 processes) and on a
2-worker ``distributed.LocalCluster`` (single-threaded worker processes, 127.0.0.1).

    python benchmarks/dask_overhead.py [--quick] [--rounds N] [--mnist-rounds N]

Two workloads, run interleaved (loky, dask, dask, loky, loky, dask, ...: the order
alternates so that a drifting load favours neither) after one untimed warm-up of each
backend (loky's worker processes and the Dask workers import torch once):

1. digits: a ``GridSearchCV`` of the MLP pipeline (4 candidates x 3 folds).
2. MNIST ``--quick`` comparison: ``compare(..., quick=True)`` on the stratified 10,000-row
   subsample the CLI uses, all three models, refits and learning curve included (they run
   in this process for both backends). Skipped without the MNIST files and with --quick.

The ratio is dask / loky wall time of the work (target <= 1.15): for Dask the broadcast of
the data, the scheduling and the transfers of results. Paid once per command and timed
apart: the cluster's start-up (scheduler and worker processes, ``--dask-local``) and the
client's connection to the scheduler. Every
round also checks that both backends gave identical CV scores and chosen parameters.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from _common import load_average, machine_info, parser
from _common import write_result as _write
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from sknn_mnist.compare import compare, make_folds, stratified_subsample
from sknn_mnist.distributed import _start_local_cluster, dask_backend, search_backend
from sknn_mnist.models import make_model

N_WORKERS = 2


def _digits_search(X, y, results: list):
    pipe = make_model("mlp", random_state=0, device="cpu")
    grid = {"clf__hidden_layer_sizes": [(64,), (128, 64)],
            "clf__learning_rate_init": [1e-3, 1e-2], "clf__max_iter": [15]}
    search = GridSearchCV(pipe, grid, cv=make_folds(3, 0), n_jobs=N_WORKERS, refit=False,
                          error_score="raise")
    with search_backend(pipe, X, y, n_jobs=N_WORKERS):
        search.fit(X, y)
    results.append((list(search.cv_results_["mean_test_score"]), search.best_params_))


def _mnist_compare(data, results: list):
    result = compare(*data, quick=True, n_jobs=N_WORKERS, device="cpu", random_state=0)
    results.append([(r.name, r.best_params, r.cv_mean, r.selection_cv_mean, r.test_accuracy)
                    for r in result])


def _load_mnist_quick(args):
    from sknn_mnist.datasets import load_dataset

    kwargs = {"idx_dir": args.idx_dir}
    if args.data_home:
        kwargs["data_home"] = args.data_home
    X, y = load_dataset("mnist", subset="train", return_X_y=True, **kwargs)
    X_test, y_test = load_dataset("mnist", subset="test", return_X_y=True, **kwargs)
    X, y = stratified_subsample(X, y, 10_000, 0)
    return X, y, X_test, y_test


def _measure(name: str, work, rounds: int, session, warm_up: bool = True) -> dict:
    outputs: dict[str, list] = {"loky": [], "dask": []}
    connect: list[float] = []

    def loky() -> float:
        start = time.perf_counter()
        work(outputs["loky"])
        return time.perf_counter() - start

    def dask() -> float:
        # A new client per run, like one `--dask ADDRESS` command; its connection (paid once
        # per command, not per search) is timed apart from the work.
        start = time.perf_counter()
        with session():
            connect.append(time.perf_counter() - start)
            start = time.perf_counter()
            work(outputs["dask"])
            return time.perf_counter() - start

    contenders = {"loky": loky, "dask": dask}
    warm = {k: run() for k, run in contenders.items()} if warm_up else {}
    if warm:
        print(f"{name}: warm-up loky {warm['loky']:.1f} s, dask {warm['dask']:.1f} s",
              flush=True)
    load_before = load_average()
    # The order alternates (loky first, then dask first...): on a machine whose load drifts,
    # whoever runs second in every round would otherwise be favoured.
    seconds: dict[str, list[float]] = {"loky": [], "dask": []}
    for r in range(rounds):
        for k in (("loky", "dask") if r % 2 == 0 else ("dask", "loky")):
            seconds[k].append(contenders[k]())
            print(f"{name}: round {r + 1}/{rounds} {k}: {seconds[k][-1]:.3f} s", flush=True)
    ratios = [d / lo for d, lo in zip(seconds["dask"], seconds["loky"], strict=True)]
    same = all(a == b for a, b in zip(outputs["loky"], outputs["dask"], strict=True))
    return {"workload": name, "warm_up_seconds": warm, "identical_results": same,
            "load_average": {"before": load_before, "after": load_average()},
            "seconds": seconds,
            "median_seconds": {k: statistics.median(v) for k, v in seconds.items()},
            "ratio_to_loky": {"loky": 1.0, "dask": statistics.median(ratios)},
            "client_connect_seconds": statistics.median(connect)}


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--mnist-rounds", type=int, default=None)
    args = p.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    mnist_rounds = args.mnist_rounds or 1

    # The cluster dask_backend(n_workers=2) starts, started once and kept: each timed Dask
    # run connects to it like `--dask ADDRESS` (the connection is in its time), and the
    # loky runs are outside any Dask context.
    start = time.perf_counter()
    cluster, client = _start_local_cluster(N_WORKERS, timeout=60)
    startup = time.perf_counter() - start
    try:
        @contextmanager
        def session():
            with dask_backend(cluster.scheduler_address, timeout=60):
                yield

        X, y = load_digits(return_X_y=True)
        runs = [_measure("digits: GridSearchCV of the MLP, 4 candidates x 3 folds",
                         lambda out: _digits_search(X, y, out), rounds, session)]
        if not args.quick and Path(args.idx_dir).is_dir():
            data = _load_mnist_quick(args)
            runs.append(_measure("MNIST compare --quick (10,000 rows, 3 models)",
                                 lambda out: _mnist_compare(data, out), mnist_rounds,
                                 session, warm_up=False))  # the digits runs warmed up
    finally:
        client.close()
        cluster.close()

    table = [{"workload": r["workload"], "loky s (median)": r["median_seconds"]["loky"],
              "dask s (median)": r["median_seconds"]["dask"],
              "dask / loky": r["ratio_to_loky"]["dask"], "rounds": len(r["seconds"]["loky"]),
              "client connect s": r["client_connect_seconds"],
              "identical results": r["identical_results"],
              "load avg (1 min) before": r["load_average"]["before"][0]} for r in runs]
    result = {
        "benchmark": "dask_overhead",
        "title": "Dask: the same grid on loky (2 processes) and a 2-worker LocalCluster",
        "machine": machine_info("cpu"),
        "cluster_startup_seconds": startup,
        "runs": runs,
        "table": table,
        "notes": [
            "Ratio = median over interleaved rounds (alternating order) of dask / loky wall "
            "time (target <= 1.15); the Dask time includes the broadcast of the data, not the "
            "client's connection (once per command, its own column).",
            f"Starting the 2-worker LocalCluster took {startup:.1f} s (paid once per "
            "`--dask-local` run; the first search on fresh workers also imports torch "
            "there, see warm_up_seconds in the JSON).",
            "Load averages (1, 5, 15 min) are in the JSON; above the core count (2) the "
            "timings are inflated and noisy.",
        ],
    }
    _write(args, "dask_overhead", result)
    print(np.round([r["ratio_to_loky"]["dask"] for r in runs], 3))


if __name__ == "__main__":
    main()
