"""Plots of training, errors and model selection as scikit-learn style Display objects.

Each display computes its values once (``from_estimator`` / ``from_predictions`` /
``from_cv_results``), keeps them as attributes, and draws with ``plot(ax=...)`` on the
caller's axes: in a notebook, ``fig, ax = plt.subplots(); MisclassifiedDisplay...plot()``.
Without axes a display draws on its own :class:`~matplotlib.figure.Figure` with the Agg
canvas, never through ``pyplot``: no global backend switch, no open-figure leak, safe in
worker processes and without a display. Files are written by the reports
(:mod:`sknn_mnist.reports`), not here.

- :class:`TrainingCurveDisplay`: an MLP's training loss and validation accuracy per epoch.
- :class:`ConfusionMatricesDisplay`: the confusion matrix as counts and normalised per
  true class (where the off-diagonal errors show).
- :class:`MisclassifiedDisplay`: a gallery of misclassified images.
- :class:`CVParamScoresDisplay`: mean CV score against each grid parameter.
- :class:`FoldScoresDisplay`: test (and train) score per cross-validation fold.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import ScaledTranslation

from ..io.files import final_estimator, square_shape

__all__ = [
    "CVParamScoresDisplay",
    "ConfusionMatricesDisplay",
    "FoldScoresDisplay",
    "MisclassifiedDisplay",
    "RATE_BLANK_BELOW",
    "TrainingCurveDisplay",
    "new_figure",
    "plain_label",
    "wrap_title",
]

_DPI = 100

#: Normalised confusion rates below this are left blank: printed with two decimals they
#: would read ``0.00``, like an exact zero.
RATE_BLANK_BELOW = 0.005
#: Colour-bar ticks of the normalised confusion matrix (spread out by its power scale).
_RATE_TICKS = (0.0, 0.01, 0.05, 0.2, 0.5, 1.0)


def new_figure(width: float, height: float) -> Figure:
    """A standalone Agg figure (not registered with pyplot), constrained layout."""
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def wrap_title(title: str, figure: Any, fontsize: float = 12.0) -> str:
    """``title`` wrapped to lines that fit the figure's width (a title is never cropped)."""
    width_points = figure.get_figwidth() * 72
    chars = max(20, int(width_points / (0.6 * fontsize)))
    return textwrap.fill(title, width=chars)


def plain_label(value: Any) -> str:
    """A grid value as a user writes it: ``0.001``, ``30``, ``(256, 128)``, ``sqrt``.

    numpy scalars print as ``np.float64(0.001)`` in NumPy 2; ticks must not.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list):
        inner = ", ".join(plain_label(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _axes(ax: Any, width: float, height: float) -> Any:
    if ax is not None:
        return ax
    return new_figure(width, height).add_subplot()


def _set_title(ax: Any, title: str | None) -> None:
    if title:
        ax.set_title(wrap_title(title, ax.figure, fontsize=11), fontsize=11)


def _legend_below(ax: Any, handles: Sequence[Any]) -> Any:
    """A legend under the axes, below the x-axis label: it never covers the data.

    Curves span the whole width of a learning curve and two y scales share it (``twinx``),
    so no place inside the axes is reliably free. The depth of the x axis (ticks, tick
    labels, label) is measured once and the legend is anchored that far below the axes in
    points, so it stays clear of the label when the layout resizes the axes.
    """
    fig = ax.figure
    fig.draw_without_rendering()  # lays the tick labels out, on any canvas
    axis_box = ax.xaxis.get_tightbbox()
    axes_box = ax.get_window_extent()
    depth = 0.0 if axis_box is None else max(0.0, axes_box.y0 - axis_box.y0)
    below = ax.transAxes + ScaledTranslation(0, -(depth * 72 / fig.dpi + 4) / 72,
                                             fig.dpi_scale_trans)
    return ax.legend(handles, [h.get_label() for h in handles], loc="upper center",
                     bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
                     ncol=min(len(handles), 2), fontsize=9,
                     borderaxespad=0, frameon=False)


# -- learning curve -----------------------------------------------------------------------------
@dataclass
class TrainingCurveDisplay:
    """Training loss per epoch and, when recorded, validation accuracy per epoch.

    Parameters
    ----------
    loss_curve : sequence of float
        ``loss_curve_`` of a fitted MLP.
    validation_scores : sequence of float, optional
        ``validation_scores_`` (with ``early_stopping=True``).

    Attributes
    ----------
    ax_, figure_ : matplotlib Axes and Figure
        Set by :meth:`plot`.
    """

    loss_curve: Sequence[float]
    validation_scores: Sequence[float] | None = None

    @classmethod
    def from_estimator(cls, estimator: Any, *, ax: Any = None,
                       title: str | None = None) -> TrainingCurveDisplay:
        """Read the curves of a fitted MLP (or a pipeline ending in one) and plot them.

        Raises
        ------
        ValueError
            The model has no ``loss_curve_`` (not a fitted MLP).
        """
        clf = final_estimator(estimator)
        loss = getattr(clf, "loss_curve_", None)
        if loss is None:
            raise ValueError(f"{type(clf).__name__} has no loss_curve_: not a fitted MLP")
        scores = getattr(clf, "validation_scores_", None)
        return cls(list(loss), None if scores is None else list(scores)).plot(
            ax=ax, title=title)

    def plot(self, ax: Any = None, *, title: str | None = None) -> TrainingCurveDisplay:
        """Draw on ``ax`` (default: a new figure); return self."""
        ax = _axes(ax, 6.4, 4.0)
        epochs = np.arange(1, len(self.loss_curve) + 1)
        ax.plot(epochs, self.loss_curve, marker="o", color="tab:blue", label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss", color="tab:blue")
        ax.grid(alpha=0.3)
        lines = list(ax.get_lines())
        if self.validation_scores:
            twin = ax.twinx()
            lines += twin.plot(np.arange(1, len(self.validation_scores) + 1),
                               self.validation_scores, marker="s", color="tab:orange",
                               label="validation accuracy")
            twin.set_ylabel("validation accuracy", color="tab:orange")
        else:
            # Said in the legend, where it covers nothing (an empty handle).
            lines.append(Line2D([], [], linestyle="none",
                                label="no validation score: fit with early_stopping=True"))
        _set_title(ax, title or "MLP learning curve")
        _legend_below(ax, lines)
        self.ax_, self.figure_ = ax, ax.figure
        return self


# -- confusion matrices -------------------------------------------------------------------------
@dataclass
class ConfusionMatricesDisplay:
    """A confusion matrix as counts and normalised over each true class, side by side.

    Parameters
    ----------
    confusion_matrix : ndarray of shape (n_classes, n_classes)
        Counts; rows are true labels.
    display_labels : sequence
        The class labels.
    blank_below : float, default=RATE_BLANK_BELOW
        Normalised rates below it (zeros included) are not printed: with two decimals they
        would all read ``0.00``.

    Attributes
    ----------
    normalized_ : ndarray
        ``confusion_matrix`` divided by its row sums (recall per class on the diagonal).
    axes_, figure_, colorbars_
        Set by :meth:`plot`: the two panels, their figure, and the colour bar of each.
    """

    confusion_matrix: np.ndarray
    display_labels: Sequence[Any]
    blank_below: float = RATE_BLANK_BELOW

    @property
    def normalized_(self) -> np.ndarray:
        counts = np.asarray(self.confusion_matrix, dtype=float)
        totals = counts.sum(axis=1, keepdims=True)
        return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    @classmethod
    def from_predictions(cls, y_true: Sequence[Any], y_pred: Sequence[Any], *,
                         labels: Sequence[Any] | None = None, axes: Any = None,
                         title: str | None = None) -> ConfusionMatricesDisplay:
        """Count the predictions against the truth and plot both views."""
        from sklearn.metrics import confusion_matrix
        from sklearn.utils.multiclass import unique_labels

        labels = list(unique_labels(y_true, y_pred)) if labels is None else list(labels)
        cm = confusion_matrix(y_true, y_pred, labels=labels)
        return cls(cm, labels).plot(axes=axes, title=title)

    @classmethod
    def from_estimator(cls, estimator: Any, X: Any, y: Any, *,
                       labels: Sequence[Any] | None = None, axes: Any = None,
                       title: str | None = None) -> ConfusionMatricesDisplay:
        """Predict ``X`` with a fitted estimator, then :meth:`from_predictions`."""
        return cls.from_predictions(y, estimator.predict(X), labels=labels, axes=axes,
                                    title=title)

    def plot(self, axes: Sequence[Any] | None = None, *,
             title: str | None = None) -> ConfusionMatricesDisplay:
        """Draw counts on ``axes[0]`` and the normalised view on ``axes[1]``, each with a
        colour bar; return self.

        The normalised view prints every rate with two decimals except those below
        :attr:`blank_below` (exact zeros included), which stay blank: a ``0.00`` for a rate of
        0.003 next to a blank for 0 would be two looks for the same printed value.
        """
        from sklearn.metrics import ConfusionMatrixDisplay

        if axes is None:
            fig = new_figure(12.5, 5.4)
            axes = fig.subplots(1, 2)
        labels = [plain_label(v) for v in self.display_labels]
        fig = axes[0].figure
        counts = ConfusionMatrixDisplay(np.asarray(self.confusion_matrix),
                                        display_labels=labels).plot(
            ax=axes[0], colorbar=False, values_format="d")
        count_bar = fig.colorbar(counts.im_, ax=axes[0], label="rows")
        axes[0].set_title("counts", fontsize=10)
        # A power-law colour scale: an error rate of 0.03 gets a visible colour instead of
        # vanishing next to the diagonal's 0.97.
        normed = ConfusionMatrixDisplay(self.normalized_, display_labels=labels).plot(
            ax=axes[1], colorbar=False, values_format=".2f",
            im_kw={"norm": PowerNorm(gamma=0.35, vmin=0.0, vmax=1.0)})
        rate_bar = fig.colorbar(normed.im_, ax=axes[1], label="share of the true class")
        rate_bar.set_ticks(_RATE_TICKS, labels=[f"{t:g}" for t in _RATE_TICKS])
        for text, value in zip(normed.text_.ravel(), self.normalized_.ravel(), strict=True):
            if value < self.blank_below:
                text.set_text("")
        axes[1].set_title(f"normalised over each true class (blank: below {self.blank_below:g};"
                          " colour: power scale)", fontsize=10)
        if title:
            fig.suptitle(wrap_title(title, fig))
        self.axes_, self.figure_ = list(axes), fig
        self.colorbars_ = [count_bar, rate_bar]
        return self


# -- misclassified gallery ----------------------------------------------------------------------
@dataclass
class MisclassifiedDisplay:
    """A gallery of misclassified images, each titled with its true and predicted label.

    Parameters
    ----------
    images : ndarray of shape (n_shown, height, width)
    y_true, y_pred : ndarray of shape (n_shown,)
        Labels of the images shown.
    indices : ndarray of shape (n_shown,)
        Their rows in the test set.
    n_wrong, n_total : int
        Misclassified and all rows.
    """

    images: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    indices: np.ndarray
    n_wrong: int
    n_total: int

    @classmethod
    def from_predictions(cls, X: Any, y_true: Any, y_pred: Any, *,
                         image_shape: tuple[int, int] | None = None, max_images: int = 25,
                         figure: Any = None, title: str | None = None) -> MisclassifiedDisplay:
        """Pick the first ``max_images`` misclassified rows (test-set order) and plot them.

        Raises
        ------
        ValueError
            ``image_shape`` is missing and the rows are not square images.
        """
        X = np.asarray(X)
        y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
        if image_shape is None:
            image_shape = square_shape(X.shape[1])
            if image_shape is None:
                raise ValueError(
                    f"rows of {X.shape[1]} pixels are not square images; pass image_shape")
        wrong = np.flatnonzero(y_true != y_pred)
        shown = wrong[:max_images]
        images = X[shown].reshape(len(shown), *image_shape)
        return cls(images, y_true[shown], y_pred[shown], shown, len(wrong), len(y_true)).plot(
            figure=figure, title=title)

    @classmethod
    def from_estimator(cls, estimator: Any, X: Any, y: Any, **kwargs: Any
                       ) -> MisclassifiedDisplay:
        """Predict ``X`` with a fitted estimator, then :meth:`from_predictions`."""
        return cls.from_predictions(X, y, estimator.predict(X), **kwargs)

    def plot(self, figure: Any = None, *, title: str | None = None) -> MisclassifiedDisplay:
        """Draw the gallery on ``figure`` (a Figure or SubFigure; default: a new one)."""
        n = len(self.images)
        n_cols = min(5, max(1, n))
        n_rows = max(1, int(np.ceil(n / n_cols)))
        fig = figure if figure is not None else new_figure(1.7 * n_cols + 0.6,
                                                           1.8 * n_rows + 0.8)
        heading = title or "Misclassified test images"
        heading += f": {self.n_wrong} of {self.n_total}" + (
            f" (first {n} shown)" if n < self.n_wrong else "")
        fig.suptitle(wrap_title(heading, fig, fontsize=11), fontsize=11)
        axes = []
        if n == 0:
            ax = fig.add_subplot()
            ax.axis("off")
            ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
            axes.append(ax)
        for k in range(n):
            ax = fig.add_subplot(n_rows, n_cols, k + 1)
            ax.imshow(self.images[k], cmap="gray_r", interpolation="nearest")
            ax.set_title(f"true {plain_label(self.y_true[k])}, "
                         f"pred {plain_label(self.y_pred[k])}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            axes.append(ax)
        self.axes_, self.figure_ = axes, fig
        return self


# -- grid search --------------------------------------------------------------------------------
@dataclass
class CVParamScoresDisplay:
    """Mean CV score (error bars: std over the folds) against each grid parameter.

    For each value of a parameter the best mean score over the other parameters is drawn
    (the profile of the grid). Parameters with one value get no panel; they are named in
    :attr:`fixed`.

    Parameters
    ----------
    profiles : dict
        Parameter name to ``(labels, best_means, best_stds)``.
    fixed : dict
        Parameter name to its only value.
    score_name : str
    best_mean, best_std : float
        The best candidate's score (drawn when no parameter varies).
    """

    profiles: dict[str, tuple[list[str], np.ndarray, np.ndarray]]
    fixed: dict[str, str]
    score_name: str = "score"
    best_mean: float = float("nan")
    best_std: float = 0.0

    @classmethod
    def from_cv_results(cls, cv_results: Mapping[str, Any], *, score_name: str = "score",
                        axes: Any = None, title: str | None = None) -> CVParamScoresDisplay:
        """Compute the profiles from ``GridSearchCV.cv_results_`` and plot them."""
        means = np.asarray(cv_results["mean_test_score"], dtype=float)
        stds = np.asarray(cv_results["std_test_score"], dtype=float)
        profiles, fixed = {}, {}
        for key in (k for k in cv_results if k.startswith("param_")):
            name = key.removeprefix("param_").split("__")[-1]
            labels = [plain_label(v) for v in cv_results[key]]
            levels = list(dict.fromkeys(labels))
            if len(levels) == 1:
                fixed[name] = levels[0]
                continue
            best = [max((i for i, v in enumerate(labels) if v == level), key=means.__getitem__)
                    for level in levels]
            profiles[name] = (levels, means[best], stds[best])
        i = int(np.argmax(means))
        return cls(profiles, fixed, score_name, float(means[i]), float(stds[i])).plot(
            axes=axes, title=title)

    @classmethod
    def from_estimator(cls, search: Any, **kwargs: Any) -> CVParamScoresDisplay:
        """From a fitted ``GridSearchCV``."""
        return cls.from_cv_results(search.cv_results_, **kwargs)

    def plot(self, axes: Sequence[Any] | None = None, *,
             title: str | None = None) -> CVParamScoresDisplay:
        """One panel per varying parameter on ``axes`` (default: a new figure)."""
        n = max(1, len(self.profiles))
        if axes is None:
            fig = new_figure(max(5.0, 3.8 * n), 3.8)
            axes = list(np.atleast_1d(fig.subplots(1, n)))
        fig = axes[0].figure
        ylabel = f"mean CV {self.score_name}"
        if not self.profiles:
            ax = axes[0]
            ax.errorbar([0], [self.best_mean], yerr=[self.best_std], fmt="o", capsize=4)
            ax.set_xticks([0], ["the only candidate"])
            ax.set_ylabel(ylabel)
        for ax, (name, (levels, mean, std)) in zip(axes, self.profiles.items(), strict=False):
            x = np.arange(len(levels))
            ax.errorbar(x, mean, yerr=std, marker="o", capsize=4)
            ax.set_xticks(x, levels, rotation=30 if len(levels) > 3 else 0)
            ax.set_xlim(-0.5, len(levels) - 0.5)
            ax.set_xlabel(name)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        heading = title or "Mean CV score per grid parameter"
        if self.fixed:
            heading += " (fixed: " + ", ".join(f"{k}={v}" for k, v in self.fixed.items()) + ")"
        fig.suptitle(wrap_title(heading, fig, fontsize=11), fontsize=11)
        self.axes_, self.figure_ = list(axes), fig
        return self


# -- cross-validation folds ---------------------------------------------------------------------
@dataclass
class FoldScoresDisplay:
    """Bar chart of the test (and train) score of each cross-validation fold.

    Parameters
    ----------
    test_scores : ndarray
    train_scores : ndarray, optional
    score_name : str
    """

    test_scores: np.ndarray
    train_scores: np.ndarray | None = None
    score_name: str = "score"

    @classmethod
    def from_cv_results(cls, scores: Mapping[str, Any], *, score_name: str = "score",
                        ax: Any = None, title: str | None = None) -> FoldScoresDisplay:
        """From the dict :func:`sklearn.model_selection.cross_validate` returns."""
        train = scores.get("train_score")
        return cls(np.asarray(scores["test_score"], dtype=float),
                   None if train is None else np.asarray(train, dtype=float),
                   score_name).plot(ax=ax, title=title)

    def plot(self, ax: Any = None, *, title: str | None = None) -> FoldScoresDisplay:
        """Draw on ``ax`` (default: a new figure); the legend sits outside the bars."""
        test, train = self.test_scores, self.train_scores
        ax = _axes(ax, max(5.5, 0.8 * len(test) + 4.0), 3.8)
        x = np.arange(1, len(test) + 1)
        width = 0.4 if train is not None else 0.6
        ax.bar(x - (width / 2 if train is not None else 0), test, width, label="test fold")
        if train is not None:
            ax.bar(x + width / 2, train, width, label="train folds")
        ax.axhline(test.mean(), color="black", linestyle="--", linewidth=1,
                   label=f"mean test {test.mean():.4f}")
        low = float(min(test.min(), train.min() if train is not None else 1.0))
        ax.set_ylim(max(0.0, low - 0.05), 1.0 if low <= 1 else None)
        ax.set_xticks(x, [str(i) for i in x])
        ax.set_xlabel("fold")
        ax.set_ylabel(self.score_name)
        # Outside the axes, to the right: a legend inside would cover the bars' tops.
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
        _set_title(ax, title or f"{self.score_name} per fold")
        self.ax_, self.figure_ = ax, ax.figure
        return self
