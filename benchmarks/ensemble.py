"""Seed ensembles: test accuracy and fit time of K seeds of one network against one network.

    python benchmarks/ensemble.py [--quick] [--members 5] [--models mlp,cnn]
                                  [--cnn-epochs 2] [--cnn-rows N] [--device cuda]

Each model is ``PixelScaler -> SeedEnsembleClassifier(member, n_estimators=K,
random_state=0)`` trained on MNIST's 60,000 training images (``--cnn-rows`` fewer for the
CNN) and scored on its 10,000 test images. The single network is each member on its own:
a member is exactly the fit its seed gives alone (tests/ensemble), so the K members give K
single-network samples (mean, min and max) for the price of the ensemble. The MLP has its
defaults (15 epochs); the CNN trains ``--cnn-epochs`` epochs instead of its 12 (its cosine
schedule anneals over them), to keep the whole run near 10 minutes on 2 CPU cores.
``--quick``: digits, 3 members, a few epochs (the CI smoke test).
"""

from __future__ import annotations

import os
import time

import numpy as np
from _common import DEFAULT_IDX_DIR, interleaved, machine_info, parser, timed
from _common import write_result as _write
from sklearn.base import clone
from sklearn.metrics import accuracy_score, log_loss
from sklearn.pipeline import make_pipeline

from sknn_mnist import CNNDigitClassifier, MLPDigitClassifier
from sknn_mnist.core.device import resolve_device
from sknn_mnist.datasets import load_dataset
from sknn_mnist.ensemble import SeedEnsembleClassifier, draw_member_seeds
from sknn_mnist.models import PixelScaler

MODELS = ("mlp", "cnn")
#: Published small-CNN ensembles on MNIST (augmentation, tens of epochs): issue 24.
REFERENCE = {"model": "published small-CNN ensembles (augmented, long schedules)",
             "test accuracy %": "99.7-99.8"}


def load(args):
    """MNIST (digits with ``--quick``): train and test rows."""
    if args.quick:
        name, kwargs = "digits", {}
    else:
        name, kwargs = "mnist", {"idx_dir": args.idx_dir}
    if args.data_home:
        kwargs["data_home"] = args.data_home
    X, y = load_dataset(name, subset="train", return_X_y=True, **kwargs)
    X_test, y_test = load_dataset(name, subset="test", return_X_y=True, **kwargs)
    return name, X, y, X_test, y_test


def member_of(kind: str, args, device: str):
    if kind == "mlp":
        quick = {"max_iter": 30, "learning_rate_init": 1e-2} if args.quick else {}
        return MLPDigitClassifier(device=device, **quick)
    epochs = 2 if args.quick else args.cnn_epochs
    quick = {"learning_rate_init": 1e-2} if args.quick else {}
    return CNNDigitClassifier(max_iter=epochs, device=device, **quick)


def measure(kind: str, args, data, device: str) -> tuple[list[dict], dict]:
    """Fit one ensemble; rows for the single network (its members) and the ensemble."""
    X, y, X_test, y_test = data
    if kind == "cnn" and args.cnn_rows:
        X, y = X[:args.cnn_rows], y[:args.cnn_rows]
    member = member_of(kind, args, device)
    model = make_pipeline(PixelScaler(), SeedEnsembleClassifier(
        member, n_estimators=args.members, random_state=0))
    start = time.perf_counter()
    model.fit(X, y)
    fit_seconds = time.perf_counter() - start
    ens = model[-1]
    X_scaled = model[:-1].transform(X_test)
    start = time.perf_counter()
    proba = model.predict_proba(X_test)
    predict_seconds = time.perf_counter() - start
    probas, member_predict = [], []
    for m in ens.estimators_:
        start = time.perf_counter()
        probas.append(m.predict_proba(X_scaled))
        member_predict.append(time.perf_counter() - start)
    # One network fitted on its own, with the first member's seed: the fit time an
    # ensemble member's share (FitResult.fit_time) only estimates when members stack.
    single = make_pipeline(PixelScaler(), clone(ens.estimators_[0]))
    start = time.perf_counter()
    single.fit(X, y)
    single_fit = time.perf_counter() - start
    identical = bool(np.array_equal(single.predict_proba(X_test), probas[0]))
    classes = ens.classes_
    accuracy = [accuracy_score(y_test, classes[p.argmax(1)]) for p in probas]
    losses = [log_loss(y_test, p, labels=classes) for p in probas]
    # The first k members averaged: what each further seed buys.
    first_k = {k: accuracy_score(y_test, classes[np.mean(probas[:k], axis=0).argmax(1)])
               for k in range(1, len(probas) + 1)}
    what = f"{kind} ({len(y)} rows, {ens.estimators_[0].n_iter_} epochs)"
    rows = [
        {"model": f"{what}: single network, mean of {len(probas)} seeds",
         "test accuracy %": 100 * float(np.mean(accuracy)),
         "min-max %": f"{100 * min(accuracy):.2f}-{100 * max(accuracy):.2f}",
         "test log loss": float(np.mean(losses)), "fit s (one alone)": single_fit,
         "fit / single": 1.0, "predict s": float(np.mean(member_predict))},
        {"model": f"{what}: ensemble of {len(probas)} seeds",
         "test accuracy %": 100 * accuracy_score(y_test, classes[proba.argmax(1)]),
         "min-max %": "",
         "test log loss": log_loss(y_test, proba, labels=classes),
         "fit s (one alone)": "", "ensemble fit s": fit_seconds,
         "fit / single": fit_seconds / single_fit, "predict s": predict_seconds},
    ]
    for row in rows:
        print(row, flush=True)
    details = {"rows": len(y), "member_params": member.get_params(),
               "seeds": [m.random_state for m in ens.estimators_],
               "member_accuracy": accuracy, "member_log_loss": losses,
               "member_fit_seconds": ens.fit_times_.tolist(),
               "single_fit_seconds": single_fit,
               "single_fit_identical_to_member_0": identical,
               "member_epochs": [int(m.n_iter_) for m in ens.estimators_],
               "accuracy_of_first_k_members": first_k,
               "ensemble_fit_seconds": fit_seconds}
    return rows, details


def timing(kind: str, args, data, device: str) -> tuple[list[dict], dict]:
    """Fit time, interleaved rounds: the ensemble (one fit_many call), its members fitted
    one after the other with their own ``fit``, and one network alone."""
    X, y = data[0], data[1]
    if kind == "cnn" and args.cnn_rows:
        X, y = X[:args.cnn_rows], y[:args.cnn_rows]
    X = PixelScaler().fit_transform(X)  # scaled once, outside the clocks
    member = member_of(kind, args, device)
    ensemble = SeedEnsembleClassifier(member, n_estimators=args.members, random_state=0)

    def one_by_one() -> None:
        for network in draw_member_seeds(member, args.members, 0):
            network.fit(X, y)

    contenders = {
        "ensemble, one fit_many call": lambda: timed(lambda: clone(ensemble).fit(X, y)),
        "its members, one fit each": lambda: timed(one_by_one),
        "one network": lambda: timed(
            lambda: draw_member_seeds(member, 1, 0)[0].fit(X, y)),
    }
    rounds = args.rounds or (1 if args.quick else 2)
    result = interleaved(contenders, rounds, reference="one network")
    rows = [{"model": f"{kind} ({len(y)} rows): fit time, {name}",
             "fit s (median)": result["median_seconds"][name],
             "ratio to one network": result["ratio_to_one network"][name]}
            for name in contenders]
    for row in rows:
        print(row, flush=True)
    return rows, {"rows": len(y), "rounds": rounds, **result}


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=None, help="K (default 5; --quick 3)")
    p.add_argument("--models", default=",".join(MODELS),
                   help=f"comma-separated subset of {', '.join(MODELS)}")
    p.add_argument("--cnn-epochs", type=int, default=2, help="epochs of each CNN member")
    p.add_argument("--cnn-rows", type=int, default=None,
                   help="training rows of the CNN (default: all)")
    p.add_argument("--parts", default="accuracy,timing",
                   help="comma-separated subset of accuracy (one ensemble, its members, "
                   "one network alone) and timing (interleaved rounds of fit times)")
    args = p.parse_args()
    args.members = args.members or (3 if args.quick else 5)
    kinds = [k for k in args.models.split(",") if k]
    unknown = sorted(set(kinds) - set(MODELS))
    if unknown:
        p.error(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")
    if not args.quick and not os.path.isdir(args.idx_dir):
        p.error(f"no MNIST files in {args.idx_dir} (default {DEFAULT_IDX_DIR}); "
                "--quick runs on digits")
    device = str(resolve_device(args.device))
    load_start = os.getloadavg()
    dataset, *data = load(args)
    table, details = [], {}
    start = time.perf_counter()
    parts = [part for part in args.parts.split(",") if part]
    for kind in kinds:
        if "accuracy" in parts:
            rows, details[kind] = measure(kind, args, data, device)
            table += rows
        if "timing" in parts:
            rows, details[f"{kind}_timing"] = timing(kind, args, data, device)
            table += rows
    total = time.perf_counter() - start
    if not args.quick:
        table.append(REFERENCE)
    cnn_note = (f"The CNN trains {args.cnn_epochs} epochs, not its default 12 (the "
                "whole run must stay near 10 minutes on 2 CPU cores)"
                + (f", on the first {args.cnn_rows} rows" if args.cnn_rows else "") + ".")
    result = {
        "benchmark": "ensemble",
        "title": f"Seed ensembles against one network ({dataset}, {args.members} members, "
                 f"device {device})",
        "machine": machine_info(device),
        "table": table,
        "notes": [
            "'single network': the members, each exactly the fit its seed gives alone; "
            "their mean accuracy, range and log loss. 'fit s (one alone)': the first "
            "member's network fitted on its own after the ensemble (identical to it: "
            "details' single_fit_identical_to_member_0); 'fit / single': the ensemble's "
            "fit wall time over that.",
            "The members train through one fit_many call: one stack, or one after the "
            "other where stacking does not pay (see docs/stacked_training.md).",
            cnn_note,
            "The published row is quoted from the literature (issue 24), not measured.",
            "Member fit seconds ranged " + "; ".join(
                f"{kind} {min(d['member_fit_seconds']):.0f}-{max(d['member_fit_seconds']):.0f}"
                for kind, d in details.items() if "member_fit_seconds" in d)
            + " (the machine's load changed during the "
            "run: compare rows of one run, and the accuracy, which the load does not touch).",
            f"Load average at the start {load_start[0]:.1f}, at the end "
            f"{os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores; whole run "
            f"{total:.0f} s.",
        ],
        **details,
    }
    _write(args, "ensemble", result)


if __name__ == "__main__":
    main()
