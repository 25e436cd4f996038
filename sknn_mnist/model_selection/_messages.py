"""The verbose lines of an evaluation, as scikit-learn's ``_fit_and_score`` prints them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joblib import logger

if TYPE_CHECKING:
    from ._evaluate import Evaluation
    from ._plan import Task

__all__ = ["end_message", "start_message"]


def _progress(task: Task, verbose: int) -> str:
    text = ""
    if verbose > 2:
        if task.split_progress is not None:
            text = f" {task.split_progress[0] + 1}/{task.split_progress[1]}"
        if task.candidate_progress and verbose > 9:
            text += f"; {task.candidate_progress[0] + 1}/{task.candidate_progress[1]}"
    return text


def _params(task: Task) -> str:
    if task.parameters is None:
        return ""
    return ", ".join(f"{k}={task.parameters[k]}" for k in sorted(task.parameters))


def start_message(task: Task) -> str:
    """``[CV 1/3; 2/4] START alpha=0.1.....`` (printed above ``verbose=9``)."""
    start = f"[CV{_progress(task, 10)}] START {_params(task)}"
    return f"{start}{(80 - len(start)) * '.'}"


def _scores(test: Any, train: Any, with_train: bool) -> str:
    if isinstance(test, dict):
        text = ""
        for name in sorted(test):
            text += f" {name}: ("
            if with_train:
                text += f"train={train[name]:.3f}, "
            text += f"test={test[name]:.3f})"
        return text
    if with_train:
        return f", score=(train={train:.3f}, test={test:.3f})"
    return f", score={test:.3f}"


def end_message(task: Task, evaluation: Evaluation, test: Any, train: Any,
                seconds: float) -> str:
    """``[CV 1/3] END alpha=0.1;, score=0.950 total time=   1.2s`` (above ``verbose=1``)."""
    verbose = evaluation.verbose
    params = _params(task)
    result = params + (";" if params else "")
    if verbose > 2:
        result += _scores(test, train, evaluation.return_train_score)
    result += f" total time={logger.short_format_time(seconds)}"
    end = f"[CV{_progress(task, verbose)}] END "
    return end + "." * (80 - len(end) - len(result)) + result
