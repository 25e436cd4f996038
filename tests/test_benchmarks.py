"""Smoke tests: each benchmark's --quick version runs and writes valid JSON.

Speed is never asserted here (timings on a shared CI machine mean nothing); the recorded
numbers live in benchmarks/results/.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The memory and images benchmarks need the real MNIST files; the others fall back to digits.
SCRIPTS = ["epoch_time", "inference", "accuracy", pytest.param("memory", marks=pytest.mark.mnist),
           "main_job", "regressor_parity", "partial_fit_stream", "stack_scaling",
           "search_digits", "search_mnist", "ensemble",
           pytest.param("images", marks=pytest.mark.mnist)]

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


@pytest.mark.parametrize("name", SCRIPTS)
def test_quick_benchmark_writes_json(name, tmp_path, mnist_dir):
    script = ROOT / "benchmarks" / f"{name}.py"
    command = [sys.executable, str(script), "--quick", "--out", str(tmp_path),
               "--idx-dir", str(mnist_dir), "--data-home", str(tmp_path / "data"),
               "--device", "cpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / f"{name}-quick.json").read_text())
    assert result["benchmark"] == name
    assert result["machine"]["versions"]["torch"]
    assert result["table"], "the benchmark produced no table rows"
    assert (tmp_path / "RESULTS.md").exists()
