"""Inference throughput: ``predict_proba`` rows/s on the 10,000 MNIST test images for
MLPDigitClassifier, scikit-learn's MLPClassifier and plain skorch (same 784-100-50-10 net).

    python benchmarks/inference.py [--quick] [--device cuda]
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from _common import interleaved, load_mnist_arrays, machine_info, parser, scale01, timed
from _common import write_result as _write
from epoch_time import mlp
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from skorch import NeuralNetClassifier
from torch import nn

from sknn_mnist import MLPDigitClassifier
from sknn_mnist.core.device import resolve_device


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    device = resolve_device(args.device)
    rounds = args.rounds or (3 if args.quick else 7)
    dataset, X, y, X_test, _ = load_mnist_arrays(args, n_train=5000 if args.quick else 20000)
    X, X_test = scale01(X), scale01(X_test)

    ours = MLPDigitClassifier(max_iter=1, random_state=0, device=str(device)).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = MLPClassifier((100, 50), batch_size=64, max_iter=1, random_state=0).fit(X, y)
    torch.manual_seed(0)
    skorch_net = NeuralNetClassifier(
        mlp, module__n_features=X.shape[1], criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam, lr=1e-3,
        batch_size=64, max_epochs=1, train_split=None, verbose=0, device=str(device),
    ).fit(X, y.astype(np.int64))

    contenders = {
        "MLPDigitClassifier": lambda: timed(lambda: ours.predict_proba(X_test)),
        "sklearn MLPClassifier": lambda: timed(lambda: theirs.predict_proba(X_test)),
        "plain skorch": lambda: timed(lambda: skorch_net.predict_proba(X_test)),
    }
    timings = interleaved(contenders, rounds, reference="MLPDigitClassifier")
    n = len(X_test)
    table = [{"contender": name, "rows/s (median)": n / timings["median_seconds"][name],
              "seconds per 10k rows": timings["median_seconds"][name] * 10_000 / n,
              "ours is faster by": timings["ratio_to_MLPDigitClassifier"][name]}
             for name in contenders]
    result = {
        "benchmark": "inference",
        "title": f"5. Inference: predict_proba on {n} {dataset} test rows "
                 f"({rounds} interleaved rounds, device {device})",
        "machine": machine_info(str(device)),
        "table": table,
        "notes": ["'ours is faster by' = contender time / MLPDigitClassifier time "
                  "(median of per-round ratios).",
                  "plain skorch uses its default batch_size (64) and DataLoader for "
                  "prediction; MLPDigitClassifier predicts in 8192-row tensor slices."],
        **timings,
    }
    _write(args, "inference", result)


if __name__ == "__main__":
    main()
