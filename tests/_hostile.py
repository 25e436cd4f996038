"""Helpers of the hostile-input tests: crafted files, and risky calls in a sandbox.

:func:`run_limited` runs a command in a subprocess with an address-space limit and a
timeout, so that a crash (a segfault reads as a negative return code), a hang (a
``TimeoutExpired``) or a memory blow-up (``MemoryError`` in the child) fails the one test
instead of the whole suite. The limit is set by a tiny launcher that calls
``resource.setrlimit`` and then ``exec``s the command (no ``preexec_fn``: forking a
multi-threaded test process and running Python before ``exec`` can deadlock).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: Address space a sandboxed child may map: an idle child with torch imported maps ~1.2 GiB.
MEMORY_LIMIT = 3 * 2**30
_LAUNCHER = ("import os, resource, sys; limit = int(sys.argv[1]); "
             "resource.setrlimit(resource.RLIMIT_AS, (limit, limit)); "
             "os.execv(sys.argv[2], sys.argv[2:])")
#: Prints the child's peak resident memory (MiB) as the last line of stdout. From the
#: process's own high-water mark (VmHWM), not ``ru_maxrss``: Linux carries ``ru_maxrss``
#: over ``exec`` from the forking process, so a child of a large pytest process would
#: report the parent's size.
PEAK_RSS = ("\nimport re\n"
            "_hwm = re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read())\n"
            "print('peak_rss_mib', int(_hwm.group(1)) // 1024)\n")


def run_limited(argv: Sequence[str | os.PathLike[str]], *, timeout: float = 120,
                memory: int = MEMORY_LIMIT, cwd: str | os.PathLike[str] | None = None,
                stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run ``argv`` under an address-space limit of ``memory`` bytes and ``timeout`` seconds.

    Raises ``subprocess.TimeoutExpired`` (after killing the child) on a hang.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONFAULTHANDLER="1")
    command = [sys.executable, "-c", _LAUNCHER, str(int(memory)), *map(str, argv)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd, stdin=stdin, check=False)


def run_python(code: str, *args: str | os.PathLike[str], **kwargs: Any
               ) -> subprocess.CompletedProcess:
    """Run Python ``code`` (``sys.argv[1:]`` = ``args``) with :func:`run_limited`."""
    return run_limited([sys.executable, "-c", code, *map(str, args)], **kwargs)


def assert_clean_exit(proc: subprocess.CompletedProcess, code: int = 0) -> None:
    """The child exited with ``code``: no signal (a crash), no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout[-2000:], proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


#: The child of :func:`load_outcomes`: loads each file, predicts, prints one JSON line each.
_LOAD_CHILD = """
import json, sys, warnings
import numpy as np
from sknn_mnist.persistence import ModelFileError, load_model
warnings.simplefilter("ignore")
rows = np.load(sys.argv[1])
for path in sys.argv[2:]:
    try:
        model = load_model(path)
        out = {"ok": True, "pred": [str(v) for v in model.predict(rows)]}
    except ModelFileError as exc:
        out = {"ok": False, "error": type(exc).__name__, "message": str(exc)}
    print(json.dumps(out), flush=True)
"""


def load_outcomes(paths: Sequence[Path], rows: np.ndarray, tmp_path: Path, *,
                  timeout: float = 120, memory: int = MEMORY_LIMIT) -> list[dict[str, Any]]:
    """Load and predict each file in one sandboxed child; one outcome dict per file."""
    rows_file = tmp_path / "outcome-rows.npy"
    np.save(rows_file, rows)
    proc = run_python(_LOAD_CHILD, rows_file, *paths, timeout=timeout, memory=memory)
    assert_clean_exit(proc)
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(outcomes) == len(paths), proc.stdout[-2000:]
    return outcomes


#: The child of :func:`cli_outcomes`: runs ``sknn_mnist.cli.main`` for each argv.
_CLI_CHILD = """
import contextlib, io, json, sys
from sknn_mnist.cli import main
for argv in json.loads(sys.argv[1]):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    print(json.dumps({"code": code, "err": err.getvalue(), "out": out.getvalue()}), flush=True)
"""


def cli_outcomes(argvs: Sequence[Sequence[str | os.PathLike[str]]], *, timeout: float = 180,
                 memory: int = MEMORY_LIMIT) -> list[dict[str, Any]]:
    """Run ``sknn-mnist`` for each argv in one sandboxed child; exit code, stderr, stdout."""
    argv_json = json.dumps([[str(a) for a in argv] for argv in argvs])
    proc = run_python(_CLI_CHILD, argv_json, timeout=timeout, memory=memory)
    assert_clean_exit(proc)
    outcomes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(outcomes) == len(argvs), proc.stdout[-2000:]
    return outcomes


def assert_one_line_error(outcome: dict[str, Any], *, match: str | None = None) -> None:
    """A CLI outcome that is exit 2 with one ``error:`` line on stderr."""
    err = outcome["err"].strip()
    assert outcome["code"] == 2, outcome
    assert len(err.splitlines()) == 1 and "error:" in err, err
    assert "Traceback" not in err
    if match is not None:
        assert match in err, err


# -- crafted archives --------------------------------------------------------------------------
def rewrite_members(src: Path, dst: Path,
                    edits: dict[str, Callable[[bytes], bytes] | bytes] | None = None, *,
                    drop: Sequence[str] = ()) -> Path:
    """Copy the zip ``src`` to ``dst``, replacing members (a callable gets the old bytes)
    and leaving out those in ``drop``."""
    edits = edits or {}
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            if item.filename in drop:
                continue
            data = zin.read(item)
            edit = edits.get(item.filename)
            if edit is not None:
                data = edit(data) if callable(edit) else edit
            zout.writestr(item.filename, data)
    return dst


def edit_json_member(src: Path, dst: Path, member: str, edit: Callable[[Any], Any]) -> Path:
    """Rewrite JSON member ``member`` of ``src`` as ``edit(parsed)``."""
    return rewrite_members(src, dst, {member: lambda d: json.dumps(edit(json.loads(d))).encode()})


def nested_json(depth: int) -> bytes:
    """A JSON document nested ``depth`` levels deep."""
    return b"[" * depth + b"]" * depth


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


class _ZeroChunkCompressor:
    """A raw-deflate compressor that compresses one chunk of zeros once, then repeats it.

    Every write ends with a full flush, which resets the dictionary: compressing the same
    chunk again gives the same bytes, so a 2 GiB member of zeros is written in about a
    second (zipfile still computes its CRC over every byte) instead of ten.
    """

    def __init__(self, chunk: bytes):
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        self._chunk, self._cached = chunk, None

    def compress(self, data: bytes) -> bytes:
        if data is self._chunk and self._cached is not None:
            return self._cached
        out = self._compressor.compress(data) + self._compressor.flush(zlib.Z_FULL_FLUSH)
        if data is self._chunk:
            self._cached = out
        return out

    def flush(self) -> bytes:
        return self._compressor.flush()


def add_zero_member(archive: Path | io.BytesIO, name: str, n_bytes: int, *,
                    npy: bool = True) -> None:
    """Append an honest member of ``n_bytes`` zeros (deflated ~1,000x) to a zip.

    With ``npy``, the member is a ``.npy`` of float64 zeros whose header says so.
    """
    chunk = bytes(2**24)
    assert n_bytes % len(chunk) == 0
    header = io.BytesIO()
    if npy:
        np.lib.format.write_array_header_1_0(
            header, {"descr": "<f8", "fortran_order": False, "shape": (n_bytes // 8,)})
    original = zipfile._get_compressor
    zipfile._get_compressor = lambda *args, **kwargs: _ZeroChunkCompressor(chunk)
    try:
        with zipfile.ZipFile(archive, "a", zipfile.ZIP_DEFLATED) as zout:
            with zout.open(name, "w", force_zip64=True) as member:
                member.write(header.getvalue())
                for _ in range(n_bytes // len(chunk)):
                    member.write(chunk)
    finally:
        zipfile._get_compressor = original


# -- hostile servers on 127.0.0.1 --------------------------------------------------------------
class RawServer:
    """A TCP server on 127.0.0.1 that answers every connection with ``reply(conn)``.

    Started and stopped by ``with``; one thread, connections served one at a time, each
    bounded by ``per_connection`` seconds, and at most ``max_connections`` of them.
    """

    def __init__(self, reply: Callable[[Any], None], *, per_connection: float = 30,
                 max_connections: int = 50):
        import socket
        import threading

        self._reply, self._limit, self._max = reply, per_connection, max_connections
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        served = 0
        while not self._stop.is_set() and served < self._max:
            try:
                conn, _ = self._sock.accept()
            except OSError:  # the 0.2 s accept timeout: look at the stop flag again
                continue
            served += 1
            with conn:
                conn.settimeout(self._limit)
                try:
                    self._reply(conn)
                except OSError:
                    pass

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sock.close()
