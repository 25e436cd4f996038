"""No code from a model file runs without an explicit opt-in; damaged files give clear errors.

The payloads are real: each test that shows a refusal also shows (where it makes sense) that
the same file does run its code once the caller opts in, so a refusal is not a test that
cannot fail.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sknn_mnist.models import PixelScaler
from sknn_mnist.persistence import (
    FORMAT,
    METADATA_MEMBER,
    CorruptModelFileError,
    NotASknnMnistModelError,
    PickleNotAllowedError,
    UntrustedTypesError,
    load_model,
    read_metadata,
    save_model,
)

NAMES = ["m.skops", "m.joblib", "m.pkl", "m"]


class WritesAFile:
    """Unpickling this creates ``marker``: a stand-in for any code a file could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class SetstateWritesAFile:
    """Rebuilding this from a skops file (``__setstate__``) creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __setstate__(self, state):
        open(state["marker"], "w").close()
        self.__dict__.update(state)


@pytest.fixture(scope="module")
def genuine(digits_raw):
    from sknn_mnist import MLPDigitClassifier

    X, y = digits_raw
    model = make_pipeline(PixelScaler(), MLPDigitClassifier(
        hidden_layer_sizes=(8,), max_iter=1, random_state=0, device="cpu"))
    return model.fit(X[:200], y[:200])


def _payloads(marker, genuine):
    """(label, bytes) of pickle files that create ``marker`` when unpickled."""
    bad = WritesAFile(marker)
    in_metadata = {"format": FORMAT, "format_version": 2, "model": genuine,
                   "metadata": {"dataset": "digits", "note": bad}}
    out = []
    for label, obj in (("bare", bad), ("metadata", in_metadata)):
        for compress in (0, 3):
            buffer = io.BytesIO()
            joblib.dump(obj, buffer, compress=compress)
            out.append((f"{label}-joblib{compress}", buffer.getvalue()))
        for protocol in (0, 2, 5):
            out.append((f"{label}-pickle{protocol}", pickle.dumps(obj, protocol=protocol)))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_pickle_payloads_never_run_without_trust(tmp_path, genuine, name):
    marker = tmp_path / "pwned"
    for label, data in _payloads(marker, genuine):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises((PickleNotAllowedError, CorruptModelFileError)) as info:
            load_model(path)
        if "pickle0" not in label:  # protocol 0 has no header: "not a model file"
            assert isinstance(info.value, PickleNotAllowedError), label
            assert "allow_pickle=True" in str(info.value) and ".skops" in str(info.value)
        with pytest.raises((PickleNotAllowedError, CorruptModelFileError)):
            read_metadata(path)
        assert not marker.exists(), f"{label} as {name} ran code"
    # The payloads are live: trusting the file runs them.
    path = tmp_path / name
    path.write_bytes(_payloads(marker, genuine)[-1][1])
    load_model(path, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("name", NAMES)
def test_untrusted_skops_types_are_refused_and_listed(tmp_path, name):
    marker = tmp_path / "pwned"
    path = tmp_path / name
    _write_skops(path, {"obj": SetstateWritesAFile(marker)})
    with pytest.raises(UntrustedTypesError, match="trusted=") as info:
        load_model(path)
    assert not marker.exists()
    (unexpected,) = info.value.types
    assert unexpected.endswith("SetstateWritesAFile")
    assert unexpected in str(info.value)
    # Opting in with the listed names builds it, and its __setstate__ runs.
    load_model(path, trusted=info.value.types)
    assert marker.exists()


def test_scikit_learn_types_outside_our_pipelines_need_trust(tmp_path, digits_raw):
    X, y = digits_raw
    model = make_pipeline(PixelScaler(), LogisticRegression(max_iter=50)).fit(X[:200], y[:200])
    path = save_model(model, tmp_path / "lr.skops")
    with pytest.raises(UntrustedTypesError) as info:
        load_model(path)
    assert info.value.types == ["sklearn.linear_model._logistic.LogisticRegression"]
    loaded = load_model(path, trusted=[LogisticRegression])
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def _write_skops(path, obj, header=None):
    data = io.BytesIO(sio.dumps(obj))
    with zipfile.ZipFile(data, "a") as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(
            header or {"format": FORMAT, "format_version": 2, "metadata": {}}))
    path.write_bytes(data.getvalue())


def _rewrite(src, dst, member, change):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            zout.writestr(item, change(data) if item.filename == member else data)


def test_metadata_reads_without_loading_and_carries_no_code(tmp_path, genuine):
    path = save_model(genuine, tmp_path / "m.skops", dataset="digits")
    with zipfile.ZipFile(path) as archive:
        header = json.loads(archive.read(METADATA_MEMBER))
    assert header["format"] == FORMAT and header["metadata"]["dataset"] == "digits"
    assert read_metadata(path)["dataset"] == "digits"
    # Anything that is not JSON data is stored as text, never as an object.
    path = save_model(genuine, tmp_path / "n.skops", metadata={"obj": WritesAFile("x")})
    assert isinstance(read_metadata(path)["obj"], str)


@pytest.mark.parametrize("content", [b"", b"\x00" * 3, b"PK\x03\x04"])
def test_empty_and_tiny_files_are_corrupt(tmp_path, content):
    path = tmp_path / "m.skops"
    path.write_bytes(content)
    with pytest.raises(CorruptModelFileError, match="corrupt or truncated"):
        load_model(path)
    with pytest.raises(CorruptModelFileError, match="corrupt or truncated"):
        read_metadata(path)


def test_random_bytes_are_not_a_model(tmp_path):
    path = tmp_path / "m.skops"
    path.write_bytes(np.random.default_rng(0).bytes(4096).replace(b"PK", b"pk"))
    with pytest.raises(CorruptModelFileError, match="neither a skops archive nor"):
        load_model(path, allow_pickle=True)


@pytest.mark.parametrize("fraction", [0.3, 0.9, 0.999])
def test_truncated_files_say_so(tmp_path, genuine, fraction):
    for name, trust in (("m.skops", False), ("m.joblib", True)):
        full = save_model(genuine, tmp_path / name, overwrite=True).read_bytes()
        cut = tmp_path / f"cut-{name}"
        cut.write_bytes(full[: int(len(full) * fraction)])
        with pytest.raises(CorruptModelFileError, match="corrupt or truncated"):
            load_model(cut, allow_pickle=trust)


def test_foreign_zip_and_skops_files(tmp_path, genuine):
    import torch

    torch_file = tmp_path / "weights.skops"  # a zip archive with a pickle inside
    torch.save({"w": torch.zeros(2)}, torch_file)
    with pytest.raises(NotASknnMnistModelError, match="not a skops model file"):
        load_model(torch_file)
    plain = tmp_path / "plain.skops"
    sio.dump(genuine, plain)
    with pytest.raises(NotASknnMnistModelError, match="not written by sknn_mnist"):
        load_model(plain)
    other = tmp_path / "other.skops"
    _write_skops(other, {"a": 1}, header={"format": "someone.else", "metadata": {}})
    with pytest.raises(NotASknnMnistModelError, match="no sknn_mnist format marker"):
        load_model(other)


def test_wrong_format_versions(tmp_path, genuine):
    path = save_model(genuine, tmp_path / "m.skops")
    newer = tmp_path / "newer.skops"
    _rewrite(path, newer, METADATA_MEMBER,
             lambda d: d.replace(b'"format_version": 2', b'"format_version": 99'))
    with pytest.raises(NotASknnMnistModelError, match="format 99, newer"):
        load_model(newer)
    protocol = tmp_path / "protocol.skops"

    def bump(data):
        schema = json.loads(data)
        schema["protocol"] = 999
        return json.dumps(schema)

    _rewrite(path, protocol, "schema.json", bump)
    with pytest.raises(NotASknnMnistModelError, match="skops"):
        load_model(protocol)
    garbled = tmp_path / "garbled.skops"
    _rewrite(path, garbled, METADATA_MEMBER, lambda d: d[: len(d) // 2])
    with pytest.raises(CorruptModelFileError, match="corrupt or truncated"):
        load_model(garbled)


def test_forged_decision_tree_tables_are_refused(tmp_path, digits_raw):
    X, y = digits_raw
    model = RandomForestClassifier(n_estimators=2, random_state=0).fit(X[:200], y[:200])
    path = save_model(model, tmp_path / "rf.skops")
    forged = tmp_path / "forged.skops"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(forged, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename.endswith(".npy"):
                array = np.load(io.BytesIO(data), allow_pickle=False)
                if array.dtype.names and "left_child" in array.dtype.names:
                    array["left_child"][0] = 10**6  # points far outside the table
                    buffer = io.BytesIO()
                    np.save(buffer, array, allow_pickle=False)
                    data = buffer.getvalue()
            zout.writestr(item, data)
    np.testing.assert_array_equal(load_model(path).predict(X), model.predict(X))
    with pytest.raises(CorruptModelFileError, match="decision tree"):
        load_model(forged)


# -- the command line ----------------------------------------------------------------------
def _cli(*argv):
    from sknn_mnist.cli import main

    return main([str(a) for a in argv])


@pytest.mark.parametrize("name", NAMES)
def test_no_command_unpickles_without_trust_pickle(tmp_path, genuine, capsys, name):
    marker = tmp_path / "pwned"
    rows = tmp_path / "rows.npy"
    np.save(rows, np.zeros((2, 64)))
    path = tmp_path / name
    for _, data in _payloads(marker, genuine)[::3]:
        path.write_bytes(data)
        for argv in (["evaluate", path, "--dataset", "digits"], ["predict", path, rows],
                     ["info", path], ["export", path, tmp_path / "m.onnx"]):
            assert _cli(*argv) == 2, argv
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1 and "error:" in err, err
            assert not marker.exists(), argv
    assert "--trust-pickle" in err
    # The option is what lets it run.
    path.write_bytes(_payloads(marker, genuine)[-1][1])
    assert _cli("info", path, "--trust-pickle") == 0
    assert marker.exists()


def _labels(out: str) -> list[str]:
    """The label column of predict's lines (``name  label  probability``)."""
    return [line.split()[1] for line in out.strip().splitlines()]


def test_cli_info_reads_metadata_and_commands_use_skops_files(tmp_path, genuine, digits_raw,
                                                               capsys):
    X, _ = digits_raw
    path = save_model(genuine, tmp_path / "m.skops", dataset="digits", test_score=0.75)
    assert _cli("info", path) == 0
    out = capsys.readouterr().out
    assert "dataset" in out and "digits" in out and "0.75" in out and "skops" in out
    assert _cli("info", path, "--json") == 0
    assert json.loads(capsys.readouterr().out)["test_score"] == 0.75
    rows = tmp_path / "rows.npy"
    np.save(rows, X[:5])
    assert _cli("predict", path, rows) == 0
    assert _labels(capsys.readouterr().out) == [str(v) for v in genuine.predict(X[:5])]
    pickled = save_model(genuine, tmp_path / "m.joblib")
    assert _cli("predict", pickled, rows) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert _cli("predict", pickled, rows, "--trust-pickle") == 0
    assert _labels(capsys.readouterr().out) == [str(v) for v in genuine.predict(X[:5])]
    for bad in (tmp_path / "empty.skops", tmp_path / "missing.skops"):
        if bad.name.startswith("empty"):
            bad.write_bytes(b"")
        assert _cli("info", bad) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_damaged_weights_inside_a_genuine_file(tmp_path, genuine):
    path = save_model(genuine, tmp_path / "m.skops")
    damaged = tmp_path / "damaged.skops"
    with zipfile.ZipFile(path) as archive:
        (blob,) = [n for n in archive.namelist() if n.endswith(".bin")]  # the torch weights
    _rewrite(path, damaged, blob, lambda data: data[: len(data) // 2])
    with pytest.raises(CorruptModelFileError, match="corrupt or truncated"):
        load_model(damaged)
    schema = tmp_path / "schema.skops"
    _rewrite(path, schema, "schema.json", lambda data: data.replace(b"__loader__", b"__x__"))
    with pytest.raises(CorruptModelFileError, match="corrupt or truncated"):
        load_model(schema)


def test_oversized_metadata_is_not_inflated(tmp_path, genuine):
    path = tmp_path / "bomb.skops"
    data = io.BytesIO(sio.dumps(genuine))
    with zipfile.ZipFile(data, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, b" " * (17 * 2**20))  # 17 MiB of blanks, ~17 kB
    path.write_bytes(data.getvalue())
    assert path.stat().st_size < 2**20
    with pytest.raises(CorruptModelFileError, match="claims"):
        read_metadata(path)
