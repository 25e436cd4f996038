"""What one ``fit`` or ``partial_fit`` call will do, decided before any training runs.

:class:`FitCall` names the four kinds of call; :class:`TrainingPlan` holds everything the
trainer needs: the validated arrays, the encoded targets and their head, the seeds, the
train/validation rows, the batch size, the L2 coefficient and the schedule's horizon. A
plan is immutable, so a trainer (or, later, a trainer of many networks) can take plans
without consulting the estimator's mutable state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from .heads import OutputHead


class FitCall(enum.Enum):
    """The kinds of training call, each with the state it starts from.

    * ``FIT``: ``fit`` on a new network;
    * ``WARM_FIT``: ``fit`` with ``warm_start=True`` on a fitted model: a new net and
      optimizer starting from the previous weights; the curves go on, ``n_iter_`` counts
      this call;
    * ``FIRST_PARTIAL_FIT``: the first ``partial_fit``: a new network, one epoch;
    * ``PARTIAL_FIT``: ``partial_fit`` on a fitted model: the same net, optimizer and
      schedule go on for one epoch.

    A ``partial_fit`` call has no horizon: 'cosine' anneals over the epochs of one ``fit``
    and trains at ``learning_rate_init`` in ``partial_fit`` (a stream has no known end).
    """

    FIT = ("fit", "new")
    WARM_FIT = ("fit", "warm")
    FIRST_PARTIAL_FIT = ("partial_fit", "new")
    PARTIAL_FIT = ("partial_fit", "resume")

    @property
    def partial(self) -> bool:
        """One epoch, ``classes`` and no early stopping (``partial_fit``)."""
        return self.value[0] == "partial_fit"

    @property
    def fresh(self) -> bool:
        """A new network: features and classes are set from this call's data."""
        return self.value[1] == "new"

    @property
    def warm(self) -> bool:
        """A new net starting from the fitted model's weights."""
        return self.value[1] == "warm"

    @property
    def resumes(self) -> bool:
        """The fitted net itself trains on (its optimizer and schedule go on)."""
        return self.value[1] == "resume"


@dataclass(frozen=True)
class Seeds:
    """Seeds drawn from ``random_state``, in this order, once per call."""

    init: int
    shuffle: int
    torch: int
    split: int

    @classmethod
    def draw(cls, rng: np.random.RandomState) -> Seeds:
        return cls(*(int(rng.randint(np.iinfo(np.int32).max)) for _ in range(4)))


@dataclass(frozen=True, eq=False)
class TrainingPlan:
    """Everything one training call needs, validated and encoded.

    Attributes
    ----------
    call : FitCall
    X : ndarray of shape (n_samples, n_features)
        Features in the training dtype.
    y : ndarray
        Targets encoded by ``head``.
    sample_weight : ndarray of shape (n_samples,) or None
    classes : ndarray or None
        Every label the model knows (``classes_``); None for a regressor.
    head : OutputHead
    n_outputs : int
        Output units of the network.
    train_rows, valid_rows : ndarray of int or None
        The early-stopping split; None trains on every row.
    batch_size : int
    decay : float
        The L2 coefficient per step: ``alpha / (batch_size * mean sample weight)``, as
        scikit-learn scales its penalty; the solver decides how it is applied.
    epochs : int
        Epochs to run (1 for ``partial_fit``).
    horizon : int or None
        The epochs over which the 'cosine' schedule anneals: ``max_iter`` for ``fit``,
        None (no horizon) for ``partial_fit``.
    samples_seen : int
        Training samples seen before this call (``t_``; 0 for a new network): where
        'invscaling' goes on from.
    seeds : Seeds
    """

    call: FitCall
    X: np.ndarray
    y: np.ndarray
    sample_weight: np.ndarray | None
    classes: np.ndarray | None
    head: OutputHead
    n_outputs: int
    train_rows: np.ndarray | None
    valid_rows: np.ndarray | None
    batch_size: int
    decay: float
    epochs: int
    horizon: int | None
    samples_seen: int
    seeds: Seeds

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_train(self) -> int:
        """Rows trained on (the validation rows excluded)."""
        return len(self.X) if self.train_rows is None else len(self.train_rows)
