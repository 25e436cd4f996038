"""The course's MLP-vs-CNN study: the same digits, a multilayer perceptron against a small
convolutional network.

The course reports 96.92% test accuracy on MNIST for its 784-100-50-10 MLP and 98.68% for
its CNN (conv 3x3/32, pool, conv 3x3/64, pool, dropout, dense 128, dropout, dense 10).
Both models here are those networks with this package's defaults, behind the same
``PixelScaler``; the study prints accuracy, fit time, prediction speed, model size and how
many test digits each gets wrong that the other gets right.

    python examples/mlp_vs_cnn.py --idx-dir ../shared/data/mnist --quick   # 5,000 rows
    python examples/mlp_vs_cnn.py --idx-dir DIR                            # all 60,000 rows
    python examples/mlp_vs_cnn.py --dataset digits                         # offline, 8x8

Measured on 2 CPU cores shared with other work (``benchmarks/wall_times.py``, 2026-12-01):
``--quick`` 111 s at load average 8, ``--dataset digits`` 60 s at load average 9.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from sklearn.pipeline import make_pipeline

from sknn_mnist import CNNDigitClassifier, MLPDigitClassifier
from sknn_mnist.compare import format_table, stratified_subsample
from sknn_mnist.datasets import DatasetUnavailableError, load_dataset
from sknn_mnist.models import PixelScaler


def n_parameters(classifier) -> int:
    return sum(p.numel() for p in classifier.net_.module_.parameters())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, kmnist, digits")
    parser.add_argument("--idx-dir", help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--data-home", help="dataset cache folder")
    parser.add_argument("--quick", action="store_true",
                        help="5,000 training rows and 5 epochs")
    parser.add_argument("--max-iter", type=int, help="epochs (default: each model's default; "
                                                     "quick: 5; digits: 30)")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when there is a GPU), 'cpu', 'cuda', 'cuda:N'")
    args = parser.parse_args()
    if args.max_iter is not None and args.max_iter < 1:
        parser.error("--max-iter must be at least 1")

    try:
        X, y = load_dataset(args.dataset, subset="train", idx_dir=args.idx_dir,
                            data_home=args.data_home, return_X_y=True)
        X_test, y_test = load_dataset(args.dataset, subset="test", idx_dir=args.idx_dir,
                                      data_home=args.data_home, return_X_y=True)
    except DatasetUnavailableError as exc:
        print(f"{exc}\n(or run with --dataset digits)", file=sys.stderr)
        return 2
    if args.quick:
        X, y = stratified_subsample(X, y, 5_000)
    epochs = args.max_iter or (30 if args.dataset == "digits" else 5 if args.quick else None)
    common = {"random_state": 0, "device": args.device}
    if epochs is not None:
        common["max_iter"] = epochs
    models = {"MLP": MLPDigitClassifier(**common), "CNN": CNNDigitClassifier(**common)}

    rows, wrong = [], {}
    for name, classifier in models.items():
        model = make_pipeline(PixelScaler(), classifier)
        start = time.perf_counter()
        model.fit(X, y)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        predicted = model.predict(X_test)
        predict_seconds = time.perf_counter() - start
        wrong[name] = predicted != y_test
        rows.append({
            "model": name,
            "parameters": n_parameters(model[-1]),
            "epochs": model[-1].n_iter_,
            "test_accuracy": 1 - wrong[name].mean(),
            "fit_seconds": fit_seconds,
            "predict_rows_per_s": len(X_test) / predict_seconds,
        })
        print(f"{name} test accuracy {rows[-1]['test_accuracy']:.4f} ({fit_seconds:.1f} s)",
              file=sys.stderr, flush=True)

    print(f"\n{args.dataset}: {len(y)} training rows, {len(y_test)} test rows, "
          f"device {model[-1].device_}\n")
    print(format_table(rows))
    both = int(np.sum(wrong["MLP"] & wrong["CNN"]))
    print(f"\nwrong by both: {both}; only by the MLP: "
          f"{int(np.sum(wrong['MLP'] & ~wrong['CNN']))}; only by the CNN: "
          f"{int(np.sum(wrong['CNN'] & ~wrong['MLP']))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
