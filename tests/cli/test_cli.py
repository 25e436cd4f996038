"""The ``sknn-mnist`` command line: every subcommand, and one-line errors with exit code 2."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import subprocess
import sys
import time

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


@pytest.mark.subprocess
def test_compare_in_a_subprocess(tmp_path):
    out = tmp_path / "cmp"
    proc = run_cli("compare", "--dataset", "digits", "--quick", "--cv", "2", "--max-train",
                   "400", "--out", str(out), "--quiet", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert "test_accuracy" in proc.stdout and "best:" in proc.stdout
    rows = list(csv.DictReader(io.StringIO((out / "compare.csv").read_text())))
    assert [r["model"] for r in rows] == ["mlp", "cnn", "svm", "rf"]  # the default models
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


@pytest.mark.subprocess
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
    # One line per row: its name, the label and its probability.
    lines = [line.split() for line in proc.stdout.splitlines()]
    assert [line[0] for line in lines] == [f"{tmp_path / 'rows.npy'}[{i}]" for i in range(5)] \
        + [f"{tmp_path / 'rows.csv'}[{i}]" for i in range(3)]
    labels = [int(line[1]) for line in lines]
    assert all(0 <= float(line[2]) <= 1 for line in lines)
    assert len(labels) == 8 and np.mean(np.array(labels) == y[:8]) >= 0.6


def test_train_mlp_in_process(model_file, capsys):
    assert model_file.exists()
    assert main(["evaluate", str(model_file), "--dataset", "digits"]) == 0
    assert "accuracy:" in capsys.readouterr().out


def test_cv_writes_a_report_and_counts_parallel_fits(tmp_path):
    out = tmp_path / "cv"
    proc = run_cli("cv", "--model", "rf", "--dataset", "digits", "--cv", "2", "--max-train",
                   "300", "--out", str(out), "--n-jobs", "2", "n_estimators=10")
    assert proc.returncode == 0, proc.stderr
    stdout = proc.stdout
    # Fits in two worker processes are counted; progress stays on stderr, one line each.
    progress = [line for line in proc.stderr.splitlines() if "fits done" in line]
    assert progress[-1].startswith("2-fold CV of rf on 300 rows: 2/2 fits done")
    assert "fits done" not in stdout
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
                                     "predict", "serve", "info", "export", "datasets"])
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
    np.save(tmp / "nan.npy", np.full((1, 64), np.nan))
    np.save(tmp / "text.npy", np.array([["a"] * 64]))
    (tmp / "text.csv").write_text(",".join(["1"] * 64) + "\n" + ",".join(["x"] * 64) + "\n")
    (tmp / "bad.json").write_text("{not json")
    (tmp / "a-file").write_text("")
    (tmp / "a-folder").mkdir(exist_ok=True)
    under_file = str(tmp / "a-file" / "out")
    base = ["--dataset", "digits", "--quiet"]
    mlp = ["train", "--model", "mlp", *base, "--out", str(tmp / "m.skops"), "--device", "cpu"]
    return {
        "--out under a file (train)": ["train", "--model", "rf", *base, "--out", under_file],
        "--out under a file (cv)": ["cv", "--model", "rf", *base, "--out", under_file],
        "--out under a file (compare)": ["compare", *base, "--out", under_file],
        "--out is a file (compare)": ["compare", *base, "--out", str(tmp / "a-file")],
        "--out is a folder (train)": ["train", "--model", "rf", *base, "--out",
                                      str(tmp / "a-folder")],
        "--param-grid is a folder": ["grid-search", "--model", "svm", *base, "--param-grid",
                                     str(tmp / "a-folder")],
        "--models names none": ["compare", *base, "--models", ","],
        "--max-train below the classes": ["train", "--model", "rf", *base, "--out",
                                          str(tmp / "b.skops"), "--max-train", "5"],
        "--n-jobs 0": ["cv", "--model", "rf", *base, "--n-jobs", "0"],
        "--cv above the rarest class": ["cv", "--model", "rf", *base, "--cv", "99999"],
        "NaN pixels": ["predict", str(model_file), str(tmp / "nan.npy")],
        "text pixels (npy)": ["predict", str(model_file), str(tmp / "text.npy")],
        "text pixels (csv)": ["predict", str(model_file), str(tmp / "text.csv")],
        "infinite layer size": [*mlp, "hidden_layer_sizes=(1e400,)"],
        "absurd layer sizes": [*mlp, "hidden_layer_sizes=(100000,100000)", "max_iter=1"],
        "batch_norm with batch_size=1": [*mlp, "batch_norm=True", "batch_size=1"],
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
        "--max-train below the classes (compare)": ["compare", *base, "--max-train", "5",
                                                    "--out", str(tmp / "c5")],
        "--cv above the rarest class (grid-search)": ["grid-search", "--model", "rf", *base,
                                                      "--cv", "99999"],
        "unknown dataset (datasets info)": ["datasets", "info", "nope"],
        "missing datasets subcommand": ["datasets"],
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


def test_output_path_is_checked_before_any_data_or_training(tmp_path, monkeypatch, capsys):
    import sknn_mnist.compare as compare_module
    import sknn_mnist.datasets as datasets_module

    def boom(*args, **kwargs):
        raise AssertionError("expensive work started before the output path was checked")

    monkeypatch.setattr(compare_module, "compare", boom)
    monkeypatch.setattr(datasets_module, "load_dataset", boom)
    (tmp_path / "a-file").write_text("")
    for argv in (["compare", "--out", str(tmp_path / "a-file" / "cmp")],
                 ["train", "--model", "mlp", "--dataset", "digits", "--out",
                  str(tmp_path / "a-file" / "m.skops")]):
        assert main(argv) == 2
        assert "a-file is a file, not a folder" in capsys.readouterr().err


def test_help_and_argument_errors_import_nothing_heavy(tmp_path):
    # --help and an unwritable --out return before numpy, scikit-learn or torch are imported.
    (tmp_path / "a-file").write_text("")
    code = ("import sys\nfrom sknn_mnist.cli import main\n"
            f"assert main(['train', '--model', 'mlp', '--out', {str(tmp_path)!r} + "
            "'/a-file/m.skops', '--dataset', 'digits']) == 2\n"
            "assert main(['compare', '--models', ',']) == 2\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = {'numpy', 'sklearn', 'torch'} & set(sys.modules)\n"
            "assert not heavy, heavy\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_compare_prints_its_plan_before_any_training(tmp_path, monkeypatch, capsys):
    import sknn_mnist.compare as compare_module

    seen = {}
    real = compare_module.compare

    def spy(*args, **kwargs):
        seen["stderr so far"] = capsys.readouterr().err
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_module, "compare", spy)
    assert main(["compare", "--dataset", "digits", "--quick", "--cv", "2", "--max-train", "300",
                 "--models", "rf,svm", "--out", str(tmp_path / "cmp")]) == 0
    lines = seen["stderr so far"].splitlines()
    assert lines[:-1] == [
        "plan: 300 training rows (a stratified subsample of 1437), 2-fold CV, selection CV on "
        "300 rows",
        "  rf: grid search on 300 rows, 2 candidates x 2 folds = 4 fits; selection reuses "
        "these scores",
        "  svm: grid search on 300 rows, 2 candidates x 2 folds = 4 fits; selection reuses "
        "these scores",
        "  8 CV fits, then each model refit on 300 rows"]
    # The default --n-jobs, chosen from the free cores, is part of the plan.
    assert re.fullmatch(r"  n_jobs: \d+ \(the free cores: \d+ cores, \d+ busy with other "
                        r"processes; --n-jobs N chooses\)", lines[-1]), lines[-1]
    err = capsys.readouterr().err.splitlines()
    # Each step counts its own fits (4 each), beside the run's; the refits are shown.
    progress = [line.split(" (")[0] for line in err if "fits done" in line]
    for model in ("rf", "svm"):
        step = [line for line in progress if line.startswith(f"{model}: grid search")]
        assert step[-1] == f"{model}: grid search on 300 rows: 4/4 fits done", progress
        assert all(line.endswith("/4 fits done") for line in step), progress
    assert [line for line in err if "fits done" in line][-1].startswith(
        "svm: grid search on 300 rows: 4/4 fits done (8/8 fits in all, ")
    assert [line.split(" (")[0] for line in err if "refit" in line] == [
        "rf: refit on 300 rows", "svm: refit on 300 rows"]
    # --quiet: no plan, no progress.
    assert main(["compare", "--dataset", "digits", "--quick", "--cv", "2", "--max-train", "300",
                 "--models", "rf", "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_datasets_command(tmp_path, capsys):
    from sknn_mnist.cli import datasets as datasets_command
    from sknn_mnist.datasets import _load, _openml

    assert main(["datasets", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("mnist", "kmnist", "digits"))
    assert main(["datasets", "info", "digits", "--data-home", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["subsets"]["train"]["n_samples"] == 1437
    # The help names the environment variables the datasets package reads.
    assert (datasets_command.ENV_DATA_HOME, datasets_command.ENV_IDX_DIR,
            datasets_command.ENV_OPENML_URL) == (_load.ENV_DATA_HOME, _load.ENV_IDX_DIR,
                                                 _openml.ENV_OPENML_URL)


def test_every_help_imports_nothing_heavy():
    # `sknn-mnist --help` and every command's --help are argparse alone: no numpy,
    # scikit-learn or torch (the commands import them at the top of their run).
    code = ("import sys\nfrom sknn_mnist.cli import COMMANDS, main\n"
            "helps = [['--help'], *([name, '--help'] for name in COMMANDS),\n"
            "         ['datasets', 'info', '--help'], ['datasets', 'list', '--help']]\n"
            "for argv in helps:\n"
            "    assert main(argv) == 0, argv\n"
            "heavy = {'numpy', 'sklearn', 'torch', 'joblib'} & set(sys.modules)\n"
            "assert not heavy, heavy\n"
            "print(len(helps))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "13"


def _cli_imports() -> dict[str, set[str]]:
    """For each module of sknn_mnist.cli, the modules of sknn_mnist.cli it imports (at any
    level: function-local imports count too)."""
    import ast
    from pathlib import Path

    import sknn_mnist.cli

    folder = Path(sknn_mnist.cli.__file__).parent
    names = {path.stem for path in folder.glob("*.py")}
    graph = {}
    for path in folder.glob("*.py"):
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                targets = [node.module] if node.module else [a.name for a in node.names]
                edges |= {t.split(".")[0] for t in targets} & names
        graph[path.stem] = edges - {path.stem}
    return graph


def test_cli_modules_have_no_import_cycle_and_import_alone():
    graph = _cli_imports()
    assert set(graph) >= {"__init__", "common", "runtime", "compare", "train", "evaluate", "cv",
                          "grid_search", "predict", "serve", "info", "export", "datasets"}
    commands = set(graph) - {"__init__", "common", "runtime", "params"}
    assert graph["__init__"] == commands | {"common"}  # the one list of commands
    assert graph["common"] == set()  # common never imports a command module (or runtime)
    assert graph["runtime"] == {"common"}
    assert graph["params"] == {"common"}  # the early parameter checks: light, like common
    for name in commands:
        assert graph[name] <= {"common", "runtime", "params"}, name

    def visit(name, path):
        assert name not in path, f"import cycle: {' -> '.join([*path, name])}"
        for target in graph[name]:
            visit(target, [*path, name])

    visit("__init__", [])
    # And each module imports on its own, in a fresh interpreter.
    code = ("import importlib, sys\n"
            "name = sys.argv[1]\n"
            "importlib.import_module(name)\n")
    for name in sorted(graph):
        module = "sknn_mnist.cli" + ("" if name == "__init__" else f".{name}")
        proc = subprocess.run([sys.executable, "-c", code, module], capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, (module, proc.stderr)


def test_ctrl_c_cancels_the_token_and_silences_the_warnings_of_a_stopping_run():
    import os
    import warnings

    from sknn_mnist.cli.common import cancel_on_ctrl_c
    from sknn_mnist.study.context import CancellationToken

    token = CancellationToken()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with cancel_on_ctrl_c(token):
            warnings.warn("before Ctrl-C", UserWarning, stacklevel=1)
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(5)  # the handler raises here
            assert token.cancelled
            # (What a training loop says when it stops: no advice to resume applies.)
            warnings.warn("Training was interrupted; call partial_fit", UserWarning,
                          stacklevel=1)
        warnings.warn("after the command", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["before Ctrl-C", "after the command"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def _interrupt_after(args, marker, tmp_path):
    """Start the CLI, send Ctrl-C (SIGINT) once stderr shows ``marker``; return the result."""
    proc = subprocess.Popen([sys.executable, "-m", "sknn_mnist", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if marker in line:
            break
    proc.send_signal(signal.SIGINT)
    start = time.perf_counter()
    out, err = proc.communicate(timeout=60)
    return proc.returncode, "".join(seen) + err, out, time.perf_counter() - start


@pytest.mark.subprocess
def test_ctrl_c_during_train_saves_nothing_and_exits_130(tmp_path):
    model = tmp_path / "half.skops"
    rc, err, out, _ = _interrupt_after(
        ["train", "--model", "mlp", "--dataset", "digits", "--out", str(model), "--device",
         "cpu", "max_iter=1000"], "epoch", tmp_path)
    assert rc == 130, err
    assert err.rstrip().endswith("sknn-mnist train: interrupted")
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []  # no model, no temporary file


@pytest.mark.subprocess
def test_ctrl_c_stops_a_parallel_grid_search_and_writes_no_report(tmp_path):
    out_dir = tmp_path / "gs"
    rc, err, out, seconds = _interrupt_after(
        ["grid-search", "--model", "mlp", "--dataset", "digits", "--cv", "3", "--n-jobs", "2",
         "--device", "cpu", "--out", str(out_dir)], "fits done", tmp_path)
    assert rc == 130, err
    # Progress in a log (stderr is a pipe): one plain line per finished fit, real counts.
    progress = [line for line in err.splitlines() if "fits done" in line]
    # (The networks' fits are batched (sknn_mnist.model_selection): they are scored, and
    # counted, when their batch is done, so the first line can count any of them.)
    assert re.match(r"grid search of mlp on 1437 rows: \d+/12 fits done", progress[0])
    assert "\r" not in err
    assert seconds < 30  # the workers are stopped, not waited for
    assert not out_dir.exists() and out == ""


@pytest.mark.subprocess
def test_bad_input_in_a_subprocess_has_no_traceback(tmp_path):
    proc = run_cli("evaluate", str(tmp_path / "missing.joblib"), "--dataset", "digits")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"sknn-mnist evaluate: error: model file not found: {tmp_path / 'missing.joblib'}"]


def test_every_readme_command_parses_as_bash_would_split_it():
    """Each `sknn-mnist ...` line of the README's code blocks is valid shell and valid CLI."""
    import shlex
    from pathlib import Path

    from sknn_mnist.cli import build_parser

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    lines = [line for block in blocks for line in block.splitlines()
             if line.startswith("sknn-mnist ")]
    assert len(lines) >= 8
    parser = build_parser()
    for line in lines:
        # Split as bash does: an unquoted ( or ) is an operator token (a syntax error here).
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        assert not [w for w in words if set(w) <= set("()<>;|&")], line
        args = parser.parse_args(words[1:])
        assert callable(args.func), line
