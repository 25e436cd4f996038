"""Every private scikit-learn name that :mod:`sknn_mnist.model_selection` uses, in one place.

The searches and ``cross_validate`` reuse scikit-learn's own helpers for everything except
fitting (scoring, error scores, the warnings about failed fits, the ``cv_results_`` table,
the choice of the best candidate), so that their results are scikit-learn's. Those helpers
are private: this module is the one place that imports them, so that a scikit-learn release
that moves one breaks here, at import, with a clear message.

Tested range: scikit-learn 1.9 (1.9.1). :data:`TESTED_RANGE` states it; other versions
get a warning at import, not an error (the helpers may well still be there).
"""

from __future__ import annotations

import warnings

import sklearn

try:
    from sklearn.base import _fit_context
    from sklearn.metrics._scorer import _MultimetricScorer
    from sklearn.model_selection._validation import (
        _aggregate_score_dicts,
        _check_groups_routing_disabled,
        _fit_and_score,
        _insert_error_scores,
        _normalize_score_results,
        _score,
        _warn_or_raise_about_fit_failures,
    )
    from sklearn.utils._param_validation import HasMethods, StrOptions, validate_params
    from sklearn.utils.metadata_routing import _manual_routing, _routing_enabled
    from sklearn.utils.metaestimators import _safe_split
    from sklearn.utils.validation import _check_method_params, _num_samples
except ImportError as exc:  # pragma: no cover - depends on the installed scikit-learn
    raise ImportError(
        "sknn_mnist.model_selection needs scikit-learn's private helpers (tested with "
        f"scikit-learn 1.9); scikit-learn {sklearn.__version__} lacks one: {exc}"
    ) from exc

__all__ = [
    "TESTED_RANGE",
    "HasMethods",
    "StrOptions",
    "_MultimetricScorer",
    "_aggregate_score_dicts",
    "_check_groups_routing_disabled",
    "_check_method_params",
    "_fit_and_score",
    "_fit_context",
    "_insert_error_scores",
    "_manual_routing",
    "_normalize_score_results",
    "_num_samples",
    "_routing_enabled",
    "_safe_split",
    "_score",
    "_warn_or_raise_about_fit_failures",
    "has_callbacks",
    "validate_params",
]

#: The scikit-learn versions this module was tested with: ``low <= version < high``.
TESTED_RANGE: tuple[tuple[int, int], tuple[int, int]] = ((1, 9), (1, 10))


def _version() -> tuple[int, int]:
    major, minor = sklearn.__version__.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


def has_callbacks(search: object) -> bool:
    """Whether this scikit-learn's searches carry callback contexts (1.9 and later)."""
    return hasattr(search, "_init_callback_context")


if not TESTED_RANGE[0] <= _version() < TESTED_RANGE[1]:  # pragma: no cover
    warnings.warn(
        f"sknn_mnist.model_selection was tested with scikit-learn "
        f">={'.'.join(map(str, TESTED_RANGE[0]))},<{'.'.join(map(str, TESTED_RANGE[1]))}; "
        f"this is {sklearn.__version__}", stacklevel=2)
