"""``make demo`` on a fresh clone: seconds until its first result line, before and after.

    python benchmarks/demo_startup.py [--before REF] [--after REF] [--rounds N]

Each run exports a git revision (``git archive``) into an empty temporary folder, which is
what a fresh clone holds, and runs ``make demo`` there: a new ``.venv``, pip installing from
whatever registry pip is configured with (here the local one a user of this machine sees),
then ``sknn-mnist compare --dataset digits --quick``. The output is read line by line as it
comes (``PYTHONUNBUFFERED=1``, as a terminal would show it) and timed from the start of
``make``: the first line of the command itself (its plan) and the first result line (the
table's first model row). The revisions alternate, and which goes first alternates from
round to round, because a shared machine's load drifts. Also recorded: the ``.venv`` size,
the number of installed distributions, whether the test tools came along, whether
setuptools' editable-install warning block was printed, and the load average.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import load_average, machine_info, parser
from _common import write_result as _write

ROOT = Path(__file__).resolve().parents[1]
#: The first line of the table's body: a model name, then its best parameters.
RESULT_LINE = re.compile(r"^(mlp|svm|rf|cnn)\s{2,}\S")
#: setuptools' editable-install warning ("Editable installation ... ****") and its frames.
WARNING_MARK = re.compile(r"editable|\*{20,}", re.IGNORECASE)
#: What the test extras bring and the demo does not need.
TEST_TOOLS = ("pytest", "ruff", "onnx", "onnxruntime", "dask", "selenium")


def export(ref: str, folder: Path) -> Path:
    """Write the files of ``ref`` into ``folder``, as a fresh clone would have them."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", ref],
                             capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def clean_env() -> dict[str, str]:
    # Nothing of the caller's environment may leak into the fresh one: no active venv, no
    # source tree on the path.
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"}}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_demo(ref: str, timeout: float, parent: Path) -> dict:
    """One ``make demo`` on an export of ``ref`` in a new folder under ``parent``."""
    # Folders are removed at the end of the run: deleting a .venv takes minutes here.
    clone = export(ref, Path(tempfile.mkdtemp(prefix="clone-", dir=parent)))
    load_before = load_average()
    start = time.perf_counter()
    first_line = first_result = None
    lines: list[str] = []
    stamps: list[float] = []
    proc = subprocess.Popen(["make", "demo"], cwd=clone, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            now = time.perf_counter() - start
            lines.append(line.rstrip("\n"))
            stamps.append(round(now, 1))
            if first_line is None and line.startswith("plan:"):
                first_line = now
            if first_result is None and RESULT_LINE.match(line):
                first_result = now
            if now > timeout:
                raise TimeoutError(f"make demo ran past {timeout:.0f} s")
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    total = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"make demo failed on {ref} ({proc.returncode}):\n"
                 + "\n".join(lines[-30:]))
    venv = clone / ".venv"
    installed = _installed(venv)
    # What make and pip printed before the command's own first line (its plan).
    plan = next((i for i, line in enumerate(lines) if line.startswith("plan:")),
                len(lines))
    install_lines = lines[:plan]
    return {
        "ref": ref, "commit": _commit(ref),
        "seconds_to_first_command_line": first_line,
        "seconds_to_first_result_line": first_result,
        "seconds_total": total,
        "venv_mib": _size(venv) / 2 ** 20,
        "distributions": len(installed),
        "test_tools_installed": sorted(t for t in TEST_TOOLS if t in installed),
        "editable_warning_lines": sum(bool(WARNING_MARK.search(line))
                                      for line in install_lines),
        # pip's own warnings: here, the local registry's configuration.
        "pip_warning_lines": sum(line.startswith("WARNING:") for line in install_lines),
        "install_output_lines": len(install_lines),
        # make's recipe lines (and anything else but the registry's warnings), with the
        # second each appeared: where the install's time goes.
        "install_output": [[t, line] for t, line in zip(stamps, install_lines,
                                                        strict=False)
                           if not line.startswith("WARNING: Location")][:60],
        "load_average": {"before": load_before, "after": load_average()},
    }


def _installed(venv: Path) -> set[str]:
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list",
                           "--format=freeze"], capture_output=True, text=True, check=True)
    return {line.split("==")[0].lower() for line in done.stdout.splitlines() if line}


def _commit(ref: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref],
                          capture_output=True, text=True, check=True).stdout.strip()


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--before", default="main", help="the revision before (default: main)")
    p.add_argument("--after", default="HEAD", help="the revision after (default: HEAD)")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per make demo")
    args = p.parse_args()
    if shutil.which("make") is None:
        sys.exit("make is not installed")
    rounds = args.rounds or (1 if args.quick else 2)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    parent = Path(tempfile.mkdtemp(prefix="sknn-demo-"))
    for r in range(rounds):
        order = ["before", "after"] if r % 2 == 0 else ["after", "before"]
        for which in order:
            run = run_demo(getattr(args, which), args.timeout, parent)
            runs[which].append(run)
            print(f"round {r + 1}/{rounds} {which} ({run['commit']}): first result line "
                  f"{run['seconds_to_first_result_line']:.1f} s, total "
                  f"{run['seconds_total']:.1f} s, load {run['load_average']['before'][0]}",
                  flush=True)
    table = []
    for which, done in runs.items():
        median = {k: statistics.median(run[k] for run in done)
                  for k in ("seconds_to_first_command_line", "seconds_to_first_result_line",
                            "seconds_total", "venv_mib", "distributions")}
        table.append({"make demo": f"{which} ({done[0]['commit']})", **median,
                      "test_tools_installed": ", ".join(done[0]["test_tools_installed"])
                      or "none",
                      "editable_warning_lines": done[0]["editable_warning_lines"]})
    ratio = statistics.median(a["seconds_to_first_result_line"]
                              / b["seconds_to_first_result_line"]
                              for a, b in zip(runs["after"], runs["before"], strict=True))
    result = {
        "benchmark": "demo_startup",
        "title": "make demo on a fresh clone: seconds to the first result line",
        "machine": machine_info("cpu"),
        "runs": runs,
        "table": table,
        "after_over_before_first_result_line": ratio,
        "notes": [
            f"{rounds} interleaved rounds (medians); each run a fresh export of the revision, "
            "a new .venv, pip from the configured registry (the local one here: no "
            "downloads from the internet), then compare --dataset digits --quick.",
            f"First result line, after / before: {ratio:.2f} (median of per-round ratios).",
            "Load averages (1 min) at the start of each run: "
            + ", ".join(f"{w} {run['load_average']['before'][0]}"
                        for w, done in runs.items() for run in done) + ".",
        ],
    }
    _write(args, "demo_startup", result)
    print(f"removing {parent}", flush=True)
    shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
