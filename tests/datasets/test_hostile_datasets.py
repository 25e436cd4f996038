"""Issue 22, datasets: hostile OpenML servers and unreadable caches.

The servers are the tests' local OpenML (``_openml_server.LocalOpenML``, 127.0.0.1, started
and stopped here) with hostile answers for one path: trickled bodies and headers, endless
bodies, gzip bombs, error pages. Every hostile answer is bounded in bytes and time (it ends
when the client hangs up, or after a fixed count), and the loads that could take memory run
in a sandboxed child (``_hostile.run_python``).
"""

from __future__ import annotations

import json
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from _hostile import PEAK_RSS, assert_clean_exit, nested_json, run_python

from sknn_mnist.datasets import DatasetUnavailableError, load_dataset
from sknn_mnist.datasets._cache import cache_path

try:
    from _openml_server import (
        TINY_ID,
        isolate_env,
        local_openml,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )
except ImportError:  # tests/ collected as a package
    from tests._openml_server import (  # type: ignore[no-redef]
        TINY_ID,
        isolate_env,
        local_openml,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )

pytestmark = pytest.mark.timeout(180)
X_TINY, Y_TINY = tiny_arrays()


@pytest.fixture(autouse=True)
def data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch):
    return register_tiny(monkeypatch, tiny_spec())


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    with local_openml() as srv:
        monkeypatch.setenv("SKNN_MNIST_OPENML_URL", srv.url)
        srv.add_dataset(TINY_ID, X_TINY, Y_TINY)
        yield srv


def _load(**kw):
    return load_dataset("tiny", subset="all", progress=False, **kw)


# -- hostile answers (each bounded: a count of bytes, or the client hanging up) ---------------
def _headers(handler, status: int = 200, length: int | None = None, **extra: str) -> None:
    handler.send_response(status)
    for key, value in extra.items():
        handler.send_header(key.replace("_", "-"), value)
    if length is not None:
        handler.send_header("Content-Length", str(length))
    handler.end_headers()
    handler.wfile.flush()


def trickle_body(handler, seconds: int = 60) -> None:
    """A valid start, then one byte a second (for at most ``seconds``)."""
    _headers(handler, length=10**6, Content_Type="application/octet-stream", ETag='"x"',
             Last_Modified="Mon, 01 Jan 2024 00:00:00 GMT")
    for _ in range(seconds):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(1)


def trickle_headers(handler, seconds: int = 60) -> None:
    """The status line, then one byte of a header a second."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    handler.wfile.flush()
    for _ in range(seconds):
        handler.wfile.write(b"X")
        handler.wfile.flush()
        time.sleep(1)


def endless_body(handler, gib: int = 3) -> None:
    """An honest 3 GiB body of zeros, sent as fast as the client reads it."""
    chunk = bytes(2**20)
    _headers(handler, length=gib * 2**30, Content_Type="text/xml",
             ETag='"x"', Last_Modified="Mon, 01 Jan 2024 00:00:00 GMT")
    for _ in range(gib * 2**10):
        handler.wfile.write(chunk)


def _gzip_bomb(gib: int) -> bytes:
    """A gzip stream that inflates to ``gib`` GiB of zeros (about 1,000x), made in a blink:
    one fully flushed compressed chunk, repeated (the trailer is never reached)."""
    chunk, raw = bytes(2**24), zlib.compressobj(9, zlib.DEFLATED, -15)
    block = raw.compress(chunk) + raw.flush(zlib.Z_FULL_FLUSH)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    return header + block * (gib * 2**30 // len(chunk))


def gzip_bomb(handler, gib: int = 2) -> None:
    body = _gzip_bomb(gib)
    _headers(handler, length=len(body), Content_Type="text/xml", Content_Encoding="gzip")
    handler.wfile.write(body)


def error_page(status: int, body: bytes, ctype: str):
    def reply(handler) -> None:
        _headers(handler, status=status, length=len(body), Content_Type=ctype)
        handler.wfile.write(body)
    return reply


# -- deadline and byte limit -------------------------------------------------------------------
@pytest.mark.parametrize("answer", [trickle_body, trickle_headers], ids=["body", "headers"])
@pytest.mark.parametrize("target", ["description", "parquet"])
def test_a_trickling_server_meets_the_deadline(tiny, server, monkeypatch, answer, target):
    monkeypatch.setenv("SKNN_MNIST_DOWNLOAD_TIMEOUT", "3")
    # The description through requests, or the Parquet file through minio (after the
    # description, which is served normally).
    path = (server.description_path(TINY_ID) if target == "description"
            else server.parquet_path(TINY_ID))
    server.respond[path] = answer
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError, match="took longer than 3 s"):
        _load()
    assert time.perf_counter() - start < 12


def _child_load(server_url: str, data_home: Path, env: dict[str, str]) -> tuple[str, int]:
    """``load_dataset("tiny")`` in a sandboxed child; its error line and peak RSS (MiB)."""
    code = (
        "import os, sys\n"
        f"os.environ.update({env!r})\n"
        "sys.path.insert(0, 'tests')\n"
        "from _openml_server import register_tiny, tiny_spec\n"
        "from sknn_mnist.datasets import DATASETS, DatasetUnavailableError, load_dataset\n"
        "DATASETS['tiny'] = tiny_spec()\n"
        "try:\n"
        f"    load_dataset('tiny', subset='all', progress=False, openml_url={server_url!r},\n"
        f"                 data_home={str(data_home)!r})\n"
        "    print('loaded')\n"
        "except DatasetUnavailableError as exc:\n"
        "    print('error', repr(str(exc)))\n" + PEAK_RSS)
    proc = run_python(code, timeout=120, cwd=Path(__file__).parents[2])
    assert_clean_exit(proc)
    lines = proc.stdout.strip().splitlines()
    return lines[-2], int(lines[-1].split()[1])


@pytest.mark.parametrize("answer", [endless_body, gzip_bomb], ids=["3 GiB body", "gzip bomb"])
def test_a_huge_answer_stops_at_the_byte_limit(tiny, server, data_home, answer):
    """The issue's answers: 3 GiB of body (7.2 GB RSS before) and 2 MB inflating to 2 GiB
    (6.4 GB before); the child may map 3 GiB in all."""
    server.respond[server.description_path(TINY_ID)] = answer
    env = {"SKNN_MNIST_DOWNLOAD_MAX_BYTES": str(64 * 2**20), "SKNN_MNIST_OPENML_RETRIES": "0",
           "no_proxy": "127.0.0.1"}
    line, peak = _child_load(server.url, data_home, env)
    assert line.startswith("error") and "more than 67,108,864 bytes" in line, line
    assert peak < 512, peak  # imports ~200 MiB (measured 268 MiB in all)


def test_the_default_byte_limit_bounds_a_bomb(tiny, server, data_home):
    server.respond[server.description_path(TINY_ID)] = gzip_bomb
    line, peak = _child_load(server.url, data_home, {"SKNN_MNIST_OPENML_RETRIES": "0",
                                                    "no_proxy": "127.0.0.1"})
    assert "inflated to more than 536,870,912 bytes" in line, line
    assert peak < 1400, peak  # imports ~200 MiB, 512 MiB held (measured 718 MiB)


def test_the_limits_come_from_the_environment(tiny, monkeypatch):
    from sknn_mnist.datasets._http import DownloadBudget

    monkeypatch.setenv("SKNN_MNIST_DOWNLOAD_TIMEOUT", "2.5")
    monkeypatch.setenv("SKNN_MNIST_DOWNLOAD_MAX_BYTES", "1000")
    budget = DownloadBudget.from_environment()
    assert (budget.timeout, budget.max_bytes) == (2.5, 1000)
    monkeypatch.setenv("SKNN_MNIST_DOWNLOAD_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="SKNN_MNIST_DOWNLOAD_TIMEOUT='soon'"):
        _load()


def test_an_honest_load_stays_within_the_limits(tiny, server, monkeypatch):
    monkeypatch.setenv("SKNN_MNIST_DOWNLOAD_MAX_BYTES", str(2**20))
    monkeypatch.setenv("SKNN_MNIST_DOWNLOAD_TIMEOUT", "30")
    b = _load()
    assert b.source == "openml"
    np.testing.assert_array_equal(b.data, X_TINY)


# -- answers that are not OpenML's ---------------------------------------------------------
ANSWERS = {
    # openml indexed these without checking: TypeError, KeyError before.
    "500, an error element with text": (500, b'<oml:error xmlns:oml="http://openml.org/openml">'
                                             b"boom</oml:error>", "text/xml", "HTTP 500"),
    "500, a list": (500, b"<a><b>1</b><b>2</b></a>", "text/xml", "HTTP 500"),
    "200, an HTML page": (200, b"<html><body>Welcome to nginx!</body></html>", "text/html",
                          "HTTP 200 (text/html): '<html><body>Welcome to nginx!"),
    "200, foreign XML": (200, b"<feed><entry/></feed>", "text/xml", "'<feed><entry/></feed>'"),
    "200, not XML": (200, b"hello", "text/plain", "HTTP 200"),
}


@pytest.mark.parametrize("case", list(ANSWERS))
def test_answers_that_are_not_openml_are_named(tiny, server, case):
    status, body, ctype, match = ANSWERS[case]
    server.respond[server.description_path(TINY_ID)] = error_page(status, body, ctype)
    with pytest.raises(DatasetUnavailableError) as excinfo:
        _load()
    message = str(excinfo.value)
    assert match in message, message
    assert "Traceback" not in message and len(message.splitlines()) < 20


def test_a_parquet_footer_that_claims_too_much_is_not_parsed(tiny, server, monkeypatch):
    X, y = tiny_arrays(n=400)  # 400 rows where the spec has 10
    server.add_dataset(TINY_ID, X, y)
    from sknn_mnist.datasets import DatasetFormatError

    with pytest.raises(DatasetFormatError, match=r"shape \(400, 784\)"):
        _load()


# -- caches that cannot be read ----------------------------------------------------------------
def _rewrite_meta(path: Path, text: str) -> None:
    with np.load(path) as npz:
        data, target = npz["data"], npz["target"]
    with path.open("wb") as fh:
        np.savez(fh, data=data, target=target, meta=np.array(text))


@pytest.mark.parametrize("meta", [nested_json(100_000).decode(), "[" * 50 + "]" * 50,
                                  '{"format": 1, "n_train": ' + "9" * 5000 + "}"],
                         ids=["nested 100,000", "nested 50", "5,000 digits"])
def test_an_unreadable_cache_is_rebuilt(monkeypatch, tmp_path, data_home, meta):
    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx", X, y)
    spec = register_tiny(monkeypatch, tiny_spec(md5s=md5s, openml_id=None))
    load_dataset("tiny", idx_dir=tmp_path / "idx")
    path = cache_path(data_home, spec)
    _rewrite_meta(path, meta)
    with pytest.warns(UserWarning, match="corrupt"):
        b = load_dataset("tiny", idx_dir=tmp_path / "idx", subset="all")
    assert b.source == "idx"
    np.testing.assert_array_equal(b.data, X)
    # Rebuilt: the next load reads it.
    assert load_dataset("tiny", idx_dir=tmp_path / "idx").source == "cache"


def test_a_cache_array_header_claiming_too_much(monkeypatch, tmp_path, data_home):
    import io
    import zipfile

    X, y = tiny_arrays()
    md5s = write_idx_dir(tmp_path / "idx", X, y)
    spec = register_tiny(monkeypatch, tiny_spec(md5s=md5s, openml_id=None))
    load_dataset("tiny", idx_dir=tmp_path / "idx")
    path = cache_path(data_home, spec)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 784)})
    with zipfile.ZipFile(path) as zin:
        members = {n: zin.read(n) for n in zin.namelist()}
    members["data.npy"] = header.getvalue() + bytes(100)
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    with pytest.warns(UserWarning, match="corrupt"):
        assert load_dataset("tiny", idx_dir=tmp_path / "idx").source == "idx"


def test_json_is_refused_by_depth_before_parsing():
    from sknn_mnist.io.archive import ArchiveError, check_json

    with pytest.raises(ArchiveError, match="nested 100000 levels deep"):
        check_json(nested_json(100_000), "meta")
    check_json(json.dumps({"a": [[1]]}).encode(), "meta")


@pytest.mark.mnist
@pytest.mark.slow
def test_the_first_load_of_mnist_stays_within_a_few_hundred_mb(mnist_dir, tmp_path):
    """Real MNIST, served as OpenML's Parquet file, loaded in a child (measured 287 MiB)."""
    X, y = load_dataset("mnist", subset="all", idx_dir=mnist_dir, return_X_y=True,
                        data_home=tmp_path / "from-idx")
    code = (
        "import sys\n"
        "import minio, openml, pandas, pyarrow.parquet\n"
        "from sknn_mnist.datasets import load_dataset\n"
        "def hwm():\n"
        "    with open('/proc/self/status') as status:\n"
        "        line = next(line for line in status if line.startswith('VmHWM'))\n"
        "    return int(line.split()[1]) // 1024\n"
        "base = hwm()\n"
        "b = load_dataset('mnist', subset='all', data_home=sys.argv[2], openml_url=sys.argv[1],"
        " progress=False)\n"
        "assert b.source == 'openml' and b.data.shape == (70000, 784)\n"
        "print('above', hwm() - base)\n")
    with local_openml() as server:
        server.add_dataset(554, X, y, arff=False)
        proc = run_python(code, server.url, tmp_path / "home", timeout=300)
    assert_clean_exit(proc)
    above = int(proc.stdout.split()[-1])
    assert above < 512, above
