"""The README runs top to bottom when its bash blocks are pasted into bash.

Every ```bash block of README.md is split into commands (a line, or a heredoc with its
body), and the commands run in order, each in a fresh ``bash -e -o pipefail``, in one empty
folder that stands for a fresh clone: ``../shared/data/mnist`` next to it is the real MNIST
folder, as in this checkout. ``sknn-mnist`` and ``python`` are this interpreter's (its
virtual environment's ``bin/`` comes first on ``PATH``) running this checkout's code.

Skipped, each for its reason in :data:`SKIPPED`: the lines that install (``make demo``,
``make test``, ``pip install``, activating ``.venv``: the environment running the tests is
the installed one), the server (it runs until Ctrl-C) and the full MNIST study (9 minutes on
2 quiet cores, about 20 under load: past this test's bound). No command needs the network:
MNIST is read from its IDX files.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

pytestmark = [pytest.mark.slow, pytest.mark.subprocess, pytest.mark.mnist]

#: (pattern a command matches, why it does not run here). Every pattern must match a
#: command of the README (checked below), so that a stale entry is noticed.
SKIPPED = [
    (r"^make demo\b", "installs .venv (the tests run in an installed environment)"),
    (r"^make test\b", "installs .venv and runs this test suite"),
    (r"^source \.venv/bin/activate\b", "the test puts its interpreter's bin/ on PATH instead"),
    (r"^sknn-mnist serve\b", "a server that runs until Ctrl-C"),
    (r"^sknn-mnist compare --dataset mnist --idx-dir \S+\s+# the full study",
     "the full MNIST study: 9 minutes on 2 quiet cores, past this test's bound"),
]
#: The bound of any one command, in seconds (the slowest, the MNIST --quick comparison
#: with the CNN, took 127 s on 2 cores at load 1.6).
TIMEOUT = 600
HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")


def bash_blocks(text: str) -> list[str]:
    """The bodies of the README's ```bash blocks, in order."""
    return re.findall(r"^```bash\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def commands(block: str) -> list[str]:
    """Split a block into commands: one per line, a heredoc together with its body."""
    out: list[str] = []
    lines = iter(block.splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        command = [line]
        heredoc = HEREDOC.search(line)
        if heredoc:
            for body in lines:
                command.append(body)
                if body.strip() == heredoc.group(2):
                    break
            else:
                raise AssertionError(f"unterminated heredoc: {line}")
        out.append("\n".join(command))
    return out


def skip_reason(command: str) -> str | None:
    for pattern, reason in SKIPPED:
        if re.search(pattern, command):
            return reason
    return None


def test_readme_commands_are_split_as_bash_reads_them():
    block = "a --x 1   # note\n\n# a comment\npython - <<'EOF'\nprint(1)\nEOF\nb\n"
    assert commands(block) == ["a --x 1   # note", "python - <<'EOF'\nprint(1)\nEOF", "b"]
    every = [c for b in bash_blocks(README.read_text()) for c in commands(b)]
    for pattern, _ in SKIPPED:
        assert any(re.search(pattern, c) for c in every), f"no README command matches {pattern}"


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    env.pop("SKNN_MNIST_IDX_DIR", None)  # the README says where MNIST is
    return env


def test_readme_runs_top_to_bottom(tmp_path, mnist_dir):
    clone = tmp_path / "clone"
    clone.mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    (tmp_path / "shared" / "data" / "mnist").symlink_to(mnist_dir)
    env = environment()
    env["SKNN_MNIST_DATA"] = str(tmp_path / "cache")  # no cache of the user's is used
    ran, skipped = [], []
    for block in bash_blocks(README.read_text()):
        for command in commands(block):
            if skip_reason(command):
                skipped.append(command)
                continue
            done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", command], cwd=clone,
                                  env=env, capture_output=True, text=True, timeout=TIMEOUT)
            assert done.returncode == 0, (
                f"README command failed ({done.returncode}):\n{command}\n"
                f"stdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-3000:]}")
            ran.append((command, done))
    assert {skip_reason(c) for c in skipped} == {reason for _, reason in SKIPPED}
    outputs = {command.split("#")[0].strip(): done.stdout for command, done in ran}
    # What the commands promise, on the files the README made itself.
    predicted = outputs["sknn-mnist predict mlp.skops rows.npy rows.csv"]
    names = [line.split()[0] for line in predicted.splitlines()]
    assert names == [f"rows.npy[{i}]" for i in range(5)] + [f"rows.csv[{i}]" for i in range(5)]
    assert (clone / "mlp.onnx").stat().st_size > 0
    assert any(p.name.startswith("sknn-mnist-compare-mnist-") for p in clone.iterdir())
    number = outputs["sknn-mnist predict mnist-cnn meter.jpg --number"]
    assert "4711" in number
