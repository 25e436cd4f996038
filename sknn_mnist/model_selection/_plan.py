"""Which (candidate, split) evaluations train through :func:`~sknn_mnist.core.many.fit_many`.

An evaluation is one of ours when its estimator, with the candidate's parameters set, is a
:class:`~sknn_mnist.core.estimator.TorchEstimatorBase`, bare or as the last step of a
:class:`~sklearn.pipeline.Pipeline`, and its fit parameters are ones :class:`FitJob` carries
(``sample_weight`` for the network, anything for the earlier steps). Everything else
(another estimator, a pipeline with ``memory`` or ``transform_input``, metadata routing of
a pipeline's fit parameters, an unknown fit parameter) goes through scikit-learn's own
``_fit_and_score``: scikit-learn then raises or scores exactly as it would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ..core.estimator import TorchEstimatorBase
from ._sklearn_compat import _routing_enabled

__all__ = ["Task", "TorchParts", "make_estimator", "torch_parts"]


@dataclass
class Task:
    """One evaluation: a candidate's parameters on one split.

    Attributes
    ----------
    parameters : dict or None
        The candidate (None: the estimator as given, as in ``cross_validate``).
    train, test : ndarray of int
        The split's rows.
    split : int
        The split's index: evaluations of one split share its training rows.
    n_splits, candidate, n_candidates : int or None
        For the verbose messages (``split_progress``, ``candidate_progress``).
    callback_ctx : object or None
        scikit-learn's callback context of this evaluation (scikit-learn >= 1.9).
    """

    parameters: Mapping[str, Any] | None
    train: np.ndarray
    test: np.ndarray
    split: int
    n_splits: int | None = None
    candidate: int | None = None
    n_candidates: int | None = None
    callback_ctx: Any = None

    @property
    def split_progress(self) -> tuple[int, int] | None:
        return None if self.n_splits is None else (self.split, self.n_splits)

    @property
    def candidate_progress(self) -> tuple[int, int] | None:
        return None if self.n_candidates is None else (self.candidate, self.n_candidates)


@dataclass
class TorchParts:
    """An estimator of ours split into what runs before the network and the network.

    Attributes
    ----------
    estimator : estimator
        The evaluation's estimator (the network, or the pipeline that ends with it).
    network : TorchEstimatorBase
        The network to fit through ``fit_many``.
    prefix : Pipeline or None
        The pipeline's earlier steps (the same objects as the pipeline's), or None.
    prefix_params : dict
        Fit parameters of the earlier steps (``step__param`` keys).
    uses_sample_weight : bool
        Whether the fit parameters carry the network's ``sample_weight`` (under
        ``sample_weight`` for a bare network, ``<last step>__sample_weight`` in a pipeline).
    """

    estimator: Any
    network: TorchEstimatorBase
    prefix: Pipeline | None = None
    prefix_params: dict[str, Any] = field(default_factory=dict)
    uses_sample_weight: bool = False

    @property
    def weight_key(self) -> str:
        """The fit parameter that holds the network's ``sample_weight``."""
        if self.prefix is None:
            return "sample_weight"
        return f"{self.estimator.steps[-1][0]}__sample_weight"

    def assemble(self, prefix: Pipeline | None, network: TorchEstimatorBase) -> Any:
        """The evaluation's estimator, fitted: the fitted earlier steps and network."""
        if self.prefix is None:
            return network
        steps = list(prefix.steps) if prefix is not None else self.estimator.steps[:-1]
        self.estimator.steps = [*steps, (self.estimator.steps[-1][0], network)]
        return self.estimator


def make_estimator(base: Any, parameters: Mapping[str, Any] | None) -> Any:
    """A clone of ``base`` with the candidate's parameters, as ``_fit_and_score`` sets them
    (the parameters cloned too: they may be estimators)."""
    estimator = clone(base)
    if parameters is not None:
        estimator.set_params(**clone(dict(parameters), safe=False))
    return estimator


def torch_parts(estimator: Any, fit_params: Mapping[str, Any]) -> TorchParts | None:
    """How ``estimator`` trains through ``fit_many``; None when scikit-learn's path fits it."""
    if isinstance(estimator, TorchEstimatorBase):
        if set(fit_params) - {"sample_weight"}:
            return None
        return TorchParts(estimator, estimator, uses_sample_weight="sample_weight" in fit_params)
    if not _plain_pipeline(estimator):
        return None
    if fit_params and _routing_enabled():
        return None  # routed by requests, not by step name: the pipeline's own fit knows
    names = [name for name, _ in estimator.steps]
    last = names[-1]
    prefix_params, uses_weight = {}, False
    for key in fit_params:
        step, _, param = key.partition("__")
        if step == last and param == "sample_weight":
            uses_weight = True
        elif step in names[:-1] and param:
            prefix_params[key] = fit_params[key]
        else:
            return None
    prefix = Pipeline(estimator.steps[:-1], verbose=estimator.verbose)
    return TorchParts(estimator, estimator.steps[-1][1], prefix, prefix_params, uses_weight)


def _plain_pipeline(estimator: Any) -> bool:
    """A pipeline of two or more steps whose last is a network of ours, without caching
    or transformed inputs (their semantics stay scikit-learn's own)."""
    return (isinstance(estimator, Pipeline) and len(estimator.steps) > 1
            and isinstance(estimator.steps[-1][1], TorchEstimatorBase)
            and estimator.memory is None
            and getattr(estimator, "transform_input", None) is None)
