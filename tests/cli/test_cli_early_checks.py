"""Issue 25, the command line: errors before the heavy imports, defaults, help, --out, jobs.

* names, parameter values and paths are refused before torch or scikit-learn is imported
  (the parameter table, ``sknn_mnist/cli/param_table.json``, is checked against the
  classifiers' own validation);
* ``train`` defaults to digits, ``evaluate`` to the model file's dataset, and both say so;
* an unknown option points to the command's help and names the close match;
* ``--out`` makes at most the last folder level;
* ``--help`` lists every model of the registry; ``--device`` names the torch models;
* the default ``--n-jobs`` is the free cores of the thread policy's measurement.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys

import pytest

from sknn_mnist.cli import build_parser, main
from sknn_mnist.cli.common import CLIError
from sknn_mnist.cli.params import (
    TABLE_PATH,
    build_table,
    check_grid,
    check_params,
    dump_table,
    load_table,
)
from sknn_mnist.registry import MODEL_NAMES, MODEL_SPECS

TINY_RF = ["--max-train", "300", "n_estimators=5", "--quiet"]


# -- the parameter table ------------------------------------------------------------------------
def test_the_parameter_table_is_up_to_date():
    # After a classifier's parameters change: python scripts/write_param_table.py
    assert TABLE_PATH.read_text(encoding="utf-8") == dump_table(build_table())
    assert set(load_table()) == {n for n in MODEL_NAMES if MODEL_SPECS[n].estimator}


#: Values a command line can give, of every kind parse_params produces.
PROBES = [-1, 0, 1, 2, 3, 10**12, 0.0, 0.5, 1.0, 1.5, -0.5, 180.5, float("inf"), float("nan"),
          True, False, None, "auto", "relu", "sqrt", "scale", "rbf", "adam", "float32", "x",
          (16,), (1, 2), [1], {"a": 1}, 1j]


def _sorted_sets(message: str) -> str:
    """The message with each ``{...}`` set of options in sorted order: a set of strings
    iterates in another order in every process."""
    return re.sub(r"\{([^{}]*)\}",
                  lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


@pytest.mark.parametrize("model", sorted(load_table()))
def test_the_early_check_refuses_exactly_what_the_estimator_refuses(model):
    from sklearn.utils._param_validation import InvalidParameterError

    spec = MODEL_SPECS[model]
    checked = 0
    for name, entry in load_table()[model]["params"].items():
        if entry["rules"] is None:
            continue
        for value in PROBES:
            clf = spec.make(random_state=0, device="cpu", n_jobs=None)
            clf.set_params(**{name: value})
            try:
                clf._validate_params()
                full = None
            except InvalidParameterError as exc:
                full = str(exc)
            try:
                check_params(model, {name: value})
                early = None
            except CLIError as exc:
                early = str(exc)
            assert (early is None) == (full is None), (name, value, early, full)
            if full is not None:
                assert _sorted_sets(early) == _sorted_sets(full), (name, value)
            checked += 1
    assert checked >= 10 * len(PROBES)


def test_the_early_check_of_names_and_grids():
    with pytest.raises(CLIError, match=r"^unknown parameter 'gamma_' for SVC; valid names: C, "):
        check_params("svm", {"gamma_": 1})
    with pytest.raises(CLIError, match=r"^unknown parameter 'clf__nope' for "):
        check_params("rf", {"clf__nope": 1})
    check_params("svm", {"clf__C": 2.0, "scale__pixel_max": 1})  # other steps: the pipeline's
    check_params("mlp", {"hidden_layer_sizes": (1e400,)})  # what needs torch waits for it
    check_params("a model the table does not hold", {"anything": -1})
    with pytest.raises(CLIError, match=r"^grid value C=-1: The 'C' parameter of SVC must be "):
        check_grid("svm", {"C": [1.0, -1]})
    with pytest.raises(CLIError, match="unknown parameter 'not_a_param'"):
        check_grid("svm", {"not_a_param": [1]})


# -- errors before the heavy imports (subprocesses: a fresh interpreter each) -------------------
def _error_cases(tmp) -> dict[str, list[str]]:
    (tmp / "grid.json").write_text(json.dumps({"C": [1.0, -2.0]}))
    (tmp / "unknown.json").write_text(json.dumps({"C_": [1.0]}))
    out = ["--out", str(tmp / "m.skops")]
    return {
        "unknown dataset (train)": ["train", "--model", "rf", "--dataset", "nope", *out],
        "unknown dataset (compare)": ["compare", "--dataset", "nope"],
        "unknown dataset (evaluate)": ["evaluate", str(tmp / "m.skops"), "--dataset", "nope"],
        "unknown dataset (cv)": ["cv", "--model", "rf", "--dataset", "nope"],
        "unknown parameter (train)": ["train", "--model", "svm", *out, "gamma_=1"],
        "unknown parameter (cv)": ["cv", "--model", "mlp", "--dataset", "digits", "units=3"],
        "unknown grid parameter": ["grid-search", "--model", "svm", "--dataset", "digits",
                                   "--param-grid", str(tmp / "unknown.json")],
        "bad value (train mlp)": ["train", "--model", "mlp", *out, "max_iter=-1"],
        "bad value (train cnn)": ["train", "--model", "cnn", *out, "augment_rotation=200"],
        "bad value (cv svm)": ["cv", "--model", "svm", "--dataset", "digits", "C=0"],
        "bad grid value": ["grid-search", "--model", "svm", "--dataset", "digits",
                           "--param-grid", str(tmp / "grid.json")],
        "evaluate missing.skops": ["evaluate", str(tmp / "missing.skops")],
        "predict missing.skops": ["predict", str(tmp / "missing.skops"), str(tmp / "x.npy")],
        "export missing.skops": ["export", str(tmp / "missing.skops"), str(tmp / "m.onnx")],
        "--out under a missing folder": ["train", "--model", "rf", "--out",
                                         str(tmp / "no" / "such" / "m.skops")],
    }


@pytest.mark.subprocess
def test_argument_errors_come_before_torch_and_scikit_learn_are_imported(tmp_path):
    cases = _error_cases(tmp_path)
    code = ("import contextlib, io, json, sys\nfrom sknn_mnist.cli import main\n"
            "cases = json.loads(sys.argv[1])\nseen = {}\n"
            "for case, argv in cases.items():\n"
            "    err = io.StringIO()\n"
            "    with contextlib.redirect_stderr(err):\n"
            "        rc = main(argv)\n"
            "    seen[case] = [rc, err.getvalue()]\n"
            "print(json.dumps({'seen': seen, 'heavy': sorted({'torch', 'sklearn', 'skorch', "
            "'scipy'} & set(sys.modules))}))\n")
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(cases)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["heavy"] == []
    for case, (rc, err) in result["seen"].items():
        assert rc == 2, (case, err)
        assert err.count("\n") == 1 and "error: " in err, (case, err)
    seen = {case: err for case, (_, err) in result["seen"].items()}
    assert "unknown dataset 'nope'" in seen["unknown dataset (evaluate)"]
    assert seen["bad value (train mlp)"] == (
        "sknn-mnist train: error: The 'max_iter' parameter of MLPDigitClassifier must be an "
        "int in the range [1, inf). Got -1 instead.\n")
    assert seen["evaluate missing.skops"] == (
        f"sknn-mnist evaluate: error: model file not found: {tmp_path / 'missing.skops'}\n")
    assert "grid value C=-2.0: The 'C' parameter of SVC" in seen["bad grid value"]
    assert not (tmp_path / "no").exists()


@pytest.mark.subprocess
def test_an_unknown_option_points_to_the_commands_help_with_the_close_match():
    proc = subprocess.run([sys.executable, "-m", "sknn_mnist", "compare", "--datset", "digits"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr == ("sknn-mnist compare: error: unrecognized arguments: --datset digits; "
                           "did you mean --dataset? (see 'sknn-mnist compare --help')\n")


def test_unknown_options_and_words_in_process(capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a parse that went wrong would write m.skops here
    assert main(["train", "--model", "rf", "--out", "m.skops", "--n-jbos=2"]) == 2
    assert capsys.readouterr().err == (
        "sknn-mnist train: error: unrecognized arguments: --n-jbos=2; did you mean --n-jobs? "
        "(see 'sknn-mnist train --help')\n")
    assert main(["info", "m.skops", "--zzzz"]) == 2  # nothing close: no suggestion
    assert capsys.readouterr().err == ("sknn-mnist info: error: unrecognized arguments: "
                                       "--zzzz (see 'sknn-mnist info --help')\n")
    assert main(["evaluate", "m.skops", "extra"]) == 2
    assert "unrecognized arguments: extra (see 'sknn-mnist evaluate --help')" in \
        capsys.readouterr().err
    assert main(["--nope"]) == 2  # before any command: the top-level help
    assert "(see 'sknn-mnist --help')" in capsys.readouterr().err


# -- --out: at most the last folder level -------------------------------------------------------
def test_out_creates_only_the_last_folder_level(tmp_path, monkeypatch, capsys):
    import sknn_mnist.datasets as datasets_module

    def boom(*args, **kwargs):
        raise AssertionError("data loaded before the output path was checked")

    with monkeypatch.context() as m:
        m.setattr(datasets_module, "load_dataset", boom)
        for argv in (["train", "--model", "rf", "--out", str(tmp_path / "a" / "b" / "m.skops")],
                     ["compare", "--out", str(tmp_path / "a" / "b")],
                     ["export", "m.skops", str(tmp_path / "a" / "b" / "m.onnx")]):
            assert main(argv) == 2, argv
            err = capsys.readouterr().err
            assert err.count("\n") == 1, err
            assert f"folder {tmp_path / 'a'} does not exist" in err, err
            assert "only the last level, " in err
    assert list(tmp_path.iterdir()) == []
    # The last level is made: train into a new folder.
    model = tmp_path / "new" / "m.skops"
    assert main(["train", "--model", "rf", "--out", str(model), *TINY_RF]) == 0
    assert model.is_file()


# -- the dataset defaults -----------------------------------------------------------------------
def test_train_and_evaluate_default_their_dataset_and_say_which(tmp_path, capsys):
    model = tmp_path / "rf.skops"
    assert main(["train", "--model", "rf", "--out", str(model), *TINY_RF]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "dataset: digits (the default; --dataset NAME for another)"
    assert main(["evaluate", str(model)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("dataset: digits (recorded in the model file; test set, "
                                   "360 rows)")
    assert "accuracy: " in out
    assert main(["evaluate", str(model), "--dataset", "digits"]) == 0
    assert capsys.readouterr().out.startswith("dataset: digits (--dataset; test set, 360 rows)")
    # A file that does not record its dataset: say what to pass.
    from sknn_mnist.io.persistence import load_model, save_model

    bare = tmp_path / "bare.skops"
    save_model(load_model(model), bare)
    assert main(["evaluate", str(bare)]) == 2
    assert capsys.readouterr().err == (f"sknn-mnist evaluate: error: {bare} does not record "
                                       "the dataset it was trained on; pass --dataset NAME\n")


# -- help texts ---------------------------------------------------------------------------------
def test_help_lists_the_registry_and_device_names_the_torch_models():
    parser = build_parser()
    top = parser.format_help()
    torch_models = [n for n in MODEL_NAMES if MODEL_SPECS[n].uses_device]
    assert "cnn" in torch_models and "mlp" in torch_models
    # argparse may wrap at a hyphen ("mlp-" / "ensemble"): compare without whitespace.
    bare = "".join(top.split())
    for name in MODEL_NAMES:
        assert "".join(f"{name}, {MODEL_SPECS[name].title}".split()) in bare, name
    for command in ("compare", "train", "cv", "grid-search"):
        text = " ".join(parser.commands[command].format_help().split())
        assert f"device of the torch models ({', '.join(torch_models)})" in text, command
        assert "the cores no other process is busy on" in text, command
    for command in ("compare", "train", "cv", "grid-search"):
        text = " ".join(parser.commands[command].format_help().split())
        assert "(default: digits)" in text, command
    evaluate = " ".join(parser.commands["evaluate"].format_help().split())
    assert "default: the dataset recorded in the model file" in evaluate


# -- the default --n-jobs -----------------------------------------------------------------------
@pytest.fixture
def busy_machine(monkeypatch):
    """The thread policy reads 4 usable cores, 3 of them busy with other processes."""
    from sknn_mnist.core import threads

    policy = threads.ThreadPolicy(cores=4, busy_source=lambda: 3)
    monkeypatch.setattr(threads, "default_policy", policy)
    return policy


def test_free_cores_reuses_the_thread_policys_reading(busy_machine):
    from sknn_mnist.core import threads

    assert threads.free_cores() == 1
    assert threads.ThreadPolicy(cores=4, busy_source=lambda: 0).free_cores() == 4
    assert threads.ThreadPolicy(cores=2, busy_source=lambda: 9).free_cores() == 1


def test_the_default_n_jobs_is_the_free_cores(busy_machine):
    from sknn_mnist.cli import runtime

    args = argparse.Namespace(n_jobs=None)
    assert runtime.default_jobs(args) == ("n_jobs: 1 (the free cores: 4 cores, 3 busy with "
                                          "other processes; --n-jobs N chooses)")
    assert args.n_jobs == 1
    args = argparse.Namespace(n_jobs=-1)  # given: kept
    assert runtime.default_jobs(args) == "n_jobs: -1 (--n-jobs)" and args.n_jobs == -1
    assert build_parser().parse_args(["cv", "--model", "rf", "--dataset", "digits"]).n_jobs \
        is None


def test_the_plan_prints_the_default_n_jobs(busy_machine, tmp_path, monkeypatch, capsys):
    import sknn_mnist.compare as compare_module

    seen = {}

    def stop(*args, context, **kwargs):
        seen["n_jobs"] = context.n_jobs
        raise CLIError("stopped after the plan")  # no need to train

    monkeypatch.setattr(compare_module, "compare", stop)
    assert main(["compare", "--quick", "--max-train", "300", "--models", "rf",
                 "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err
    assert ("  n_jobs: 1 (the free cores: 4 cores, 3 busy with other processes; --n-jobs N "
            "chooses)") in err.splitlines()
    assert seen["n_jobs"] == 1
