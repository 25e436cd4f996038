"""The classifier layer of the core: labels, probabilities and accuracy.

:class:`TorchDigitClassifierBase` adds to :class:`~sknn_mnist.core.estimator.TorchEstimatorBase`
what makes a classifier: label validation and encoding (binary, multiclass, multilabel
indicator targets, a single class), ``classes`` for ``partial_fit``, the stratified
early-stopping split, ``classes_``, and ``predict``/``predict_proba``/``predict_log_proba``.
A network subclass adds its architecture parameters and implements ``_build_module`` (see
the estimator base for the hooks).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels

from .estimator import INFERENCE_BATCH_SIZE, Targets, TorchEstimatorBase
from .heads import ClassifierHead, head_for_targets, head_of
from .plan import FitCall, TrainingPlan

__all__ = ["INFERENCE_BATCH_SIZE", "TorchDigitClassifierBase"]


class TorchDigitClassifierBase(ClassifierMixin, TorchEstimatorBase):
    """Base of the package's classifiers: the estimator base plus labels.

    Not used directly; a subclass defines ``__init__`` with every parameter, merges
    ``_parameter_constraints`` (``{**TorchDigitClassifierBase._parameter_constraints,
    ...}``) and implements the network hooks of
    :class:`~sknn_mnist.core.estimator.TorchEstimatorBase`.
    """

    # -- public API -------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``X``, ``y`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data, any real dtype (e.g. uint8 pixels); converted to ``dtype``
            once. Sparse input is densified.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels (ints, strings, bools, a pandas categorical), or a multilabel
            indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight, call=self._fit_call())

    @available_if(TorchEstimatorBase._check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on ``X``, ``y``, continuing from the current weights.

        The batch size and the scaling of ``alpha`` follow each call's data. There is no
        horizon: with ``learning_rate='cosine'`` every call trains at
        ``learning_rate_init`` (see the class's notes).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        sample_weight : array-like of shape (n_samples,), default=None
        classes : array-like of shape (n_classes,), default=None
            All the labels that will ever appear. Required on the first call; on later
            calls it may be omitted, and must equal ``classes_`` when given.

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight, classes)

    def predict_proba(self, X):
        """Class probabilities, float64, columns in ``classes_`` order.

        Rows sum to 1, except for a multilabel model: one independent probability per
        label, as in ``MLPClassifier``.
        """
        logits = self._forward(X).double()  # checks that the model is fitted first
        return self._head.proba(logits).numpy()

    def predict_log_proba(self, X):
        """``np.log(predict_proba(X))``, scikit-learn's definition.

        A probability that underflows to 0 in float64 gives ``-inf``, as in
        ``MLPClassifier``; the argmax is that of :meth:`predict_proba`, ties included.
        """
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba, out=proba)

    def predict(self, X):
        """Predicted labels from ``classes_``; a 0/1 indicator matrix for multilabel."""
        logits = self._forward(X)  # checks that the model is fitted first
        return self._head.predict(logits, self.classes_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    # -- the task ---------------------------------------------------------------------------
    @property
    def _head(self) -> ClassifierHead:
        return head_of(self.out_activation_, self.n_outputs_, len(self.classes_))

    @property
    def _target_type(self) -> str:
        return self._head.name

    def _validate_targets(self, y: np.ndarray) -> np.ndarray:
        check_classification_targets(y)
        return y

    def _known_classes(self, y_classes, classes, call: FitCall, multilabel: bool):
        """Every label of the model for this call, checked against the fitted ones."""
        if call.resumes:
            if classes is not None and not np.array_equal(unique_labels(classes),
                                                          self.classes_):
                raise ValueError(
                    f"`classes={np.asarray(classes).tolist()!r}` is not the same as on the "
                    f"last call to partial_fit, was: {self.classes_.tolist()!r}."
                )
            if multilabel != (self._target_type == "multilabel"):
                raise ValueError("partial_fit cannot switch between multilabel and "
                                 "single-label targets.")
            return self.classes_
        if call.warm:
            if not np.array_equal(y_classes, self.classes_) or (
                    multilabel != (self._target_type == "multilabel")):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has "
                    f"{y_classes}."
                )
            return self.classes_
        if classes is not None and not multilabel:
            return unique_labels(classes)
        if call.partial and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: the network's "
                "output layer needs every label up front, e.g. "
                "partial_fit(X, y, classes=np.arange(10))."
            )
        return y_classes

    def _encode(self, y, call: FitCall, classes, dtype) -> Targets:
        multilabel = type_of_target(y) == "multilabel-indicator"
        y_classes = np.arange(y.shape[1]) if multilabel else unique_labels(y)
        all_classes = self._known_classes(y_classes, classes, call, multilabel)
        if not multilabel:
            unknown = np.setdiff1d(y_classes, all_classes)
            if unknown.size:
                raise ValueError(
                    f"y contains labels {unknown.tolist()} that are not in classes "
                    f"{all_classes.tolist()}; pass every label in `classes` on the first "
                    "call to partial_fit."
                )
        head = head_for_targets(multilabel, len(all_classes))
        return Targets(y=head.encode(y, all_classes, dtype), head=head,
                       n_outputs=head.n_outputs(len(all_classes)), classes=all_classes)

    def _split(self, targets: Targets, seed: int):
        """Stratified train/validation row indices for early stopping, with errors in
        the user's labels."""
        y_codes, classes = targets.y, targets.classes
        stratify = None
        if targets.head.name != "multilabel":
            stratify = y_codes
            counts = np.bincount(y_codes.astype(np.int64), minlength=len(classes))
            rare = classes[(counts > 0) & (counts < 2)]
            if rare.size:
                # scikit-learn's words (its train_test_split's), with the user's labels.
                raise ValueError(
                    "The least populated classes in y have only 1 member, which is too "
                    "few. The minimum number of groups for any class cannot be less than "
                    f"2. Classes with too few members are: {rare.tolist()}. "
                    "(early_stopping=True holds out a stratified validation set: add "
                    "samples of those classes or set early_stopping=False.)"
                )
        return self._holdout(len(y_codes), seed, stratify,
                             describe=f" of the classes {classes.tolist()}")

    def _commit_targets(self, plan: TrainingPlan) -> None:
        self.classes_ = plan.classes
