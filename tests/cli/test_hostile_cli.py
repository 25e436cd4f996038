"""Issue 22, the command line: hostile arguments and files end in one line and exit 2.

Errors in arguments and parameters come before any data is loaded: the tests replace the
dataset loader with one that fails the test. Calls that could block (a FIFO), read forever
(``/dev/zero``) or crash run in a sandboxed child (``_hostile.cli_outcomes``).
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest
from _hostile import (
    assert_one_line_error,
    cli_outcomes,
    nested_json,
    rewrite_members,
)

from sknn_mnist.cli import main
from sknn_mnist.cli.common import cap_jobs, usable_cores
from sknn_mnist.persistence import METADATA_MEMBER, load_model, save_model
from sknn_mnist.study.models import make_model


@pytest.fixture(scope="module")
def model_file(digits_raw, tmp_path_factory):
    X, y = digits_raw
    model = make_model("mlp", random_state=0, device="cpu").set_params(
        clf__hidden_layer_sizes=(16,), clf__max_iter=3).fit(X[:300], y[:300])
    return save_model(model, tmp_path_factory.mktemp("cli") / "m.skops")


@pytest.fixture(scope="module")
def forest_file(digits_raw, tmp_path_factory):
    X, y = digits_raw
    model = make_model("rf", random_state=0).set_params(clf__n_estimators=2).fit(X, y)
    return save_model(model, tmp_path_factory.mktemp("cli-rf") / "rf.skops"), model


@pytest.fixture
def no_data(monkeypatch):
    """Loading a dataset fails the test: what is checked must be checked before."""
    from sknn_mnist.cli import runtime

    def load_dataset(*args, **kwargs):
        raise AssertionError("the dataset was loaded before the error")

    monkeypatch.setattr(runtime.datasets, "load_dataset", load_dataset)


def _one_line(capsys, match):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "error:" in err, err
    assert match in err, err
    return err


# -- arguments and parameters, before any data -------------------------------------------------
EARLY = {
    "seed": (["compare", "--random-state", "-1", "--quick", "--models", "svm"],
             "a seed must be between 0 and 2**32 - 1"),
    "seed too large": (["cv", "--model", "svm", "--dataset", "digits",
                        "--random-state", str(2**32)], "a seed must be between"),
    "scoring, compare": (["compare", "--quick", "--models", "svm", "--scoring", "foo"],
                         "--scoring 'foo'"),
    "scoring, cv": (["cv", "--model", "svm", "--dataset", "digits", "--scoring", "foo"],
                    "--scoring 'foo'"),
    "huge layer": (["cv", "--model", "mlp", "--dataset", "digits",
                    "hidden_layer_sizes=(1e10,)"], "weights: training it needs at least"),
    "infinite layer": (["cv", "--model", "mlp", "--dataset", "digits",
                        "hidden_layer_sizes=(1e999,)"], "hidden_layer_sizes"),
    "device parameter": (["cv", "--model", "mlp", "--dataset", "digits",
                          "device='cuda:99'"], "cuda"),
    "image shape": (["cv", "--model", "cnn", "--dataset", "digits", "image_shape=(7,7)"],
                    "image_shape=(7, 7) does not fit rows of 64 features"),
    "batch norm": (["cv", "--model", "cnn", "--dataset", "digits", "batch_norm=True",
                    "batch_size=1"], "batch_norm=True needs batch_size of at least 2"),
}


@pytest.mark.parametrize("case", list(EARLY))
def test_argument_errors_come_before_the_data(case, no_data, capsys, tmp_path):
    argv, match = EARLY[case]
    if argv[0] == "compare":
        argv = [*argv, "--out", str(tmp_path / "out")]
    assert main([*argv, "--quiet"]) == 2
    _one_line(capsys, match)


def test_grid_values_are_checked_before_the_data(no_data, capsys, tmp_path):
    grid = tmp_path / "grid.json"
    grid.write_text(json.dumps({"hidden_layer_sizes": [[16], [10**10]]}))
    assert main(["grid-search", "--model", "mlp", "--dataset", "digits", "--param-grid",
                 str(grid), "-q"]) == 2
    _one_line(capsys, "grid value hidden_layer_sizes=(10000000000,)")
    grid.write_text(json.dumps({"image_shape": [[8, 8], [7, 7]]}))
    assert main(["grid-search", "--model", "cnn", "--dataset", "digits", "--param-grid",
                 str(grid), "-q"]) == 2
    _one_line(capsys, "grid value image_shape=(7, 7)")
    grid.write_text(json.dumps({"C": [1.0]}))
    assert main(["grid-search", "--model", "svm", "--dataset", "digits", "--param-grid",
                 str(grid), "--scoring", "nope", "-q"]) == 2
    _one_line(capsys, "--scoring 'nope'")


@pytest.mark.parametrize("where", ["/proc/x.skops", "/sys/x.skops", "/proc/sub/x.skops"])
def test_an_output_where_nothing_can_be_written(where, no_data, capsys):
    # os.access says yes to root in /proc; creating a file there is what tells.
    assert main(["train", "--model", "svm", "--dataset", "digits", "--out", where, "-q"]) == 2
    _one_line(capsys, "cannot write model file")
    folder = os.path.dirname(where)
    for out in ([os.path.join(folder, "compare-out")], [folder, "--overwrite"]):
        assert main(["compare", "--quick", "--models", "svm", "--out", *out, "-q"]) == 2
        _one_line(capsys, "cannot write")


def test_a_failed_save_is_one_line(monkeypatch, capsys, tmp_path):
    from sknn_mnist.io import persistence

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence, "save_model", full_disk)
    out = tmp_path / "m.skops"
    assert main(["train", "--model", "rf", "--dataset", "digits", "--out", str(out), "-q",
                 "n_estimators=2"]) == 2
    _one_line(capsys, "No space left on device")
    assert not out.exists()


def test_n_jobs_is_capped_at_the_work_and_the_cores():
    cores = usable_cores()
    assert cap_jobs(64, 3) == min(3, cores)
    assert cap_jobs(64) == cores
    assert cap_jobs(-1, 3) == min(3, cores)
    assert cap_jobs(-1000) == 1
    assert cap_jobs(None, 3) is None
    assert cap_jobs(1, 5) == 1


def test_the_cli_starts_no_more_workers_than_fits(monkeypatch, capsys):
    from sknn_mnist.cli import runtime

    seen = []
    original = runtime.run_context

    def spy(args, work=None):
        context = original(args, work)
        seen.append(work)
        return context

    monkeypatch.setattr(runtime, "run_context", spy)
    jobs = []
    monkeypatch.setattr(runtime, "cap_jobs", lambda n, work=None: jobs.append(
        (n, work)) or cap_jobs(n, work))
    assert main(["cv", "--model", "svm", "--dataset", "digits", "--cv", "3", "--n-jobs", "64",
                 "--max-train", "300", "-q"]) == 0
    assert seen == [3]
    assert all(cap_jobs(n, w) <= 3 for n, w in jobs if w is not None)


# -- files named on the command line -------------------------------------------------------
def _npy_claiming(shape) -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return header.getvalue() + bytes(64 * 8)


def test_hostile_row_and_grid_files(tmp_path, model_file):
    np.save(tmp_path / "scalar.npy", np.array(3.0))
    (tmp_path / "claims.npy").write_bytes(_npy_claiming((10**12, 64)))
    np.save(tmp_path / "huge.npy", np.full((2, 64), 1e300))
    np.save(tmp_path / "empty3d.npy", np.zeros((0, 8, 8)))
    (tmp_path / "ragged.csv").write_text("1,2,3\n1,2\n")
    (tmp_path / "deep.json").write_text(nested_json(100_000).decode())
    (tmp_path / "digits.json").write_text('{"C": [' + "9" * 5000 + "]}")
    (tmp_path / "big-int.json").write_text('{"C": [' + "9" * 100 + "]}")
    (tmp_path / "zero.npy").symlink_to("/dev/zero")
    (tmp_path / "zero.json").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.npy")
    os.mkfifo(tmp_path / "fifo.json")
    predict = ["predict", model_file]
    grid = ["grid-search", "--model", "svm", "--dataset", "digits", "-q", "--param-grid"]
    cases = {
        "scalar.npy": (predict, "holds a single number"),
        "claims.npy": (predict, "claims an array of shape (1000000000000, 64)"),
        "huge.npy": (predict, "pixel values must be finite numbers of float32 range"),
        "ragged.csv": (predict, "line 2 has 2 values, the first row 3"),
        "zero.npy": (predict, "is a device, not a regular input file"),
        "fifo.npy": (predict, "is a FIFO, not a regular input file"),
        "deep.json": (grid, "nested 100000 levels deep"),
        "digits.json": (grid, "is not valid JSON"),
        "big-int.json": (grid, "an integer too large"),
        "zero.json": (grid, "is a device"),
        "fifo.json": (grid, "is a FIFO"),
    }
    outcomes = cli_outcomes([[*argv, tmp_path / name] for name, (argv, _) in cases.items()]
                            + [[*predict, tmp_path / "empty3d.npy"]], timeout=120)
    for (name, (_, match)), outcome in zip(cases.items(), outcomes, strict=False):
        assert_one_line_error(outcome, match=match)
        assert "RuntimeWarning" not in outcome["err"], name
    assert outcomes[-1]["code"] == 0 and outcomes[-1]["out"] == ""  # no rows, no labels


def test_a_row_file_over_the_limit_is_not_read(tmp_path, model_file, monkeypatch, capsys):
    from sknn_mnist.cli import runtime

    np.save(tmp_path / "rows.npy", np.zeros((50, 64)))
    monkeypatch.setattr(runtime, "MAX_NPY_BYTES", 1000)
    assert main(["predict", str(model_file), str(tmp_path / "rows.npy")]) == 2
    _one_line(capsys, "more than the 1,000 a file of pixel rows may hold")


def test_no_overflow_warning_before_the_error(tmp_path, model_file, capsys):
    np.save(tmp_path / "huge.npy", np.full((2, 64), 1e300))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["predict", str(model_file), str(tmp_path / "huge.npy")]) == 2
    _one_line(capsys, "row 1, column 1 is 1e+300")


def test_hostile_model_files_on_every_command(tmp_path, model_file, forest_file):
    forest_path, forest = forest_file
    rows = tmp_path / "rows.npy"
    np.save(rows, np.zeros((3, 64)))
    files = {
        "deep metadata": rewrite_members(model_file, tmp_path / "deep-meta.skops", {
            METADATA_MEMBER: b'{"format": "sknn_mnist.model", "metadata": '
            + nested_json(200_000) + b"}"}),
        "deep schema": rewrite_members(model_file, tmp_path / "deep-schema.skops",
                                       {"schema.json": nested_json(200_000)}),
        "list schema": rewrite_members(model_file, tmp_path / "list-schema.skops",
                                       {"schema.json": b"[1, 2]"}),
        "edited versions": rewrite_members(model_file, tmp_path / "versions.skops", {
            METADATA_MEMBER: lambda d: d.replace(b'"versions": {', b'"versions": "1.0", "x": {')}),
    }
    flipped = bytearray(model_file.read_bytes())
    with zipfile.ZipFile(model_file) as archive:  # a byte in the middle of the weights
        (blob,) = [i for i in archive.infolist() if i.filename.endswith(".bin")]
    start = blob.header_offset + 30 + len(blob.filename.encode()) + len(blob.extra)
    flipped[start + blob.compress_size // 2] ^= 0x40
    (tmp_path / "flipped.skops").write_bytes(bytes(flipped))
    files["byte flip"] = tmp_path / "flipped.skops"
    model = copy.deepcopy(forest)
    tree = model[-1].estimators_[0].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    nodes["feature"][0] = 71
    tree.__setstate__({**state, "nodes": nodes})
    files["forged tree"] = save_model(model, tmp_path / "forged.skops")
    mlp = load_model(model_file)
    mlp[-1].classes_ = mlp[-1].classes_[:5]  # exported to ONNX silently before
    files["short classes"] = save_model(mlp, tmp_path / "short.skops")
    loop = tmp_path / "loop.skops"
    loop.symlink_to(loop)
    os.mkfifo(tmp_path / "fifo.skops")
    paths = {**files, "folder": tmp_path, "device": "/dev/zero", "symlink loop": loop,
             "fifo": tmp_path / "fifo.skops"}
    messages = {"folder": "is a folder", "device": "is a device",
                "symlink loop": "symbolic links", "fifo": "is a FIFO"}
    argvs, expected = [], []
    for name, path in paths.items():
        for argv in (["predict", path, rows], ["evaluate", path, "--dataset", "digits", "-q"],
                     ["info", path], ["export", path, tmp_path / f"{len(argvs)}.onnx"]):
            if name in files and argv[0] == "info" and name in (
                    "deep schema", "list schema", "forged tree", "byte flip", "short classes"):
                continue  # info reads the metadata only: these files' metadata is fine
            argvs.append(argv)
            expected.append(messages.get(name, "corrupt or truncated"))
    for match, outcome in zip(expected, cli_outcomes(argvs), strict=True):
        assert_one_line_error(outcome, match=match)
    assert not list(tmp_path.glob("*.onnx"))
