"""The scripts in examples/ run offline on the bundled digits and print what they promise."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.subprocess  # each test runs an example in a fresh interpreter


def run_example(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # A tmp working directory: whatever an example writes must not land in the checkout.
    result = subprocess.run([sys.executable, str(EXAMPLES / script), *args], cwd=cwd,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def docstring(script: Path) -> str:
    return ast.get_docstring(ast.parse(script.read_text()), clean=True)


@pytest.mark.parametrize("script", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_every_example_has_a_help_that_describes_it_and_runs_nothing(script, tmp_path):
    result = run_example(script, "--help", cwd=tmp_path)
    help_text = result.stdout
    assert help_text.startswith(f"usage: {script}")
    # The whole module docstring, verbatim (argparse would rewrap it otherwise): every
    # paragraph, and it ends a sentence (or introduces the commands) rather than mid-way.
    text = docstring(EXAMPLES / script)
    for paragraph in text.split("\n\n"):
        assert paragraph in help_text, paragraph
    first_paragraph = text.split("\n\n")[0]
    assert first_paragraph.rstrip().endswith((".", ":")), first_paragraph
    assert "TIME_" not in help_text  # the measured time was filled in
    # The job did not run: nothing written, nothing trained or printed besides the help.
    assert list(tmp_path.iterdir()) == []
    assert "accuracy:" not in help_text.split("options:")[-1]
    assert result.stderr == ""


def accuracies(text: str, label: str) -> list[float]:
    return [float(m) for m in re.findall(rf"{label}:? ([01]\.\d+)", text)]


def test_quickstart_fits_saves_and_reloads(tmp_path):
    out = run_example("quickstart.py", cwd=tmp_path).stdout
    (accuracy,) = accuracies(out, "test accuracy")
    assert accuracy > 0.9
    assert re.search(r"saved and reloaded digits-mlp\.skops: sknn_mnist \S+, test score "
                     rf"{accuracy:.4f}", out)
    assert list(tmp_path.iterdir()) == []  # the model went to a temporary folder


def test_grid_search_tunes_and_tests_the_best_pipeline(tmp_path):
    out = run_example("grid_search.py", cwd=tmp_path).stdout
    # Two hidden-layer settings x two learning rates, one table row each.
    assert len(re.findall(r"^\{'clf__hidden_layer_sizes'", out, flags=re.MULTILINE)) == 4
    best = re.search(r"best: .* \(CV ([01]\.\d+), (.*)\)", out)
    best_cv = float(best.group(1))
    assert best.group(2) == "3-fold StratifiedKFold, shuffled, random_state=0"  # as the CLI
    (test_accuracy,) = accuracies(out, "test accuracy of the refit best pipeline")
    assert best_cv > 0.85
    assert test_accuracy > 0.85


def test_cv_report_writes_its_files(tmp_path):
    out = run_example("cv_report.py", "--out", str(tmp_path / "report"), "--model", "rf",
                      cwd=tmp_path).stdout
    written = {p.name for p in (tmp_path / "report").iterdir()}
    assert {"cv.csv", "cv-summary.csv", "cv.md", "cv.html"} <= written
    mean_row = re.search(r"^mean\s+([01]\.\d+)", out, flags=re.MULTILINE)
    assert mean_row and float(mean_row.group(1)) > 0.9
    assert mean_row.group(1) in (tmp_path / "report" / "cv.md").read_text()


def test_mnist_study_runs_every_configuration_on_digits(tmp_path):
    result = run_example("mnist_study.py", "--dataset", "digits", "--max-iter", "3",
                         cwd=tmp_path)
    # One progress line per training: the baseline once (it is each factor's middle
    # value), then the two other values of each factor.
    lines = [line for line in result.stderr.splitlines() if "test accuracy" in line]
    varied = [line.split()[0] for line in lines]
    assert varied == ["baseline", "depth", "depth", "activation", "activation", "optimizer",
                      "optimizer"]
    assert "digits: 1437 training rows, 360 test rows, 3 epochs" in result.stdout
    assert all(0.0 < a <= 1.0 for a in accuracies(result.stderr, "test accuracy"))


def test_regression_fits_both_functions_and_draws_them(tmp_path):
    out = run_example("regression.py", "--out", "fit.png", "--device", "cpu",
                      cwd=tmp_path).stdout
    scores = [float(r) for r in re.findall(r"R\^2 against the truth ([01]\.\d+)", out)]
    assert len(scores) == 2 and min(scores) > 0.99  # sin x, then x^2 + 5x
    assert (tmp_path / "fit.png").stat().st_size > 10_000
    help_text = run_example("regression.py", "--help", cwd=tmp_path).stdout
    assert "--max-iter" in help_text and "sin x" in help_text
