"""``sknn-mnist evaluate``: a saved model's test accuracy and classification report."""

from __future__ import annotations

import argparse
import time

from .common import CLIError, add_dataset_args, add_quiet, add_trust_pickle, user_errors

HELP = "test accuracy and classification report of a model"
DESCRIPTION = "Print a saved model's accuracy and classification report on a dataset's test set."


def setup(p: argparse.ArgumentParser) -> None:
    """The arguments of ``sknn-mnist evaluate``."""
    p.add_argument("model_file", metavar="MODEL_FILE", help="a file saved by train/compare")
    add_dataset_args(p, train=False)
    add_trust_pickle(p)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    """Predict the test set; print the accuracy, the time and the report."""
    # numpy, scikit-learn and torch take seconds to import: `--help` and argument errors
    # stay instant.
    from sklearn.metrics import accuracy_score, classification_report

    from . import runtime

    runtime.check_dataset(args.dataset)
    model, meta = runtime.load_model_file(args.model_file, trust_pickle=args.trust_pickle)
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
    print(f"accuracy: {accuracy_score(test.target, y_pred):.4f}")
    print(f"predict seconds: {seconds:.2f} ({len(y_pred)} rows)")
    print()
    print(classification_report(test.target, y_pred, digits=4, zero_division=0))
    return 0
