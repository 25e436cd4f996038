"""Cross-validate a pipeline and write a CSV/Markdown/HTML report with a plot.

One of the compared pipelines (``--model``: the MLP, the RBF SVC or the random forest, each
behind its scaler) cross-validated with 5 stratified, shuffled, seeded folds on the bundled
digits' 1,437 training rows, as ``sknn-mnist cv`` does. Prints the per-fold and the summary
tables and writes ``cv.csv``, ``cv-summary.csv``, ``cv.md`` and ``cv.html`` (the plot
embedded) into ``--out``. Offline; the MLP's: 81 s on 2 CPU cores at load average 12
(``benchmarks/wall_times.py``, 2026-12-01)::

    python examples/cv_report.py [--out DIR] [--model mlp|svm|rf]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sknn_mnist.compare import format_table
from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import make_model
from sknn_mnist.reports import cross_validation_report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("cv-report-digits"),
                        help="folder for the report (default: ./cv-report-digits)")
    parser.add_argument("--model", default="mlp", choices=["mlp", "svm", "rf"],
                        help="the pipeline to cross-validate (default: mlp)")
    args = parser.parse_args()

    X, y = load_dataset("digits", subset="train", return_X_y=True)
    params = {"learning_rate_init": 1e-2, "max_iter": 30} if args.model == "mlp" else {}
    model = make_model(args.model, **params)
    report = cross_validation_report(model, X, y, cv=5, name=args.model, dataset="digits",
                                     out_dir=args.out)
    print(format_table(report.table("folds").rows))
    print()
    print(format_table(report.table("summary").rows))
    written = report.write(args.out, stem="cv")
    print(f"\nwrote {', '.join(str(p) for p in written.values())}")


if __name__ == "__main__":
    main()
