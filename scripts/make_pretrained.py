"""Make the pretrained MNIST models shipped in ``sknn_mnist/pretrained/``.

    python scripts/make_pretrained.py [--models mlp cnn] [--idx-dir DIR] [--check]

Each model is the compared pipeline of its kind (``make_model(name)``: the pixel scaler
then the classifier, default parameters), trained on MNIST's 60,000 training images with
``random_state=0`` on the CPU, with torch pinned to ``--threads`` threads (the script
re-runs itself with ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set before torch is imported,
so that the package's thread policy, which follows the machine's load, stands aside): the
same versions and thread count give the same weights. Then it is scored on the 10,000
test images and written as ``mnist-<name>.skops``; ``pretrained.json`` records its test
accuracy, SHA-256, seed, threads and library versions. The optimizer's state is left out
of the files (they are for prediction): a third of the MLP's file, two thirds of the CNN's.

``--check`` trains again and compares with the shipped file instead of writing: the same
test accuracy and the same probabilities on every test image, or exit status 1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "sknn_mnist" / "pretrained"
DEFAULT_IDX_DIR = ROOT.parent / "shared" / "data" / "mnist"
SEED = 0
TITLES = {"mlp": "the default MLP (784-100-50-10)",
          "cnn": "the default CNN (32-64 conv, 128 dense)"}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=["mlp", "cnn"], choices=sorted(TITLES))
    p.add_argument("--idx-dir", default=os.environ.get("SKNN_MNIST_IDX_DIR",
                                                        str(DEFAULT_IDX_DIR)))
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--out", default=str(OUT), help="folder of the files and the index")
    p.add_argument("--check", action="store_true",
                   help="retrain and compare with the shipped files instead of writing")
    return p


def _pinned(threads: int) -> bool:
    want = str(threads)
    return all(os.environ.get(v) == want for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"))


def _train(name: str, idx_dir: str):
    from sknn_mnist.datasets import load_mnist
    from sknn_mnist.study.models import make_model

    X, y = load_mnist(subset="train", idx_dir=idx_dir, return_X_y=True, download=False)
    X_test, y_test = load_mnist(subset="test", idx_dir=idx_dir, return_X_y=True,
                                download=False)
    model = make_model(name, random_state=SEED, device="cpu")
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    proba = model.predict_proba(X_test)
    accuracy = float((model.classes_[proba.argmax(axis=1)] == y_test).mean())
    print(f"{name}: test accuracy {accuracy:.4f}, fit {seconds:.0f} s", flush=True)
    return model, accuracy, seconds, proba, X_test


def _check(name: str, args, index: dict) -> bool:
    import numpy as np

    from sknn_mnist.io.persistence import load_model

    entry = index["models"][f"mnist-{name}"]
    _, accuracy, _, proba, X_test = _train(name, args.idx_dir)
    shipped = load_model(Path(args.out) / entry["file"])
    same = np.array_equal(shipped.predict_proba(X_test), proba)
    print(f"{name}: recorded accuracy {entry['test_accuracy']:.4f}, retrained {accuracy:.4f};"
          f" identical probabilities on the test set: {same}")
    return same and accuracy == entry["test_accuracy"]


def _inference_only(model) -> None:
    """Drop the optimizer's state (Adam's two moment buffers, twice the weights' size):
    the shipped files are for prediction; a ``partial_fit`` on one restarts the moments."""
    model[-1].net_.optimizer_.state.clear()


def _write(name: str, args, index: dict) -> None:
    from sknn_mnist.io.persistence import library_versions, save_model

    model, accuracy, seconds, _, _ = _train(name, args.idx_dir)
    _inference_only(model)
    file = f"mnist-{name}.skops"
    path = Path(args.out) / file
    save_model(model, path, dataset="mnist", test_score=accuracy, overwrite=True, compress=9,
               metadata={"pretrained": f"mnist-{name}", "seed": SEED,
                         "threads": args.threads, "n_train": 60000,
                         "fit_seconds": round(seconds, 1), "optimizer_state": "dropped",
                         "made_by": "scripts/make_pretrained.py"})
    data = path.read_bytes()
    index["models"][f"mnist-{name}"] = {
        "file": file, "model": name, "title": TITLES[name], "dataset": "mnist",
        "n_train": 60000, "n_test": 10000, "test_accuracy": accuracy, "seed": SEED,
        "threads": args.threads, "fit_seconds": round(seconds, 1), "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(), "versions": library_versions(),
    }
    index_path = Path(args.out) / "pretrained.json"
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    print(f"wrote {path} ({len(data) / 1024:.0f} KB) and {index_path}")


def main() -> int:
    args = _parser().parse_args()
    if not _pinned(args.threads):
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
               "MKL_NUM_THREADS": str(args.threads)}
        return subprocess.run([sys.executable, *sys.argv], env=env, check=False).returncode
    if not Path(args.idx_dir).is_dir():
        print(f"no MNIST IDX files in {args.idx_dir}: pass --idx-dir", file=sys.stderr)
        return 2
    index_path = Path(args.out) / "pretrained.json"
    index = (json.loads(index_path.read_text()) if index_path.exists()
             else {"format": 1, "models": {}})
    index["made_by"] = "scripts/make_pretrained.py"
    if args.check:
        results = [_check(name, args, index) for name in args.models]
        return 0 if all(results) else 1
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for name in args.models:
        _write(name, args, index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
