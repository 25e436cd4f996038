"""The ``sknn-mnist`` command line: every subcommand, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import numpy as np
import pytest

from sknn_mnist.cli import main, parse_params
from sknn_mnist.datasets import load_dataset

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Small and fast: a few hundred digits rows, tiny networks, 2 folds.
TINY_MLP = ["--max-train", "300", "hidden_layer_sizes=(16,)", "max_iter=2",
            "learning_rate_init=0.01"]


def run_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sknn_mnist", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "mlp.skops"
    assert main(["train", "--model", "mlp", "--dataset", "digits", "--out", str(path),
                 "--quiet", "--device", "cpu", *TINY_MLP]) == 0
    return path


@pytest.fixture(scope="module")
def test_digits():
    return load_dataset("digits", subset="test", return_X_y=True)


def test_compare_in_a_subprocess(tmp_path):
    out = tmp_path / "cmp"
    proc = run_cli("compare", "--dataset", "digits", "--quick", "--cv", "2", "--max-train",
                   "400", "--out", str(out), "--quiet", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "test_accuracy" in proc.stdout and "best:" in proc.stdout
    rows = list(csv.DictReader(io.StringIO((out / "compare.csv").read_text())))
    assert [r["model"] for r in rows] == ["mlp", "svm", "rf"]
    for r in rows:
        assert f"{float(r['test_accuracy']):.4f}" in proc.stdout
        assert f"{float(r['test_accuracy']):.4f}" in (out / "compare.html").read_text()
    for png in out.glob("*.png"):
        assert png.read_bytes().startswith(PNG_SIGNATURE)
    assert len(list(out.glob("*.png"))) >= 7
    assert (out / "best-model.skops").exists()
    # A second run into the same folder does not overwrite it silently.
    again = run_cli("compare", "--dataset", "digits", "--out", str(out), "--quiet")
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "--overwrite" in again.stderr


def test_compare_no_learning_curve_skips_the_extra_fit(tmp_path, monkeypatch):
    import sknn_mnist.compare as compare_module

    calls = []
    real = compare_module._fit_learning_curve
    monkeypatch.setattr(compare_module, "_fit_learning_curve",
                        lambda *a: calls.append(a) or real(*a))
    base = ["compare", "--dataset", "digits", "--quick", "--cv", "2", "--max-train", "200",
            "--models", "mlp", "--quiet", "--device", "cpu"]
    assert main([*base, "--out", str(tmp_path / "with")]) == 0
    assert len(calls) == 1
    assert main([*base, "--out", str(tmp_path / "without"), "--no-learning-curve"]) == 0
    assert len(calls) == 1
    assert (tmp_path / "without" / "mlp-learning-curve.png").exists()


def test_train_evaluate_predict_round_trip(tmp_path, test_digits):
    X, y = test_digits
    model = tmp_path / "rf.skops"
    proc = run_cli("train", "--model", "rf", "--dataset", "digits", "--out", str(model),
                   "n_estimators=20", "max_depth=None", "--quiet")
    assert proc.returncode == 0, proc.stderr
    accuracy = float(proc.stdout.split("test accuracy:")[1].split()[0])
    proc = run_cli("evaluate", str(model), "--dataset", "digits")
    assert proc.returncode == 0, proc.stderr
    assert f"accuracy: {accuracy:.4f}" in proc.stdout and "precision" in proc.stdout
    np.save(tmp_path / "rows.npy", X[:5])
    with (tmp_path / "rows.csv").open("w") as fh:
        fh.write(",".join(f"p{i}" for i in range(64)) + "\n")  # a header row is skipped
        np.savetxt(fh, X[5:8], delimiter=",", fmt="%d")
    proc = run_cli("predict", str(model), str(tmp_path / "rows.npy"), str(tmp_path / "rows.csv"))
    assert proc.returncode == 0, proc.stderr
    labels = [int(v) for v in proc.stdout.split()]
    assert len(labels) == 8 and np.mean(np.array(labels) == y[:8]) >= 0.6


def test_train_mlp_in_process(model_file, capsys):
    assert model_file.exists()
    assert main(["evaluate", str(model_file), "--dataset", "digits"]) == 0
    assert "accuracy:" in capsys.readouterr().out


def test_cv_writes_a_report(tmp_path, capsys):
    out = tmp_path / "cv"
    assert main(["cv", "--model", "rf", "--dataset", "digits", "--cv", "2", "--max-train",
                 "300", "--out", str(out), "--quiet", "n_estimators=10"]) == 0
    stdout = capsys.readouterr().out
    assert "test_score" in stdout and "mean" in stdout
    folds = list(csv.DictReader(io.StringIO((out / "cv.csv").read_text())))
    assert len(folds) == 2
    assert f"{float(folds[0]['test_score']):.4f}" in stdout
    assert (out / "cv-fold-scores.png").read_bytes().startswith(PNG_SIGNATURE)


def test_grid_search_with_a_json_grid(tmp_path, capsys):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"hidden_layer_sizes": [[8], [16]], "max_iter": [2]}))
    out = tmp_path / "gs"
    assert main(["grid-search", "--model", "mlp", "--dataset", "digits", "--param-grid",
                 str(grid), "--cv", "2", "--max-train", "200", "--out", str(out),
                 "--device", "cpu", "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert "hidden_layer_sizes=(8,)" in stdout and "best:" in stdout
    assert (out / "grid-search.html").exists()
    assert (out / "mlp-cv-params.png").read_bytes().startswith(PNG_SIGNATURE)


def test_grid_search_quick_builtin_grid(capsys):
    assert main(["grid-search", "--model", "svm", "--dataset", "digits", "--quick", "--cv",
                 "2", "--max-train", "300", "--quiet"]) == 0
    assert "C=10.0" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["compare", "train", "evaluate", "cv", "grid-search",
                                     "predict"])
def test_help_on_every_subcommand(command, capsys):
    assert main([command, "--help"]) == 0
    assert "usage: sknn-mnist" in capsys.readouterr().out


def test_help_and_version_via_subprocess():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "grid-search" in proc.stdout
    assert run_cli("--version").stdout.startswith("sknn_mnist ")


def test_parse_params():
    assert parse_params(["hidden_layer_sizes=(256,128)", "max_iter=5", "activation=tanh",
                         "alpha=1e-3", "early_stopping=True", "solver='sgd'"]) == {
        "hidden_layer_sizes": (256, 128), "max_iter": 5, "activation": "tanh",
        "alpha": 1e-3, "early_stopping": True, "solver": "sgd"}


def _bad_inputs(tmp, model_file):
    (tmp / "notes.joblib").write_text("not a model")
    np.save(tmp / "wide.npy", np.zeros((2, 10)))
    (tmp / "bad.json").write_text("{not json")
    base = ["--dataset", "digits", "--quiet"]
    return {
        "unknown dataset": ["train", "--model", "rf", "--dataset", "nope", "--out",
                            str(tmp / "a.joblib")],
        "unknown dataset (compare)": ["compare", "--dataset", "nope", "--out", str(tmp / "c")],
        "unknown model": ["train", "--model", "knn", *base, "--out", str(tmp / "a.joblib")],
        "unknown model (compare)": ["compare", "--models", "mlp,knn", *base],
        "malformed param=value": ["train", "--model", "rf", *base, "--out",
                                  str(tmp / "a.joblib"), "n_estimators"],
        "malformed value": ["train", "--model", "rf", *base, "--out", str(tmp / "a.joblib"),
                            "n_estimators=(1"],
        "unknown parameter": ["cv", "--model", "svm", *base, "gamma_=1"],
        "bad parameter value": ["train", "--model", "mlp", *base, "--out",
                                str(tmp / "a.joblib"), "max_iter=-1"],
        "existing output": ["train", "--model", "rf", *base, "--out", str(model_file)],
        "missing model file": ["evaluate", str(tmp / "missing.joblib"), "--dataset", "digits"],
        "not a model": ["predict", str(tmp / "notes.joblib"), str(tmp / "wide.npy")],
        "wrong columns": ["predict", str(model_file), str(tmp / "wide.npy")],
        "missing predict file": ["predict", str(model_file), str(tmp / "nope.npy")],
        "wrong dataset for model": ["evaluate", str(model_file), "--dataset", "mnist",
                                    "--data-home", str(tmp / "empty")],
        "bad grid file": ["grid-search", "--model", "svm", *base, "--param-grid",
                          str(tmp / "bad.json")],
        "unknown grid parameter": ["grid-search", "--model", "svm", *base, "--param-grid",
                                   str(tmp / "unknown.json")],
        "too few folds": ["cv", "--model", "rf", *base, "--cv", "1"],
        "missing subcommand": [],
    }


def test_bad_inputs_exit_2_with_one_line(tmp_path, model_file, capsys, monkeypatch):
    # No test may touch the network: an unavailable dataset must fail fast and offline.
    monkeypatch.setenv("SKNN_MNIST_OPENML_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "0")
    (tmp_path / "unknown.json").write_text(json.dumps({"not_a_param": [1]}))
    for case, argv in _bad_inputs(tmp_path, model_file).items():
        assert main(argv) == 2, case
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.endswith("\n"), (case, err)
        assert "Traceback" not in err and "error" in err, (case, err)


def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    proc = run_cli("evaluate", str(tmp_path / "missing.joblib"), "--dataset", "digits")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"sknn-mnist evaluate: error: model file not found: {tmp_path / 'missing.joblib'}"]
