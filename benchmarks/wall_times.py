"""Wall times of the documented commands: the demo, MNIST's --quick comparison, the examples.

    python benchmarks/wall_times.py [--quick] [--idx-dir DIR]

Each command runs in a fresh interpreter (imports, plots and reports included) in an empty
temporary folder, as the README, docs/compare.md's tables and each example's docstring show
it: ``sknn-mnist compare --dataset digits --quick`` (what ``make demo`` runs once installed),
the examples' offline runs, and, when the IDX files are in ``--idx-dir``, the ``--quick``
MNIST runs. ``--quick`` times only the quick start (a smoke test). The 1-minute load average
is recorded around each command: these are shared machines, and a time is only meaningful
with it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import load_average, machine_info, parser
from _common import write_result as _write

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: (script, arguments) as the docs show them; ``{idx}`` is the MNIST folder and a script
#: ``-m`` runs the package's command line.
OFFLINE = [
    ("quickstart.py", []),
    ("-m", ["compare", "--dataset", "digits", "--quick", "--out", "out"]),
    ("grid_search.py", []),
    ("cv_report.py", ["--out", "cv-report"]),
    ("regression.py", ["--out", "fit.png"]),
    ("mnist_study.py", ["--dataset", "digits"]),
    ("mlp_vs_cnn.py", ["--dataset", "digits"]),
]
MNIST = [
    ("-m", ["compare", "--dataset", "mnist", "--idx-dir", "{idx}", "--quick", "--out", "out"]),
    ("mnist_study.py", ["--idx-dir", "{idx}", "--quick"]),
    ("mlp_vs_cnn.py", ["--idx-dir", "{idx}", "--quick"]),
]


def time_command(script: str, args: list[str], idx_dir: str) -> dict:
    """Run one command to completion; its wall time and the load around it."""
    argv = [a.format(idx=idx_dir) for a in args]
    program = ["-m", "sknn_mnist"] if script == "-m" else [str(EXAMPLES / script)]
    with tempfile.TemporaryDirectory() as tmp:
        load_before = load_average()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, *program, *argv], cwd=tmp,
                              capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{script} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    words = ["sknn-mnist"] if script == "-m" else ["python", f"examples/{script}"]
    shown_args = [a for i, a in enumerate(args)
                  if a != "--out" and (i == 0 or args[i - 1] != "--out")]
    shown = " ".join(words + shown_args)
    shown = shown.replace("{idx}", "DIR")
    return {"command": shown, "wall_seconds": wall, "load_before": load_before[0],
            "load_after": load_average()[0]}


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    runs = OFFLINE[:1] if args.quick else OFFLINE
    if not args.quick and Path(args.idx_dir).is_dir():
        runs = runs + MNIST
    table = []
    for script, argv in runs:
        table.append(time_command(script, argv, args.idx_dir))
        print(f"{table[-1]['command']}: {table[-1]['wall_seconds']:.1f} s "
              f"(load {table[-1]['load_before']})", flush=True)
    result = {
        "benchmark": "wall_times",
        "title": "Wall times of the documented commands (the demo, MNIST --quick, the examples)",
        "machine": machine_info("auto"),
        "table": table,
        "notes": ["One run each, in a fresh interpreter (imports included), on the machine "
                  "above, CPU only; 'load_before'/'load_after': the 1-minute load average "
                  "around the run. Re-measure with python benchmarks/wall_times.py."],
    }
    _write(args, "wall_times", result)


if __name__ == "__main__":
    main()
