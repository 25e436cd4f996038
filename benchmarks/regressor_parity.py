"""TorchMLPRegressor against scikit-learn's MLPRegressor at the same hyperparameters.

    python benchmarks/regressor_parity.py [--quick] [--seeds N]

Data that needs no download: the bundled diabetes set (442 x 10), ``make_friedman1``
(2,000 x 10, noise 1) and ``make_regression`` (2,000 x 20, 10 informative, noise 10). Per
seed a 75/25 split; features standardised on the training rows, and the targets too (an
MLP needs targets of unit scale; the Poisson rows keep Friedman's positive targets). Both
estimators get the same parameters, everything else at MLPRegressor's defaults, which are
also ours. The table gives the mean test R^2 of each over the seeds, their difference, and
the seed noise: the standard deviation of MLPRegressor's own R^2 from seed to seed. The
target is |difference| <= seed noise.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings

import numpy as np
from _common import load_average, machine_info, parser
from _common import write_result as _write
from sklearn.datasets import load_diabetes, make_friedman1, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from sknn_mnist import TorchMLPRegressor

#: (name, parameters shared by both estimators).
SETTINGS = [
    ("defaults: (100,) adam 1e-3 auto", {}),
    ("(64, 64) adam 1e-2 b64", dict(hidden_layer_sizes=(64, 64), learning_rate_init=1e-2,
                                     batch_size=64)),
    ("(50,) tanh sgd 1e-2 momentum", dict(hidden_layer_sizes=(50,), activation="tanh",
                                          solver="sgd", learning_rate_init=1e-2)),
    ("(50,) lbfgs", dict(hidden_layer_sizes=(50,), solver="lbfgs")),
    ("defaults + early_stopping", dict(early_stopping=True)),
]
#: Poisson: Friedman's positive targets, unscaled.
POISSON = ("(50,) poisson adam 1e-2", dict(hidden_layer_sizes=(50,), loss="poisson",
                                           learning_rate_init=1e-2))


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    X_friedman, y_friedman = make_friedman1(n_samples=2000, noise=1.0, random_state=0)
    X_linear, y_linear = make_regression(n_samples=2000, n_features=20, n_informative=10,
                                         noise=10.0, random_state=0)
    return {"diabetes": load_diabetes(return_X_y=True), "friedman1": (X_friedman, y_friedman),
            "make_regression": (X_linear, y_linear)}


def _split(X, y, seed: int, scale_y: bool):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25,
                                                        random_state=seed)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if scale_y:
        mean, sd = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / sd, (y_test - mean) / sd
    return X_train, X_test, y_train, y_test


def _fit_score(estimator, X_train, X_test, y_train, y_test) -> tuple[float, float, int]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X_train, y_train)
    return (estimator.score(X_test, y_test), time.perf_counter() - start,
            int(estimator.n_iter_))


def _row(dataset: str, name: str, scores: dict, seconds: dict, epochs: dict) -> dict:
    ours, theirs = scores["ours"], scores["MLPRegressor"]
    noise = statistics.stdev(theirs) if len(theirs) > 1 else float("nan")
    difference = statistics.mean(ours) - statistics.mean(theirs)
    return {"data": dataset, "setting": name,
            "ours R^2": statistics.mean(ours), "MLPRegressor R^2": statistics.mean(theirs),
            "difference": difference, "seed noise (sd)": noise,
            "within seed noise": bool(abs(difference) <= noise) if len(theirs) > 1 else "-",
            "ours epochs": statistics.mean(epochs["ours"]),
            "MLPRegressor epochs": statistics.mean(epochs["MLPRegressor"]),
            "ours fit s": statistics.median(seconds["ours"]),
            "MLPRegressor fit s": statistics.median(seconds["MLPRegressor"])}


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=5, help="seeds per setting (>= 2)")
    args = p.parse_args()
    load = load_average()
    seeds = range(1 if args.quick else max(args.seeds, 2))
    data = datasets()
    cases = [(d, *s) for d in data for s in SETTINGS] + [("friedman1", *POISSON)]
    if args.quick:
        cases = cases[:1]
    table, runs = [], []
    for dataset, name, params in cases:
        X, y = data[dataset]
        scores, seconds, epochs = ({"ours": [], "MLPRegressor": []} for _ in range(3))
        for seed in seeds:
            split = _split(X, y, seed, scale_y=params.get("loss") != "poisson")
            contenders = {
                "ours": TorchMLPRegressor(**params, random_state=seed, device=args.device),
                "MLPRegressor": MLPRegressor(**params, random_state=seed),
            }
            for key, estimator in contenders.items():
                score, fit_s, n_iter = _fit_score(estimator, *split)
                scores[key].append(score)
                seconds[key].append(fit_s)
                epochs[key].append(n_iter)
        row = _row(dataset, name, scores, seconds, epochs)
        table.append(row)
        runs.append({"data": dataset, "setting": name, "params": params, "scores": scores,
                     "fit_seconds": seconds, "epochs": epochs})
        print(row, flush=True)
    result = {
        "benchmark": "regressor_parity",
        "title": f"MLPRegressor parity: test R^2 at the same hyperparameters "
                 f"({len(seeds)} seeds, 75/25 splits)",
        "machine": machine_info(args.device),
        "table": table,
        "notes": [
            "Mean test R^2 over the seeds; the same seed drives the split and both "
            "estimators. Seed noise: the standard deviation of MLPRegressor's R^2 over the "
            "seeds. Target: |difference| <= seed noise in every row.",
            "Parameters not named in a row are MLPRegressor's defaults (also ours): (100,), "
            "relu, adam, alpha 1e-4, batch 'auto', constant rate 1e-3, max_iter 200, "
            "tol 1e-4, n_iter_no_change 10. Ours trains in float32 (its default dtype).",
            "lbfgs: ours is torch's L-BFGS with a strong-Wolfe line search, one iteration "
            "per epoch, stopped by tol/n_iter_no_change; scikit-learn's is scipy's "
            "L-BFGS-B, stopped by its gradient tolerance (gtol=tol) or max_iter. The two "
            "are different optimizers, which is why the L-BFGS rows can differ beyond the "
            "seed noise: on make_regression ours stops after about 40 iterations, theirs "
            "runs all 200 (with tol=0 ours runs 200 too and lands at R^2 0.9962 against "
            "0.9969, measured separately); on diabetes a (50,) network fitted to "
            "convergence overfits its 331 rows for both (R^2 below 0).",
            "Fit seconds: medians over the seeds, on a shared machine (load average "
            f"{load[0]:.1f} on {os.cpu_count()} cores at the start); on data this small "
            "(2 to 8 batches an epoch) torch's fixed cost per step dominates.",
        ],
        "runs": runs,
    }
    _write(args, "regressor_parity", result)


if __name__ == "__main__":
    main()
