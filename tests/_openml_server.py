"""Test helpers for ``sknn_mnist.datasets``: a local fake OpenML server and tiny datasets.

Not a test module (no ``test_`` prefix). The server is a real ``http.server`` on 127.0.0.1
with an ephemeral port, so the loader's urllib code, retries and error handling run for
real, without the internet.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import socket
import threading
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from sknn_mnist.datasets import DATASETS, DatasetSpec, standard_idx_files

TINY_ID = 990001
TINY_N_TRAIN = 6
TINY_N_TEST = 4
DIGIT_NAMES = tuple(str(i) for i in range(10))
IDX_NAMES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


# --------------------------------------------------------------------------- tiny data


def tiny_arrays(
    seed: int = 0, n: int = TINY_N_TRAIN + TINY_N_TEST
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 28x28 uint8 images (flattened) with labels cycling through 0..9."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 256, size=(n, 784), dtype=np.uint8)
    # Some zeros and the extremes, as in real MNIST rows.
    X[:, :100] = 0
    X[0, 100] = 255
    y = (np.arange(n) * 7 + seed) % 10
    return X, y.astype(np.int64)


def make_arff(
    X: np.ndarray, y: np.ndarray, *, relation: str = "tiny", quote_labels: bool = True
) -> bytes:
    """A dense ARFF like OpenML's mnist_784: ``pixel1..pixelN`` numeric + nominal ``class``."""
    lines = [f"% generated for tests\n@RELATION {relation}\n"]
    lines += [f"@ATTRIBUTE pixel{i} NUMERIC" for i in range(1, X.shape[1] + 1)]
    lines.append("@ATTRIBUTE class {'0','1','2','3','4','5','6','7','8','9'}")
    lines.append("\n@DATA")
    for row, label in zip(X, y, strict=True):
        lab = f"'{label}'" if quote_labels else str(label)
        lines.append(",".join(map(str, row.tolist())) + "," + lab)
    return ("\n".join(lines) + "\n").encode()


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as an (uncompressed) IDX payload."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_idx_dir(
    directory: Path, X: np.ndarray, y: np.ndarray, n_train: int = TINY_N_TRAIN
) -> dict[str, str]:
    """Write the four standard IDX .gz files; return ``{filename: md5}``."""
    directory.mkdir(parents=True, exist_ok=True)
    images = X.reshape(-1, 28, 28)
    parts = (
        images[:n_train],
        y[:n_train].astype(np.uint8),
        images[n_train:],
        y[n_train:].astype(np.uint8),
    )
    md5s = {}
    for name, arr in zip(IDX_NAMES, parts, strict=True):
        # mtime=0: identical content gives identical bytes, hence stable md5s.
        data = gzip.compress(idx_bytes(arr), mtime=0)
        (directory / name).write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    return md5s


def tiny_spec(
    name: str = "tiny",
    *,
    md5s: dict[str, str] | None = None,
    openml_id: int | None = TINY_ID,
    n_train: int = TINY_N_TRAIN,
    n_test: int = TINY_N_TEST,
) -> DatasetSpec:
    """A 28x28, 10-class spec with the given IDX md5s (``None``: IDX files not checked)."""
    md5_tuple = tuple((md5s or {}).get(n) for n in IDX_NAMES)
    return DatasetSpec(
        name=name,
        title=f"Tiny test dataset {name}",
        description="A few random 28x28 images for tests.",
        image_shape=(28, 28),
        n_train=n_train,
        n_test=n_test,
        target_names=DIGIT_NAMES,
        openml_id=openml_id,
        idx_files=standard_idx_files(md5_tuple),  # type: ignore[arg-type]
    )


def register_tiny(monkeypatch: pytest.MonkeyPatch, spec: DatasetSpec) -> DatasetSpec:
    """Register ``spec`` for the duration of one test."""
    monkeypatch.setitem(DATASETS, spec.name, spec)
    return spec


# --------------------------------------------------------------------------- environment


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def isolate_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point every dataset setting at test-local places; return the data_home."""
    home = tmp_path / "data_home"
    monkeypatch.setenv("SKNN_MNIST_DATA", str(home))
    monkeypatch.delenv("SKNN_MNIST_IDX_DIR", raising=False)
    monkeypatch.setenv("SKNN_MNIST_OPENML_URL", closed_port_url())
    monkeypatch.setenv("SKNN_MNIST_OPENML_TIMEOUT", "2")
    monkeypatch.setenv("SKNN_MNIST_OPENML_READ_TIMEOUT", "5")
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "3")
    monkeypatch.setenv("SKNN_MNIST_OPENML_BACKOFF", "0.01")
    # Keep scikit-learn's own data home out of the real home directory too.
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_data"))
    return home


# --------------------------------------------------------------------------- fake OpenML


class FakeOpenML:
    """A local HTTP server answering like OpenML for the datasets added to it.

    ``fail(path, *actions)`` queues what the next requests to ``path`` get before the normal
    answer: an int is an HTTP status, ``"drop"`` closes the connection without a reply,
    ``"short"`` announces more bytes than it sends.
    """

    def __init__(self) -> None:
        self.datasets: dict[int, tuple[dict, bytes]] = {}
        self.files: dict[int, bytes] = {}
        self.script: dict[str, deque] = defaultdict(deque)
        self.requests: list[str] = []
        self.gzip = False
        self._gz: dict[int, bytes] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- content
    def add_dataset(
        self,
        data_id: int,
        arff: bytes,
        *,
        file_id: int | None = None,
        md5: str | None = None,
        target: str = "class",
    ) -> None:
        file_id = file_id if file_id is not None else data_id + 1000
        description = {
            "data_set_description": {
                "id": str(data_id),
                "name": "tiny",
                "version": "1",
                "format": "ARFF",
                "file_id": str(file_id),
                "default_target_attribute": target,
                "md5_checksum": md5 if md5 is not None else hashlib.md5(arff).hexdigest(),
                "status": "active",
            }
        }
        self.datasets[data_id] = (description, arff)
        self.files[file_id] = arff

    @staticmethod
    def description_path(data_id: int) -> str:
        return f"/api/v1/json/data/{data_id}"

    def download_path(self, data_id: int) -> str:
        desc = self.datasets[data_id][0]["data_set_description"]
        return f"/data/v1/download/{desc['file_id']}"

    def fail(self, path: str, *actions: int | str) -> None:
        self.script[path].extend(actions)

    def count(self, path: str) -> int:
        return sum(1 for p in self.requests if p == path)

    # -- lifecycle
    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # keep pytest output clean

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                owner.requests.append(self.path)
                queue = owner.script.get(self.path)
                if queue:
                    action = queue.popleft()
                    if action == "drop":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if action == "short":
                        self.send_response(200)
                        self.send_header("Content-Length", "1000")
                        self.end_headers()
                        self.wfile.write(b"@RELATION cut")
                        self.close_connection = True
                        return
                    self.send_error(int(action))
                    return
                body, ctype = owner._answer(self.path)
                if body is None:
                    self.send_error(404)
                    return
                headers = {"Content-Type": ctype}
                if owner.gzip and ctype != "application/json":
                    body = owner._gzipped(body)
                    headers["Content-Encoding"] = "gzip"
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval makes shutdown() (once per test) quick.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _gzipped(self, body: bytes) -> bytes:
        # Compressed once: recompressing a large body per request would delay the reply.
        key = id(body)
        if key not in self._gz:
            self._gz[key] = gzip.compress(body, compresslevel=1)
        return self._gz[key]

    def _answer(self, path: str) -> tuple[bytes | None, str]:
        for data_id, (desc, _) in self.datasets.items():
            if path == self.description_path(data_id):
                return json.dumps(desc).encode(), "application/json"
        prefix = "/data/v1/download/"
        if path.startswith(prefix):
            try:
                return self.files.get(int(path[len(prefix) :])), "text/plain"
            except ValueError:
                return None, ""
        return None, ""


@contextmanager
def fake_openml() -> Iterator[FakeOpenML]:
    """A started :class:`FakeOpenML`, stopped on exit."""
    server = FakeOpenML()
    server.start()
    try:
        yield server
    finally:
        server.stop()
