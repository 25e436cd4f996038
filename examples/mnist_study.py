"""The MNIST study: how depth, activation and optimizer change an MLP's test accuracy.

One factor at a time from a baseline (2 hidden layers, ReLU, Adam): depth 1/2/3 hidden
layers, activation relu/tanh/logistic, optimizer adam/sgd/rmsprop; 7 trainings in all.

    python examples/mnist_study.py --idx-dir ../shared/data/mnist --quick   # 5,000 rows
    python examples/mnist_study.py --idx-dir DIR                            # all 60,000 rows
    python examples/mnist_study.py --dataset digits                         # offline

Measured on 2 CPU cores shared with other work (``benchmarks/wall_times.py``, 2026-12-01):
``--quick`` 107 s at load average 8-10, ``--dataset digits`` 79 s at load average 9-10.
"""

from __future__ import annotations

import argparse
import sys
import time

from sknn_mnist.compare import format_table, stratified_subsample
from sknn_mnist.datasets import DatasetUnavailableError, load_dataset
from sknn_mnist.models import make_model

BASELINE = {"hidden_layer_sizes": (256, 128), "activation": "relu", "solver": "adam"}
VARIATIONS = [
    ("depth", "hidden_layer_sizes", [(256,), (256, 128), (256, 128, 64)]),
    ("activation", "activation", ["relu", "tanh", "logistic"]),
    ("optimizer", "solver", ["adam", "sgd", "rmsprop"]),
]
# SGD with momentum needs a larger step than the adaptive optimizers.
LEARNING_RATES = {"adam": 1e-3, "rmsprop": 1e-3, "sgd": 5e-2}


def configurations() -> list[tuple[str, dict]]:
    """(factor, params) pairs: the baseline once, then each factor's other values."""
    configs = [("baseline", dict(BASELINE))]
    for factor, key, values in VARIATIONS:
        for value in values:
            if value != BASELINE[key]:
                configs.append((factor, {**BASELINE, key: value}))
    return configs


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="mnist", help="mnist, fashion-mnist, kmnist, digits")
    parser.add_argument("--idx-dir", help="folder with the four MNIST IDX .gz files")
    parser.add_argument("--data-home", help="dataset cache folder")
    parser.add_argument("--quick", action="store_true",
                        help="5,000 training rows and 10 epochs")
    parser.add_argument("--max-iter", type=int, help="epochs (default: 15, quick: 10)")
    parser.add_argument("--device", default="auto",
                        help="'auto' (CUDA when there is a GPU), 'cpu', 'cuda', 'cuda:N'")
    args = parser.parse_args()

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
    small = len(y) < 10_000
    epochs = args.max_iter or (10 if args.quick else 15)
    if args.dataset == "digits":
        epochs = args.max_iter or 30

    rows = []
    for factor, params in configurations():
        lr = LEARNING_RATES[params["solver"]] * (10 if small and params["solver"] != "sgd"
                                                 else 1)
        model = make_model("mlp", max_iter=epochs, learning_rate_init=lr, device=args.device,
                           random_state=0, **params)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
        rows.append({
            "varied": factor,
            "hidden_layers": str(params["hidden_layer_sizes"]),
            "activation": params["activation"],
            "optimizer": params["solver"],
            "learning_rate": lr,
            "final_train_loss": model[-1].loss_curve_[-1],
            "test_accuracy": model.score(X_test, y_test),
            "fit_seconds": seconds,
        })
        print(f"{factor:10s} {rows[-1]['hidden_layers']:16s} {params['activation']:8s} "
              f"{params['solver']:8s} test accuracy {rows[-1]['test_accuracy']:.4f} "
              f"({seconds:.1f} s)", file=sys.stderr, flush=True)
    print(f"\n{args.dataset}: {len(y)} training rows, {len(y_test)} test rows, {epochs} epochs, "
          f"device {model[-1].device_}\n")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
