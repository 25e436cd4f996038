"""The OpenML path: the ``openml`` package against a local server that answers like OpenML."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import openml
import pytest

from sknn_mnist.datasets import (
    ChecksumError,
    DatasetFormatError,
    DatasetUnavailableError,
    _openml,
    load_dataset,
)
from sknn_mnist.datasets._cache import cache_path

try:
    from _openml_server import (
        TINY_ID,
        TINY_N_TRAIN,
        LocalOpenML,
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
        TINY_N_TRAIN,
        LocalOpenML,
        isolate_env,
        local_openml,
        register_tiny,
        tiny_arrays,
        tiny_spec,
        write_idx_dir,
    )

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
        yield srv


def _load(**kw):
    return load_dataset("tiny", subset="all", progress=False, **kw)


def _openml_dir(data_home: Path) -> Path:
    return next((data_home / "openml").rglob(f"datasets/{TINY_ID}"))


def test_first_load_downloads_parquet_and_caches(tiny, server: LocalOpenML,
                                                 data_home: Path) -> None:
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    before = openml.config.get_config_as_dict()
    b = _load()
    assert b.source == "openml" and "(parquet)" in b.origin and server.url in b.origin
    assert b.data.dtype == np.uint8 and b.target.dtype == np.int64
    np.testing.assert_array_equal(b.data, X_TINY)
    np.testing.assert_array_equal(b.target, Y_TINY)
    assert server.count(server.description_path(TINY_ID)) == 1
    assert server.count(server.parquet_path(TINY_ID)) == 1
    assert server.count(server.arff_path(TINY_ID)) == 0
    # openml's cache lives under our data_home, and its global settings are as they were.
    assert (_openml_dir(data_home) / f"dataset_{TINY_ID}.pq").is_file()
    assert openml.config.get_config_as_dict() == before
    assert b.cache_path == str(cache_path(data_home, tiny))


def test_second_load_works_with_server_stopped(tiny, server: LocalOpenML) -> None:
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    _load()
    server.stop()
    b = _load()
    assert b.source == "cache" and "OpenML" in b.origin
    np.testing.assert_array_equal(b.data, X_TINY)
    test = load_dataset("tiny", subset="test")
    np.testing.assert_array_equal(test.target, Y_TINY[TINY_N_TRAIN:])


@pytest.mark.parametrize("parquet", [False, 404])
def test_arff_fallback(tiny, server: LocalOpenML, parquet) -> None:
    server.add_dataset(TINY_ID, X_TINY, Y_TINY, parquet=bool(parquet))
    if parquet:  # advertised but missing: openml falls back on the md5-checked ARFF
        server.fail(server.parquet_path(TINY_ID), 404)
    b = _load()
    assert "(arff)" in b.origin and b.checksums["openml_md5"]
    np.testing.assert_array_equal(b.data, X_TINY)
    np.testing.assert_array_equal(b.target, Y_TINY)
    assert server.count(server.arff_path(TINY_ID)) == 1


@pytest.mark.parametrize("name", ["tiny", "mnist"])
def test_server_down_fails_fast_with_clear_message(tiny, name: str, data_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if name == "mnist":  # the default retries (3 attempts, openml's 1 s and 2 s delays)
        monkeypatch.delenv("SKNN_MNIST_OPENML_RETRIES")
    t0 = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset(name, progress=False)
    assert time.perf_counter() - t0 < 15
    err = info.value
    msg = str(err)
    assert err.dataset == name and len(err.attempts) == 3
    assert str(data_home) in msg and "http://127.0.0.1:" in msg
    assert "connection refused" in msg
    assert f"up to {3 if name == 'mnist' else 1} attempt" in msg
    for option in ("idx_dir", "SKNN_MNIST_IDX_DIR", "data_home", "SKNN_MNIST_DATA"):
        assert option in msg
    assert "Traceback" not in msg and "HTTPConnectionPool" not in msg
    assert not data_home.exists()  # no empty folders left behind by openml
    assert err.__cause__ is None and err.__suppress_context__


def test_5xx_then_success_is_retried(tiny, server: LocalOpenML,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "1")
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    desc, pq = server.description_path(TINY_ID), server.parquet_path(TINY_ID)
    server.fail(desc, 503)
    server.fail(pq, 500, 502)  # minio retries 5xx itself (here on its HEAD request)
    b = _load()
    np.testing.assert_array_equal(b.data, X_TINY)
    assert server.count(desc) == 2 and server.count(pq, "HEAD") == 3 and server.count(pq) == 1


def test_persistent_5xx_gives_up_after_the_retries(tiny, server: LocalOpenML,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "1")
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    desc = server.description_path(TINY_ID)
    server.fail(desc, "drop", 503, 503)  # a dropped connection is retried like a 5xx
    with pytest.raises(DatasetUnavailableError, match="Status code: 503.*up to 2 attempts"):
        _load()
    assert server.count(desc) == 2


def test_unknown_dataset_is_not_retried(tiny, server: LocalOpenML,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "3")
    with pytest.raises(DatasetUnavailableError, match=f"data id {TINY_ID}"):
        _load()
    assert server.count(server.description_path(TINY_ID)) == 1


def test_corrupt_download_is_reported_and_not_kept(tiny, server: LocalOpenML,
                                                   data_home: Path) -> None:
    server.add_dataset(TINY_ID, X_TINY, Y_TINY, parquet_data=b"PAR1 not really parquet")
    before = openml.config.get_config_as_dict()
    with pytest.raises(DatasetFormatError, match="unusable.*next load downloads it again"):
        _load()
    assert openml.config.get_config_as_dict() == before  # restored after a failure too
    assert not cache_path(data_home, tiny).exists()
    assert not list((data_home / "openml").rglob(f"dataset_{TINY_ID}.pq"))
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)  # the server is fixed: the next load works
    np.testing.assert_array_equal(_load().data, X_TINY)


def test_description_with_wrong_md5_is_a_checksum_error(tiny, server: LocalOpenML,
                                                        data_home: Path) -> None:
    server.add_dataset(TINY_ID, X_TINY, Y_TINY, parquet=False, md5="0" * 32)
    with pytest.raises(ChecksumError, match="md5 mismatch"):
        _load()
    assert not cache_path(data_home, tiny).exists()
    assert not list((data_home / "openml").rglob("dataset.arff"))


def test_wrong_shape_from_server_is_reported(tiny, server: LocalOpenML) -> None:
    X, y = tiny_arrays(n=7)
    server.add_dataset(TINY_ID, X, y)
    with pytest.raises(DatasetFormatError, match=r"shape \(7, 784\), expected \(10, 784\)"):
        _load()


def test_user_configured_openml_cache_is_respected(tiny, server: LocalOpenML, tmp_path: Path,
                                                   data_home: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    user_cache = tmp_path / "my_openml_cache"
    monkeypatch.setattr(openml.config, "_root_cache_directory", user_cache)
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    assert _load().source == "openml"
    assert list(user_cache.rglob(f"dataset_{TINY_ID}.pq"))
    assert not (data_home / "openml").exists()
    assert openml.config.get_config_as_dict()["cachedir"] == user_cache


def test_download_false_never_touches_the_network(tiny, server: LocalOpenML) -> None:
    with pytest.raises(DatasetUnavailableError, match="download=False"):
        load_dataset("tiny", download=False)
    assert server.requests == []


def test_openml_url_argument_overrides_env(tiny, server: LocalOpenML,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    url = server.url
    monkeypatch.setenv("SKNN_MNIST_OPENML_URL", "http://127.0.0.1:9")
    assert load_dataset("tiny", openml_url=url + "/", progress=True).source == "openml"


def test_bad_retries_setting_is_a_clear_error(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKNN_MNIST_OPENML_RETRIES", "many")
    with pytest.raises(ValueError, match="SKNN_MNIST_OPENML_RETRIES='many'"):
        _load()


def test_idx_dir_is_preferred_over_openml(tiny, server: LocalOpenML, tmp_path: Path) -> None:
    write_idx_dir(tmp_path / "idx", X_TINY, Y_TINY)
    assert load_dataset("tiny", idx_dir=tmp_path / "idx").source == "idx"
    assert server.requests == []


def test_silent_server_times_out(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel accepts the connection and nothing ever answers: openml's requests carry no
    # timeout of their own, so this checks the one the package gives them.
    monkeypatch.setattr(_openml, "TIMEOUT", (1.0, 0.3))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        monkeypatch.setenv("SKNN_MNIST_OPENML_URL", f"http://127.0.0.1:{sock.getsockname()[1]}")
        t0 = time.perf_counter()
        with pytest.raises(DatasetUnavailableError, match=r"no answer \(timed out"):
            _load()
        assert time.perf_counter() - t0 < 5
    import openml._api_calls
    import requests.adapters

    assert requests.adapters.HTTPAdapter.send.__name__ == "send"  # requests never patched
    assert openml._api_calls.requests is requests  # openml's view of it restored


def test_other_requests_in_the_process_keep_their_own_timeouts(
        tiny, server: LocalOpenML, monkeypatch: pytest.MonkeyPatch) -> None:
    # While openml's requests have the package's timeout, another thread's request (here
    # made during the load, without a timeout, to an answer slower than that timeout) goes
    # through requests as it is, and waits for its answer.
    import requests
    from requests.adapters import HTTPAdapter

    monkeypatch.setattr(_openml, "TIMEOUT", (2.0, 0.5))
    server.add_dataset(TINY_ID, X_TINY, Y_TINY)
    server.files["/slow"] = (b"slow answer", "application/octet-stream")
    server.fail("/slow", 1.0)  # answers after 1 s, beyond the 0.5 s read limit
    send, session = HTTPAdapter.send, requests.Session
    seen: dict[str, object] = {}
    arrived = threading.Event()
    server.on_request["/slow"] = arrived.set

    def other_code() -> None:
        try:
            seen["other"] = requests.get(server.url + "/slow").content
        except requests.RequestException as exc:
            seen["other"] = exc

    other = threading.Thread(target=other_code, daemon=True)

    def during_the_load() -> None:  # runs while openml waits for the description
        seen["send"], seen["session"] = HTTPAdapter.send is send, requests.Session is session
        other.start()
        arrived.wait(5)  # the other request is in flight before the load goes on

    server.on_request[server.description_path(TINY_ID)] = during_the_load
    assert _load().source == "openml"
    other.join(10)
    assert seen == {"send": True, "session": True, "other": b"slow answer"}
