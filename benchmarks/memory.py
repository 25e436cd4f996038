"""Data: cached ``load_mnist`` time, and peak memory of fitting the default pipeline.

    python benchmarks/memory.py [--quick]

Each measurement runs in a fresh subprocess so that its peak RSS is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import textwrap

from _common import machine_info, parser
from _common import write_result as _write

LOAD = textwrap.dedent("""
    import json, sys, time
    from sknn_mnist.datasets import load_mnist
    kw = json.loads(sys.argv[1])
    load_mnist(subset="all", **kw)                      # first load fills the cache
    times = []
    for _ in range(5):
        t = time.perf_counter(); X, y = load_mnist(subset="all", return_X_y=True, **kw)
        times.append(time.perf_counter() - t)
    print(json.dumps({"cached_load_s": sorted(times)[len(times) // 2], "all_s": times,
                      "rows": len(X)}))
""")

FIT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler
    from sknn_mnist import MLPDigitClassifier
    from sknn_mnist.datasets import load_mnist
    kw = json.loads(sys.argv[1]); n = int(sys.argv[2]); epochs = int(sys.argv[3])
    X, y = load_mnist(subset="train", return_X_y=True, **kw)
    X, y = X[:n], y[:n]
    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Baseline: interpreter + libraries + the uint8 data, after a tiny warm-up fit so that
    # torch's lazily loaded kernels count as baseline, not as the fit's memory.
    MLPDigitClassifier(max_iter=1, device="cpu").fit(X[:200], y[:200])
    base = rss_mb()
    make_pipeline(MinMaxScaler(), MLPDigitClassifier(max_iter=epochs, device="cpu")).fit(X, y)
    peak = rss_mb()
    print(json.dumps({"baseline_mb": base, "peak_mb": peak, "above_baseline_mb": peak - base,
                      "float32_data_mb": X.shape[0] * X.shape[1] * 4 / 2**20, "rows": n}))
""")


def run(code: str, *argv: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *argv], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    with tempfile.TemporaryDirectory() as home:
        kw = json.dumps({"idx_dir": args.idx_dir, "data_home": args.data_home or home})
        load = run(LOAD, kw)
        fit = run(FIT, kw, "10000" if args.quick else "60000", "1")
    table = [
        {"measure": "cached load_mnist(subset='all') (70,000 rows), median of 5",
         "value": f"{load['cached_load_s']:.3f} s", "target": "< 1 s"},
        {"measure": f"peak RSS above baseline, default pipeline fit on {fit['rows']} rows",
         "value": f"{fit['above_baseline_mb']:.0f} MB",
         "target": f"< 3x float32 data = {3 * fit['float32_data_mb']:.0f} MB"},
    ]
    result = {
        "benchmark": "memory",
        "title": "4. Data: cached load time and peak memory of a fit",
        "machine": machine_info("cpu"),
        "table": table,
        "notes": [
            "scikit-learn's fetch_openml parse of mnist_784 could not be timed: it needs "
            "OpenML's ARFF/parquet file in its cache, and this machine has no network.",
            "The pipeline's MinMaxScaler turns uint8 into float64 (8 bytes/pixel); "
            "MLPDigitClassifier converts that to float32 once and trains on it in place.",
        ],
        "load": load, "fit": fit,
    }
    _write(args, "memory", result)


if __name__ == "__main__":
    main()
