"""The page's JSON API: answers, errors (4xx JSON, never a 500), limits, a real uvicorn on
127.0.0.1, and Ctrl-C."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from PIL import Image
from starlette.testclient import TestClient

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.serve import (
    ServedModel,
    ServeLimits,
    ServerThread,
    create_app,
    is_loopback,
    load_served_models,
)

PHOTO_4 = T.encode(T.photo("4"), "JPEG", quality=90)


@pytest.fixture(scope="module")
def mlp():
    return load_served_models(["mnist-mlp"])


@pytest.fixture(scope="module")
def client(mlp):
    return TestClient(create_app(mlp))


def _png_size(b64: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


def test_the_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<canvas id="pad"' in page.text and "/app.js" in page.text
    assert client.get("/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/style.css").status_code == 200


def test_models_are_listed(client):
    (model,) = client.get("/api/models").json()
    assert model["name"] == "mnist-mlp" and model["classes"] == list(range(10))
    assert model["input"] == "28x28" and model["test_score"] > 0.97


def test_predict_a_multipart_upload(client):
    response = client.post("/api/predict", files={"image": ("four.jpg", PHOTO_4, "image/jpeg")})
    assert response.status_code == 200
    answer = response.json()
    assert answer["model"] == "mnist-mlp" and answer["label"] == 4
    assert sorted(answer["probabilities"]) == [str(d) for d in range(10)]
    assert sum(answer["probabilities"].values()) == pytest.approx(1)
    assert answer["probabilities"]["4"] == max(answer["probabilities"].values())
    assert _png_size(answer["input_png"]) == (28, 28)


def test_predict_raw_bytes_gives_the_same_answer(client):
    raw = client.post("/api/predict", content=PHOTO_4, headers={"content-type": "image/jpeg"})
    form = client.post("/api/predict", files={"image": ("4.jpg", PHOTO_4, "image/jpeg")})
    assert raw.status_code == 200 and raw.json() == form.json()


def test_several_models_answer_side_by_side(mlp):
    from sklearn.datasets import load_digits
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from sknn_mnist.models import PixelScaler

    X, y = load_digits(return_X_y=True)
    digits_model = make_pipeline(PixelScaler(), KNeighborsClassifier(3)).fit(X, y)
    served = [*mlp, ServedModel("digits-knn", digits_model)]
    client = TestClient(create_app(served))
    assert [m["input"] for m in client.get("/api/models").json()] == ["28x28", "8x8"]
    answers = client.post("/api/predict", content=PHOTO_4,
                          headers={"content-type": "image/jpeg"}).json()
    assert [a["model"] for a in answers] == ["mnist-mlp", "digits-knn"]
    assert _png_size(answers[1]["input_png"]) == (8, 8)
    assert answers[0]["label"] == 4


def test_a_number(client):
    strip = np.concatenate([T.ink(d, 120)[:, 15:-15] for d in "741"], axis=1)
    data = T.encode(T.on_paper(np.pad(strip, 20)))
    answer = client.post("/api/predict?mode=number", content=data,
                         headers={"content-type": "image/png"}).json()
    assert answer["label"] == "741" and len(answer["digits"]) == 3
    assert [d["label"] for d in answer["digits"]] == [7, 4, 1]


@pytest.mark.parametrize("body, content_type, status, message", [
    (b"plain text", "text/plain", 415, "send an image"),
    (b"", None, 415, "send an image"),
    (b"not an image at all", "image/png", 400, "not a readable image"),
    (PHOTO_4[: len(PHOTO_4) // 2], "image/jpeg", 400, "truncated or damaged"),
    (T.encode(np.full((60, 60), 255, np.uint8)), "image/png", 400, "no ink found"),
])
def test_bad_uploads_get_a_4xx_json_message(client, caplog, body, content_type, status,
                                            message):
    headers = {"content-type": content_type} if content_type else {}
    with caplog.at_level(logging.DEBUG):
        response = client.post("/api/predict", content=body, headers=headers)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_form_errors(client):
    missing = client.post("/api/predict", files={"photo": ("4.jpg", PHOTO_4, "image/jpeg")})
    assert missing.status_code == 400 and "field named 'image'" in missing.json()["error"]
    broken = client.post("/api/predict", content=b"--x\r\nbroken",
                         headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code == 400
    mode = client.post("/api/predict?mode=words", content=PHOTO_4,
                       headers={"content-type": "image/jpeg"})
    assert mode.status_code == 400 and "mode must be" in mode.json()["error"]


def test_routes_and_methods(client):
    assert client.get("/api/predict").status_code == 405
    assert client.get("/api/predict").json()["error"]
    assert client.get("/nothing-here").status_code == 404
    assert client.get("/../etc/passwd").status_code == 404


def test_body_and_pixel_limits(mlp):
    client = TestClient(create_app(mlp, ServeLimits(max_body=20_000, max_pixels=100_000)))
    big = T.encode(np.random.default_rng(0).integers(0, 256, (200, 200), np.uint8))
    declared = client.post("/api/predict", content=big, headers={"content-type": "image/png"})
    assert declared.status_code == 413 and "20000" not in declared.json()["error"]
    assert "MiB limit" in declared.json()["error"]

    def chunks():  # no Content-Length: the limit applies as the body arrives
        for start in range(0, len(big), 4096):
            yield big[start:start + 4096]

    streamed = client.post("/api/predict", content=chunks(),
                           headers={"content-type": "image/png"})
    assert streamed.status_code == 413
    wide = T.encode(np.full((400, 400), 255, np.uint8))
    assert len(wide) < 20_000
    pixels = client.post("/api/predict", content=wide, headers={"content-type": "image/png"})
    assert pixels.status_code == 413 and "pixels" in pixels.json()["error"]


def test_models_load_under_the_trust_rules(tmp_path):
    from sknn_mnist.io.persistence import PickleNotAllowedError, save_model
    from sknn_mnist.io.pretrained import load_pretrained

    path = save_model(load_pretrained("mnist-mlp"), tmp_path / "mlp.joblib")
    with pytest.raises(PickleNotAllowedError):
        load_served_models([str(path)])
    (model,) = load_served_models([str(path)], trust_pickle=True)
    assert model.name == "mlp"
    with pytest.raises(FileNotFoundError):
        load_served_models(["no-such-model.skops"])


def test_default_models_are_the_pretrained_ones():
    assert [m.name for m in load_served_models(None)] == ["mnist-cnn", "mnist-mlp"]


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")


def _post(url: str, data: bytes, content_type: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_real_uvicorn_on_127_0_0_1(mlp):
    with ServerThread(mlp) as server:
        assert server.url.startswith("http://127.0.0.1:")
        status, answer = _post(server.url + "/api/predict", PHOTO_4, "image/jpeg")
        assert status == 200 and answer["label"] == 4
        status, error = _post(server.url + "/api/predict", b"junk", "image/png")
        assert status == 400 and "not a readable image" in error["error"]
        status, error = _post(server.url + "/api/predict", b"junk", "text/plain")
        assert status == 415


@pytest.mark.subprocess
def test_ctrl_c_stops_the_server_cleanly():
    # A scikit-learn model built in the child: no torch to import, a quick start.
    code = ("import numpy as np\n"
            "from sklearn.dummy import DummyClassifier\n"
            "from sknn_mnist.serve import serve\n"
            "model = DummyClassifier().fit(np.zeros((2, 784)), [0, 1])\n"
            "serve({'dummy': model}, port=0, ready=lambda h, p: print(p, flush=True))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = int(proc.stdout.readline())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=30) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr and "Shutting down" in stderr
