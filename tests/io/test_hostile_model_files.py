"""Issue 22, model files: crafted files end in one clear error, never a crash, hang or bomb.

Every crafted file is built here from a genuine model. The loads that could crash, hang or
exhaust memory run in a sandboxed child (``_hostile.run_limited``: an address-space limit
and a timeout), so that a regression fails its test instead of the suite.
"""

from __future__ import annotations

import copy
import io
import json
import os
import random
import zipfile

import numpy as np
import pytest
from _hostile import (
    PEAK_RSS,
    add_zero_member,
    assert_clean_exit,
    edit_json_member,
    load_outcomes,
    nested_json,
    npy_bytes,
    rewrite_members,
    run_python,
)
from sklearn.tree._tree import Tree

from sknn_mnist.io.archive import ArchiveError, ArchiveLimits, check_directory, json_depth
from sknn_mnist.persistence import (
    METADATA_MEMBER,
    CorruptModelFileError,
    ModelFileError,
    UnreadableModelFileError,
    load_model,
    read_metadata,
    save_model,
)
from sknn_mnist.study.models import make_model


@pytest.fixture(scope="module")
def data(digits_raw):
    X, y = digits_raw
    return X[:600], y[:600]


@pytest.fixture(scope="module")
def rows(digits_raw):
    return digits_raw[0][600:640]


@pytest.fixture(scope="module")
def forest(data):
    model = make_model("rf", random_state=0).set_params(clf__n_estimators=3)
    return model.fit(*data)


@pytest.fixture(scope="module")
def svc(data):
    return make_model("svm", random_state=0).fit(*data)


@pytest.fixture(scope="module")
def mlp(data):
    model = make_model("mlp", random_state=0, device="cpu")
    return model.set_params(clf__hidden_layer_sizes=(16,), clf__max_iter=3).fit(*data)


@pytest.fixture(scope="module")
def mlp_file(mlp, tmp_path_factory):
    return save_model(mlp, tmp_path_factory.mktemp("mlp") / "mlp.skops")


def _refused(outcome, match):
    assert not outcome["ok"], outcome
    assert outcome["error"] == "CorruptModelFileError", outcome
    assert match in outcome["message"], outcome


# -- forged decision trees -----------------------------------------------------------------
def _forged_tree(tree, *, n_features=None, edit=None):
    """A copy of ``tree`` with another claimed width or an edited node table."""
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    if edit is not None:
        edit(nodes)
    n_classes = np.array([tree.max_n_classes], dtype=np.intp)
    forged = Tree(tree.n_features if n_features is None else n_features, n_classes,
                  tree.n_outputs)
    forged.__setstate__({**state, "nodes": nodes})
    return forged


def _claim_node_count(src, dst, count):
    """Edit the schema: the first tree claims ``count`` nodes, its table stays as it was.

    Done in the file: a Tree object whose count exceeds its table (``__setstate__`` called
    twice) reads past the table when it is saved or copied, in this process.
    """
    def edit(schema):
        stack = [schema]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if node.get("__class__") == "Tree":
                    entry = node["content"]["content"]["node_count"]
                    entry.update(content=str(count), __id__=1)  # not a shared (memoised) int
                    return schema
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
        raise AssertionError("no tree in the schema")

    return edit_json_member(src, dst, "schema.json", edit)


def _internal(nodes, k=1):
    """Index of the ``k``-th internal node (0: the root)."""
    return int(np.flatnonzero(nodes["left_child"] != -1)[k])


def _set(field, value, node=0):
    def edit(nodes):
        index = _internal(nodes) if node == "inner" else node
        nodes[field][index] = value
    return edit


def _self_loop(nodes):
    # Every row goes from the root to an internal node whose children are itself.
    k = _internal(nodes)
    nodes["left_child"][0] = nodes["right_child"][0] = k
    nodes["left_child"][k] = nodes["right_child"][k] = k


FORGED_TREES = {
    # A huge feature index behind a huge width claimed by the tree table alone (the forest
    # calls its trees without input checks): SIGSEGV before the fix.
    "huge feature": dict(n_features=2**40, edit=_set("feature", 2**40 - 1)),
    # 71 of the 64 pixels: silent predictions from memory the model does not own.
    "feature 71": dict(n_features=100, edit=_set("feature", 71)),
    "feature 71, estimator's width too": dict(n_features=100, edit=_set("feature", 71),
                                               width=True),
    "feature 71, own width": dict(edit=_set("feature", 71)),
    "negative feature": dict(edit=_set("feature", -5, node="inner")),
    # A node whose children are itself: predict looped forever before the fix.
    "self loop": dict(edit=_self_loop),
    "child before parent": dict(edit=_set("right_child", 0, node="inner")),
    "child outside": dict(edit=_set("left_child", 10**6)),
}


def _forge_forest(forest, how):
    model = copy.deepcopy(forest)
    tree = model[-1].estimators_[1]
    spec = dict(FORGED_TREES[how])
    width = spec.pop("width", False)
    tree.tree_ = _forged_tree(tree.tree_, **spec)
    if width:  # the tree's estimator claims the width too
        tree.n_features_in_ = tree.tree_.n_features
    return model


def test_forged_trees_are_refused_before_predict(forest, rows, tmp_path):
    paths = [save_model(_forge_forest(forest, how), tmp_path / f"{i}.skops")
             for i, how in enumerate(FORGED_TREES)]
    genuine = save_model(forest, tmp_path / "genuine.skops")
    # More nodes claimed than stored: scikit-learn's __setstate__ clamps the count to the
    # table (the loader checks it too), so the model is the genuine one.
    count = _claim_node_count(genuine, tmp_path / "count.skops", 10**7)
    outcomes = load_outcomes([genuine, count, *paths], rows, tmp_path)
    expected = [str(v) for v in forest.predict(rows)]
    assert outcomes[0]["pred"] == outcomes[1]["pred"] == expected
    for how, outcome in zip(FORGED_TREES, outcomes[2:], strict=True):
        assert not outcome["ok"], how
        _refused(outcome, "tree")


def test_forest_and_tree_widths_must_agree(forest, tmp_path):
    model = copy.deepcopy(forest)
    model[-1].n_features_in_ = 100  # the forest would accept 100 columns
    with pytest.raises(CorruptModelFileError, match="features"):
        load_model(save_model(model, tmp_path / "wide.skops"))
    model = copy.deepcopy(forest)
    model[-1].estimators_[0].n_classes_ = 3
    with pytest.raises(CorruptModelFileError, match="classes"):
        load_model(save_model(model, tmp_path / "classes.skops"))


# -- forged SVCs ------------------------------------------------------------------------------
def _stretch_support(clf):
    n = clf._n_support.copy()
    n[0] += 1000
    n[1] -= 1000  # the sum stays right: scikit-learn's own check passes
    clf._n_support = n


def _precomputed(clf):
    clf.kernel = "precomputed"
    clf.support_vectors_ = np.empty((0, 0))
    clf.support_ = np.full_like(clf.support_, 2**30)


FORGED_SVCS = {
    "support index 2**30": lambda c: setattr(
        c, "support_", np.where(np.arange(len(c.support_)) == 0, 2**30, c.support_)
        .astype(np.int32)),
    "truncated dual coef": lambda c: setattr(
        c, "_dual_coef_", np.ascontiguousarray(c._dual_coef_[:, :5])),
    "truncated intercept": lambda c: setattr(c, "_intercept_", c._intercept_[:3].copy()),
    "empty intercept": lambda c: setattr(c, "_intercept_", np.empty(0)),
    "stretched n_support": _stretch_support,
    "precomputed kernel": _precomputed,
    "one class": lambda c: setattr(c, "_n_support", c._n_support[:1].copy()),
    "truncated probA": lambda c: (setattr(c, "_probA", np.ones(3)),
                                  setattr(c, "_probB", np.ones(3))),
    "short classes": lambda c: setattr(c, "classes_", c.classes_[:4].copy()),
    "one-class impl": lambda c: setattr(c, "_impl", "one_class"),
    "fewer features": lambda c: setattr(
        c, "support_vectors_", np.ascontiguousarray(c.support_vectors_[:, :10])),
}


def test_forged_svcs_are_refused_before_predict(svc, rows, tmp_path):
    paths = []
    for i, forge in enumerate(FORGED_SVCS.values()):
        model = copy.deepcopy(svc)
        forge(model[-1])
        paths.append(save_model(model, tmp_path / f"{i}.skops"))
    genuine = save_model(svc, tmp_path / "genuine.skops")
    outcomes = load_outcomes([genuine, *paths], rows, tmp_path)
    assert outcomes[0]["pred"] == [str(v) for v in svc.predict(rows)]
    for how, outcome in zip(FORGED_SVCS, outcomes[1:], strict=True):
        assert not outcome["ok"], (how, outcome)
        assert outcome["error"] == "CorruptModelFileError", (how, outcome)
        assert "SVC" in outcome["message"], (how, outcome)


# -- forged torch classifiers ----------------------------------------------------------------
def test_classifier_without_network_state(mlp, tmp_path):
    model = copy.deepcopy(mlp)
    del model[-1].trainer_  # __getstate__ then stores no network
    path = save_model(model, tmp_path / "no-net.skops")
    with pytest.raises(CorruptModelFileError, match="no network state"):
        load_model(path)


@pytest.mark.parametrize("forge", ["no network", "softmax"])
def test_forged_regressors_are_refused(data, tmp_path, forge):
    from sknn_mnist.networks.mlp.regressor import TorchMLPRegressor

    X, y = data
    model = TorchMLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=0,
                              device="cpu").fit(X / 16, y.astype(float))
    if forge == "no network":
        del model.trainer_
    else:
        model.out_activation_ = "softmax"  # a classifier's head on a regressor
    path = save_model(model, tmp_path / "regressor.skops")
    with pytest.raises(CorruptModelFileError, match="no network state|out_activation_"):
        load_model(path)


@pytest.mark.parametrize("classes", [slice(0, 5), slice(0, 1)])
def test_shortened_classes_are_refused(mlp, tmp_path, classes):
    model = copy.deepcopy(mlp)
    model[-1].classes_ = model[-1].classes_[classes]
    path = save_model(model, tmp_path / "short.skops")
    with pytest.raises(CorruptModelFileError, match="classes_"):
        load_model(path)


def test_a_huge_network_in_the_parameters_is_not_built(mlp, tmp_path, rows):
    """(5_000_000, 50) hidden units would take 2.7 GB; the child may map 3 GiB in all."""
    model = copy.deepcopy(mlp)
    model[-1].hidden_layer_sizes = (5_000_000, 50)
    path = save_model(model, tmp_path / "huge.skops")
    assert path.stat().st_size < 2**20
    (outcome,) = load_outcomes([path], rows, tmp_path)
    _refused(outcome, "do not match")


# -- archive bounds -------------------------------------------------------------------------
def _npy_members(path):
    with zipfile.ZipFile(path) as archive:
        return [n for n in archive.namelist() if n.endswith(".npy")]


def test_an_honest_2_gib_member_is_refused_without_inflating_it(mlp_file, tmp_path):
    """The issue's file: 2.2 MB on disk, one .npy member of 2 GiB of zeros."""
    victim = _npy_members(mlp_file)[0]
    bomb = rewrite_members(mlp_file, tmp_path / "bomb.skops", drop=[victim])
    add_zero_member(bomb, victim, 2 * 2**30)
    assert bomb.stat().st_size < 4 * 2**20
    code = ("import sys\nfrom sknn_mnist.persistence import load_model\n"
            "try:\n    load_model(sys.argv[1])\nexcept ValueError as exc:\n    print(exc)\n"
            + PEAK_RSS)
    proc = run_python(code, bomb, timeout=60)
    assert_clean_exit(proc)
    assert "beyond the 2,048.0 MiB" in proc.stdout or "decompression bomb" in proc.stdout
    # Not inflated: the peak memory stays far below the member's 2 GiB (a time bound would
    # say the same but fails on a loaded machine).
    lines = dict(line.rsplit(" ", 1) for line in proc.stdout.splitlines()[-1:])
    assert int(lines["peak_rss_mib"]) < 1024  # imports ~500 MiB; the member alone is 2 GiB


def test_members_are_bounded_by_max_bytes_and_by_their_ratio(mlp_file, tmp_path):
    victim = _npy_members(mlp_file)[0]
    bomb = rewrite_members(mlp_file, tmp_path / "bomb.skops", drop=[victim])
    add_zero_member(bomb, victim, 128 * 2**20)
    with pytest.raises(CorruptModelFileError, match="decompression bomb"):
        load_model(bomb)
    with pytest.raises(CorruptModelFileError, match="beyond the 64.0 MiB"):
        load_model(bomb, max_bytes=64 * 2**20)
    # Within both bounds, the same archive loads (the bounds are the only refusal).
    assert load_model(mlp_file, max_bytes=2**20) is not None


def test_a_bomb_inside_the_torch_blob_counts_too(mlp_file, tmp_path):
    with zipfile.ZipFile(mlp_file) as archive:
        (blob,) = [n for n in archive.namelist() if n.endswith(".bin")]
        inner = io.BytesIO(archive.read(blob))
    add_zero_member(inner, "archive/data/bomb", 2**30, npy=False)
    path = rewrite_members(mlp_file, tmp_path / "nested.skops", {blob: inner.getvalue()})
    assert path.stat().st_size < 4 * 2**20
    with pytest.raises(CorruptModelFileError, match=r"\.bin/archive/data/bomb"):
        load_model(path, max_bytes=512 * 2**20)


def test_an_array_header_larger_than_its_data(mlp_file, tmp_path):
    victim = _npy_members(mlp_file)[0]
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 64)})
    path = rewrite_members(mlp_file, tmp_path / "claims.skops",
                           {victim: header.getvalue() + bytes(64)})
    with pytest.raises(CorruptModelFileError, match=r"claims shape \(1000000000000, 64\)"):
        load_model(path)
    objects = rewrite_members(mlp_file, tmp_path / "objects.skops",
                              {victim: lambda d: d.replace(b"'<i8'", b"'|O' ")})
    with pytest.raises(CorruptModelFileError, match=victim):
        load_model(objects)


def test_a_pickle_member_is_refused(mlp_file, tmp_path):
    with zipfile.ZipFile(mlp_file) as archive:
        (blob,) = [n for n in archive.namelist() if n.endswith(".bin")]
    path = rewrite_members(mlp_file, tmp_path / "pickle.skops",
                           {blob: b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.\x80\x02M\xe9\x03."})
    with pytest.raises(CorruptModelFileError, match="is a pickle"):
        load_model(path)


def test_a_huge_zip_directory_is_refused_before_it_is_parsed(mlp_file):
    with open(mlp_file, "rb") as f:
        check_directory(f)
        with pytest.raises(ArchiveError, match="zip directory"):
            check_directory(f, ArchiveLimits(max_directory_bytes=100))


# -- JSON nesting and edited metadata ------------------------------------------------------
def test_json_depth_ignores_brackets_in_strings():
    assert json_depth(b'{"a": [1, {"b": "[[[[{"}], "c": "\\"]]"}') == 3
    assert json_depth(b"[]") == 1 and json_depth(b'"x"') == 0
    assert json_depth(nested_json(200_000)) == 200_000


@pytest.mark.parametrize("member", [METADATA_MEMBER, "schema.json"])
def test_deeply_nested_json_is_refused_not_recursed(mlp_file, tmp_path, member):
    depth = 200_000
    if member == METADATA_MEMBER:
        content = (b'{"format": "sknn_mnist.model", "format_version": 2, "metadata": '
                   + nested_json(depth) + b"}")
    else:
        content = nested_json(depth)
    path = rewrite_members(mlp_file, tmp_path / "deep.skops", {member: content})
    with pytest.raises(CorruptModelFileError, match=f"nested {depth + (member != 'schema.json')}"):
        load_model(path)
    if member == METADATA_MEMBER:
        with pytest.raises(CorruptModelFileError, match="levels deep"):
            read_metadata(path)


@pytest.mark.parametrize("versions", [{"sknn_mnist": 1}, "1.0", ["1.0"], {"torch": None}])
def test_edited_versions_are_a_clean_error(mlp_file, tmp_path, versions):
    def edit(header):
        header["metadata"]["versions"] = versions
        return header

    path = edit_json_member(mlp_file, tmp_path / "edited.skops", METADATA_MEMBER, edit)
    for read in (load_model, read_metadata):
        with pytest.raises(CorruptModelFileError, match="'versions'"):
            read(path)


@pytest.mark.parametrize("schema", [[1, 2], "x", 3, None])
def test_a_schema_that_is_not_an_object(mlp_file, tmp_path, schema):
    path = rewrite_members(mlp_file, tmp_path / "schema.skops",
                           {"schema.json": json.dumps(schema).encode()})
    with pytest.raises(CorruptModelFileError, match="schema.json"):
        load_model(path)


def test_byte_flips_end_in_a_clean_error_or_the_same_model(mlp, mlp_file, rows, tmp_path):
    """200 random one-byte flips inside deflated members (44 gave zlib.error before)."""
    data = mlp_file.read_bytes()
    with zipfile.ZipFile(mlp_file) as archive:
        spans = [(info.header_offset + 30 + len(info.filename.encode()) + len(info.extra),
                  info.compress_size) for info in archive.infolist()
                 if info.compress_type == zipfile.ZIP_DEFLATED]
    rng = random.Random(22)
    paths = []
    for i in range(200):
        start, size = rng.choice(spans)
        offset = start + rng.randrange(size)
        flipped = bytearray(data)
        flipped[offset] ^= 1 << rng.randrange(8)
        path = tmp_path / f"flip{i}.skops"
        path.write_bytes(bytes(flipped))
        paths.append(path)
    expected = [str(v) for v in mlp.predict(rows)]
    outcomes = load_outcomes(paths, rows, tmp_path)
    for outcome in outcomes:
        if outcome["ok"]:
            assert outcome["pred"] == expected
        else:
            assert outcome["error"] in ("CorruptModelFileError", "NotASknnMnistModelError")
    assert sum(not o["ok"] for o in outcomes) >= 190


# -- what the path names -----------------------------------------------------------------------
def test_paths_that_are_not_regular_files(tmp_path, mlp_file):
    loop = tmp_path / "loop.skops"
    loop.symlink_to(loop)
    with pytest.raises(UnreadableModelFileError, match="symbolic links"):
        load_model(loop)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_model(tmp_path)
    with pytest.raises(UnreadableModelFileError, match="a device"):
        load_model("/dev/zero")
    fifo = tmp_path / "fifo.skops"
    os.mkfifo(fifo)
    # A FIFO with no writer: opening it must not block (the sandbox's timeout says so).
    code = ("import sys\nfrom sknn_mnist.persistence import load_model, read_metadata\n"
            "for read in (load_model, read_metadata):\n"
            "    try:\n        read(sys.argv[1])\n    except ValueError as exc:\n"
            "        print(exc)\n")
    proc = run_python(code, fifo, timeout=60)
    assert_clean_exit(proc)
    assert proc.stdout.count("is a FIFO, not a regular model file") == 2
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(tmp_path / "missing.skops")
    with pytest.raises(FileNotFoundError, match="model file not found"):
        load_model(mlp_file / "below-a-file.skops")
    assert issubclass(UnreadableModelFileError, ModelFileError)


def test_genuine_models_of_every_kind_load_unchanged(forest, svc, mlp, rows, tmp_path):
    for name, model in (("rf", forest), ("svm", svc), ("mlp", mlp)):
        loaded = load_model(save_model(model, tmp_path / f"{name}.skops"))
        np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
    npy = npy_bytes(np.arange(3))
    assert npy.startswith(b"\x93NUMPY")
