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
from collections.abc import Mapping, Sequence
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
    RATE_BLANK_BELOW,
    ConfusionMatricesDisplay,
    CVParamScoresDisplay,
    FoldScoresDisplay,
    MisclassifiedDisplay,
    TrainingCurveDisplay,
    plain_label,
)

__all__ = [
    "CellLines",
    "Report",
    "Table",
    "comparison_report",
    "cross_validation_report",
    "cv_results_rows",
    "grid_search_report",
    "params_cell",
    "save_figure",
    "write_text_atomic",
]


class CellLines(str):
    """A cell value made of parts: one part per line in HTML, ``", "``-joined elsewhere.

    It is the joined string (CSV and Markdown write it as before); the HTML table breaks
    it only between parts, never inside one (``learning_rate_init=0.01`` stays whole).
    """

    parts: tuple[str, ...]

    def __new__(cls, parts: Sequence[str]) -> CellLines:
        cell = super().__new__(cls, ", ".join(parts))
        cell.parts = tuple(parts)
        return cell


def params_cell(params: Mapping[str, Any]) -> CellLines:
    """Grid parameters as a table cell: :func:`format_params` text, one ``key=value`` a
    line in HTML."""
    return CellLines([format_params({k: v}) for k, v in params.items()])


@dataclass
class Table:
    """A named table: a list of rows, each a dict from column name to value.

    Attributes
    ----------
    name, title : str
    rows : list of dict
    marks : dict of int to str
        Row index to a word that marks it (``{1: "best"}``): the row is highlighted and the
        word written in its first cell, in HTML and Markdown (not in CSV, which stays data).
    notes : list of str
        What the reader needs to read the table, printed right under it.
    """

    name: str
    title: str
    rows: list[dict[str, Any]]
    marks: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

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
        Plot name to PNG file (the plot's own title is drawn in the PNG).
    notes : list of str
        Lines printed under the title (dataset, folds, versions...).
    source : object
        What the report was built from: a :class:`ComparisonResult`, or the
        ``cross_validate`` dict.
    captions : dict of str to str
        Plot name to its caption: how to read the plot, what its title does not say. A plot
        without one gets no caption.
    """

    title: str
    tables: list[Table]
    images: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: Any = None
    captions: dict[str, str] = field(default_factory=dict)

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
            if t.notes:
                lines += ["", *(f"- {note}" for note in t.notes)]
        if self.images:
            lines += ["", "## Plots", ""]
            for title, path in self.images.items():
                target = Path(path)
                if image_dir is not None:
                    target = Path(os.path.relpath(target, image_dir))
                lines += [f"### {title}", "", f"![{title}]({target.as_posix()})", ""]
                if title in self.captions:
                    lines += [self.captions[title], ""]
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
            if t.notes:
                parts.append('<ul class="table-notes">'
                             + "".join(f"<li>{e(n)}</li>" for n in t.notes) + "</ul>")
        if self.images:
            parts.append("<h2>Plots</h2>")
        for title, path in self.images.items():
            data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
            # The PNG draws its own title; the caption says how to read it, or is left out.
            caption = (f"<figcaption>{e(self.captions[title])}</figcaption>"
                       if title in self.captions else "")
            parts.append(f"<figure><img alt=\"{e(title)}\" src=\"data:image/png;base64,{data}\">"
                         f"{caption}</figure>")
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
    # A table wider than the page scrolls inside its own box instead of widening the page;
    # the tables are laid out so that this is a last resort (the comparison fits 1280 px).
    ".table-wrap{max-width:100%;overflow-x:auto}"
    "table{border-collapse:collapse;margin:1em 0;font-size:.9em}"
    "td{max-width:24em}"
    "th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}"
    # Column names break only after an underscore (<wbr>), numbers never.
    "th{background:#f3f3f3;font-size:.9em}td.num{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}"
    # A multi-part cell: one part per line, never broken inside a part.
    "td .part{display:block;white-space:nowrap}"
    # A marked row (the best model): a border and a background, and the word in the cell.
    "tr.marked td{background:#eef6ee;font-weight:600}tr.marked td:first-child"
    "{box-shadow:inset 4px 0 0 #2a7a2a}"
    ".mark{display:inline-block;margin-left:.4em;padding:0 .35em;border-radius:.6em;"
    "background:#2a7a2a;color:#fff;font-size:.8em;font-weight:600}"
    ".table-notes{max-width:60em;font-size:.9em;margin-top:0}.table-notes li{margin:.3em 0}"
    "img{max-width:100%}figure{margin:1.5em 0}"
    "figcaption{max-width:60em;font-size:.9em;color:#333}"
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
    for i, row in enumerate(t.rows):
        cells = [esc(_display(row.get(c))) for c in cols]
        if i in t.marks and cells:
            cells[0] = f"**{cells[0]}** ({esc(t.marks[i])})"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _numeric_column(t: Table, col: str) -> bool:
    values = [row.get(col) for row in t.rows if row.get(col) is not None]
    return bool(values) and all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values)


def _html_table(t: Table) -> str:
    e = html.escape
    cols = t.columns
    numeric = {c: _numeric_column(t, c) for c in cols}
    head = "".join(f"<th>{_breakable(c)}</th>" for c in cols)
    rows = []
    for i, row in enumerate(t.rows):
        cells = [_html_cell(row.get(c), numeric[c]) for c in cols]
        attrs = ""
        if i in t.marks and cells:
            attrs = ' class="marked"'
            cells[0] = cells[0].replace(
                "</td>", f' <span class="mark">{e(t.marks[i])}</span></td>', 1)
        rows.append(f"<tr{attrs}>" + "".join(cells) + "</tr>")
    return (f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _breakable(name: str) -> str:
    """A column name that may break after each underscore (and nowhere else)."""
    return "_<wbr>".join(html.escape(part) for part in name.split("_"))


def _html_cell(value: Any, numeric: bool) -> str:
    if isinstance(value, CellLines):
        inner = "".join(f'<span class="part">{html.escape(part)}</span>'
                        for part in value.parts)
        return f"<td>{inner}</td>"
    cls = ' class="num"' if numeric else ""
    return f"<td{cls}>{html.escape(_display(value))}</td>"


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
            "params": params_cell(params),
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
    names = list(result.results)
    tables = [Table("comparison", "Comparison (best chosen by selection CV; test accuracy "
                    "on the held-out test set)",
                    _comparison_rows(result),
                    marks={names.index(result.best.name): "best"},
                    notes=_cv_columns_notes(result))]
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
    captions: dict[str, str] = {}
    if plots and out_dir is not None:
        images, captions = _comparison_images(result, Path(out_dir), max_images)
    title = f"sknn_mnist comparison on {result.dataset or 'a dataset'}"
    return Report(title, tables, images, notes, source=result, captions=captions)


def _comparison_rows(result: ComparisonResult) -> list[dict[str, Any]]:
    """The comparison table: best parameters one per line, and every model's device (the
    models without a torch device, the SVC and the forest, run on the CPU)."""
    rows = []
    for r, row in zip(result, result.summary(), strict=True):
        row["best_params"] = params_cell(r.best_params)
        row["device"] = row.get("device") or "cpu"
        rows.append(row)
    return rows


def _rows_and_folds(result: ComparisonResult) -> tuple[dict[str, int], dict[str, bool], int]:
    """Each model's grid-search rows, whether its selection reused its grid scores, and the
    selection rows: from the run's plan, or (a result built by hand) from the result."""
    plan = result.plan
    if plan is not None:
        return ({m.name: m.rows.n for m in plan.models},
                {m.name: m.reuses_grid_scores for m in plan.models}, plan.selection.n)
    grid = {r.name: r.n_search_samples for r in result}
    reused = {name: rows == result.selection_rows for name, rows in grid.items()}
    return grid, reused, result.selection_rows


def _cv_columns_notes(result: ComparisonResult) -> list[str]:
    """How to read the two CV columns, with this run's rows and folds (see
    :mod:`~sknn_mnist.study.compare`, the method)."""
    s, cv = result.scoring, result.cv
    grid, reused, selection = _rows_and_folds(result)
    sizes = set(grid.values())
    grid_rows = (f"{sizes.pop()} rows for every model" if len(sizes) == 1 else
                 ", ".join(f"{name} {rows}" for name, rows in grid.items()))
    reusing = [n for n in grid if reused[n]]
    refitted = [n for n in grid if not reused[n]]
    how = ""
    if len(reusing) == 1:
        how += (f" {reusing[0]} reuses its grid score: its grid search ran on exactly these "
                "rows and folds.")
    elif reusing:
        how += (f" {', '.join(reusing)} reuse their grid scores: their grid searches ran on "
                "exactly these rows and folds.")
    if refitted:
        how += f" {', '.join(refitted)}: {cv} more fits each."
    folds = result.folds or f"{cv}-fold"
    return [
        f"grid_cv_{s}: the best candidate's mean {s} over the {cv} folds of each model's own "
        f"grid search, on its grid_rows ({grid_rows}). It ranks one model's candidates. "
        "Across models it is not a fair comparison: a model searched on more rows scores "
        "higher for that reason alone, and it is the best of several candidates on the "
        "same folds, so it is optimistic.",
        f"selection_cv_{s}: each model's best configuration cross-validated again on the "
        f"same {selection} training rows (the smallest grid search's rows, a stratified "
        f"subsample) with the same folds ({folds}).{how} Every model gets the same rows "
        "and the same folds: this is the fair comparison, and the best model is the one "
        f"with the highest selection_cv_{s}.",
        f"test_accuracy: each model refit on all {result.n_train} training rows and scored "
        f"once on the {len(result.y_test)} test rows; reported, never used to choose.",
    ]


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
    captions: dict[str, str] = {}
    if out_dir is not None:
        plot = "Mean CV score per parameter"
        images[plot] = _save_display(
            CVParamScoresDisplay.from_cv_results(
                search.cv_results_, score_name=scoring,
                title=f"{name}: mean CV {scoring} per grid parameter"),
            Path(out_dir) / f"{name}-cv-params.png")
        captions[plot] = _CV_PARAMS_CAPTION.format(folds=_n_folds(folds))
    title = f"Grid search of {name}" + (f" on {dataset}" if dataset else "")
    rows_note = f" on {n_rows} rows" if n_rows is not None else ""
    return Report(title, [Table("grid", f"Every candidate{rows_note}, best first", rows,
                                marks={0: "best"} if rows else {})],
                  images, notes, source=search.cv_results_, captions=captions)


def _comparison_images(result: ComparisonResult, out: Path,
                       max_images: int) -> tuple[dict[str, Path], dict[str, str]]:
    """The comparison's plots (name to PNG) and their captions (name to text)."""
    images: dict[str, Path] = {}
    captions: dict[str, str] = {}
    for r in result:
        curve = r.learning_curve_estimator
        if curve is not None:
            held_out = curve.named_steps["clf"].validation_fraction
            title = (f"{r.title}: learning curve (best configuration, {held_out:.0%} of the "
                     "training rows held out)")
            caption = _LEARNING_CURVE_CAPTION
        elif hasattr(final_estimator(r.estimator), "loss_curve_"):
            curve, title = r.estimator, f"{r.title}: training loss of the refit model"
            caption = _LOSS_CURVE_CAPTION
        else:
            continue
        name = f"{r.title}: learning curve"
        display = TrainingCurveDisplay.from_estimator(curve, title=title)
        images[name] = _save_display(display, out / f"{r.name}-learning-curve.png")
        captions[name] = (_curve_summary(display) + " "
                          + caption.format(n_train=result.n_train))
    for r in result:
        name = f"{r.title}: confusion matrix"
        display = ConfusionMatricesDisplay.from_predictions(
            result.y_test, r.y_pred,
            title=f"{r.title}: test-set confusion matrix (accuracy {r.test_accuracy:.4f})")
        images[name] = _save_display(display, out / f"{r.name}-confusion-matrix.png")
        captions[name] = (_confusion_summary(display) + " " + _CONFUSION_CAPTION.format(
            n_test=len(result.y_test), blank=RATE_BLANK_BELOW))
    if result.image_shape is not None and len(result.image_shape) == 2:
        for r in result:
            name = f"{r.title}: misclassified test images"
            images[name] = _save_display(
                MisclassifiedDisplay.from_predictions(
                    result.X_test, result.y_test, r.y_pred, image_shape=result.image_shape,
                    max_images=max_images, title=f"{r.title}: misclassified test images"),
                out / f"{r.name}-misclassified.png")
            captions[name] = _MISCLASSIFIED_CAPTION.format(max_images=max_images)
    for r in result:
        name = f"{r.title}: mean CV score per parameter"
        images[name] = _save_display(
            CVParamScoresDisplay.from_cv_results(
                r.cv_results, score_name=result.scoring,
                title=f"{r.title}: mean CV {result.scoring} per grid parameter "
                f"({r.n_search_samples} rows)"),
            out / f"{r.name}-cv-params.png")
        captions[name] = (f"Best candidate: {format_params(r.best_params) or 'the only one'}, "
                          f"mean {r.cv_mean:.4f} (std {r.cv_std:.4f}). "
                          + _CV_PARAMS_CAPTION.format(folds=f"the {result.cv} folds"))
    return images, captions


def _curve_summary(display: TrainingCurveDisplay) -> str:
    """What this curve shows, in numbers: where validation peaks, or how far loss fell."""
    loss, scores = list(display.loss_curve), list(display.validation_scores or [])
    if scores:
        peak = int(np.argmax(scores))
        return (f"Validation accuracy peaks at {scores[peak]:.4f} at epoch {peak + 1} of "
                f"{len(scores)} (last epoch: {scores[-1]:.4f}).")
    return (f"Training loss {loss[0]:.4f} at epoch 1, {loss[-1]:.4f} at epoch "
            f"{len(loss)}.")


def _confusion_summary(display: ConfusionMatricesDisplay) -> str:
    """The errors in one sentence: how many, and the most frequent confusion."""
    counts = np.asarray(display.confusion_matrix)
    errors = counts.copy()
    np.fill_diagonal(errors, 0)
    if not errors.any():
        return "No test row is misclassified."
    true, pred = np.unravel_index(int(np.argmax(errors)), errors.shape)
    labels = [plain_label(v) for v in display.display_labels]
    return (f"{int(errors.sum())} of {int(counts.sum())} test rows misclassified; the most "
            f"frequent error: true {labels[true]} predicted as {labels[pred]} "
            f"({int(errors[true, pred])} rows).")


def _n_folds(folds: Any) -> str:
    """``"the 3 folds"`` for a splitter that knows its folds, else ``"the folds"``."""
    try:
        return f"the {int(folds.get_n_splits())} folds"
    except (AttributeError, TypeError, ValueError):
        return "the folds"


# Captions say how to read a plot: what its title (drawn in the PNG) does not say.
_LEARNING_CURVE_CAPTION = (
    "Left axis: the training loss per epoch; right axis: the accuracy on the held-out rows, "
    "scored after every epoch. This is one extra fit of the best configuration; the model "
    "in the table is refit on all {n_train} training rows and is not affected. A validation "
    "accuracy that stalls or falls while the loss keeps falling means over-fitting; both "
    "still improving at the last epoch means more epochs would help.")
_LOSS_CURVE_CAPTION = (
    "The refit model's training loss per epoch on all {n_train} training rows. It has no "
    "validation score (the learning-curve fit was skipped), so it shows convergence, not "
    "over-fitting.")
_CONFUSION_CAPTION = (
    "Rows: the true class, columns: the predicted class, over the {n_test} test rows. "
    "Left: counts. Right: each row divided by its class's rows, so the diagonal is each "
    "class's recall and an off-diagonal cell is the share of the class mistaken for that "
    "column. Rates below {blank:g} are left blank, exact zeros included; the colour scale "
    "is a power law, so that error rates of a few percent still show.")
_MISCLASSIFIED_CAPTION = (
    "Up to the first {max_images} misclassified test rows, in test-set order (not the worst "
    "ones), each headed with its true label and the model's prediction.")
_CV_PARAMS_CAPTION = (
    "Each point: for that value of the parameter, the best mean CV score over the other "
    "parameters' values (the grid's profile); error bars: the standard deviation over "
    "{folds}. A flat profile means the parameter hardly matters on this grid.")
_FOLD_SCORES_CAPTION = (
    "Bars: the score on each held-out fold and, when recorded, on the folds it was trained "
    "on; dashed line: the mean test score. Train scores well above the test scores mean "
    "over-fitting; a fold far from the others means the score varies with the rows.")


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
    captions: dict[str, str] = {}
    if out_dir is not None:
        images["Score per fold"] = _save_display(
            FoldScoresDisplay.from_cv_results(scores, score_name=scoring,
                                              title=f"{label}: {scoring} per fold"),
            Path(out_dir) / "cv-fold-scores.png")
        captions["Score per fold"] = _FOLD_SCORES_CAPTION
    tables = [Table("folds", "Per-fold scores and timings (seconds)", folds),
              Table("summary", "Mean and standard deviation over the folds", summary)]
    return Report(f"Cross-validation of {label}" + (f" on {dataset}" if dataset else ""),
                  tables, images, notes, source=scores, captions=captions)

