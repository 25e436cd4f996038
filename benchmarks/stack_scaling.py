"""Scaling in K: time per network when K networks of one shape train as one stack.

    python benchmarks/stack_scaling.py [--quick] [--device cpu|cuda]

For each workload and K (1, 2, 4, ... networks that differ in ``random_state``, as a
seed ensemble or the folds of one candidate would), one ``fit_many`` call trains the K
networks stacked; the reference is the same network's own ``fit``, run in the same round
(interleaved, so that the machine's load hits both alike). The table gives seconds per
network, stacked and alone, and their ratio; the chunk size the code uses
(``sknn_mnist.core.stacked.memory.MAX_NETWORKS_CPU``) comes from where the per-network
time stops falling. Workloads: the 784-100-50-10-shaped MLP (100, 50) on the digits
(1,437 rows) and on 10,000 MNIST rows, and the course's CNN on 2,000 MNIST rows. The
digits fall back to digits when the MNIST files are absent.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from _common import (
    cuda_devices,
    load_average,
    load_mnist_arrays,
    machine_info,
    parser,
    scale01,
)
from _common import write_result as _write
from sklearn.base import clone
from sklearn.datasets import load_digits

from sknn_mnist import CNNDigitClassifier, MLPDigitClassifier
from sknn_mnist.core.many import FitJob, fit_many


def _workloads(args):
    X, y = load_digits(return_X_y=True)
    digits = (X[:1437] / 16.0).astype(np.float32), y[:1437]
    name, X_train, y_train, _, _ = load_mnist_arrays(args)
    rows = 2000 if args.quick else 10000
    mnist = scale01(X_train[:rows]), y_train[:rows]
    cnn_rows = 300 if args.quick else 2000
    cnn_data = scale01(X_train[:cnn_rows]), y_train[:cnn_rows]
    ks = (1, 2, 4) if args.quick else (1, 2, 4, 8, 16, 32)
    return [
        ("MLP (100, 50), digits", MLPDigitClassifier(hidden_layer_sizes=(100, 50),
                                                     max_iter=2 if args.quick else 5),
         digits, ks),
        (f"MLP (100, 50), {name} {rows} rows", MLPDigitClassifier(
            hidden_layer_sizes=(100, 50), max_iter=1 if args.quick else 2), mnist, ks),
        (f"CNN, {name} {cnn_rows} rows", CNNDigitClassifier(max_iter=1),
         cnn_data, ks[:3] if args.quick else (1, 2, 4, 8)),
    ]


def _alone(base, X, y, device) -> float:
    estimator = clone(base).set_params(random_state=0, device=device)
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def _stacked(base, X, y, k, device) -> float:
    jobs = [FitJob(clone(base).set_params(random_state=s, device=device), X, y)
            for s in range(k)]
    start = time.perf_counter()
    results = fit_many(jobs, max_networks=k)
    seconds = time.perf_counter() - start
    assert all(r.error is None for r in results), [r.error for r in results]
    return seconds / k


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    devices = cuda_devices() if args.device == "auto" else [args.device]
    table, runs = [], []
    warnings.simplefilter("ignore")
    load_start = load_average()
    for device in devices:
        for label, base, (X, y), ks in _workloads(args):
            _alone(base, X[:200], y[:200], device)  # warm-up: imports, first allocations
            per_k: dict[int, list[float]] = {k: [] for k in ks}
            alone: list[float] = []
            for r in range(rounds):
                alone.append(_alone(base, X, y, device))
                for k in ks:
                    per_k[k].append(_stacked(base, X, y, k, device))
                print(f"{device} {label} round {r + 1}: alone {alone[-1]:.2f} s, per "
                      "network " + ", ".join(f"K={k} {per_k[k][-1]:.2f} s" for k in ks),
                      flush=True)
            single = float(np.median(alone))
            for k in ks:
                stacked = float(np.median(per_k[k]))
                table.append({"device": device, "workload": label, "K": k,
                              "s per network, stacked": stacked,
                              "s per network, alone": single,
                              "speed-up": single / stacked})
            runs.append({"device": device, "workload": label, "alone": alone,
                         "stacked_per_network": {str(k): v for k, v in per_k.items()}})
    result = {
        "benchmark": "stack_scaling",
        "title": "Time per network of K networks trained as one stack (fit_many)",
        "machine": machine_info(devices[-1]),
        "table": table,
        "notes": [
            f"{rounds} interleaved round(s); medians. The K networks differ in "
            "random_state (their own initial weights, batch order and dropout masks).",
            "'alone' is one network's own fit in the same round; speed-up = alone / "
            "stacked per network.",
            f"Load average at the start: {load_start[0]:.1f}, at the end: "
            f"{load_average()[0]:.1f} (2-core machine shared with other work).",
        ],
        "runs": runs,
    }
    _write(args, "stack_scaling", result)


if __name__ == "__main__":
    main()
