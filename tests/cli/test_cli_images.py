"""``sknn-mnist predict`` on images and ``sknn-mnist serve``."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from PIL import Image

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.cli import main


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for i, digit in enumerate("0147"):
        (folder / f"{digit}-{i}.jpg").write_bytes(T.encode(T.photo(digit, seed=i), "JPEG",
                                                           quality=90))
    return folder


@pytest.fixture(scope="module")
def number_png(tmp_path_factory):
    strip = np.concatenate([T.ink(d, 120)[:, 15:-15] for d in "1047"], axis=1)
    path = tmp_path_factory.mktemp("number") / "meter.png"
    path.write_bytes(T.encode(T.on_paper(np.pad(strip, 20))))
    return path


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    """A model of scikit-learn's 8x8 digits (64 inputs of 0..16)."""
    from sklearn.datasets import load_digits

    from sknn_mnist.io.persistence import save_model
    from sknn_mnist.models import make_model

    X, y = load_digits(return_X_y=True)
    model = make_model("rf", n_estimators=30).fit(X, y)
    return save_model(model, tmp_path_factory.mktemp("m") / "digits-rf.skops")


def _lines(capsys) -> list[list[str]]:
    return [line.split() for line in capsys.readouterr().out.splitlines()]


def test_predict_images_and_folders_with_a_pretrained_model(photos, capsys):
    assert main(["predict", "mnist-mlp", str(photos)]) == 0
    lines = _lines(capsys)
    assert [os.path.basename(line[0]) for line in lines] == ["0-0.jpg", "1-1.jpg", "4-2.jpg",
                                                             "7-3.jpg"]
    assert [line[1] for line in lines] == ["0", "1", "4", "7"]
    assert all(0.5 < float(line[2]) <= 1 for line in lines)


def test_top_k_csv_and_json(photos, capsys):
    one = str(photos / "4-2.jpg")
    assert main(["predict", "mnist-mlp", one, "--top-k", "3"]) == 0
    (line,) = _lines(capsys)
    assert line[1] == "4" and len(line) == 7
    probabilities = [float(line[2]), float(line[4]), float(line[6])]
    assert probabilities == sorted(probabilities, reverse=True)
    assert main(["predict", "mnist-mlp", one, "--format", "csv", "--top-k", "2"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["name", "label", "probability", "label_2", "probability_2"]
    assert rows[1][0] == one and rows[1][1] == "4"
    assert main(["predict", "mnist-mlp", one, str(photos / "7-3.jpg"), "--format", "json"]) == 0
    answers = json.loads(capsys.readouterr().out)
    assert [a["label"] for a in answers] == [4, 7] and answers[0]["name"] == one
    assert 0 < answers[0]["probability"] <= 1


def test_number(number_png, capsys):
    assert main(["predict", "mnist-mlp", str(number_png), "--number"]) == 0
    (line,) = _lines(capsys)
    assert line[1] == "1047" and 0 < float(line[2]) <= 1
    assert main(["predict", "mnist-mlp", str(number_png), "--number", "--format", "json"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    assert answer["label"] == "1047"
    assert [d["label"] for d in answer["digits"]] == [1, 0, 4, 7]


def test_save_inputs_writes_what_the_model_saw(photos, number_png, tmp_path, capsys):
    out = tmp_path / "seen"
    assert main(["predict", "mnist-mlp", str(photos), "--save-inputs", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["0000-0-0.png", "0001-1-1.png", "0002-4-2.png", "0003-7-3.png",
                     "contact-sheet.png"]
    seen = np.asarray(Image.open(out / "0002-4-2.png"))
    assert seen.shape == (28, 28) and seen.max() == 255 and seen[0].max() == 0
    sheet = Image.open(out / "contact-sheet.png")
    assert sheet.size[0] > 4 * 28 * 4 and np.asarray(sheet).std() > 10
    assert "saved what the model saw" in capsys.readouterr().err
    digits_out = tmp_path / "digits"
    assert main(["predict", "mnist-mlp", str(number_png), "--number", "--save-inputs",
                 str(digits_out)]) == 0
    assert len(list(digits_out.glob("0000-meter-*.png"))) == 4


def test_an_8x8_digits_model_gets_8x8_inputs(digits_model, photos, tmp_path, capsys):
    out = tmp_path / "seen"
    assert main(["predict", str(digits_model), str(photos / "7-3.jpg"), "--save-inputs",
                 str(out)]) == 0
    (line,) = _lines(capsys)
    assert line[1] == "7"
    assert np.asarray(Image.open(out / "0000-7-3.png")).shape == (8, 8)


def test_rows_and_images_together(photos, tmp_path, capsys):
    from sknn_mnist.images import load_images

    np.save(tmp_path / "rows.npy", load_images([T.photo("1")]))
    assert main(["predict", "mnist-mlp", str(tmp_path / "rows.npy"),
                 str(photos / "0-0.jpg")]) == 0
    lines = _lines(capsys)
    assert lines[0][0].endswith("rows.npy[0]") and lines[0][1] == "1"
    assert lines[1][1] == "0"


def _bad_inputs(folder):
    """Bad inputs, each with what its one-line error says."""
    (folder / "notes.txt").write_text("not an image")
    (folder / "junk.png").write_bytes(b"junk")
    (folder / "blank.bmp").write_bytes(T.encode(np.full((40, 40), 255, np.uint8), "BMP"))
    return {"notes.txt": "unsupported file type '.txt'", "junk.png": "not a readable image",
            "blank.bmp": "no ink found", "missing.png": "input file not found"}


def test_bad_images_exit_2_with_one_line(tmp_path, capsys):
    for name, message in _bad_inputs(tmp_path).items():
        assert main(["predict", "mnist-mlp", str(tmp_path / name)]) == 2, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err, name


def test_other_usage_errors(tmp_path, photos, capsys):
    np.save(tmp_path / "rows.npy", np.zeros((1, 784)))
    assert main(["predict", "mnist-mlp", str(tmp_path / "rows.npy"), "--number"]) == 2
    assert "--number reads images" in capsys.readouterr().err
    assert main(["predict", "mnist-nope", str(photos)]) == 2
    assert "the pretrained models are: mnist-cnn, mnist-mlp" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main(["predict", "mnist-mlp", str(photos), "--save-inputs",
                 str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_serve_usage_errors(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "0..65535" in capsys.readouterr().err
    assert main(["serve", "no-such-model.skops"]) == 2
    assert "model file not found" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["serve", "mnist-mlp", "--port", str(port)]) == 2
    assert f"cannot serve on 127.0.0.1:{port}" in capsys.readouterr().err


@pytest.mark.subprocess
def test_serve_prints_its_address_and_stops_on_ctrl_c():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "sknn_mnist", "serve", "mnist-mlp",
                             "--port", "0"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stderr.readline()
        while line and "serving" not in line:
            line = proc.stderr.readline()
        assert "serving mnist-mlp on http://127.0.0.1:" in line
        url = line.split(" on ")[1].split()[0]
        with urllib.request.urlopen(url + "api/models", timeout=30) as response:
            assert json.loads(response.read())[0]["name"] == "mnist-mlp"
        proc.send_signal(signal.SIGINT)
        _, rest = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in rest


def test_rows_scaled_already_get_one_warning_line(tmp_path, capsys):
    from sknn_mnist.images import load_images

    rows = load_images([T.photo(d) for d in "0147"]) / 255.0  # divided twice, in effect
    np.save(tmp_path / "scaled.npy", rows)
    assert main(["predict", "mnist-mlp", str(tmp_path / "scaled.npy")]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: these rows' pixels lie in")
