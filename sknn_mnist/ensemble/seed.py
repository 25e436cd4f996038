"""Seed ensembles: K copies of one network that differ only in their seeds, averaged.

The members are fitted through one :func:`~sknn_mnist.core.many.fit_many` call, all on
the same ``X`` object: the stacked trainer trains networks of one shape together (one
batched step for all K) where its measured scaling says it pays (the MLP on the CPU), and
fits them one after the other otherwise, with the same results. Their seeds are drawn
from the ensemble's ``random_state`` exactly as scikit-learn's ensembles draw them
(``sklearn.ensemble.BaseEnsemble``).
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_is_fitted,
    column_or_1d,
    get_tags,
    validate_data,
)

from ..core.many import FitJob, fit_many

__all__ = ["SeedEnsembleClassifier", "draw_member_seeds", "mlp_seed_ensemble"]

_SPARSE_FORMATS = ["csr", "csc", "coo"]
#: The largest seed scikit-learn's ensembles draw (exclusive).
_MAX_SEED = np.iinfo(np.int32).max


def draw_member_seeds(estimator: Any, n_estimators: int, random_state: Any) -> list[Any]:
    """``n_estimators`` unfitted clones of ``estimator`` with freshly drawn seeds.

    As ``sklearn.ensemble.BaseEnsemble._make_estimator`` does: for each clone in turn, one
    ``randint(np.iinfo(np.int32).max)`` per parameter named ``random_state`` or ending
    in ``__random_state`` (nested estimators), in sorted order of the parameter names.
    The same ``random_state`` int therefore gives the members the same seeds as a
    scikit-learn ensemble of ``estimator`` with that ``random_state`` would.
    """
    rng = check_random_state(random_state)
    members = []
    for _ in range(n_estimators):
        member = clone(estimator)
        keys = [key for key in sorted(member.get_params(deep=True))
                if key == "random_state" or key.endswith("__random_state")]
        seeds = {key: int(rng.randint(_MAX_SEED)) for key in keys}
        if seeds:
            member.set_params(**seeds)
        members.append(member)
    return members


class SeedEnsembleClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Average the probabilities of K networks that differ only in their seeds.

    The members are clones of ``estimator``, each with its own ``random_state`` (weight
    initialisation, batch order, dropout masks, early-stopping split), trained on the
    same rows in one :func:`~sknn_mnist.core.many.fit_many` call: with the stacked
    trainer, K networks of one shape train in one batched fit.

    Parameters
    ----------
    estimator : classifier, default=None
        The member to copy: any classifier with ``predict_proba`` (``None``: an
        :class:`~sknn_mnist.MLPDigitClassifier` with its defaults). Its own
        ``random_state`` is replaced by the drawn seeds.
    n_estimators : int, default=5
        Number of members.
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds (one ``randint(2**31 - 1)`` per member and per
        ``random_state`` parameter, as scikit-learn's ensembles draw them). With an int,
        the members, and so the ensemble, are the same from one fit to the next.
    verbose : int, default=0
        Passed to ``fit_many``: above 0 it says how the members were grouped.

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted members, in the order of their seeds.
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted (those of every member).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    device_ : str
        The members' device, when they are this package's torch networks (a property).
    fit_times_ : ndarray of shape (n_estimators,)
        Seconds of fitting attributed to each member (``FitResult.fit_time``; a stacked
        fit's time is shared out evenly).

    Notes
    -----
    ``predict`` is the argmax of the averaged probabilities (a multilabel ensemble:
    averaged probabilities above 0.5), not a vote of the members' labels. A member whose
    fit fails makes ``fit`` raise that member's error.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknn_mnist import MLPDigitClassifier
    >>> from sknn_mnist.ensemble import SeedEnsembleClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> member = MLPDigitClassifier(hidden_layer_sizes=(32,), max_iter=5, device="cpu")
    >>> ens = SeedEnsembleClassifier(member, n_estimators=3, random_state=0).fit(X, y)
    >>> ens.predict_proba(X[:2]).shape
    (2, 10)
    """

    #: Read by the ONNX export: predict_proba is the mean of the members' (one Mean node).
    _averages_members_proba = True

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator=None, n_estimators=5, random_state=None, verbose=0):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.verbose = verbose

    def _template(self) -> Any:
        if self.estimator is not None:
            return self.estimator
        from ..networks.mlp.classifier import MLPDigitClassifier

        return MLPDigitClassifier()

    def _member_tags(self) -> Any:
        return get_tags(self._template())

    # -- fitting ----------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=False)  # the members validate their own
    def fit(self, X, y, sample_weight=None):
        """Fit ``n_estimators`` members, seeded differently, in one ``fit_many`` call.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data (sparse input is densified once, for all members).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels, or a multilabel indicator matrix when the members take one.
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member's ``fit``.

        Returns
        -------
        self : object
            The fitted ensemble.
        """
        tags = self._member_tags()
        X, y = validate_data(self, X, y, accept_sparse=self._sparse_formats(tags),
                             dtype="numeric", multi_output=tags.target_tags.multi_output)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if sp.issparse(X):
            X = X.toarray()  # once for all members: they share this array
        members = draw_member_seeds(self._template(), self.n_estimators, self.random_state)
        jobs = [FitJob(member, X, y, sample_weight) for member in members]
        results = fit_many(jobs, verbose=self.verbose)
        for result in results:
            if result.error is not None:
                raise result.error
        self.estimators_ = [result.estimator for result in results]
        self.fit_times_ = np.array([result.fit_time for result in results])
        self.classes_ = self.estimators_[0].classes_
        self._multilabel = type_of_target(y) == "multilabel-indicator"
        return self

    @property
    def device_(self) -> str:
        """The members' device (``'cpu'``, ``'cuda:0'``), when they are torch networks."""
        devices = {getattr(m, "device_", None) for m in getattr(self, "estimators_", [])}
        if len(devices) != 1 or None in devices:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute "
                                 "'device_' (not fitted, or members without one device)")
        return devices.pop()

    @staticmethod
    def _sparse_formats(tags: Any) -> list[str] | bool:
        return _SPARSE_FORMATS if tags.input_tags.sparse else False

    # -- prediction -------------------------------------------------------------------------
    def _validate_X(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype="numeric",
                          accept_sparse=self._sparse_formats(self._member_tags()))
        return X.toarray() if sp.issparse(X) else X

    def _mean_proba(self, X) -> np.ndarray:
        total = None
        for member in self.estimators_:
            proba = np.asarray(member.predict_proba(X), dtype=np.float64)
            total = proba if total is None else total + proba
        return total / len(self.estimators_)

    def predict_proba(self, X):
        """The members' ``predict_proba`` averaged: float64, columns in ``classes_`` order.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return self._mean_proba(self._validate_X(X))

    def predict_log_proba(self, X):
        """``np.log(predict_proba(X))`` (``-inf`` where every member gives 0)."""
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X):
        """Labels of the largest averaged probability (multilabel: those above 0.5)."""
        proba = self.predict_proba(X)
        if self._multilabel:
            return (proba > 0.5).astype(np.int64)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        member = self._member_tags()
        tags.input_tags.sparse = member.input_tags.sparse
        tags.target_tags.multi_output = member.target_tags.multi_output
        if member.classifier_tags is not None:
            tags.classifier_tags.multi_label = member.classifier_tags.multi_label
        return tags


def mlp_seed_ensemble(*, random_state: int | None, device: str,
                      n_jobs: int | None = None) -> SeedEnsembleClassifier:
    """The registry's ``mlp-ensemble``: five default MLPs on ``device``, seeds drawn from
    ``random_state`` (``n_jobs`` is ignored: the members train in one ``fit_many``)."""
    from ..networks.mlp.classifier import MLPDigitClassifier

    return SeedEnsembleClassifier(MLPDigitClassifier(device=device), n_estimators=5,
                                  random_state=random_state)
