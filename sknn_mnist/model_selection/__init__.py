"""scikit-learn's searches and cross-validation, with the fits of our networks batched.

:class:`GridSearchCV`, :class:`RandomizedSearchCV`, :func:`cross_validate` and
:func:`cross_val_score` take scikit-learn's parameters and give scikit-learn's results.
The (candidate, split) evaluations of a :class:`~sknn_mnist.core.estimator.TorchEstimatorBase`,
bare or as the last step of a :class:`~sklearn.pipeline.Pipeline`, train in one
:func:`~sknn_mnist.core.many.fit_many` call (which stacks the networks that can share a
fit); every other evaluation runs through scikit-learn's own ``_fit_and_score``. See
``docs/model_selection.md``.
"""

from ._search import GridSearchCV, RandomizedSearchCV
from ._validation import cross_val_score, cross_validate

__all__ = ["GridSearchCV", "RandomizedSearchCV", "cross_val_score", "cross_validate"]
