"""Test accuracy per epoch of the CNN's network trained by a hand-written loop on MNIST.

    python benchmarks/cnn_hand_accuracy.py NAME EPOCHS [--augment] [--batch-norm] \
        [--threads N] > NAME.log

Used to choose CNNDigitClassifier's defaults (epochs, schedule, augmentation) before the
estimator existed, and to see the test accuracy after every epoch, which a fit does not
report. It trains :class:`sknn_mnist.networks.cnn.module.CNNModule` (torch's default
initialisation) exactly as the estimator's defaults do: fused Adam at 1e-3, batches of 64,
the cosine schedule of ``learning_rate='cosine'`` updated every batch, and ``alpha=1e-4``
as weight decay ``alpha / batch_size`` on the convolution and dense weights. It prints one
JSON line per epoch: test accuracy, epoch seconds and total seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from _common import DEFAULT_IDX_DIR

from sknn_mnist.core.callbacks import cosine_rate
from sknn_mnist.datasets import load_dataset
from sknn_mnist.networks.cnn.module import CNNModule


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("name")
    p.add_argument("epochs", type=int)
    p.add_argument("--augment", action="store_true", help="shift 0.1, rotation 10 degrees")
    p.add_argument("--batch-norm", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rows", type=int, default=None, help="first N training rows only")
    p.add_argument("--idx-dir", default=str(DEFAULT_IDX_DIR))
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    data = {}
    for subset in ("train", "test"):
        X, y = load_dataset("mnist", subset=subset, return_X_y=True, idx_dir=args.idx_dir)
        data[subset] = (torch.from_numpy((X / np.float32(255)).astype(np.float32)),
                        torch.from_numpy(y.astype(np.int64)))
    (X, y), (X_test, y_test) = data["train"], data["test"]
    X, y = X[:args.rows], y[:args.rows]
    torch.manual_seed(0)
    model = CNNModule(784, 10, (1, 28, 28), batch_norm=args.batch_norm,
                      augment_shift=0.1 if args.augment else 0.0,
                      augment_rotation=10.0 if args.augment else 0.0)
    batch_size = 64
    decayed = [p for p in model.parameters() if p.ndim >= 2]
    others = [p for p in model.parameters() if p.ndim < 2]
    optimizer = torch.optim.Adam([{"params": decayed, "weight_decay": 1e-4 / batch_size},
                                  {"params": others}], lr=1e-3, fused=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    n_batches = math.ceil(len(X) / batch_size)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        epoch_start = time.time()
        perm = torch.randperm(len(X), generator=generator)
        for b in range(n_batches):
            for group in optimizer.param_groups:
                group["lr"] = cosine_rate(1e-3, (epoch + b / n_batches) / args.epochs)
            idx = perm[b * batch_size:(b + 1) * batch_size]
            optimizer.zero_grad()
            loss_fn(model(X[idx]), y[idx]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = sum(int((model(X_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum())
                          for i in range(0, len(X_test), 1000))
        print(json.dumps({"run": args.name, "epoch": epoch + 1,
                          "test_acc": correct / len(X_test),
                          "epoch_s": round(time.time() - epoch_start, 1),
                          "total_s": round(time.time() - start, 1)}), flush=True)


if __name__ == "__main__":
    main()
