"""Shared helpers for the benchmark scripts: data, timing rounds, and result files.

Every timing comparison is a ratio measured in one run on one machine: contenders run
interleaved (A, B, C, A, B, C, ...) for several rounds and each ratio is the median of the
per-round ratios, because sequential runs on these machines drift by up to 30%.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_IDX_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help="a small version that finishes in under 2 minutes (CI smoke test)")
    p.add_argument("--idx-dir", default=os.environ.get("SKNN_MNIST_IDX_DIR",
                                                        str(DEFAULT_IDX_DIR)),
                   help="folder with the four MNIST IDX gz files")
    p.add_argument("--data-home", default=None, help="sknn_mnist cache folder")
    p.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    p.add_argument("--out", default=str(RESULTS_DIR), help="folder for the JSON result")
    return p


def load_mnist_arrays(args, *, n_train: int | None = None):
    """MNIST through sknn_mnist.datasets; ``--quick`` without the files uses digits."""
    from sknn_mnist.datasets import load_dataset

    name = "mnist" if Path(args.idx_dir).is_dir() else "digits"
    kwargs = {"idx_dir": args.idx_dir} if name == "mnist" else {}
    if args.data_home:
        kwargs["data_home"] = args.data_home
    X_train, y_train = load_dataset(name, subset="train", return_X_y=True, **kwargs)
    X_test, y_test = load_dataset(name, subset="test", return_X_y=True, **kwargs)
    if n_train is not None:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    return name, X_train, y_train, X_test, y_test


def scale01(X: np.ndarray) -> np.ndarray:
    """Pixels to float32 in [0, 1], the input every contender gets."""
    return (X / np.float32(X.max())).astype(np.float32)


def interleaved(contenders: dict[str, Callable[[], float]], rounds: int,
                reference: str) -> dict:
    """Run each contender once per round, in turn; return raw seconds and median ratios."""
    raw: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name, run in contenders.items():
            raw[name].append(run())
            print(f"round {r + 1}/{rounds} {name}: {raw[name][-1]:.3f} s", flush=True)
    ratios = {name: statistics.median(a / b for a, b in zip(raw[name], raw[reference],
                                                             strict=True))
              for name in contenders}
    return {"seconds": raw, "median_seconds": {k: statistics.median(v) for k, v in raw.items()},
            "ratio_to_" + reference: ratios}


def fit_and_score(model, X, y, X_test, y_test) -> dict:
    """Fit ``model`` (a pipeline ending in one of our classifiers) and score it on the test set.

    Returns the record the accuracy benchmarks keep: test accuracy, fit seconds, epochs,
    device and the loss curve.
    """
    start = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    clf = model[-1]
    return {"accuracy": model.score(X_test, y_test), "fit_seconds": fit_seconds,
            "epochs": clf.n_iter_, "device": clf.device_, "loss_curve": clf.loss_curve_}


def accuracy_row(label_key: str, label: str, run: dict) -> dict:
    """One table row of :func:`fit_and_score`'s record."""
    return {label_key: label, "test accuracy %": 100 * run["accuracy"],
            "test error %": 100 * (1 - run["accuracy"]), "fit s": run["fit_seconds"],
            "epochs": run["epochs"], "device": run["device"]}


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine_info(device: str = "cpu") -> dict:
    import sklearn
    import skorch
    import torch

    import sknn_mnist

    info = {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "versions": {"sknn_mnist": sknn_mnist.__version__, "torch": torch.__version__,
                     "skorch": skorch.__version__, "scikit-learn": sklearn.__version__,
                     "numpy": np.__version__},
        "device": device,
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def write_result(args, name: str, result: dict) -> Path:
    """Write ``<out>/<name>[-quick].json`` and regenerate RESULTS.md next to it."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}{'-quick' if args.quick else ''}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2, default=float) + "\n")
    os.replace(tmp, path)
    from _report import write_results_md

    write_results_md(out)
    print(f"wrote {path}")
    return path


@contextlib.contextmanager
def busy_processes(n: int) -> Iterator[list[int]]:
    """Run ``n`` CPU-bound processes (``while True: pass``) for the duration of the block.

    They stand for the other work on a shared machine (a CI runner, a laptop compiling
    something). They are always killed on the way out, even when the block raises.
    """
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(n)]
    try:
        time.sleep(0.2)  # let them reach the loop before anything is timed
        yield [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages, recorded next to timings taken on shared machines."""
    return [round(x, 2) for x in os.getloadavg()]


def cuda_devices() -> list[str]:
    """The devices a benchmark measures: the CPU, plus ``cuda`` when a GPU is present."""
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
