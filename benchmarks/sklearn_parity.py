"""Learning per epoch against scikit-learn's MLPClassifier at the same hyperparameters.

    python benchmarks/sklearn_parity.py [--quick]

scikit-learn's digits scaled to [0, 1], a stratified 70/30 split per seed, 20 epochs at a
constant learning rate; both estimators get the same parameters (everything else at
MLPClassifier's defaults, ``tol=0`` so that neither stops early). The table gives the mean
test accuracy of each over seeds 0-2 (the issue's protocol) and over ``--seeds`` seeds
(default 10): one seed's difference has a standard deviation of about 1 point, so 3 seeds
alone cannot resolve a 1-point target. The target is |difference| <= 1 point.
"""

from __future__ import annotations

import os
import statistics
import time
import warnings

import numpy as np
from _common import machine_info, parser
from _common import write_result as _write
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from sknn_mnist import MLPDigitClassifier

#: (name, parameters shared by both estimators): widths, batch sizes, sgd/adam, relu/tanh.
SETTINGS = [
    ("issue case: (100, 50) adam relu b200",
     dict(hidden_layer_sizes=(100, 50), solver="adam", activation="relu", batch_size=200)),
    ("(100,) adam relu auto", dict(hidden_layer_sizes=(100,), solver="adam",
                                   activation="relu", batch_size="auto")),
    ("(256, 128) adam relu b64", dict(hidden_layer_sizes=(256, 128), solver="adam",
                                      activation="relu", batch_size=64)),
    ("(100, 50) adam tanh b200", dict(hidden_layer_sizes=(100, 50), solver="adam",
                                      activation="tanh", batch_size=200)),
    ("(100, 50) adam logistic b64 lr 0.01", dict(
        hidden_layer_sizes=(100, 50), solver="adam", activation="logistic", batch_size=64,
        learning_rate_init=0.01)),
    ("(100, 50) sgd relu b200 lr 0.01", dict(hidden_layer_sizes=(100, 50), solver="sgd",
                                             activation="relu", batch_size=200,
                                             learning_rate_init=0.01)),
    ("(50,) sgd tanh b32 lr 0.01", dict(hidden_layer_sizes=(50,), solver="sgd",
                                        activation="tanh", batch_size=32,
                                        learning_rate_init=0.01)),
    ("(100, 50) sgd relu b32 lr 0.1 no momentum", dict(
        hidden_layer_sizes=(100, 50), solver="sgd", activation="relu", batch_size=32,
        learning_rate_init=0.1, momentum=0.0)),
]
EPOCHS = 20


def _score(estimator, X_train, X_test, y_train, y_test) -> tuple[float, float]:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.fit(X_train, y_train)
    return estimator.score(X_test, y_test), time.perf_counter() - start


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=10, help="seeds per setting (>= 3)")
    args = p.parse_args()
    load = os.getloadavg()[0]
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    settings = SETTINGS[:2] if args.quick else SETTINGS
    seeds = range(1 if args.quick else max(args.seeds, 3))
    # MLPClassifier's rate unless the setting names one (our default is 2e-3).
    common = dict(learning_rate="constant", max_iter=EPOCHS, tol=0.0)
    table, runs = [], []
    for name, params in settings:
        scores = {"ours": [], "MLPClassifier": []}
        seconds = {"ours": [], "MLPClassifier": []}
        params = {"learning_rate_init": 1e-3, **params}
        for seed in seeds:
            split = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
            contenders = {
                "ours": MLPDigitClassifier(**params, **common, random_state=seed,
                                           device=args.device),
                "MLPClassifier": MLPClassifier(**params, **common, random_state=seed),
            }
            for key, estimator in contenders.items():
                score, fit_s = _score(estimator, *split)
                scores[key].append(score)
                seconds[key].append(fit_s)
        row = {"setting": name}
        first = min(3, len(seeds))
        for label, n in ((f"{first} seeds", first), (f"{len(seeds)} seeds", len(seeds))):
            ours = statistics.mean(scores["ours"][:n])
            theirs = statistics.mean(scores["MLPClassifier"][:n])
            row.update({f"ours % ({label})": 100 * ours,
                        f"MLPClassifier % ({label})": 100 * theirs,
                        f"difference ({label})": 100 * (ours - theirs)})
        diffs = np.subtract(scores["ours"], scores["MLPClassifier"])
        row["sd of one seed's difference"] = 100 * float(np.std(diffs))
        all_seeds = f"{len(seeds)} seeds"
        row[f"within 1 point ({all_seeds})"] = abs(row[f"difference ({all_seeds})"]) <= 1
        table.append(row)
        runs.append({"setting": name, "params": {**params, **common}, "scores": scores,
                     "fit_seconds": seconds})
        print(row, flush=True)
    result = {
        "benchmark": "sklearn_parity",
        "title": f"MLPClassifier parity: learning per epoch (digits, 70/30, "
                 f"{len(seeds)} seeds, {EPOCHS} epochs, constant rate)",
        "machine": machine_info(args.device),
        "table": table,
        "notes": ["Mean test accuracy over the seeds; the same seed drives the split and "
                  "both estimators. Target: |difference| <= 1 point in every row (judged "
                  "on all seeds: with 3 a row's mean difference still has a standard "
                  "deviation of about 0.6 point from the seeds alone).",
                  "Before the shared core (torch's default initialisation) the issue case "
                  "measured 92.6% against 95.2%.",
                  "Not in the table: (100, 50) logistic, adam 1e-3, batch 200 is still on "
                  "its initial plateau after 20 epochs (test accuracy 45% to 85% depending "
                  "on the seed, for both); over 10 seeds ours 65.1%, MLPClassifier 68.1%, "
                  "a difference of -3.0 points with a standard error of 3.2.",
                  f"Load average at the start: {load:.1f} on {os.cpu_count()} cores "
                  "(accuracy does not depend on it; the fit seconds in the JSON do)."],
        "runs": runs,
    }
    _write(args, "sklearn_parity", result)


if __name__ == "__main__":
    main()
