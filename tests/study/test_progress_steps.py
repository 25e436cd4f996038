"""Progress of a run of several steps: each step counts its own fits; a refit is shown."""

from __future__ import annotations

import io

from sknn_mnist.study.context import RunContext
from sknn_mnist.study.progress import Progress


class _Terminal(io.StringIO):
    """A stream that says it is a terminal: Progress draws a tqdm bar on it."""

    def isatty(self) -> bool:
        return True


def _frames(text: str) -> list[str]:
    """What the bar showed, one redraw each (tqdm redraws after a carriage return)."""
    return [frame.strip() for frame in text.replace("\n", "\r").split("\r") if frame.strip()]


def test_a_log_counts_each_steps_fits_and_shows_the_refit():
    stream = io.StringIO()
    bar = Progress(8, "compare", stream=stream)
    context = RunContext(progress=bar)
    context.step("rf: grid search on 300 rows", fits=4)
    bar.update(1)
    bar.update(3)
    context.step("svm: grid search on 300 rows", fits=4)
    bar.update(4)
    context.step("rf: refit on 300 rows")
    lines = [line.rsplit(", ", 1)[0] if "in all" in line else line.split(" (")[0]
             for line in stream.getvalue().splitlines()]
    assert lines == [
        "rf: grid search on 300 rows",
        "rf: grid search on 300 rows: 1/4 fits done (1/8 fits in all",
        "rf: grid search on 300 rows: 4/4 fits done (4/8 fits in all",
        "svm: grid search on 300 rows",
        "svm: grid search on 300 rows: 4/4 fits done (8/8 fits in all",
        "rf: refit on 300 rows"]


def test_a_run_without_steps_counts_as_before():
    stream = io.StringIO()
    bar = Progress(2, "2-fold CV of rf on 300 rows", stream=stream)
    bar.update(1)
    bar.update(1)
    assert [line.split(" (")[0] for line in stream.getvalue().splitlines()] == [
        "2-fold CV of rf on 300 rows: 1/2 fits done", "2-fold CV of rf on 300 rows: 2/2 fits done"]


def test_on_a_terminal_the_bar_is_per_step_and_not_full_during_a_refit():
    stream = _Terminal()
    with Progress(8, "compare", stream=stream) as bar:
        bar.start_step("rf: grid search on 300 rows", 4)
        bar.update(4)
        bar.start_step("svm: grid search on 300 rows", 4)
        bar.update(2)
        bar._bar.refresh()
        assert "2/4" in _frames(stream.getvalue())[-1]  # the step's count, not 6/8
        bar.update(2)
        bar.start_step("svm: refit on 300 rows", None)
        during_refit = _frames(stream.getvalue())[-1]
    assert during_refit.startswith("svm: refit on 300 rows")
    assert "100%" not in during_refit and "8/8" not in during_refit.split("[")[0]


def test_a_sink_without_steps_is_told_the_text():
    class Sink:
        enabled = True

        def __init__(self):
            self.texts = []

        def update(self, n=1):
            pass

        def set_description(self, desc):
            self.texts.append(desc)

    sink = Sink()
    RunContext(progress=sink).step("mlp: refit on 10 rows")
    assert sink.texts == ["mlp: refit on 10 rows"]
    RunContext().step("nothing listens")  # no sink: nothing happens
