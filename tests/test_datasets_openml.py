"""The OpenML download path, against a local HTTP server that answers like OpenML."""

from __future__ import annotations

import socket
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from sknn_mnist.datasets import (
    ArffFormatError,
    ChecksumError,
    DatasetUnavailableError,
    load_dataset,
)
from sknn_mnist.datasets._arff import parse_arff_pixels
from sknn_mnist.datasets._cache import cache_path

try:
    from _openml_server import (
        TINY_ID,
        TINY_N_TEST,
        TINY_N_TRAIN,
        FakeOpenML,
        closed_port_url,
        fake_openml,
        isolate_env,
        make_arff,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )
except ImportError:  # tests/ collected as a package
    from tests._openml_server import (  # type: ignore[no-redef]
        TINY_ID,
        TINY_N_TEST,
        TINY_N_TRAIN,
        FakeOpenML,
        closed_port_url,
        fake_openml,
        isolate_env,
        make_arff,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )


@pytest.fixture(autouse=True)
def data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    return isolate_env(monkeypatch, tmp_path)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch):
    return register_tiny(monkeypatch, tiny_spec())


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch):
    X, y = tiny_arrays()
    with fake_openml() as srv:
        srv.add_dataset(TINY_ID, make_arff(X, y))
        monkeypatch.setenv("SKNN_MNIST_OPENML_URL", srv.url)
        srv.expected = (X, y)  # type: ignore[attr-defined]
        yield srv


def _load(**kw):
    return load_dataset("tiny", subset="all", progress=False, **kw)


def test_first_load_downloads_and_caches(tiny, server: FakeOpenML, data_home: Path) -> None:
    X, y = server.expected  # type: ignore[attr-defined]
    b = _load()
    assert b.source == "openml"
    assert b.data.dtype == np.uint8 and b.data.shape == (10, 784)
    np.testing.assert_array_equal(b.data, X)
    np.testing.assert_array_equal(b.target, y)
    assert b.target.dtype == np.int64
    assert b.images.shape == (10, 28, 28)
    assert server.count(server.description_path(TINY_ID)) == 1
    assert server.count(server.download_path(TINY_ID)) == 1
    path = cache_path(data_home, tiny)
    assert path.is_file() and b.cache_path == str(path)
    assert "OpenML data id" in b.origin
    assert b.checksums["arff_md5"]
    # No temporary files left next to the cache.
    assert [p.name for p in data_home.iterdir()] == [path.name]


def test_second_load_works_with_server_stopped(tiny, server: FakeOpenML) -> None:
    X, y = server.expected  # type: ignore[attr-defined]
    _load()
    server.stop()
    b = _load()
    assert b.source == "cache"
    np.testing.assert_array_equal(b.data, X)
    train = load_dataset("tiny", subset="train")
    test = load_dataset("tiny", subset="test")
    assert train.data.shape == (TINY_N_TRAIN, 784) and test.data.shape == (TINY_N_TEST, 784)
    np.testing.assert_array_equal(test.target, y[TINY_N_TRAIN:])
    assert "OpenML" in train.origin and "cache" in train.DESCR


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip_data_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    # Past the zip/npy headers, inside the pixel bytes of the first member.
    data[600] ^= 0xFF
    path.write_bytes(bytes(data))


def _garbage(path: Path) -> None:
    path.write_bytes(b"not a zip file at all")


@pytest.mark.parametrize("corrupt", [_truncate, _flip_data_byte, _garbage])
def test_corrupt_cache_is_detected_and_rebuilt(
    tiny, server: FakeOpenML, data_home: Path, corrupt
) -> None:
    X, _ = server.expected  # type: ignore[attr-defined]
    _load()
    path = cache_path(data_home, tiny)
    corrupt(path)
    with pytest.warns(UserWarning, match="corrupt"):
        b = _load()
    assert b.source == "openml"
    np.testing.assert_array_equal(b.data, X)
    assert server.count(server.download_path(TINY_ID)) == 2
    # The rebuilt cache is good again: no warning, served from the cache.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _load().source == "cache"


def test_corrupt_cache_without_other_source_is_a_clear_error(
    tiny, server: FakeOpenML, data_home: Path
) -> None:
    _load()
    server.stop()
    path = cache_path(data_home, tiny)
    _flip_data_byte(path)
    with pytest.warns(UserWarning, match="corrupt"):
        with pytest.raises(DatasetUnavailableError) as info:
            _load()
    msg = str(info.value)
    assert "corrupt" in msg and str(path) in msg


@pytest.mark.parametrize("name", ["tiny", "mnist"])
def test_server_down_fails_fast_with_clear_message(tiny, name: str, data_home: Path) -> None:
    # isolate_env points SKNN_MNIST_OPENML_URL at a port where nothing listens.
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset(name, progress=False)
    elapsed = time.perf_counter() - t0
    assert elapsed < 5
    err = info.value
    assert isinstance(err, OSError)
    msg = str(err)
    assert f"'{name}'" in msg
    assert str(data_home) in msg  # the cache path that was tried
    assert "http://127.0.0.1:" in msg and "connection refused" in msg
    for option in ("idx_dir", "SKNN_MNIST_IDX_DIR", "data_home", "SKNN_MNIST_DATA"):
        assert option in msg
    assert "Traceback" not in msg and "urlopen" not in msg
    # Refused connections are not retried: one line for the OpenML attempt, no "attempts".
    assert "after" not in err.attempts[-1]
    assert err.dataset == name
    # The urllib exception is not chained in, so the traceback stays short.
    assert err.__cause__ is None and err.__suppress_context__


def test_500_then_200_is_retried(tiny, server: FakeOpenML) -> None:
    desc = server.description_path(TINY_ID)
    server.fail(desc, 500)
    server.fail(server.download_path(TINY_ID), 503, "drop", "short")
    b = _load()
    assert b.source == "openml"
    assert server.count(desc) == 2
    assert server.count(server.download_path(TINY_ID)) == 4


def test_404_is_not_retried(tiny, server: FakeOpenML) -> None:
    desc = server.description_path(TINY_ID)
    server.fail(desc, 404, 404, 404)
    with pytest.raises(DatasetUnavailableError, match="HTTP 404"):
        _load()
    assert server.count(desc) == 1


def test_persistent_5xx_gives_up_after_retries(
    tiny, server: FakeOpenML, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "2")
    desc = server.description_path(TINY_ID)
    server.fail(desc, *([502] * 10))
    with pytest.raises(DatasetUnavailableError, match=r"HTTP 502.*after 3 attempts"):
        _load()
    assert server.count(desc) == 3


def test_md5_mismatch_is_reported(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = tiny_arrays()
    with fake_openml() as srv:
        srv.add_dataset(TINY_ID, make_arff(X, y), md5="0" * 32)
        monkeypatch.setenv("SKNN_MNIST_OPENML_URL", srv.url)
        with pytest.raises(ChecksumError, match="md5 mismatch"):
            _load()


def test_gzip_content_encoding(tiny, server: FakeOpenML) -> None:
    server.gzip = True
    b = _load()
    np.testing.assert_array_equal(b.data, server.expected[0])  # type: ignore[attr-defined]


def test_progress_bar_enabled_does_not_break(tiny, server: FakeOpenML) -> None:
    assert load_dataset("tiny", progress=True).data.shape == (TINY_N_TRAIN, 784)


def test_download_false_never_touches_the_network(tiny, server: FakeOpenML) -> None:
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        load_dataset("tiny", download=False)
    assert server.requests == []


def test_openml_url_argument_overrides_env(
    tiny, server: FakeOpenML, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = server.url
    monkeypatch.setenv("SKNN_MNIST_OPENML_URL", "http://127.0.0.1:9")
    assert load_dataset("tiny", openml_url=url + "/").source == "openml"


def test_idx_dir_is_preferred_over_openml(tiny, server: FakeOpenML, tmp_path: Path) -> None:
    X, y = server.expected  # type: ignore[attr-defined]
    write_idx_dir(tmp_path / "idx", X, y)
    b = load_dataset("tiny", idx_dir=tmp_path / "idx")
    assert b.source == "idx"
    assert server.requests == []


# ----------------------------------------------------------------------------- ARFF parser


def _parse(content: bytes, n_features: int = 3):
    return parse_arff_pixels(content, target="class", n_features=n_features, n_classes=10)


HEADER = b"""% comment
@relation t
@attribute 'pixel 1' numeric
@attribute pixel2 NUMERIC
@attribute pixel3 integer
@attribute class {'0','1','2','3','4','5','6','7','8','9'}
"""


def test_arff_parser_handles_quotes_comments_crlf_and_floats() -> None:
    body = HEADER + b"@DATA\r\n% a comment\r\n0,1,255,'3'\r\n\r\n4.0, 5, 6 ,7\r\n"
    X, y = _parse(body)
    np.testing.assert_array_equal(X, [[0, 1, 255], [4, 5, 6]])
    np.testing.assert_array_equal(y, [3, 7])
    assert X.dtype == np.uint8 and y.dtype == np.int64


def test_arff_parser_target_first_column() -> None:
    header = b"@relation t\n@attribute class {0,1,2,3,4,5,6,7,8,9}\n@attribute a numeric\n"
    X, y = parse_arff_pixels(
        header + b"@data\n9,17\n0,3\n", target="class", n_features=1, n_classes=10
    )
    np.testing.assert_array_equal(X, [[17], [3]])
    np.testing.assert_array_equal(y, [9, 0])


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"0,1,?,3\n", "missing"),
        (b"0,1,2.5,3\n", "non-integer"),
        (b"0,1,256,3\n", "outside 0..255"),
        (b"0,1,-1,3\n", "outside 0..255"),
        (b"0,1,2\n", "values, expected 4"),
        (b"0,1,2,3,4\n", "values, expected 4"),
        (b"0,1,2,'x'\n", "not declared"),
        (b"{0 1, 3 '2'}\n", "sparse"),
        (b"", "no data rows"),
    ],
)
def test_arff_parser_rejects_malformed_rows(data: bytes, match: str) -> None:
    with pytest.raises(ArffFormatError, match=match):
        _parse(HEADER + b"@data\n" + data)


def test_arff_parser_rejects_bad_structure() -> None:
    with pytest.raises(ArffFormatError, match="no @data"):
        _parse(HEADER)
    with pytest.raises(ArffFormatError, match="feature columns"):
        _parse(HEADER + b"@data\n0,1,2,3\n", n_features=784)
    with pytest.raises(ArffFormatError, match="no attribute 'label'"):
        parse_arff_pixels(HEADER + b"@data\n", target="label", n_features=3, n_classes=10)


def test_wrong_row_count_from_server_is_reported(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = tiny_arrays(n=7)
    with fake_openml() as srv:
        srv.add_dataset(TINY_ID, make_arff(X, y, quote_labels=False))
        monkeypatch.setenv("SKNN_MNIST_OPENML_URL", srv.url)
        with pytest.raises(ArffFormatError, match="7 rows, expected 10"):
            _load()


def test_silent_server_times_out_and_is_retried(
    tiny, monkeypatch: pytest.MonkeyPatch, data_home: Path
) -> None:
    # A socket that listens but never answers: the kernel accepts the connection, so this is
    # the read timeout (not the connect timeout) firing, and timeouts count as transient.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port = sock.getsockname()[1]
        monkeypatch.setenv("SKNN_MNIST_OPENML_URL", f"http://127.0.0.1:{port}")
        monkeypatch.setenv("SKNN_MNIST_OPENML_READ_TIMEOUT", "0.3")
        monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "1")
        t0 = time.perf_counter()
        with pytest.raises(DatasetUnavailableError, match=r"timed out .*after 2 attempts"):
            _load()
        assert time.perf_counter() - t0 < 3


def test_https_url_goes_through_the_same_error_path(tiny, monkeypatch) -> None:
    url = closed_port_url().replace("http://", "https://")
    with pytest.raises(DatasetUnavailableError, match="connection refused"):
        load_dataset("tiny", openml_url=url)
