"""Quick start: fit the MLP on scikit-learn's bundled digits, predict, save, load.

A ``PixelScaler`` -> ``MLPDigitClassifier`` pipeline trained for 30 epochs on the 1,437
training digits, scored on the 360 test digits, saved as a skops file with its metadata
into a temporary folder (nothing is left behind) and loaded again, checking that the
reloaded model predicts the same labels. Offline; 26 s on 2 CPU cores at load average 9-10
(``benchmarks/wall_times.py``, 2026-12-01)::

    python examples/quickstart.py
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import make_model
from sknn_mnist.persistence import load_model, save_model


def main() -> None:
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    X_train, y_train = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)

    # PixelScaler (pixels / 16 here, / 255 on MNIST) then MLPDigitClassifier. Digits is
    # small (23 batches an epoch), so a higher learning rate than the MNIST default.
    model = make_model("mlp", hidden_layer_sizes=(100, 50), learning_rate_init=1e-2,
                       max_iter=30, random_state=0)
    model.fit(X_train, y_train)
    accuracy = model.score(X_test, y_test)
    print(f"test accuracy: {accuracy:.4f} (trained on {model[-1].device_})")
    print("first predictions:", model.predict(X_test[:10]), "true:", y_test[:10])

    with tempfile.TemporaryDirectory() as tmp:
        path = save_model(model, Path(tmp) / "digits-mlp.skops", dataset="digits",
                          test_score=accuracy)
        loaded, meta = load_model(path, return_metadata=True)
        assert np.array_equal(loaded.predict(X_test), model.predict(X_test))
        print(f"saved and reloaded {path.name}: sknn_mnist {meta['versions']['sknn_mnist']}, "
              f"test score {meta['test_score']:.4f}")


if __name__ == "__main__":
    main()
