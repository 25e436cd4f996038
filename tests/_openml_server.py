"""Test helpers for ``sknn_mnist.datasets``: tiny datasets and a local OpenML server.

Not a test module. :class:`LocalOpenML` is a real ``http.server`` on 127.0.0.1 (ephemeral
port, stopped by the tests) answering the requests ``openml.datasets.get_dataset`` makes: the
dataset description (``GET /api/v1/xml/data/ID``), the Parquet file through minio (``HEAD``
then ``GET /datasets/ID/dataset_ID.pq``, the description's ``oml:parquet_url``) and the ARFF
fallback (``GET /data/v1/download/FILE_ID/NAME.arff``, the description's ``oml:url``).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import io
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from sknn_mnist.datasets import DATASETS, DatasetSpec, standard_idx_files

TINY_ID = 990001
TINY_N_TRAIN = 6
TINY_N_TEST = 4
IDX_NAMES = tuple(f.filename for f in standard_idx_files((None,) * 4))


def tiny_arrays(seed: int = 0, n: int = TINY_N_TRAIN + TINY_N_TEST) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """``n`` random 28x28 uint8 images (flattened), labels cycling through 0..9."""
    X = np.random.default_rng(seed).integers(0, 256, size=(n, 784), dtype=np.uint8)
    X[:, :100] = 0  # zeros and the extremes, as in real MNIST rows
    X[0, 100] = 255
    return X, ((np.arange(n) * 7 + seed) % 10).astype(np.int64)


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode a uint8 array as an (uncompressed) IDX payload."""
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + np.ascontiguousarray(arr, dtype=np.uint8).tobytes()


def write_idx_dir(directory: Path, X: np.ndarray, y: np.ndarray,
                  n_train: int = TINY_N_TRAIN) -> dict[str, str]:
    """Write the four standard IDX .gz files; return ``{filename: md5}``."""
    directory.mkdir(parents=True, exist_ok=True)
    images, labels = X.reshape(-1, 28, 28), y.astype(np.uint8)
    parts = (images[:n_train], labels[:n_train], images[n_train:], labels[n_train:])
    md5s = {}
    for name, arr in zip(IDX_NAMES, parts, strict=True):
        data = gzip.compress(idx_bytes(arr), mtime=0)  # mtime=0: same content, same md5
        (directory / name).write_bytes(data)
        md5s[name] = hashlib.md5(data).hexdigest()
    return md5s


def tiny_spec(name: str = "tiny", *, md5s: dict[str, str] | None = None,
              openml_id: int | None = TINY_ID, n_train: int = TINY_N_TRAIN,
              n_test: int = TINY_N_TEST, sha256: str | None = None) -> DatasetSpec:
    """A 28x28, 10-class spec with the given IDX md5s (``None``: IDX files not checked)."""
    return DatasetSpec(
        name=name, title=f"Tiny test dataset {name}", description="Random 28x28 images.",
        image_shape=(28, 28), n_train=n_train, n_test=n_test,
        target_names=tuple(str(i) for i in range(10)), openml_id=openml_id,
        idx_files=standard_idx_files(tuple((md5s or {}).get(n) for n in IDX_NAMES)),  # type: ignore[arg-type]
        sha256=sha256,
    )


def register_tiny(monkeypatch: pytest.MonkeyPatch, spec: DatasetSpec) -> DatasetSpec:
    """Register ``spec`` for the duration of one test."""
    monkeypatch.setitem(DATASETS, spec.name, spec)
    return spec


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
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "0")
    monkeypatch.delenv("OPENML_CACHE_DIR", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "sklearn_data"))
    return home


def parquet_bytes(X: np.ndarray, y: np.ndarray) -> bytes:
    """The Parquet file OpenML serves: ``pixel1..pixelN`` and a categorical ``class``."""
    import pandas as pd

    frame = pd.DataFrame(X, columns=[f"pixel{i}" for i in range(1, X.shape[1] + 1)])
    frame["class"] = pd.Categorical([str(v) for v in y], categories=[str(i) for i in range(10)])
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


def arff_bytes(X: np.ndarray, y: np.ndarray) -> bytes:
    """A dense ARFF like OpenML's mnist_784: numeric pixels and a nominal ``class``."""
    lines = ["@RELATION tiny"] + [f"@ATTRIBUTE pixel{i} NUMERIC" for i in range(1, X.shape[1] + 1)]
    lines += ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "@DATA"]
    lines += [",".join(map(str, row.tolist())) + f",{label}" for row, label in zip(X, y,
                                                                                    strict=True)]
    return ("\n".join(lines) + "\n").encode()


class LocalOpenML:
    """OpenML's dataset download API on 127.0.0.1 for the datasets added to it.

    ``fail(path, *actions)`` queues what the next requests to ``path`` get before the normal
    answer: an int is an HTTP status, ``"drop"`` closes the connection without a reply, a
    float is a delay in seconds before the normal answer. ``on_request[path]`` is called
    (in the server's thread) when a request for ``path`` arrives, before it is answered.
    """

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        self.script: dict[str, deque] = defaultdict(deque)
        self.requests: list[str] = []
        self.on_request: dict[str, Callable[[], None]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval makes shutdown() (once per test) quick.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def add_dataset(self, data_id: int, X: np.ndarray, y: np.ndarray, *, parquet: bool = True,
                    md5: str | None = None, parquet_data: bytes | None = None,
                    arff: bool = True) -> None:
        """Serve ``X, y`` as dataset ``data_id``: its description, Parquet and ARFF files
        (``arff=False``: no ARFF, which is slow to write for MNIST-sized data)."""
        arff_data = arff_bytes(X, y) if arff else b""
        pq = self.parquet_path(data_id)
        if arff:
            self.files[self.arff_path(data_id)] = (arff_data, "text/plain")
        if parquet:
            self.files[pq] = (parquet_data or parquet_bytes(X, y), "application/octet-stream")
        self.files[self.description_path(data_id)] = (f"""\
<oml:data_set_description xmlns:oml="http://openml.org/openml">
<oml:id>{data_id}</oml:id><oml:name>tiny</oml:name><oml:version>1</oml:version>
<oml:format>ARFF</oml:format><oml:file_id>{data_id + 1}</oml:file_id>
<oml:default_target_attribute>class</oml:default_target_attribute>
<oml:url>{self.url}{self.arff_path(data_id)}</oml:url>
{f"<oml:parquet_url>{self.url}{pq}</oml:parquet_url>" if parquet else ""}
<oml:md5_checksum>{md5 or hashlib.md5(arff_data).hexdigest()}</oml:md5_checksum>
<oml:status>active</oml:status></oml:data_set_description>""".encode(), "text/xml")

    @staticmethod
    def description_path(data_id: int) -> str:
        return f"/api/v1/xml/data/{data_id}"

    @staticmethod
    def arff_path(data_id: int) -> str:
        return f"/data/v1/download/{data_id + 1}/tiny.arff"

    @staticmethod
    def parquet_path(data_id: int) -> str:
        return f"/datasets/{data_id}/dataset_{data_id}.pq"

    def fail(self, path: str, *actions: int | str | float) -> None:
        self.script[path].extend(actions)

    def count(self, path: str, method: str = "GET") -> int:
        return self.requests.count(f"{method} {path}")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # minio's urllib3 pool keeps connections open

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep pytest output clean

            def do_HEAD(self) -> None:
                self.do_GET(head=True)

            def do_GET(self, head: bool = False) -> None:
                path = self.path.split("?")[0]
                owner.requests.append(f"{self.command} {path}")
                queue = owner.script.get(path)
                action = queue.popleft() if queue else None
                if path in owner.on_request:
                    owner.on_request[path]()
                if isinstance(action, float):
                    time.sleep(action)
                    action = None
                if action == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                body, ctype = owner.files.get(path, (b"", ""))
                status = int(action) if action is not None else 200 if ctype else 404
                headers = {"Content-Type": ctype or "text/plain"}
                if status == 404 and path.startswith("/api/"):  # OpenML's "Unknown dataset"
                    status, body = 412, (b'<oml:error xmlns:oml="http://openml.org/openml">'
                                         b"<oml:code>111</oml:code><oml:message>Unknown dataset"
                                         b"</oml:message></oml:error>")
                elif status != 200:
                    body = f"error {status}".encode()
                elif ctype.startswith("text/"):  # the OpenML API answers gzip-encoded
                    body, headers["Content-Encoding"] = gzip.compress(body, mtime=0), "gzip"
                else:  # an S3 object, as minio expects it
                    headers["ETag"] = f'"{hashlib.md5(body).hexdigest()}"'
                    headers["Last-Modified"] = email.utils.formatdate(usegmt=True)
                self.send_response(status)
                for key, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(key, value)
                self.end_headers()
                if not head:
                    self.wfile.write(body)

        return Handler


@contextmanager
def local_openml() -> Iterator[LocalOpenML]:
    """A started :class:`LocalOpenML`, stopped on exit."""
    server = LocalOpenML()
    try:
        yield server
    finally:
        server.stop()
