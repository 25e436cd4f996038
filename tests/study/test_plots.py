"""Plots as Display objects: the values they hold, and their layout rendered as images."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.model_selection import GridSearchCV, cross_validate

from sknn_mnist.datasets import load_dataset
from sknn_mnist.models import make_model
from sknn_mnist.plots import (
    ConfusionMatricesDisplay,
    CVParamScoresDisplay,
    FoldScoresDisplay,
    MisclassifiedDisplay,
    TrainingCurveDisplay,
    plain_label,
)
from sknn_mnist.reports import save_figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render(display, tmp_path, name="plot.png"):
    """Save the display's figure as the reports do; return the decoded image."""
    path = save_figure(display.figure_, tmp_path / name)
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    image = mpimg.imread(path)
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    return image


def inside_figure(artist, fig) -> bool:
    """Whether a drawn artist lies wholly within the figure (not cropped at an edge)."""
    fig.canvas.draw()
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return (box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width + 0.5
            and box.y1 <= fig.bbox.height + 0.5)


def user_axes(n=1):
    fig = Figure(figsize=(4 * n, 3))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, n)
    return fig, axes


@pytest.fixture(scope="module")
def digits():
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def search(digits):
    X, y = digits
    grid = {"clf__n_estimators": np.array([5, 10]), "clf__max_features": [np.float64(0.1), 0.5],
            "clf__max_depth": [np.int64(8)]}  # numpy values, as arange/linspace give them
    return GridSearchCV(make_model("rf"), grid, cv=2).fit(X, y)


def test_plain_labels_read_as_written():
    assert plain_label(np.float64(0.001)) == "0.001"
    assert plain_label(np.int64(30)) == "30"
    assert plain_label((256, 128)) == "(256, 128)" and plain_label((16,)) == "(16,)"
    assert plain_label("sqrt") == "sqrt"


@pytest.mark.parametrize("early_stopping", [False, True])
def test_training_curve_on_the_users_axes(tmp_path, digits, early_stopping):
    X, y = digits
    model = make_model("mlp", max_iter=3, device="cpu", early_stopping=early_stopping,
                       hidden_layer_sizes=(16,)).fit(X, y)
    fig, ax = user_axes()
    display = TrainingCurveDisplay.from_estimator(model, ax=ax)
    clf = model.named_steps["clf"]
    assert display.ax_ is ax and display.figure_ is fig
    assert list(display.loss_curve) == list(clf.loss_curve_)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), clf.loss_curve_)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert ("validation accuracy" in labels) == early_stopping
    assert ("no validation score: fit with early_stopping=True" in labels) != early_stopping
    render(display, tmp_path)
    with pytest.raises(ValueError, match="loss_curve_"):
        TrainingCurveDisplay.from_estimator(make_model("svm"))


def test_confusion_matrices_counts_and_normalised(tmp_path):
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 0])
    display = ConfusionMatricesDisplay.from_predictions(y_true, y_pred, title="Model: matrix")
    assert display.confusion_matrix[2, 0] == 2
    np.testing.assert_allclose(display.normalized_.sum(axis=1), 1.0)
    assert display.normalized_[2, 2] == pytest.approx(0.6)
    counts, normalised = display.axes_
    assert {t.get_text() for t in counts.texts} >= {"2", "3"}
    texts = [t.get_text() for t in normalised.texts]
    assert "0.60" in texts and "0.00" not in texts  # zero cells blank, errors written
    # Small error rates get a visible colour next to the diagonal's large ones.
    assert normalised.images[0].norm(0.05) > 0.2
    assert inside_figure(display.figure_._suptitle, display.figure_)
    render(display, tmp_path)


def test_confusion_rates_follow_one_rule_and_each_panel_has_a_colour_bar(tmp_path):
    # Class 0: 1 error in 300 rows (0.0033, would print 0.00); class 1: 2 in 300 (0.0067).
    y_true = np.repeat([0, 1, 2], 300)
    y_pred = y_true.copy()
    y_pred[0] = 2
    y_pred[300:302] = 2
    display = ConfusionMatricesDisplay.from_predictions(y_true, y_pred)
    counts, normalised = display.axes_
    rates = display.normalized_.ravel()
    texts = [t.get_text() for t in normalised.texts]
    assert display.blank_below == 0.005
    # Exact zeros and rates below the threshold are treated alike: blank.
    for rate, text in zip(rates, texts, strict=True):
        assert text == ("" if rate < display.blank_below else f"{rate:.2f}")
    assert texts[2] == "" and rates[2] > 0  # the tiny rate of class 0
    assert texts[5] == "0.01"
    assert "0.00" not in texts and "below 0.005" in normalised.get_title()
    # The counts panel prints every cell, zeros too.
    assert [t.get_text() for t in counts.texts] == [
        str(v) for v in display.confusion_matrix.ravel()]
    # A colour bar beside each panel, the rates' with readable ticks.
    assert [bar.mappable for bar in display.colorbars_] == [counts.images[0],
                                                            normalised.images[0]]
    ticks = [t.get_text() for t in display.colorbars_[1].ax.get_yticklabels()]
    assert ticks == ["0", "0.01", "0.05", "0.2", "0.5", "1"]
    assert len(display.figure_.axes) == 4
    for bar in display.colorbars_:
        assert inside_figure(bar.ax, display.figure_)
    render(display, tmp_path)


def _data_boxes(ax, renderer):
    """The display boxes of every plotted point (markers) on ``ax`` and its twins."""
    boxes = []
    for axes in ax.get_shared_x_axes().get_siblings(ax):  # ax itself and its twin
        for line in axes.get_lines():
            xy = axes.transData.transform(line.get_xydata())
            boxes += [(x - 4, y - 4, x + 4, y + 4) for x, y in xy]
    return boxes


@pytest.mark.parametrize("validation", [True, False])
def test_training_curve_legend_does_not_cover_the_data(tmp_path, validation):
    epochs = 30
    loss = list(np.linspace(2.0, 0.1, epochs))
    scores = list(np.linspace(0.5, 0.97, epochs)) if validation else None
    display = TrainingCurveDisplay(loss, scores).plot(title="MLP: learning curve")
    fig, ax = display.figure_, display.ax_
    render(display, tmp_path)  # the final layout
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert inside_figure(ax.get_legend(), fig)
    # Below the axes and below the x-axis label: clear of every point and of the label.
    assert legend.y1 <= ax.get_window_extent(renderer).y0
    assert legend.y1 <= ax.xaxis.label.get_window_extent(renderer).y0
    for x0, y0, x1, y1 in _data_boxes(ax, renderer):
        assert not (legend.x0 < x1 and x0 < legend.x1 and legend.y0 < y1 and y0 < legend.y1)
    n_lines = 2 if validation else 1
    assert len(_data_boxes(ax, renderer)) == n_lines * epochs


def test_misclassified_gallery(tmp_path, digits):
    X, y = digits
    model = make_model("rf", n_estimators=3, max_depth=3, random_state=0).fit(X[:100], y[:100])
    display = MisclassifiedDisplay.from_estimator(model, X, y, max_images=7)
    y_pred = model.predict(X)
    wrong = np.flatnonzero(y_pred != y)
    assert display.n_wrong == len(wrong) > 7 and display.n_total == len(y)
    np.testing.assert_array_equal(display.indices, wrong[:7])
    np.testing.assert_array_equal(display.images[0], X[wrong[0]].reshape(8, 8))
    assert len(display.axes_) == 7
    assert display.axes_[0].get_title() == f"true {y[wrong[0]]}, pred {y_pred[wrong[0]]}"
    render(display, tmp_path)
    with pytest.raises(ValueError, match="not square"):
        MisclassifiedDisplay.from_predictions(np.zeros((2, 10)), [0, 1], [1, 0])


def test_cv_param_scores_ticks_titles_and_one_value_params(tmp_path, search):
    long_title = "Random forest: mean CV accuracy per grid parameter (300 rows)"
    display = CVParamScoresDisplay.from_estimator(search, score_name="accuracy",
                                                  title=long_title)
    # A grid parameter with one value gets no panel; the title names it.
    assert set(display.profiles) == {"n_estimators", "max_features"}
    assert display.fixed == {"max_depth": "8"}
    fig = display.figure_
    fig.canvas.draw()
    ticks = {ax.get_xlabel(): [t.get_text() for t in ax.get_xticklabels()]
             for ax in display.axes_}
    assert ticks == {"n_estimators": ["5", "10"], "max_features": ["0.1", "0.5"]}
    # The profile: best mean over the other parameters for each value.
    means = search.cv_results_["mean_test_score"]
    levels, best, _ = display.profiles["n_estimators"]
    assert best[0] == means[np.asarray(search.cv_results_["param_clf__n_estimators"]) == 5].max()
    title = fig._suptitle
    assert "max_depth=8" in title.get_text()
    assert inside_figure(title, fig), "the title is cropped"
    for ax in display.axes_:
        for label in ax.get_xticklabels():
            assert inside_figure(label, fig)
    render(display, tmp_path)


def test_cv_param_scores_of_a_single_candidate(tmp_path, digits):
    X, y = digits
    one = GridSearchCV(make_model("rf"), {"clf__n_estimators": [5]}, cv=2).fit(X, y)
    display = CVParamScoresDisplay.from_estimator(one)
    assert display.profiles == {} and display.fixed == {"n_estimators": "5"}
    assert display.best_mean == one.best_score_
    render(display, tmp_path)


def test_fold_scores_legend_does_not_cover_the_bars(tmp_path, digits):
    X, y = digits
    scores = cross_validate(make_model("rf", n_estimators=5), X, y, cv=4,
                            return_train_score=True)
    display = FoldScoresDisplay.from_cv_results(scores, score_name="accuracy")
    ax, fig = display.ax_, display.figure_
    np.testing.assert_array_equal(display.test_scores, scores["test_score"])
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [patch.get_window_extent(renderer) for patch in ax.patches]
    assert len(bars) == 8
    assert not any(legend.overlaps(bar) for bar in bars)
    assert inside_figure(ax.get_legend(), fig)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    render(display, tmp_path)
