"""The shared core: a scikit-learn estimator that trains any torch network through skorch.

:class:`TorchEstimatorBase` holds everything that does not depend on the task: parameter
validation, the training transaction behind ``fit`` and ``partial_fit``, the forward pass
of the predict methods, and persistence. Two task layers derive from it:

* :class:`~sknn_mnist.core.classifier.TorchDigitClassifierBase`: label encoding, the
  stratified early-stopping split, ``classes_``, ``predict``/``predict_proba``, accuracy;
* :class:`~sknn_mnist.core.regressor.TorchRegressorBase`: numeric targets, ``loss``,
  ``predict`` of values, R^2.

A network subclass of a task layer adds its architecture parameters and implements
:meth:`~TorchEstimatorBase._build_module` (and, if it validates parameters of its own,
:meth:`~TorchEstimatorBase._check_architecture`).

Every training call goes *plan* -> *train* -> *commit*:

* :meth:`~TorchEstimatorBase._plan` validates and encodes the data into a frozen
  :class:`~sknn_mnist.core.plan.TrainingPlan` (the kind of call, a
  :class:`~sknn_mnist.core.plan.FitCall`, included);
* a :class:`~sknn_mnist.core.trainer.Trainer`, new or the fitted one, trains on it;
* :meth:`~TorchEstimatorBase._commit` sets the fitted attributes.

A call that fails leaves the estimator as it was: a new network is built and trained
aside, a resumed one is restored from a checkpoint, and the fitted attributes change only
when training succeeded, or was interrupted with Ctrl-C after one or more complete epochs
(which keeps them and re-raises ``KeyboardInterrupt``).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, Options, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from .device import (
    DEVICE_HELP,
    is_valid_device_name,
    resolve_device,
    resolve_device_for_loading,
    seed_generators,
)
from .heads import OutputHead
from .init import glorot_factor, glorot_uniform_
from .plan import FitCall, Seeds, TrainingPlan
from .solvers import SOLVERS, get_solver
from .trainer import Checkpoint, Trainer, TrainingOutcome
from .warn import TrainingInterruptedWarning, warn_user

#: Rows per forward pass at prediction and validation time, unless a network says less.
INFERENCE_BATCH_SIZE = 8192

_SPARSE_FORMATS = ["csr", "csc", "coo"]


class Targets(NamedTuple):
    """The encoded targets of one call, as a task layer returns them."""

    #: Targets encoded by ``head``.
    y: np.ndarray
    head: OutputHead
    #: Output units of the network.
    n_outputs: int
    #: Every label of a classifier (``classes_``); None for a regressor.
    classes: np.ndarray | None = None


class TorchEstimatorBase(BaseEstimator):
    """Base of the package's estimators: training, the forward pass and persistence.

    Not used directly: a task layer (the classifier or the regressor base) implements

    * ``_validate_targets(y) -> y``: check the targets ``validate_data`` returned;
    * ``_encode(y, call, classes, dtype) -> Targets``: choose the output head and encode
      (floating targets in ``dtype``);
    * ``_split(targets, seed) -> (train_rows, valid_rows)``: the early-stopping split;
    * ``_commit_targets(plan)``: its fitted attributes of the targets;
    * the ``_head`` property: the fitted model's head;

    and a network subclass defines ``__init__`` with every parameter (its own and the
    training parameters below), merges :attr:`_parameter_constraints`, and implements the
    hooks:

    * ``_build_module(n_features, n_outputs) -> torch.nn.Module`` (required): a module
      taking float rows of shape ``(n, n_features)`` and returning outputs of shape
      ``(n, n_outputs)`` (logits for a classifier), in float32; the core initialises it,
      converts it to ``dtype`` and moves it to the device;
    * ``_check_architecture()``: validate the architecture parameters beyond what the
      constraints express; raise ``InvalidParameterError``/``ValueError``;
    * ``_initialize_module(module)``: draw the initial weights (default: scikit-learn's
      Glorot uniform for every linear and convolution layer, biases included, with the
      factor for ``self.activation`` when the subclass has one); runs under a seeded torch
      RNG;
    * ``_set_network_attributes(module)``: set architecture-specific fitted attributes
      (the MLP's ``coefs_``/``intercepts_``/``n_layers_``) after successful training.

    Training parameters (meaning as in scikit-learn's MLPs): ``solver``, ``alpha``,
    ``batch_size``, ``learning_rate``, ``learning_rate_init``, ``power_t``, ``max_iter``,
    ``shuffle``, ``random_state``, ``tol``, ``verbose``, ``warm_start``, ``momentum``,
    ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``, ``beta_1``,
    ``beta_2``, ``epsilon``, ``n_iter_no_change``, ``max_fun``, ``device``, ``dtype``.
    """

    #: Constraints of the training parameters; a subclass merges its own:
    #: ``_parameter_constraints = {**TorchEstimatorBase._parameter_constraints, ...}``.
    _parameter_constraints: dict = {
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive", "cosine"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"),
                             Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    #: Names of the parameters that define the network's shape (used in messages).
    _architecture_params: tuple[str, ...] = ()

    #: Rows per forward pass at prediction and validation time. Large batches are much
    #: faster than the training batch size; a network with large activations (the CNN)
    #: sets a smaller one.
    _inference_batch_size: int = INFERENCE_BATCH_SIZE

    #: ``validate_data``'s ``y_numeric``: a regressor converts object targets to floats.
    _y_numeric: bool = False

    # -- hooks of the network ---------------------------------------------------------------
    def _build_module(self, n_features: int, n_outputs: int) -> torch.nn.Module:
        raise NotImplementedError

    def _check_architecture(self) -> None:
        """Validate the architecture parameters (called before any data is touched)."""

    def _initialize_module(self, module: torch.nn.Module) -> None:
        glorot_uniform_(module, glorot_factor(getattr(self, "activation", None)))

    def _set_network_attributes(self, module: torch.nn.Module) -> None:
        """Set architecture-specific fitted attributes from the trained module."""

    # -- hooks of the task ------------------------------------------------------------------
    def _validate_targets(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _encode(self, y: np.ndarray, call: FitCall, classes, dtype) -> Targets:
        raise NotImplementedError

    def _split(self, targets: Targets, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _commit_targets(self, plan: TrainingPlan) -> None:
        raise NotImplementedError

    @property
    def _head(self) -> OutputHead:
        raise NotImplementedError

    # -- the training calls -----------------------------------------------------------------
    def _fit_call(self) -> FitCall:
        """The kind of call ``fit`` makes."""
        return FitCall.WARM_FIT if self.warm_start and self._is_trained() else FitCall.FIT

    def _partial_fit(self, X, y, sample_weight, classes=None):
        """One epoch on ``X``, ``y``, continuing from the current weights."""
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        call = FitCall.PARTIAL_FIT if self._is_trained() else FitCall.FIRST_PARTIAL_FIT
        return self._fit(X, y, sample_weight, call=call, classes=classes)

    def _check_solver(self) -> bool:
        # An unknown solver is left to fit's validation, which names the valid ones.
        solver = SOLVERS.get(self.solver) if isinstance(self.solver, str) else None
        if solver is not None and not solver.stochastic:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers; "
                f"solver={self.solver!r} is not stochastic."
            )
        return True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    # -- state ------------------------------------------------------------------------------
    @property
    def net_(self):
        """The fitted skorch net (``net_.module_`` the torch module, ``net_.history``)."""
        try:
            return self.trainer_.net
        except AttributeError:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute "
                                 "'net_'") from None

    def _is_trained(self) -> bool:
        return hasattr(self, "trainer_")

    # -- validation -------------------------------------------------------------------------
    def _check_params(self) -> None:
        """Checks that the parameter constraints cannot express."""
        if not is_valid_device_name(self.device):
            raise InvalidParameterError(
                f"The 'device' parameter of {type(self).__name__} must be {DEVICE_HELP}. "
                f"Got {self.device!r} instead."
            )
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError("early_stopping=True needs validation_fraction > 0.")
        self._check_architecture()

    def _validate_xy(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, accept_sparse=_SPARSE_FORMATS,
                             dtype=self.dtype, multi_output=True, y_numeric=self._y_numeric)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if sp.issparse(X):
            X = X.toarray()
        return X, self._validate_targets(y)

    def _holdout(self, n_samples: int, seed: int, stratify=None,
                 describe: str = "") -> tuple[np.ndarray, np.ndarray]:
        """Train and validation row indices for early stopping (``stratify``: labels)."""
        try:
            train_idx, valid_idx = train_test_split(
                np.arange(n_samples), test_size=self.validation_fraction,
                random_state=seed, stratify=stratify)
        except ValueError as exc:
            raise ValueError(
                f"early_stopping=True could not hold out validation_fraction="
                f"{self.validation_fraction} of {n_samples} samples{describe}: {exc} "
                "Increase 'validation_fraction' or the size of your dataset."
            ) from exc
        if len(valid_idx) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the "
                "size of your dataset."
            )
        return train_idx, valid_idx

    # -- training: the transaction ---------------------------------------------------------
    def _fit(self, X, y, sample_weight, *, call: FitCall, classes=None):
        self._check_params()
        saved = dict(vars(self))
        checkpoint = self.trainer_.checkpoint() if call.resumes else None
        try:
            plan = self._plan(X, y, sample_weight, call, classes)
            trainer = self.trainer_ if call.resumes else self._new_trainer(plan)
            outcome = trainer.train(plan)
            if outcome.interrupted and not outcome.rows:
                raise KeyboardInterrupt  # nothing completed: the model stays as it was
            if not outcome.interrupted and not trainer.finite(outcome):
                raise ValueError(
                    "Solver produced non-finite parameter weights. The input data may "
                    "contain large values and need to be preprocessed (e.g. a "
                    "MinMaxScaler), or the learning rate (learning_rate_init) may be too "
                    "high."
                )
            self._commit(plan, trainer, outcome)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            if checkpoint is not None:
                self.trainer_.restore(checkpoint)
            raise
        if outcome.interrupted:
            warn_user(
                f"Training was interrupted (KeyboardInterrupt) after {len(outcome.rows)} "
                "complete epoch(s) of this call. The model keeps its weights from that "
                "point and can predict; call partial_fit to train it further.",
                TrainingInterruptedWarning)
            raise KeyboardInterrupt
        self._warn_if_not_converged(plan, outcome)
        return self

    #: A final training loss this many times the chance loss means training diverged.
    _DIVERGED_LOSS_FACTOR = 10.0

    def _warn_if_not_converged(self, plan: TrainingPlan, outcome: TrainingOutcome) -> None:
        chance = plan.head.chance_loss(plan.y, plan.n_outputs)
        if chance > 0 and self.loss_ > self._DIVERGED_LOSS_FACTOR * chance:
            warn_user(
                f"Training diverged: the final training loss ({self.loss_:.4g}) is far above "
                f"that of a model that knows nothing ({chance:.4g}), so the model is likely "
                f"useless. Lower learning_rate_init (now {self.learning_rate_init!r}) or "
                "scale the data (e.g. a MinMaxScaler).", ConvergenceWarning)
        elif not plan.call.partial:
            message = get_solver(self.solver).not_converged(
                stop=outcome.stop, n_epochs=len(outcome.rows), epochs=plan.epochs,
                estimator=self)
            if message:
                warn_user(message, ConvergenceWarning)

    # -- plan -------------------------------------------------------------------------------
    def _plan(self, X, y, sample_weight, call: FitCall, classes) -> TrainingPlan:
        """Validate and encode the data of one call; decide rows, batch size and L2."""
        # As scikit-learn: a warm start or a resumed partial_fit checks X against the
        # fitted n_features_in_ (and feature names) instead of resetting them.
        X, y = self._validate_xy(X, y, reset=call.fresh)
        targets = self._encode(y, call, classes, X.dtype)
        y_enc = targets.y
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must have a positive sum.")
        seeds = Seeds.draw(check_random_state(self.random_state))
        train_rows = valid_rows = None
        if self.early_stopping:
            train_rows, valid_rows = self._split(targets, seeds.split)
        n_train = len(X) if train_rows is None else len(train_rows)
        batch_size = self._batch_size(n_train)
        weights_train = (sample_weight if train_rows is None or sample_weight is None
                         else sample_weight[train_rows])
        mean_weight = 1.0 if weights_train is None else float(np.mean(weights_train))
        return TrainingPlan(
            call=call, X=X, y=y_enc, sample_weight=sample_weight, classes=targets.classes,
            head=targets.head, n_outputs=targets.n_outputs, train_rows=train_rows,
            valid_rows=valid_rows, batch_size=batch_size,
            # scikit-learn divides the penalty alpha/2 ||W||^2 by the batch's summed sample
            # weight; its gradient is then alpha / (batch_size * mean weight) * W. From
            # this call's data, so that each partial_fit chunk is scaled by its own.
            decay=self.alpha / (batch_size * mean_weight),
            epochs=1 if call.partial else self.max_iter,
            horizon=None if call.partial else self.max_iter,
            samples_seen=0 if call.fresh else int(self.t_), seeds=seeds)

    def _batch_size(self, n_train: int) -> int:
        """The solver's batch size for ``n_train`` rows, checked against batch norm."""
        if getattr(self, "batch_norm", False) and n_train < 2:
            raise ValueError("batch_norm=True needs at least 2 training samples.")
        batch_size = get_solver(self.solver).batch_size(self.batch_size, n_train)
        if getattr(self, "batch_norm", False) and batch_size < 2:
            raise ValueError(
                "batch_norm=True needs batches of at least 2 samples (batch normalisation "
                f"normalises over the batch); got batch_size={self.batch_size!r}. Use a "
                "larger batch_size or batch_norm=False.")
        return batch_size

    # -- train ------------------------------------------------------------------------------
    def _new_trainer(self, plan: TrainingPlan) -> Trainer:
        device = resolve_device(self.device)
        module = self._new_module(plan.n_features, plan.n_outputs, plan.seeds.init)
        if plan.call.warm:
            self._load_previous_weights(module)
        return Trainer.create(self, module, device, head=plan.head,
                              batch_size=plan.batch_size, shuffle_seed=plan.seeds.shuffle,
                              decay=plan.decay)

    def _new_module(self, n_features: int, n_outputs: int, seed: int) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):
            seed_generators(seed, torch.device("cpu"))  # the module is built on the CPU
            try:
                module = self._build_module(n_features, n_outputs)
            except (MemoryError, OverflowError, RuntimeError, TypeError) as exc:
                raise self._build_error(exc, n_features, n_outputs) from exc
            self._initialize_module(module)
        return module.to(getattr(torch, self.dtype))

    def _build_error(self, exc: BaseException, n_features: int,
                     n_outputs: int) -> BaseException:
        # torch reports allocation failures as RuntimeError, and sizes beyond int64 as
        # RuntimeError/TypeError "overflow"; anything else is a bug and goes up as it is.
        message = str(exc).lower()
        if isinstance(exc, RuntimeError | TypeError) and "alloc" not in message and (
                "overflow" not in message):
            return exc
        shape = ", ".join(f"{p}={getattr(self, p)!r}" for p in
                          self._architecture_params) or "the network's parameters"
        return MemoryError(
            f"Not enough memory to build the network for {n_features} features and "
            f"{n_outputs} outputs with {shape}; use smaller layers."
        )

    def _load_previous_weights(self, module: torch.nn.Module) -> None:
        try:
            module.load_state_dict(self.trainer_.module.state_dict())
        except RuntimeError as exc:
            shape = ", ".join(self._architecture_params) or "the architecture"
            raise ValueError(
                "warm_start=True cannot continue from the previous fit: the network's "
                f"shape changed ({shape}, the number of features or of outputs). Set "
                "warm_start=False to train a new network."
            ) from exc

    # -- commit -----------------------------------------------------------------------------
    def _commit(self, plan: TrainingPlan, trainer: Trainer, outcome: TrainingOutcome) -> None:
        """Set the fitted attributes from a finished training call."""
        rows = outcome.rows
        losses = [row["train_loss"] for row in rows]
        fresh = plan.call.fresh
        self.trainer_ = trainer
        self.device_ = str(trainer.device)
        self._commit_targets(plan)
        self.n_outputs_ = plan.n_outputs
        self.out_activation_ = plan.head.out_activation
        # n_iter_ counts the epochs of this call, as scikit-learn's; t_ and the curves go
        # on over warm starts and partial_fit calls.
        self.n_iter_ = len(rows)
        self.t_ = (0 if fresh else self.t_) + len(rows) * plan.n_train
        self.loss_curve_ = ([] if fresh else list(self.loss_curve_)) + losses
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float("nan")
        if self.early_stopping:
            previous = [] if fresh or self.validation_scores_ is None else self.validation_scores_
            key = f"valid_{plan.head.score_name}"
            self.validation_scores_ = list(previous) + [r[key] for r in rows]
            self.best_validation_score_ = (max(self.validation_scores_)
                                           if self.validation_scores_ else None)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        self._set_network_attributes(trainer.module)

    # -- prediction -------------------------------------------------------------------------
    def _forward(self, X) -> torch.Tensor:
        """The network's outputs for ``X`` (validated as at fit), on the CPU."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=_SPARSE_FORMATS,
                          dtype=self.dtype)
        if sp.issparse(X):
            X = X.toarray()
        return self.trainer_.forward(X)

    # -- persistence ------------------------------------------------------------------------
    def __getstate__(self):
        """Builtins, numpy arrays and one ``bytes`` blob: no torch or skorch objects.

        The trainer's :class:`~sknn_mnist.core.trainer.Checkpoint`, as its serialisable
        state; :meth:`__setstate__` rebuilds the trainer around it.
        """
        state = dict(super().__getstate__())  # a copy: the base may return __dict__ itself
        trainer = state.pop("trainer_", None)
        if trainer is not None:
            state["_net_state"] = trainer.checkpoint().to_state()
        return state

    def __setstate__(self, state):
        saved = state.pop("_net_state", None)
        super().__setstate__(state)
        if saved is None:
            return
        device = resolve_device_for_loading(self.device)
        checkpoint = Checkpoint.from_state(saved, device)
        # The parameters say how large the network is; the stored weights say how large it
        # was. Compare them on torch's "meta" device (no memory) before building it, so that
        # edited parameters cannot make loading allocate more than the file holds.
        with torch.device("meta"):
            shapes = self._build_module(self.n_features_in_, self.n_outputs_)
        checkpoint.check_module(shapes)
        module = self._build_module(self.n_features_in_, self.n_outputs_).to(
            getattr(torch, self.dtype))
        self.trainer_ = Trainer.from_checkpoint(self, module, device, self._head, checkpoint)
        self.device_ = str(device)
