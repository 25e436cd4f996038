"""Wall time of the test suite: ``make test`` (every test) or ``make test-fast``.

    python benchmarks/test_suite.py [--tier fast|all] [--quick]

Runs pytest in a fresh interpreter from the repository's root, as ``make test`` and
``make test-fast`` do once ``.venv`` is installed (the install is ``demo_startup.py``'s
business), and records the wall time, the counts of pytest's last line and the load average
before and after: on a shared machine the same suite takes 3 minutes or 18. ``--quick`` runs
only ``tests/test_layout.py`` (a smoke test of this script).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from _common import load_average, machine_info, parser
from _common import write_result as _write

ROOT = Path(__file__).resolve().parents[1]
TIERS = {"fast": ["-m", "not slow and not subprocess"], "all": []}


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--tier", choices=sorted(TIERS), default="fast",
                   help="fast: make test-fast's tier; all: make test's (default: fast)")
    args = p.parse_args()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               *TIERS[args.tier]]
    if args.quick:
        command.append("tests/test_layout.py")
    load_before = load_average()
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|deselected|"
                                               r"errors?|xfailed|xpassed)", summary)}
    if done.returncode not in (0, 1):  # 1: some tests failed, and the time still counts
        sys.exit(f"pytest did not run ({done.returncode}): {summary}\n{done.stdout[-3000:]}")
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAILED ")]
    target = "make test" if args.tier == "all" else "make test-fast"
    result = {
        "benchmark": "test_suite",
        "title": f"The test suite: {target}, wall time",
        "machine": machine_info("cpu"),
        "command": " ".join(["python", *command[1:]]),
        "table": [{"target": target, "wall_seconds": wall, "wall_minutes": wall / 60,
                   **counts, "load_before": load_before[0], "load_after": load_average()[0]}],
        "failed": failed,
        "notes": ["The tests only (the install is timed by demo_startup.py). Load: the "
                  "1-minute load average before and after, on the machine above. Re-measure "
                  f"with python benchmarks/test_suite.py --tier {args.tier}."]
                 + [f"Failed: {', '.join(failed)}"] * bool(failed),
    }
    _write(args, f"test_suite_{args.tier}", result)


if __name__ == "__main__":
    main()
