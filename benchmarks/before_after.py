"""Before/after a refactoring: the same fits under two checkouts, interleaved in one run.

    python benchmarks/before_after.py BEFORE_CHECKOUT [--quick] [--rounds N]

``BEFORE_CHECKOUT`` is a folder holding another version of the package (e.g. a
``git worktree add /tmp/before <commit>``); the current checkout is "after". Each round runs
one fit per contender and version in a fresh subprocess (so that neither version's imports
or caches help the other), alternating which version goes first. Reported: the wall time
of each fit, the ratio after/before, and whether the trained models are the same (loss
curves and test predictions equal to the last bit: a pure refactoring changes no number).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _common import machine_info, parser
from _common import write_result as _write

HERE = Path(__file__).resolve().parent
AFTER = HERE.parent

#: Run in a subprocess with the checkout first on sys.path: fit, time, and describe.
_FIT = r"""
import hashlib, json, sys, time, warnings
import numpy as np
from sknn_mnist.datasets import load_mnist
from sknn_mnist import MLPDigitClassifier, CNNDigitClassifier
kind, n_train, max_iter, idx_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
train = load_mnist(subset="train", idx_dir=idx_dir, download=False)
test = load_mnist(subset="test", idx_dir=idx_dir, download=False)
X, y = train.data[:n_train] / 255.0, train.target[:n_train]
X_test = test.data / 255.0
cls = MLPDigitClassifier if kind == "mlp" else CNNDigitClassifier
clf = cls(max_iter=max_iter, random_state=0, device="cpu")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    start, cpu = time.perf_counter(), time.process_time()
    clf.fit(X, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
predictions = clf.predict(X_test)
print(json.dumps({
    "seconds": seconds,
    "cpu_seconds": cpu,
    "test_accuracy": float(np.mean(predictions == test.target)),
    "loss_curve": [float(v) for v in clf.loss_curve_],
    "predictions_sha256": hashlib.sha256(predictions.astype(np.int64).tobytes()).hexdigest(),
}))
"""


def run_fit(checkout: Path, kind: str, n_train: int, max_iter: int, idx_dir: str,
            threads: int | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    if threads:  # the thread policy stands aside: both versions run on the same threads
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", _FIT, kind, str(n_train), str(max_iter),
                          idx_dir], capture_output=True, text=True, env=env, check=True,
                         timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("before", help="folder of the 'before' checkout")
    p.add_argument("--threads", type=int, default=None,
                   help="fix torch's threads (OMP_NUM_THREADS) in both versions")
    args = p.parse_args()
    before = Path(args.before).resolve()
    load_start = os.getloadavg()
    rounds = args.rounds or (2 if args.quick else 3)
    fits = {"mlp": (10_000 if args.quick else 60_000, 15 if not args.quick else 3),
            "cnn": (2_000 if args.quick else 10_000, 2 if not args.quick else 1)}
    seconds: dict[str, dict[str, list[float]]] = {k: {"before": [], "after": []} for k in fits}
    cpu: dict[str, dict[str, list[float]]] = {k: {"before": [], "after": []} for k in fits}
    runs: dict[str, dict[str, dict]] = {k: {} for k in fits}
    for r in range(rounds):
        for kind, (n_train, max_iter) in fits.items():
            order = [("before", before), ("after", AFTER)]
            for version, checkout in order if r % 2 == 0 else order[::-1]:
                res = run_fit(checkout, kind, n_train, max_iter, args.idx_dir or "",
                              args.threads)
                seconds[kind][version].append(res["seconds"])
                cpu[kind][version].append(res["cpu_seconds"])
                runs[kind][version] = res
                print(f"round {r + 1} {kind} {version}: {res['seconds']:.2f} s, "
                      f"accuracy {res['test_accuracy']:.4f}", flush=True)
    table = []
    for kind, (n_train, max_iter) in fits.items():
        b, a = (statistics.median(seconds[kind][v]) for v in ("before", "after"))
        cb, ca = (statistics.median(cpu[kind][v]) for v in ("before", "after"))
        same = (runs[kind]["before"]["loss_curve"] == runs[kind]["after"]["loss_curve"]
                and runs[kind]["before"]["predictions_sha256"]
                == runs[kind]["after"]["predictions_sha256"])
        table.append({"fit": f"{kind} defaults, {n_train} rows, {max_iter} epochs",
                      "before s (median)": b, "after s (median)": a, "after / before": a / b,
                      "cpu after / before": ca / cb,
                      "test accuracy before": runs[kind]["before"]["test_accuracy"],
                      "test accuracy after": runs[kind]["after"]["test_accuracy"],
                      "identical models": same})
    result = {
        "benchmark": "before_after",
        "title": f"Before/after the structure refactoring ({rounds} interleaved rounds, cpu, "
                 f"threads {args.threads or 'by the thread policy'})",
        "machine": machine_info("cpu"),
        "params": {"before": str(before), "rounds": rounds, "threads": args.threads},
        "load_average": {"start": load_start, "end": os.getloadavg()},
        "table": table,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "notes": ["Each fit runs in a fresh subprocess; the versions alternate which goes "
                  "first. 'identical models': the loss curves and the test predictions are "
                  "equal to the last bit. 'cpu after / before' compares the fits' process CPU "
                  "time, less sensitive than wall time to other work on a shared machine."],
    }
    _write(args, f"before_after{f'-threads{args.threads}' if args.threads else ''}", result)
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
