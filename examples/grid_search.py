"""A Pipeline (scaling + MLP) tuned with GridSearchCV, then tested on held-out data.

``PixelScaler`` -> ``MLPDigitClassifier`` on the bundled digits, a grid of two hidden-layer
settings x two learning rates, 3-fold CV with the folds the CLI uses (stratified, shuffled,
seeded), one fit per CPU core (one at a time on a GPU). Prints every candidate's mean CV
score, the best one and the test accuracy of the refit best pipeline. Offline;
90 s on 2 CPU cores at load average 11-12
(``benchmarks/wall_times.py``, 2026-12-01)::

    python examples/grid_search.py
"""

from __future__ import annotations

import argparse

from joblib import parallel_config
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sknn_mnist import MLPDigitClassifier
from sknn_mnist.compare import describe_folds, format_table, make_folds
from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import PixelScaler, search_n_jobs


def main() -> None:
    argparse.ArgumentParser(description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    X_train, y_train = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)

    pipe = Pipeline([
        ("scale", PixelScaler()),  # pixels to [0, 1] whatever the pixel maximum
        ("clf", MLPDigitClassifier(max_iter=30, random_state=0)),
    ])
    grid = {
        "clf__hidden_layer_sizes": [(64,), (100, 50)],
        "clf__learning_rate_init": [1e-3, 1e-2],
    }
    # One fit at a time on a GPU (parallel fits would fight over it); on a CPU, one fit per
    # core with one torch thread each, so that the workers do not oversubscribe the cores.
    n_jobs, _ = search_n_jobs("mlp", -1, device="auto")
    # The folds `sknn-mnist compare`, `cv` and `grid-search` use (stratified, shuffled,
    # seeded), so the same configuration gets the same CV score here and there.
    folds = make_folds(3, random_state=0)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        search = GridSearchCV(pipe, grid, cv=folds, n_jobs=n_jobs).fit(X_train, y_train)

    rows = [{"params": str(p), "mean_cv": m, "std_cv": s}
            for p, m, s in zip(search.cv_results_["params"],
                               search.cv_results_["mean_test_score"],
                               search.cv_results_["std_test_score"], strict=True)]
    print(format_table(sorted(rows, key=lambda r: -r["mean_cv"])))
    print(f"\nbest: {search.best_params_} (CV {search.best_score_:.4f}, {describe_folds(folds)})")
    print(f"test accuracy of the refit best pipeline: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
