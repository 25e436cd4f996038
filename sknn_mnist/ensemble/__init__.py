"""Ensembles of our networks trained in one call of :func:`sknn_mnist.core.many.fit_many`.

:class:`SeedEnsembleClassifier` trains ``n_estimators`` copies of one classifier that
differ only in their ``random_state`` and averages their probabilities.
"""

from .seed import SeedEnsembleClassifier, draw_member_seeds

__all__ = ["SeedEnsembleClassifier", "draw_member_seeds"]
