"""Reports of a comparison or of one model's cross-validation, as CSV, Markdown and HTML.

A :class:`Report` is a title, some tables (rows of dicts) and some PNG plots. It renders to

- CSV: one file per table, full float precision (for further analysis);
- Markdown: every table, numbers to 4 decimals, plots linked by relative path;
- HTML: one self-contained page, every table, plots embedded as base64 PNG (it can be
  mailed or opened anywhere without the PNG files).

Files are written atomically (a temporary file, then :func:`os.replace`), so an interrupted
run never leaves a half-written report in place of a good one.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ..io.files import PathLike, atomic_path, final_estimator, write_text_atomic
from .compare import (
    ComparisonResult,
    cross_validate_model,
    describe_folds,
    format_params,
    make_folds,
)
from .context import RunContext
from .plots import (
    ConfusionMatricesDisplay,
    CVParamScoresDisplay,
    FoldScoresDisplay,
    MisclassifiedDisplay,
    TrainingCurveDisplay,
)

__all__ = [
    "Report",
    "Table",
    "comparison_report",
    "cross_validation_report",
    "cv_results_rows",
    "grid_search_report",
    "save_figure",
    "write_text_atomic",
]

@dataclass
class Table:
    """A named table: a list of rows, each a dict from column name to value."""

    name: str
    title: str
    rows: list[dict[str, Any]]

    @property
    def columns(self) -> list[str]:
        """Column names, in first-seen order."""
        return list(dict.fromkeys(k for row in self.rows for k in row))


@dataclass
class Report:
    """Tables and plots that render to CSV, Markdown and self-contained HTML.

    Attributes
    ----------
    title : str
    tables : list of Table
        The first one is the main table (``to_csv()`` without arguments).
    images : dict of str to Path
        Plot title to PNG file.
    notes : list of str
        Lines printed under the title (dataset, folds, versions...).
    source : object
        What the report was built from: a :class:`ComparisonResult`, or the
        ``cross_validate`` dict.
    """

    title: str
    tables: list[Table]
    images: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: Any = None

    def table(self, name: str | int = 0) -> Table:
        """A table by name or position."""
        if isinstance(name, int):
            return self.tables[name]
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"no table {name!r}; tables: {[t.name for t in self.tables]}")

    def to_csv(self, table: str | int = 0) -> str:
        """One table as CSV text, floats at full precision."""
        t = self.table(table)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=t.columns, lineterminator="\n")
        writer.writeheader()
        for row in t.rows:
            writer.writerow({k: _csv_value(v) for k, v in row.items()})
        return buffer.getvalue()

    def to_markdown(self, image_dir: PathLike | None = None) -> str:
        """Every table as a Markdown table, plots as image links.

        Parameters
        ----------
        image_dir : path-like, optional
            Folder the Markdown file will be in; image links are made relative to it.
        """
        lines = [f"# {self.title}", ""]
        lines += [f"- {note}" for note in self.notes]
        for t in self.tables:
            lines += ["", f"## {t.title}", "", *_markdown_table(t)]
        if self.images:
            lines += ["", "## Plots", ""]
            for title, path in self.images.items():
                target = Path(path)
                if image_dir is not None:
                    target = Path(os.path.relpath(target, image_dir))
                lines += [f"### {title}", "", f"![{title}]({target.as_posix()})", ""]
        return "\n".join(lines).rstrip() + "\n"

    def to_html(self) -> str:
        """One self-contained HTML page: every table, plots embedded as base64 PNG."""
        e = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title>",
            f"<style>{_CSS}</style></head><body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        if self.notes:
            parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in self.notes) + "</ul>")
        for t in self.tables:
            parts.append(f"<h2>{e(t.title)}</h2>")
            parts.append(_html_table(t))
        if self.images:
            parts.append("<h2>Plots</h2>")
        for title, path in self.images.items():
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            parts.append(f"<figure><img alt=\"{e(title)}\" src=\"data:image/png;base64,{data}\">"
                         f"<figcaption>{e(title)}</figcaption></figure>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def write(self, out_dir: PathLike, stem: str = "report") -> dict[str, Path]:
        """Write ``{stem}.csv`` (main table), ``{stem}-{table}.csv`` (the others),
        ``{stem}.md`` and ``{stem}.html`` into ``out_dir``.

        Returns
        -------
        dict
            ``"csv"``, ``"md"``, ``"html"`` and ``"csv:{table}"`` for the other tables, to
            the paths written.
        """
        out = Path(out_dir)
        written = {"csv": write_text_atomic(out / f"{stem}.csv", self.to_csv(0))}
        for t in self.tables[1:]:
            written[f"csv:{t.name}"] = write_text_atomic(out / f"{stem}-{t.name}.csv",
                                                         self.to_csv(t.name))
        written["md"] = write_text_atomic(out / f"{stem}.md", self.to_markdown(out))
        written["html"] = write_text_atomic(out / f"{stem}.html", self.to_html())
        return written


def save_figure(figure: Any, path: PathLike) -> Path:
    """Write a matplotlib figure as PNG, atomically (see :func:`~sknn_mnist._io.atomic_path`)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return Path(path)


def _save_display(display: Any, path: PathLike) -> Path:
    return save_figure(display.figure_, path)


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}"
    # Wide tables scroll inside their own box instead of widening the page.
    ".table-wrap{max-width:100%;overflow-x:auto}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "td{overflow-wrap:anywhere;max-width:24em}"
    "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    "th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "img{max-width:100%}figure{margin:1em 0}"
)


def _csv_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping | tuple | list):
        return repr(value)
    return value


def _display(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4f}"
    if value is None:
        return ""
    return str(value)


def _markdown_table(t: Table) -> list[str]:
    cols = t.columns

    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c) for c in cols) + " |"]
    lines.append("|" + "|".join(
        "---:" if _numeric_column(t, c) else "---" for c in cols) + "|")
    for row in t.rows:
        lines.append("| " + " | ".join(esc(_display(row.get(c))) for c in cols) + " |")
    return lines


def _numeric_column(t: Table, col: str) -> bool:
    values = [row.get(col) for row in t.rows if row.get(col) is not None]
    return bool(values) and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values)


def _html_table(t: Table) -> str:
    e = html.escape
    cols = t.columns
    numeric = {c: _numeric_column(t, c) for c in cols}
    head = "".join(f"<th>{e(c)}</th>" for c in cols)
    cell = {True: '<td class="num">', False: "<td>"}
    body = "".join(
        "<tr>" + "".join(f"{cell[numeric[c]]}{e(_display(row.get(c)))}</td>" for c in cols)
        + "</tr>"
        for row in t.rows)
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def _versions_note() -> str:
    import sklearn
    import torch

    from .._version import __version__

    return (f"sknn_mnist {__version__}, scikit-learn {sklearn.__version__}, "
            f"torch {torch.__version__}")


def cv_results_rows(cv_results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per grid candidate of ``GridSearchCV.cv_results_``, best rank first."""
    rows = []
    for i, params in enumerate(cv_results["params"]):
        rows.append({
            "rank": int(cv_results["rank_test_score"][i]),
            "params": format_params(params),
            "mean_test_score": float(cv_results["mean_test_score"][i]),
            "std_test_score": float(cv_results["std_test_score"][i]),
            "mean_fit_time": float(cv_results["mean_fit_time"][i]),
            "mean_score_time": float(cv_results["mean_score_time"][i]),
        })
    return sorted(rows, key=lambda r: r["rank"])


def comparison_report(
    result: ComparisonResult,
    out_dir: PathLike | None = None,
    *,
    plots: bool = True,
    max_images: int = 25,
) -> Report:
    """Build the report of a :func:`~sknn_mnist.compare.compare` run.

    Tables: the comparison (one row per model), then each model's full grid
    (``cv_results_``). Plots (when ``plots`` and ``out_dir``): the MLP's learning curve, a
    confusion matrix per model, the best model's misclassified test images, and the mean CV
    score per grid parameter for each model.

    Parameters
    ----------
    result : ComparisonResult
    out_dir : path-like, optional
        Folder for the PNG plots (needed for plots).
    plots : bool, default=True
    max_images : int, default=25
        Images in the misclassified gallery.

    Returns
    -------
    Report
    """
    tables = [Table("comparison", "Comparison (best chosen by selection CV; test accuracy "
                    "on the held-out test set)",
                    result.summary())]
    for r in result:
        tables.append(Table(f"grid-{r.name}", f"{r.title}: grid search "
                            f"({result.cv}-fold CV on {r.n_search_samples} rows)",
                            cv_results_rows(r.cv_results)))
    notes = [
        f"dataset: {result.dataset or 'unknown'} ({result.n_train} training rows, "
        f"{len(result.y_test)} test rows)",
        f"folds (grid search and selection): {result.folds or f'{result.cv}-fold'}; "
        f"scoring {result.scoring}" + (", quick grids" if result.quick else ""),
        f"best model: {result.best.name}, chosen by selection CV {result.scoring} "
        f"{result.best.selection_cv_mean:.4f}: every model's best configuration "
        f"cross-validated on the same {result.selection_rows} training rows with the same "
        "folds; the test set is used once, for the test accuracy, never to choose",
        _versions_note(),
        f"generated {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
    ]
    images: dict[str, Path] = {}
    if plots and out_dir is not None:
        images = _comparison_images(result, Path(out_dir), max_images)
    title = f"sknn_mnist comparison on {result.dataset or 'a dataset'}"
    return Report(title, tables, images, notes, source=result)


def grid_search_report(
    search: Any,
    folds: Any,
    *,
    name: str,
    dataset: str | None = None,
    n_rows: int | None = None,
    scoring: str = "accuracy",
    out_dir: PathLike | None = None,
) -> Report:
    """Report of one fitted grid search: every candidate, best first, and (with ``out_dir``)
    the mean CV score per parameter.

    Parameters
    ----------
    search : GridSearchCV
        Fitted (``cv_results_``, ``best_params_``).
    folds : CV splitter
        The folds it used, described in the notes.
    name, dataset : str
        For the title.
    n_rows : int, optional
        Rows it ran on.
    scoring : str, default='accuracy'
    out_dir : path-like, optional
        Folder for the PNG plot.

    Returns
    -------
    Report
        Table ``grid``; ``source`` is ``cv_results_``.
    """
    rows = cv_results_rows(search.cv_results_)
    notes = [f"folds: {describe_folds(folds)}, scoring {scoring}",
             f"best: {format_params(search.best_params_)}", _versions_note()]
    images: dict[str, Path] = {}
    if out_dir is not None:
        images["Mean CV score per parameter"] = _save_display(
            CVParamScoresDisplay.from_cv_results(
                search.cv_results_, score_name=scoring,
                title=f"{name}: mean CV {scoring} per grid parameter"),
            Path(out_dir) / f"{name}-cv-params.png")
    title = f"Grid search of {name}" + (f" on {dataset}" if dataset else "")
    rows_note = f" on {n_rows} rows" if n_rows is not None else ""
    return Report(title, [Table("grid", f"Every candidate{rows_note}, best first", rows)],
                  images, notes, source=search.cv_results_)


def _comparison_images(result: ComparisonResult, out: Path,
                       max_images: int) -> dict[str, Path]:
    images: dict[str, Path] = {}
    for r in result:
        curve = r.learning_curve_estimator
        if curve is not None:
            held_out = curve.named_steps["clf"].validation_fraction
            title = (f"{r.title}: learning curve (best configuration, {held_out:.0%} of the "
                     "training rows held out)")
        elif hasattr(final_estimator(r.estimator), "loss_curve_"):
            curve, title = r.estimator, f"{r.title}: training loss of the refit model"
        else:
            continue
        images[f"{r.title}: learning curve"] = _save_display(
            TrainingCurveDisplay.from_estimator(curve, title=title),
            out / f"{r.name}-learning-curve.png")
    for r in result:
        images[f"{r.title}: confusion matrix"] = _save_display(
            ConfusionMatricesDisplay.from_predictions(
                result.y_test, r.y_pred,
                title=f"{r.title}: test-set confusion matrix (accuracy {r.test_accuracy:.4f})"),
            out / f"{r.name}-confusion-matrix.png")
    if result.image_shape is not None and len(result.image_shape) == 2:
        for r in result:
            images[f"{r.title}: misclassified test images"] = _save_display(
                MisclassifiedDisplay.from_predictions(
                    result.X_test, result.y_test, r.y_pred, image_shape=result.image_shape,
                    max_images=max_images, title=f"{r.title}: misclassified test images"),
                out / f"{r.name}-misclassified.png")
    for r in result:
        images[f"{r.title}: mean CV score per parameter"] = _save_display(
            CVParamScoresDisplay.from_cv_results(
                r.cv_results, score_name=result.scoring,
                title=f"{r.title}: mean CV {result.scoring} per grid parameter "
                f"({r.n_search_samples} rows)"),
            out / f"{r.name}-cv-params.png")
    return images


def cross_validation_report(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    cv: int | Any = 5,
    scoring: str = "accuracy",
    n_jobs: int | None = None,
    name: str | None = None,
    dataset: str | None = None,
    out_dir: PathLike | None = None,
    return_train_score: bool = True,
    random_state: int | None = 0,
    context: RunContext | None = None,
) -> Report:
    """Cross-validate any estimator or pipeline and report the per-fold scores and timings.

    Parameters
    ----------
    estimator : estimator
        Any scikit-learn estimator or pipeline (unfitted; it is cloned per fold).
    X, y : array-like
    cv : int or CV splitter, default=5
        An int means stratified, shuffled folds seeded by ``random_state``.
    scoring : str, default='accuracy'
    n_jobs : int or None
        Folds fitted in parallel (for an MLP on CUDA, keep 1).
    name, dataset : str, optional
        For the title and notes.
    out_dir : path-like, optional
        Folder for the fold-score plot (and, for an MLP, nothing else: the folds' models
        are not kept).
    return_train_score : bool, default=True
    random_state : int or None, default=0
    context : RunContext, optional
        Backend, progress (one tick per fold) and cancellation of the folds' fits; see
        :func:`~sknn_mnist.compare.cross_validate_model`.

    Returns
    -------
    Report
        Tables ``folds`` (one row per fold) and ``summary`` (mean and std of each column);
        ``source`` is the ``cross_validate`` dict.
    """
    cv_splitter: Any = make_folds(cv, random_state) if isinstance(cv, int) else cv
    scores = cross_validate_model(estimator, X, y, cv=cv_splitter, scoring=scoring,
                                  n_jobs=n_jobs, return_train_score=return_train_score,
                                  context=context)
    scoring = str(scoring)  # a progress-counting scorer prints as its scorer name
    keys = ["test_score"] + (["train_score"] if return_train_score else []) + [
        "fit_time", "score_time"]
    folds = [{"fold": i + 1, **{k: float(scores[k][i]) for k in keys}}
             for i in range(len(scores["test_score"]))]
    summary = [{"statistic": stat, **{k: float(fn(scores[k])) for k in keys}}
               for stat, fn in (("mean", np.mean), ("std", np.std))]
    label = name or type(getattr(estimator, "steps", [[None, estimator]])[-1][1]).__name__
    notes = [
        f"model: {label}",
        f"dataset: {dataset or 'unknown'} ({len(y)} rows)",
        f"folds: {describe_folds(cv_splitter)}, scoring {scoring}",
        f"mean test {scoring}: {summary[0]['test_score']:.4f} "
        f"(std {summary[1]['test_score']:.4f})",
        _versions_note(),
    ]
    images: dict[str, Path] = {}
    if out_dir is not None:
        images["Score per fold"] = _save_display(
            FoldScoresDisplay.from_cv_results(scores, score_name=scoring,
                                              title=f"{label}: {scoring} per fold"),
            Path(out_dir) / "cv-fold-scores.png")
    tables = [Table("folds", "Per-fold scores and timings (seconds)", folds),
              Table("summary", "Mean and standard deviation over the folds", summary)]
    return Report(f"Cross-validation of {label}" + (f" on {dataset}" if dataset else ""),
                  tables, images, notes, source=scores)

