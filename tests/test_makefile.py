"""The Makefile's targets install what each needs: the demo the package, the tests the extras.

``make -n`` prints the recipes that would run, in order, without running them: for a fresh
``.venv`` (a path that does not exist) that is the whole install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def recipes(target: str, tmp_path: Path) -> list[str]:
    """The commands ``make TARGET`` would run on a machine without ``.venv``.

    The suite itself runs under ``make test``: without the parent's MAKEFLAGS and
    MAKELEVEL, and with --no-print-directory, the output is the recipes alone (a nested
    make otherwise adds "Entering/Leaving directory" lines).
    """
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MAKELEVEL", "MFLAGS"}}
    done = subprocess.run(["make", "-n", "--no-print-directory", target,
                           f"VENV={tmp_path / 'venv'}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def pip_installs(lines: list[str]) -> list[str]:
    return [line for line in lines if "-m pip install" in line]


def test_demo_installs_the_package_without_the_test_extras(tmp_path):
    lines = recipes("demo", tmp_path)
    installs = pip_installs(lines)
    assert not any("[test]" in line or "[dev]" in line for line in installs), installs
    # torch pinned in the same call as the package, so that pip keeps that build.
    assert any('"torch==2.13.0" -e .' in line for line in installs), installs
    # Nothing byte-compiled up front (torch alone is 20 s of compiling on 2 cores).
    assert all("--no-compile" in line and "--quiet" in line for line in installs), installs
    assert lines[-1].endswith("sknn-mnist compare --dataset digits --quick")


@pytest.mark.parametrize("target", ["test", "test-fast", "lint"])
def test_test_targets_add_the_test_extras(target, tmp_path):
    lines = recipes(target, tmp_path)
    installs = pip_installs(lines)
    assert any('-e ".[test]"' in line for line in installs), installs
    # The package's own install comes first, so `make demo` then `make test` adds only
    # the extras.
    assert installs.index(next(i for i in installs if '"torch==2.13.0" -e .' in i)) < (
        installs.index(next(i for i in installs if '".[test]"' in i)))


def test_test_fast_leaves_out_the_slow_and_subprocess_tiers(tmp_path):
    assert recipes("test-fast", tmp_path)[-1].endswith(
        'pytest -m "not slow and not subprocess"')
