"""Reports render to CSV, Markdown and self-contained HTML with the result's numbers."""

from __future__ import annotations

import base64
import csv
import io

import pytest

from sknn_mnist.compare import compare
from sknn_mnist.datasets import load_dataset
from sknn_mnist.io.files import atomic_write
from sknn_mnist.models import make_model
from sknn_mnist.reports import (
    Report,
    Table,
    comparison_report,
    cross_validation_report,
    write_text_atomic,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)
    return X[:300], y[:300], X_test[:100], y_test[:100]


@pytest.fixture(scope="module")
def comparison(digits):
    grids = {"mlp": {"clf__max_iter": [2], "clf__hidden_layer_sizes": [(16,)]},
             "svm": {"clf__C": [1.0, 10.0]}, "rf": {"clf__n_estimators": [5]}}
    return compare(*digits, param_grids=grids, cv=2, device="cpu", dataset="digits")


def test_comparison_report_files_hold_the_numbers(tmp_path, comparison):
    report = comparison_report(comparison, tmp_path)
    written = report.write(tmp_path, stem="compare")
    assert {"csv", "md", "html", "csv:grid-svm"} <= set(written)
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    assert [r["model"] for r in rows] == ["mlp", "svm", "rf"]
    md = written["md"].read_text()
    html = written["html"].read_text()
    for row, r in zip(rows, comparison, strict=True):
        # CSV at full precision, Markdown and HTML at 4 decimals.
        assert float(row["test_accuracy"]) == r.test_accuracy
        assert float(row["selection_cv_accuracy"]) == r.selection_cv_mean
        assert float(row["grid_cv_accuracy"]) == r.cv_mean
        assert float(row["fit_seconds"]) == r.fit_seconds
        for text in (md, html):
            assert f"{r.test_accuracy:.4f}" in text and f"{r.cv_mean:.4f}" in text
    grid = list(csv.DictReader(io.StringIO(written["csv:grid-svm"].read_text())))
    assert len(grid) == 2
    assert max(float(g["mean_test_score"]) for g in grid) == comparison["svm"].cv_mean


def test_comparison_report_plots_are_embedded(tmp_path, comparison):
    report = comparison_report(comparison, tmp_path)
    names = {p.name for p in report.images.values()}
    assert {"mlp-learning-curve.png", "svm-confusion-matrix.png", "rf-cv-params.png"} <= names
    # Every model's errors, not only the best one's; counts and normalised confusion views.
    assert {f"{m}-misclassified.png" for m in ("mlp", "svm", "rf")} <= names
    html = report.to_html()
    assert html.count("data:image/png;base64,") == len(report.images)
    first = html.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(first).startswith(PNG_SIGNATURE)
    assert "<img" in html and "src=\"mlp-" not in html  # self-contained: no file links
    md = report.to_markdown(tmp_path)
    assert "](mlp-learning-curve.png)" in md


def test_comparison_report_without_plots(comparison):
    report = comparison_report(comparison, None)
    assert report.images == {}
    md = report.to_markdown()
    assert "Comparison" in md
    # The method is stated: one fold policy, selection by CV on equal terms, test used once.
    assert comparison.folds in md and "StratifiedKFold, shuffled" in md
    assert f"same {comparison.selection_rows} training rows" in md
    assert "never to choose" in md


def test_html_tables_scroll_inside_the_page(comparison):
    html = comparison_report(comparison, None).to_html()
    assert ".table-wrap{max-width:100%;overflow-x:auto}" in html
    assert html.count('<div class="table-wrap"><table>') == html.count("<table>") == 4


def test_cross_validation_report(tmp_path, digits):
    X, y = digits[:2]
    report = cross_validation_report(make_model("rf", n_estimators=5), X, y, cv=3,
                                     dataset="digits", out_dir=tmp_path)
    scores = report.source
    folds = report.table("folds").rows
    assert [f["fold"] for f in folds] == [1, 2, 3]
    assert [f["test_score"] for f in folds] == list(scores["test_score"])
    assert all(f["fit_time"] > 0 and "train_score" in f for f in folds)
    written = report.write(tmp_path, stem="cv")
    rows = list(csv.DictReader(io.StringIO(written["csv"].read_text())))
    assert [float(r["test_score"]) for r in rows] == list(scores["test_score"])
    mean = report.table("summary").rows[0]["test_score"]
    assert f"{mean:.4f}" in written["md"].read_text()
    assert f"{mean:.4f}" in written["html"].read_text()
    assert written["html"].read_text().count("data:image/png;base64,") == 1
    assert (tmp_path / "cv-summary.csv").exists()


def test_report_escapes_and_table_lookup():
    report = Report("A <b> title", [Table("t", "T", [{"a|b": "<x>", "n": 1.5}])])
    assert "&lt;x&gt;" in report.to_html() and "<x>" not in report.to_html()
    assert "a\\|b" in report.to_markdown()
    assert report.to_csv("t") == report.to_csv(0) == "a|b,n\n<x>,1.5\n"
    with pytest.raises(KeyError):
        report.table("nope")


def test_write_text_atomic(tmp_path):
    path = write_text_atomic(tmp_path / "d" / "f.txt", "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]
    # Interrupted mid-write: the old content stays and no temporary file is left behind.
    with pytest.raises(KeyboardInterrupt), atomic_write(path, "w") as fh:
        fh.write("half")
        raise KeyboardInterrupt
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]
