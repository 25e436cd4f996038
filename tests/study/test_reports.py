"""Reports render to CSV, Markdown and self-contained HTML with the result's numbers."""

from __future__ import annotations

import base64
import csv
import dataclasses
import io

import pytest

from sknn_mnist.compare import compare, format_params
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
    return compare(*digits, models=["mlp", "svm", "rf"], param_grids=grids, cv=2, device="cpu",
                   dataset="digits")


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


@pytest.fixture(scope="module")
def subsampled(digits):
    """A comparison whose models searched different rows (the SVC on a subsample), as on
    MNIST: the selection CV then runs on the SVC's rows for every model."""
    grids = {"mlp": {"clf__max_iter": [2], "clf__hidden_layer_sizes": [(16,)],
                     "clf__learning_rate_init": [0.01]},
             "svm": {"clf__C": [1.0, 10.0]}, "rf": {"clf__n_estimators": [5]}}
    return compare(*digits, models=list(grids), param_grids=grids, subsamples={"svm": 150},
                   cv=2, device="cpu", dataset="digits")


def _main_table_html(html: str) -> str:
    start = html.index("<table>")
    return html[start:html.index("</table>", start)]


def test_comparison_table_marks_the_best_model_in_words(comparison):
    report = comparison_report(comparison, None)
    best = comparison.best.name
    table = report.table("comparison")
    assert table.marks == {list(comparison.results).index(best): "best"}
    rows = _main_table_html(report.to_html()).split("<tr")[2:]  # the body's rows
    marked = [row for row in rows if row.startswith(' class="marked"')]
    assert len(marked) == 1
    assert marked[0].startswith(f' class="marked"><td>{best} <span class="mark">best</span>')
    assert '<span class="mark">' not in "".join(r for r in rows if r not in marked)
    assert f"| **{best}** (best) |" in report.to_markdown()
    # The CSV stays data: no mark in it.
    assert [r["model"] for r in csv.DictReader(io.StringIO(report.to_csv()))] == list(
        comparison.results)


def test_comparison_table_fills_every_device_and_breaks_params_between_them(comparison):
    report = comparison_report(comparison, None)
    devices = {row["model"]: row["device"] for row in report.table("comparison").rows}
    assert comparison["svm"].device is None  # the result keeps the model's own attribute
    assert devices == {"mlp": "cpu", "svm": "cpu", "rf": "cpu"}
    assert [r["device"] for r in csv.DictReader(io.StringIO(report.to_csv()))] == ["cpu"] * 3
    main = _main_table_html(report.to_html())
    # One key=value a line, each whole; the CSV and Markdown keep the one-line form.
    assert ('<td><span class="part">hidden_layer_sizes=(16,)</span>'
            '<span class="part">max_iter=2</span></td>') in main
    mlp_row = report.table("comparison").rows[0]
    assert mlp_row["best_params"] == format_params(comparison["mlp"].best_params)
    assert "hidden_layer_sizes=(16,), max_iter=2" in report.to_csv()
    # Column names may break after an underscore only.
    assert "<th>selection_<wbr>cv_<wbr>accuracy_<wbr>std</th>" in main
    assert "td .part{display:block;white-space:nowrap}" in report.to_html()


def test_cv_columns_are_explained_under_the_table_with_the_plan_s_numbers(subsampled):
    plan = subsampled.plan
    assert plan.selection.n == 150 and plan["mlp"].rows.n == 300  # what the notes must say
    report = comparison_report(subsampled, None)
    grid_note, selection_note, test_note = report.table("comparison").notes
    assert grid_note.startswith("grid_cv_accuracy: ")
    assert "over the 2 folds" in grid_note and "(mlp 300, svm 150, rf 300)" in grid_note
    assert "not a fair comparison" in grid_note
    assert selection_note.startswith("selection_cv_accuracy: ")
    assert f"same {plan.selection.n} training rows" in selection_note
    assert f"({subsampled.folds})" in selection_note
    assert "svm reuses its grid score" in selection_note
    assert "mlp, rf: 2 more fits each" in selection_note
    assert "this is the fair comparison" in selection_note
    assert "all 300 training rows" in test_note and f"{len(subsampled.y_test)} test rows" \
        in test_note
    # Right under the main table, in HTML and Markdown.
    html = report.to_html()
    after = html[html.index("</table></div>") + len("</table></div>"):]
    assert after.startswith('\n<ul class="table-notes"><li>grid_cv_accuracy: ')
    md = report.to_markdown()
    assert md.index("- selection_cv_accuracy: ") < md.index("## MLP")


def test_cv_columns_notes_without_a_plan(comparison):
    # A result built by hand (no plan): the rows come from the result itself.
    result = dataclasses.replace(comparison, plan=None)
    notes = comparison_report(result, None).table("comparison").notes
    assert "(300 rows for every model)" in notes[0]
    assert "mlp, svm, rf reuse their grid scores" in notes[1]


def test_plot_captions_say_how_to_read_each_plot(tmp_path, comparison):
    report = comparison_report(comparison, tmp_path)
    assert set(report.captions) == set(report.images)
    for name, caption in report.captions.items():
        # Not the title again: the PNG draws its title, the caption explains.
        assert name not in caption and caption not in name
        assert len(caption) > 80
    # Each says something of its own model (the gallery's caption only explains the order).
    specific = [c for n, c in report.captions.items() if not n.endswith("images")]
    assert len(set(specific)) == len(specific) == 7
    confusion = report.captions["SVC (RBF kernel): confusion matrix"]
    assert "below 0.005" in confusion and f"{len(comparison.y_test)} test rows" in confusion
    wrong = int((comparison["svm"].y_pred != comparison.y_test).sum())
    assert confusion.startswith(f"{wrong} of {len(comparison.y_test)} test rows misclassified")
    svm = comparison["svm"]
    assert report.captions["SVC (RBF kernel): mean CV score per parameter"].startswith(
        f"Best candidate: {format_params(svm.best_params)}, mean {svm.cv_mean:.4f}")
    scores = comparison["mlp"].learning_curve_estimator.named_steps["clf"].validation_scores_
    assert f"peaks at {max(scores):.4f}" in report.captions["MLP (PyTorch/skorch): learning curve"]
    html = report.to_html()
    assert html.count("<figcaption>") == len(report.images)
    for name in report.images:
        assert f"<figcaption>{name}</figcaption>" not in html
    # Markdown: the caption under its image.
    md = report.to_markdown(tmp_path)
    assert "](svm-confusion-matrix.png)\n\n" + confusion in md
    # A plot without a caption gets no figcaption.
    bare = Report("t", [], {"a plot": report.images[name]})
    assert "<figcaption>" not in bare.to_html()


def test_grid_search_and_cv_reports_caption_their_plots(tmp_path, digits):
    from sklearn.model_selection import GridSearchCV

    from sknn_mnist.compare import make_folds
    from sknn_mnist.reports import grid_search_report

    X, y = digits[:2]
    folds = make_folds(2)
    search = GridSearchCV(make_model("rf"), {"clf__n_estimators": [3, 5]}, cv=folds).fit(X, y)
    report = grid_search_report(search, folds, name="rf", out_dir=tmp_path)
    assert "over the 2 folds" in report.captions["Mean CV score per parameter"]
    assert report.table("grid").marks == {0: "best"}
    cv = cross_validation_report(make_model("rf", n_estimators=3), X, y, cv=2,
                                 out_dir=tmp_path)
    assert "dashed line" in cv.captions["Score per fold"]
