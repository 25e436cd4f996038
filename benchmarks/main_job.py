"""The main job: ``sknn-mnist compare --dataset mnist`` with the default grids.

    python benchmarks/main_job.py [--quick] [--n-jobs N]

Runs the real command (``python -m sknn_mnist compare``) in a subprocess, times its wall
clock, and records the per-model table it wrote (``compare.csv``). ``--quick`` runs
``compare --dataset digits --quick`` instead.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine_info, parser
from _common import write_result as _write


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--n-jobs", type=int, default=None)
    args = p.parse_args()
    dataset = "digits" if args.quick or not Path(args.idx_dir).is_dir() else "mnist"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "compare"
        command = [sys.executable, "-m", "sknn_mnist", "compare", "--dataset", dataset,
                   "--out", str(out), "--device", args.device, "--quiet"]
        if dataset == "mnist":
            command += ["--idx-dir", args.idx_dir]
        if args.data_home:
            command += ["--data-home", args.data_home]
        if args.quick:
            command.append("--quick")
        if args.n_jobs is not None:
            command += ["--n-jobs", str(args.n_jobs)]
        load_before = load_average()
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - start
        load_after = load_average()
        if done.returncode != 0:
            sys.exit(f"compare failed ({done.returncode}): {done.stderr.strip()}")
        with open(out / "compare.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    table = [{k: _number(v) for k, v in row.items()} for row in rows]
    result = {
        "benchmark": "main_job",
        "title": f"3. The main job: sknn-mnist compare --dataset {dataset}"
                 f"{' --quick' if args.quick else ''} (wall time {wall:.0f} s)",
        "machine": machine_info(args.device),
        "command": " ".join(command[1:]),
        "wall_seconds": wall,
        "load_average": {"before": load_before, "after": load_after},
        "printed_table": done.stdout,
        "table": table,
        "notes": ["Target: the full MNIST run in under 30 minutes on 2 cores.",
                  f"Wall time of the whole command, imports and plots included: {wall:.1f} s.",
                  "The best model is chosen by the selection CV (same rows and folds for "
                  "every model), not by test accuracy.",
                  f"Load average (1, 5, 15 min) before {load_before}, after {load_after}: "
                  "above the core count the timings are inflated."],
    }
    _write(args, "main_job", result)


def _number(value: str):
    try:
        return float(value)
    except ValueError:
        return value


if __name__ == "__main__":
    main()
