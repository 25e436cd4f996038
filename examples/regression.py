"""Regression, the course's last exercise: a network fits ``sin x`` and ``x^2 + 5x``.

An identity output and the squared error (``TorchMLPRegressor``'s default loss), the
inputs and targets standardised (``StandardScaler`` in a pipeline, and
``TransformedTargetRegressor`` for ``y``), trained on noisy samples and drawn against the
noiseless truth. Offline; 47 s on 2 CPU cores at load average 10-12
(``benchmarks/wall_times.py``, 2026-12-01)::

    python examples/regression.py                      # writes regression.png
    python examples/regression.py --out fit.png --max-iter 500
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn_mnist import TorchMLPRegressor

#: The two functions of the exercise, each on its interval.
FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], tuple[float, float]]] = {
    "sin x": (np.sin, (-2 * np.pi, 2 * np.pi)),
    "x^2 + 5x": (lambda x: x ** 2 + 5 * x, (-8.0, 3.0)),
}


def make_model(max_iter: int, device: str, seed: int) -> TransformedTargetRegressor:
    # Two hidden layers of 64 and a cosine-annealed rate; n_iter_no_change=25 gives the
    # noisy minibatch loss (400 samples, batches of 64) time to improve before stopping.
    network = TorchMLPRegressor(hidden_layer_sizes=(64, 64), learning_rate_init=1e-2,
                                learning_rate="cosine", batch_size=64, max_iter=max_iter,
                                n_iter_no_change=25, random_state=seed, device=device)
    return TransformedTargetRegressor(regressor=make_pipeline(StandardScaler(), network),
                                      transformer=StandardScaler())


def fit_function(name: str, *, n_samples: int, noise: float, max_iter: int, device: str,
                 seed: int) -> dict:
    """Fit one function on noisy samples; return the data, the model and its scores."""
    function, (low, high) = FUNCTIONS[name]
    rng = np.random.default_rng(seed)
    x = rng.uniform(low, high, size=(n_samples, 1))
    truth = function(x).ravel()
    y = truth + noise * truth.std() * rng.standard_normal(n_samples)
    model = make_model(max_iter, device, seed).fit(x, y)
    grid = np.linspace(low, high, 500).reshape(-1, 1)
    fitted, exact = model.predict(grid), function(grid).ravel()
    return {"name": name, "x": x, "y": y, "grid": grid, "fitted": fitted, "exact": exact,
            "r2": model.score(grid, exact), "max_error": float(np.abs(fitted - exact).max()),
            "epochs": model.regressor_[-1].n_iter_}


def plot(results: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 4))
    for ax, result in zip(np.atleast_1d(axes), results, strict=True):
        ax.scatter(result["x"], result["y"], s=6, alpha=0.35, color="grey",
                   label="training samples")
        ax.plot(result["grid"], result["exact"], color="black", lw=2, label="truth")
        ax.plot(result["grid"], result["fitted"], color="tab:orange", lw=2, ls="--",
                label=f"network (R^2 {result['r2']:.4f})")
        ax.set_title(f"y = {result['name']}")
        ax.set_xlabel("x")
        ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="regression.png", help="the figure to write")
    parser.add_argument("--n-samples", type=int, default=400, help="training samples")
    parser.add_argument("--noise", type=float, default=0.05,
                        help="noise, as a fraction of the target's standard deviation")
    parser.add_argument("--max-iter", type=int, default=200, help="epochs")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu', 'cuda', 'cuda:N'")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the samples, the noise and the network")
    args = parser.parse_args()
    if args.n_samples < 10 or args.max_iter < 1 or args.noise < 0:
        parser.error("--n-samples must be at least 10, --max-iter at least 1, --noise >= 0")
    results = []
    for name in FUNCTIONS:
        result = fit_function(name, n_samples=args.n_samples, noise=args.noise,
                              max_iter=args.max_iter, device=args.device, seed=args.seed)
        results.append(result)
        print(f"{name}: R^2 against the truth {result['r2']:.4f}, largest error "
              f"{result['max_error']:.3f}, {result['epochs']} epochs")
    print(f"wrote {plot(results, Path(args.out))}")


if __name__ == "__main__":
    main()
