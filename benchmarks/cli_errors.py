"""How long the command line takes to refuse bad arguments, before and after a change.

    python benchmarks/cli_errors.py [BEFORE_CHECKOUT] [--rounds N]

Each case is a user error that the arguments alone show (an unknown dataset, an unknown
parameter, a bad value, a missing model file, an ``--out`` under a missing folder). Every
run is a fresh ``python -m sknn_mnist`` process (imports are the cost being measured), the
versions interleaved in each round (before, after, before, ...), and each time is the median
over the rounds. ``BEFORE_CHECKOUT`` is a folder holding another version of the package
(``git worktree add /tmp/before COMMIT``); without it only this checkout is timed. Also
reported: the exit status and whether torch was imported on the way to the error.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

AFTER = Path(__file__).resolve().parents[1]

#: The error cases of issue 25 (and two more paths); ``{tmp}`` is a scratch folder.
CASES: dict[str, list[str]] = {
    "unknown dataset": ["train", "--model", "rf", "--dataset", "nope", "--out", "{tmp}/a.skops"],
    "unknown parameter": ["train", "--model", "svm", "--dataset", "digits", "--out",
                          "{tmp}/a.skops", "gamma_=1"],
    "bad value": ["train", "--model", "mlp", "--dataset", "digits", "--out", "{tmp}/a.skops",
                  "max_iter=-1"],
    "evaluate missing.skops": ["evaluate", "{tmp}/missing.skops", "--dataset", "digits"],
    # Before: made the folders and trained (--overwrite: the same work every round).
    "--out under a missing folder": ["train", "--model", "rf", "--dataset", "digits", "--out",
                                     "{tmp}/no/such/a.skops", "--overwrite"],
}

#: Run one case in-process in a fresh interpreter: the status and the heavy imports.
_RUN = ("import json, sys\nfrom sknn_mnist.cli import main\nrc = main(sys.argv[1:])\n"
        "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules, "
        "'sklearn': 'sklearn' in sys.modules}))\n")


def run_case(checkout: Path, argv: list[str], cwd: str) -> dict:
    """One fresh process: wall seconds, exit status, heavy modules imported."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    start = time.perf_counter()
    # cwd: `python -c` puts the working folder first on sys.path, before PYTHONPATH.
    proc = subprocess.run([sys.executable, "-c", _RUN, *argv], capture_output=True, text=True,
                          env=env, timeout=300, cwd=cwd)
    seconds = time.perf_counter() - start
    result = json.loads(proc.stdout.splitlines()[-1])
    return {"seconds": seconds, **result, "stderr": proc.stderr.strip()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("before", nargs="?", type=Path, help="a checkout of the version before")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default: 5)")
    args = p.parse_args()
    versions = {"after": AFTER} if args.before is None else {"before": args.before,
                                                              "after": AFTER}
    with tempfile.TemporaryDirectory() as tmp:
        seen: dict[tuple[str, str], list[dict]] = {}
        for r in range(args.rounds):
            order = list(versions.items())
            if r % 2:  # alternate which version goes first
                order.reverse()
            for case, argv in CASES.items():
                for version, checkout in order:
                    scratch = Path(tmp) / version  # what one version makes, the other does not see
                    scratch.mkdir(exist_ok=True)
                    run = run_case(checkout, [a.format(tmp=scratch) for a in argv], tmp)
                    seen.setdefault((case, version), []).append(run)
    print(f"{'case':32} {'version':8} {'median s':>9} {'rc':>3} {'torch':>6} {'sklearn':>8}")
    for (case, version), runs in seen.items():
        median = statistics.median(run["seconds"] for run in runs)
        last = runs[-1]
        print(f"{case:32} {version:8} {median:9.2f} {last['rc']:3} {last['torch']!s:>6} "
              f"{last['sklearn']!s:>8}")
    print(f"({args.rounds} rounds; load average {os.getloadavg()[0]:.1f} at the end)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
