"""PNG plots of training, errors and grid searches.

Every function draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas and
never touches ``pyplot``: no global backend switch, no open-figure leak, safe in worker
processes and on machines without a display.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay

__all__ = [
    "plot_confusion_matrix",
    "plot_cv_param_scores",
    "plot_fold_scores",
    "plot_learning_curve",
    "plot_misclassified",
]

PathLike = str | os.PathLike[str]
_DPI = 100


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
    return path


def _final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def plot_learning_curve(model: Any, path: PathLike, *, title: str | None = None) -> Path:
    """Plot the MLP's training loss per epoch and, with early stopping, its validation score.

    Parameters
    ----------
    model : MLPDigitClassifier or Pipeline ending in one
        A fitted model with ``loss_curve_`` (and ``validation_scores_``, possibly None).
    path : path-like
        PNG file to write.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        The model has no ``loss_curve_`` (not a fitted MLP).
    """
    clf = _final_estimator(model)
    loss = getattr(clf, "loss_curve_", None)
    if loss is None:
        raise ValueError(f"{type(clf).__name__} has no loss_curve_: not a fitted MLP")
    scores = getattr(clf, "validation_scores_", None)
    fig = _new_figure(6.4, 4.0)
    ax = fig.add_subplot()
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, marker="o", color="tab:blue", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss", color="tab:blue")
    ax.grid(alpha=0.3)
    if scores:
        twin = ax.twinx()
        twin.plot(np.arange(1, len(scores) + 1), scores, marker="s", color="tab:orange",
                  label="validation accuracy")
        twin.set_ylabel("validation accuracy", color="tab:orange")
        lines = ax.get_lines() + twin.get_lines()
        ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    else:
        ax.legend(loc="upper right")
        ax.text(0.98, 0.80, "no validation score: fit with early_stopping=True to get one",
                transform=ax.transAxes, ha="right", fontsize=8, color="gray")
    ax.set_title(title or "MLP learning curve")
    return _save(fig, path)


def plot_confusion_matrix(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    path: PathLike,
    *,
    labels: Sequence[Any] | None = None,
    title: str | None = None,
    normalize: str | None = None,
) -> Path:
    """Plot a confusion matrix with scikit-learn's :class:`ConfusionMatrixDisplay`.

    Parameters
    ----------
    y_true, y_pred : array-like
        True and predicted labels.
    path : path-like
        PNG file to write.
    labels : sequence, optional
        Label order; default: the sorted union of both.
    title : str, optional
    normalize : {'true', 'pred', 'all'}, optional
        As in :func:`sklearn.metrics.confusion_matrix`.

    Returns
    -------
    pathlib.Path
    """
    fig = _new_figure(6.0, 5.2)
    ax = fig.add_subplot()
    ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, normalize=normalize, ax=ax, colorbar=True,
        values_format=".2f" if normalize else "d",
    )
    ax.set_title(title or "Confusion matrix (test set)")
    return _save(fig, path)


def plot_misclassified(
    X: np.ndarray,  # noqa: N803
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    path: PathLike,
    *,
    image_shape: tuple[int, int] | None = None,
    max_images: int = 25,
    title: str | None = None,
) -> Path:
    """Draw a gallery of misclassified images, each titled with its true and predicted label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Test images, one row each.
    y_true, y_pred : array-like of shape (n_samples,)
    path : path-like
        PNG file to write.
    image_shape : tuple of int, optional
        Shape of one image; default: square (8x8 for digits, 28x28 for MNIST).
    max_images : int, default=25
        Most images drawn (the first ones in test-set order).
    title : str, optional

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        ``image_shape`` is missing and the rows are not square images.
    """
    X = np.asarray(X)  # noqa: N806
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if image_shape is None:
        side = int(round(X.shape[1] ** 0.5))
        if side * side != X.shape[1]:
            raise ValueError(
                f"rows of {X.shape[1]} pixels are not square images; pass image_shape"
            )
        image_shape = (side, side)
    wrong = np.flatnonzero(y_true != y_pred)
    shown = wrong[:max_images]
    n_cols = min(5, max(1, len(shown)))
    n_rows = max(1, int(np.ceil(len(shown) / n_cols)))
    fig = _new_figure(1.6 * n_cols + 0.4, 1.8 * n_rows + 0.6)
    fig.suptitle(title or f"Misclassified test images: {len(wrong)} of {len(y_true)}"
                 + (f" (first {len(shown)})" if len(shown) < len(wrong) else ""))
    if len(shown) == 0:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    for k, i in enumerate(shown):
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        ax.imshow(X[i].reshape(image_shape), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"true {y_true[i]}, pred {y_pred[i]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    return _save(fig, path)


def plot_cv_param_scores(
    cv_results: Mapping[str, Any],
    path: PathLike,
    *,
    title: str | None = None,
    score_name: str = "score",
) -> Path:
    """Plot the mean CV score (with its std as error bars) against each grid parameter.

    One panel per parameter of the grid. For each value of that parameter the best mean
    score over the other parameters is drawn (the profile of the grid), so a grid of any
    size reads as one line per parameter.

    Parameters
    ----------
    cv_results : dict
        ``GridSearchCV.cv_results_``.
    path : path-like
        PNG file to write.
    title : str, optional
    score_name : str, default='score'
        Y-axis label.

    Returns
    -------
    pathlib.Path
    """
    means = np.asarray(cv_results["mean_test_score"], dtype=float)
    stds = np.asarray(cv_results["std_test_score"], dtype=float)
    params = [key for key in cv_results if key.startswith("param_")]
    fig = _new_figure(max(4.0, 3.6 * max(1, len(params))), 3.6)
    fig.suptitle(title or "Mean CV score per grid parameter")
    if not params:
        ax = fig.add_subplot()
        ax.errorbar([0], means[:1], yerr=stds[:1], fmt="o", capsize=4)
        ax.set_xticks([0], ["single candidate"])
        ax.set_ylabel(f"mean CV {score_name}")
    for k, key in enumerate(params):
        ax = fig.add_subplot(1, len(params), k + 1)
        values = [repr(v) if not isinstance(v, str) else v for v in cv_results[key]]
        levels = list(dict.fromkeys(values))
        best_mean, best_std = [], []
        for level in levels:
            rows = [i for i, v in enumerate(values) if v == level]
            j = rows[int(np.argmax(means[rows]))]
            best_mean.append(means[j])
            best_std.append(stds[j])
        x = np.arange(len(levels))
        ax.errorbar(x, best_mean, yerr=best_std, marker="o", capsize=4)
        ax.set_xticks(x, levels, rotation=30 if len(levels) > 3 else 0)
        ax.set_xlabel(key.removeprefix("param_").split("__")[-1])
        ax.set_ylabel(f"mean CV {score_name}")
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_fold_scores(
    scores: Mapping[str, Any],
    path: PathLike,
    *,
    title: str | None = None,
    score_name: str = "score",
) -> Path:
    """Bar chart of the test (and train) score of each cross-validation fold.

    Parameters
    ----------
    scores : dict
        What :func:`sklearn.model_selection.cross_validate` returns.
    path : path-like
        PNG file to write.
    title : str, optional
    score_name : str, default='score'

    Returns
    -------
    pathlib.Path
    """
    test = np.asarray(scores["test_score"], dtype=float)
    train = scores.get("train_score")
    x = np.arange(1, len(test) + 1)
    fig = _new_figure(max(4.0, 0.8 * len(test) + 2.5), 3.6)
    ax = fig.add_subplot()
    width = 0.4 if train is not None else 0.6
    ax.bar(x - (width / 2 if train is not None else 0), test, width, label="test fold")
    if train is not None:
        ax.bar(x + width / 2, np.asarray(train, dtype=float), width, label="train folds")
    ax.axhline(test.mean(), color="black", linestyle="--", linewidth=1,
               label=f"mean test {test.mean():.4f}")
    low = float(min(test.min(), np.min(train) if train is not None else 1.0))
    ax.set_ylim(max(0.0, low - 0.05), 1.0 if low <= 1 else None)
    ax.set_xticks(x)
    ax.set_xlabel("fold")
    ax.set_ylabel(score_name)
    ax.legend(loc="lower right")
    ax.set_title(title or f"{score_name} per fold")
    return _save(fig, path)
