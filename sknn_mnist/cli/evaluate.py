"""``sknn-mnist evaluate``: a saved model's test accuracy and classification report."""

from __future__ import annotations

import argparse
import time

from .common import (
    CLIError,
    add_dataset_args,
    add_quiet,
    add_trust_pickle,
    check_dataset_name,
    check_model_path,
    user_errors,
)

HELP = "test accuracy and classification report of a model"
DESCRIPTION = ("Print a saved model's accuracy and classification report on a dataset's test "
               "set: by default the dataset the model file records (train and compare record "
               "it).")


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist evaluate``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    add_dataset_args(p, required=False, default=None, train=False,
                     default_help="default: the dataset recorded in the model file")
    add_trust_pickle(p)
    add_quiet(p)


def _dataset(args: argparse.Namespace, meta: dict) -> tuple[str, str]:
    """The dataset to test on, and where the choice came from."""
    if args.dataset is not None:
        return args.dataset, "--dataset"
    recorded = meta.get("dataset")
    if not isinstance(recorded, str) or not recorded:
        raise CLIError(f"{args.model_file} does not record the dataset it was trained on; "
                       "pass --dataset NAME")
    check_dataset_name(recorded)
    return recorded, "recorded in the model file"


def run(args: argparse.Namespace) -> int:
    """Predict the test set; print the dataset, the accuracy, the time and the report."""
    if args.dataset is not None:
        check_dataset_name(args.dataset)
    check_model_path(args.model_file)

    # numpy, scikit-learn and torch take seconds to import: `--help` and argument errors
    # stay instant.
    from sklearn.metrics import accuracy_score, classification_report

    from . import runtime

    model, meta = runtime.load_model_file(args.model_file, trust_pickle=args.trust_pickle)
    args.dataset, source = _dataset(args, meta)
    test = runtime.load_split(args, "test")
    expected = runtime.n_features(model)
    if expected is not None and expected != test.data.shape[1]:
        raise CLIError(f"the model expects {expected} features but dataset {args.dataset!r} "
                       f"has {test.data.shape[1]}; was it trained on "
                       f"{meta.get('dataset') or 'another dataset'}?")
    start = time.perf_counter()
    with user_errors():
        y_pred = model.predict(test.data)
    seconds = time.perf_counter() - start
    print(f"dataset: {args.dataset} ({source}; test set, {len(y_pred)} rows)")
    print(f"accuracy: {accuracy_score(test.target, y_pred):.4f}")
    print(f"predict seconds: {seconds:.2f} ({len(y_pred)} rows)")
    print()
    print(classification_report(test.target, y_pred, digits=4, zero_division=0))
    return 0
