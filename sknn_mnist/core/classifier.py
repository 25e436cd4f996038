"""The shared core: a scikit-learn classifier that trains any torch network through skorch.

:class:`TorchDigitClassifierBase` holds everything but the network: parameter validation,
label encoding, the train/validation split, the skorch net and its callbacks, ``fit`` and
``partial_fit``, prediction, and persistence. A subclass adds its architecture parameters
and implements :meth:`~TorchDigitClassifierBase._build_module` (and, if it validates
parameters of its own, :meth:`~TorchDigitClassifierBase._check_architecture`).

Every call runs in one of three modes:

* ``'new'``: a new network (``fit``, or the first ``partial_fit``);
* ``'warm'``: ``fit`` with ``warm_start=True`` on a fitted model: a new net and optimizer
  starting from the previous weights; the curves go on, ``n_iter_`` counts this call;
* ``'resume'``: ``partial_fit`` on a fitted model: the same net, optimizer and schedule
  go on for one epoch.

A call that fails leaves the estimator as it was: the new network is built and trained
aside, and the fitted attributes change only when training succeeded (or was interrupted
with Ctrl-C after complete epochs, which keeps them and re-raises ``KeyboardInterrupt``).
"""

from __future__ import annotations

import copy
import io
import math
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)
from skorch.callbacks import PrintLog
from skorch.history import History

from .callbacks import ConvergenceMonitor, LearningRateSchedule
from .data import TensorBatchIterator, TensorSet, to_tensor
from .device import DEVICE_HELP, is_valid_device_name, resolve_device, resolve_device_for_loading
from .init import glorot_factor, glorot_uniform_
from .net import SlicingNeuralNetClassifier
from .solvers import SOLVERS, optimizer_for
from .threads import step_flops, thread_policy

#: Rows per forward pass at prediction and validation time. Large batches are much faster
#: than the training batch size and the activations of 8192 rows are small.
INFERENCE_BATCH_SIZE = 8192

_SPARSE_FORMATS = ["csr", "csc", "coo"]


class _InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C during training, after the completed epochs were kept in the model."""


def _seed(rng: np.random.RandomState) -> int:
    return int(rng.randint(np.iinfo(np.int32).max))


class TorchDigitClassifierBase(ClassifierMixin, BaseEstimator):
    """Base of the package's classifiers: training, prediction and persistence.

    Not used directly. A subclass defines ``__init__`` with every parameter (its own and
    the training parameters below), merges :attr:`_parameter_constraints`, and
    implements the hooks:

    * ``_build_module(n_features, n_outputs) -> torch.nn.Module`` (required): a module
      taking float rows of shape ``(n, n_features)`` and returning logits of shape
      ``(n, n_outputs)``, in float32; the core initialises it, converts it to ``dtype``
      and moves it to the device;
    * ``_check_architecture()``: validate the architecture parameters beyond what the
      constraints express; raise ``InvalidParameterError``/``ValueError``;
    * ``_initialize_module(module)``: draw the initial weights (default: scikit-learn's
      Glorot uniform for every linear and convolution layer, biases included, with the
      factor for ``self.activation`` when the subclass has one); runs under a seeded torch
      RNG;
    * ``_set_network_attributes(module)``: set architecture-specific fitted attributes
      (the MLP's ``coefs_``/``intercepts_``/``n_layers_``) after successful training.

    Training parameters (meaning as in ``MLPClassifier``): ``solver``, ``alpha``,
    ``batch_size``, ``learning_rate``, ``learning_rate_init``, ``power_t``, ``max_iter``,
    ``shuffle``, ``random_state``, ``tol``, ``verbose``, ``warm_start``, ``momentum``,
    ``nesterovs_momentum``, ``early_stopping``, ``validation_fraction``, ``beta_1``,
    ``beta_2``, ``epsilon``, ``n_iter_no_change``, ``max_fun``, ``device``, ``dtype``.
    """

    #: Constraints of the training parameters; a subclass merges its own:
    #: ``_parameter_constraints = {**TorchDigitClassifierBase._parameter_constraints, ...}``.
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

    # -- hooks ------------------------------------------------------------------------------
    def _build_module(self, n_features: int, n_outputs: int) -> torch.nn.Module:
        raise NotImplementedError

    def _check_architecture(self) -> None:
        """Validate the architecture parameters (called before any data is touched)."""

    def _initialize_module(self, module: torch.nn.Module) -> None:
        glorot_uniform_(module, glorot_factor(getattr(self, "activation", None)))

    def _set_network_attributes(self, module: torch.nn.Module) -> None:
        """Set architecture-specific fitted attributes from the trained module."""

    # -- public API -------------------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):  # noqa: N803
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
        mode = "warm" if self.warm_start and self._is_trained() else "new"
        return self._fit(X, y, sample_weight, mode=mode, classes=None, partial=False)

    def _check_solver(self) -> bool:
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers; "
                f"solver={self.solver!r} is not stochastic."
            )
        return True

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):  # noqa: N803
        """Train for one epoch on ``X``, ``y``, continuing from the current weights.

        The batch size and the scaling of ``alpha`` follow each call's data.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            All the labels that will ever appear. Required on the first call; on later
            calls it may be omitted, and must equal ``classes_`` when given.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        mode = "resume" if self._is_trained() else "new"
        return self._fit(X, y, sample_weight, mode=mode, classes=classes, partial=True)

    def predict_proba(self, X):  # noqa: N803
        """Class probabilities, float64, columns in ``classes_`` order.

        Rows sum to 1, except for a multilabel model: one independent probability per
        label, as in ``MLPClassifier``.
        """
        logits = self._logits(X).double()
        if self._target_type == "multilabel":
            return torch.sigmoid(logits).numpy()
        if self._target_type == "binary":
            positive = torch.sigmoid(logits[:, 0])
            return torch.stack([1 - positive, positive], dim=1).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict_log_proba(self, X):  # noqa: N803
        """Logarithm of :meth:`predict_proba`, computed stably from the logits."""
        logits = self._logits(X).double()
        if self._target_type == "multilabel":
            return torch.nn.functional.logsigmoid(logits).numpy()
        if self._target_type == "binary":
            z = logits[:, 0]
            return torch.stack([torch.nn.functional.logsigmoid(-z),
                                torch.nn.functional.logsigmoid(z)], dim=1).numpy()
        return torch.log_softmax(logits, dim=1).numpy()

    def predict(self, X):  # noqa: N803
        """Predicted labels from ``classes_``; a 0/1 indicator matrix for multilabel."""
        logits = self._logits(X)
        if self._target_type == "multilabel":
            return (logits > 0).numpy().astype(np.int64)
        if self._target_type == "binary":
            codes = (logits[:, 0] > 0).long()
        else:
            codes = logits.argmax(dim=1)
        return self.classes_[codes.numpy()]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        return tags

    # -- state ------------------------------------------------------------------------------
    def _is_trained(self) -> bool:
        return hasattr(self, "net_")

    @property
    def _target_type(self) -> str:
        if self.out_activation_ == "softmax":
            return "multiclass"
        return "binary" if self.n_outputs_ == 1 else "multilabel"

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

    def _validate_xy(self, X, y, reset: bool):  # noqa: N803
        X, y = validate_data(self, X, y, reset=reset, accept_sparse=_SPARSE_FORMATS,  # noqa: N806
                             dtype=self.dtype, multi_output=True)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if sp.issparse(X):
            X = X.toarray()  # noqa: N806
        check_classification_targets(y)
        return X, y

    def _encode_targets(self, y, classes, mode: str, dtype,
                        partial: bool) -> tuple[np.ndarray, str, Any]:
        """Return ``(classes_, target_type, encoded y)`` and check them against the
        fitted classes for 'warm' and 'resume'."""
        if type_of_target(y) == "multilabel-indicator":
            y_classes, target_type = np.arange(y.shape[1]), "multilabel"
            encoded = np.asarray(y, dtype=dtype)
        else:
            y_classes = unique_labels(y)
            target_type = None
        if mode == "resume":
            if classes is not None and not np.array_equal(unique_labels(classes),
                                                          self.classes_):
                raise ValueError(
                    f"`classes={np.asarray(classes).tolist()!r}` is not the same as on the "
                    f"last call to partial_fit, was: {self.classes_.tolist()!r}."
                )
            all_classes = self.classes_
            if (target_type == "multilabel") != (self._target_type == "multilabel"):
                raise ValueError("partial_fit cannot switch between multilabel and "
                                 "single-label targets.")
        elif mode == "warm":
            if not np.array_equal(y_classes, self.classes_) or (
                    (target_type == "multilabel") != (self._target_type == "multilabel")):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as in the "
                    f"previous call to fit. Previously got {self.classes_}, `y` has "
                    f"{y_classes}."
                )
            all_classes = self.classes_
        elif classes is not None and target_type is None:
            all_classes = unique_labels(classes)
        elif classes is None and partial:
            raise ValueError(
                "classes must be passed on the first call to partial_fit: the network's "
                "output layer needs every label up front, e.g. "
                "partial_fit(X, y, classes=np.arange(10))."
            )
        else:
            all_classes = y_classes
        if target_type == "multilabel":
            return all_classes, target_type, encoded
        unknown = np.setdiff1d(y_classes, all_classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes "
                f"{all_classes.tolist()}; pass every label in `classes` on the first "
                "call to partial_fit."
            )
        if len(all_classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got one "
                f"class: {all_classes.tolist()}."
            )
        codes = np.searchsorted(all_classes, y)
        if len(all_classes) == 2:
            return all_classes, "binary", codes.astype(dtype)
        return all_classes, "multiclass", codes.astype(np.int64)

    def _split(self, y_codes, classes, target_type: str, seed: int):
        """Stratified train/validation row indices for early stopping, with errors in
        the user's labels."""
        n_samples = len(y_codes)
        stratify = None
        if target_type != "multilabel":
            stratify = y_codes
            counts = np.bincount(y_codes.astype(np.int64), minlength=len(classes))
            rare = classes[(counts > 0) & (counts < 2)]
            if rare.size:
                raise ValueError(
                    "early_stopping=True holds out a stratified validation set, which "
                    "needs at least 2 samples of every class in y; too few samples of "
                    f"class(es) {rare.tolist()}. Add samples or set early_stopping=False."
                )
        try:
            train_idx, valid_idx = train_test_split(
                np.arange(n_samples), test_size=self.validation_fraction,
                random_state=seed, stratify=stratify)
        except ValueError as exc:
            raise ValueError(
                f"early_stopping=True could not hold out validation_fraction="
                f"{self.validation_fraction} of {n_samples} samples of the classes "
                f"{classes.tolist()}: {exc} Increase 'validation_fraction' or the size of "
                "your dataset."
            ) from exc
        if len(valid_idx) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the "
                "size of your dataset."
            )
        return train_idx, valid_idx

    # -- training ---------------------------------------------------------------------------
    def _fit(self, X, y, sample_weight, *, mode: str, classes, partial: bool):  # noqa: N803
        self._check_params()
        saved = dict(vars(self))
        rollback = self._net_snapshot() if mode == "resume" else None
        try:
            return self._fit_unsafe(X, y, sample_weight, mode=mode, classes=classes,
                                    partial=partial)
        except _InterruptedAfterCommit:
            raise  # the completed epochs were kept: the model is consistent
        except BaseException:
            self._restore(saved, rollback)
            raise

    def _net_snapshot(self) -> dict:
        """What a resumed partial_fit changes in the net, copied on its device."""
        net = self.net_
        return {"module": copy.deepcopy(net.module_.state_dict()),
                "optimizer": copy.deepcopy(net.optimizer_.state_dict()),
                "generator": net.iterator_train__generator.get_state(),
                "rows": len(net.history), "batch_size": net.batch_size,
                "weight_decay": net.weight_decay, "l2_penalty": net.l2_penalty}

    def _restore(self, saved: dict, rollback: dict | None) -> None:
        self.__dict__.clear()
        self.__dict__.update(saved)
        if rollback is not None:
            net = self.net_
            net.module_.load_state_dict(rollback["module"])
            net.optimizer_.load_state_dict(rollback["optimizer"])
            net.iterator_train__generator.set_state(rollback["generator"])
            del net.history[rollback["rows"]:]
            net.set_params(batch_size=rollback["batch_size"])
            net.set_weight_decay(rollback["weight_decay"])
            net.l2_penalty = rollback["l2_penalty"]

    def _fit_unsafe(self, X, y, sample_weight, *, mode: str, classes,  # noqa: N803
                    partial: bool):
        device = torch.device(self.net_.device) if mode == "resume" else resolve_device(
            self.device)
        # As scikit-learn: a warm start or a resumed partial_fit checks X against the
        # fitted n_features_in_ (and feature names) instead of resetting them.
        X, y = self._validate_xy(X, y, reset=mode == "new")  # noqa: N806
        dtype = X.dtype
        all_classes, target_type, y_enc = self._encode_targets(y, classes, mode, dtype,
                                                               partial)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=dtype,
                                                 ensure_non_negative=True)
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must have a positive sum.")
        rng = check_random_state(self.random_state)
        init_seed, shuffle_seed, torch_seed, split_seed = (_seed(rng) for _ in range(4))

        n_samples, n_features = X.shape
        train_rows = valid_rows = None
        if self.early_stopping:
            train_rows, valid_rows = self._split(y_enc, all_classes, target_type, split_seed)
        n_train = n_samples if train_rows is None else len(train_rows)
        if getattr(self, "batch_norm", False) and n_train < 2:
            raise ValueError("batch_norm=True needs at least 2 training samples.")
        batch_size = self._batch_size(n_train)
        weights_train = (sample_weight if train_rows is None or sample_weight is None
                         else sample_weight[train_rows])
        mean_weight = 1.0 if weights_train is None else float(np.mean(weights_train))
        # scikit-learn divides the penalty alpha/2 ||W||^2 by the batch's summed sample
        # weight; its gradient is then alpha / (batch_size * mean weight) * W. Computed
        # from this call's data, so that each partial_fit chunk is scaled by its own.
        decay = self.alpha / (batch_size * mean_weight)

        n_outputs = 1 if target_type == "binary" else len(all_classes)
        if mode == "resume":
            net = self.net_
            net.set_params(batch_size=batch_size)
        else:
            module = self._new_module(n_features, n_outputs, init_seed)
            if mode == "warm":
                self._load_previous_weights(module)
            net = self._make_net(module, device, target_type=target_type,
                                 batch_size=batch_size, shuffle_seed=shuffle_seed)
            net.initialize()
        if self.solver == "lbfgs":
            net.l2_penalty = decay / 2
        else:
            net.set_weight_decay(decay)

        X_t = to_tensor(X, device)  # noqa: N806
        y_t = to_tensor(y_enc, device)
        w_t = to_tensor(sample_weight, device)
        rows = [None if r is None else to_tensor(r, device) for r in (train_rows, valid_rows)]
        train_set = TensorSet(X_t, y_t, w_t, rows=rows[0])
        valid_set = None if rows[1] is None else TensorSet(X_t, y_t, w_t, rows=rows[1])
        epochs = 1 if partial else self.max_iter
        history_start = len(net.history)
        self._run_training(net, train_set, valid_set, epochs, torch_seed)
        rows_done = net.history[history_start:]
        interrupted = net.interrupted_
        if not interrupted:
            self._check_finite(net, rows_done)
        self._commit(net, mode, all_classes, target_type, n_outputs, rows_done, n_train)
        if interrupted:
            warnings.warn(
                f"Training was interrupted (KeyboardInterrupt) after {len(rows_done)} "
                "complete epoch(s) of this call. The model keeps its weights from that "
                "point and can predict; call partial_fit to train it further.",
                UserWarning, stacklevel=4,
            )
            raise _InterruptedAfterCommit
        if not partial:
            self._warn_if_not_converged(net, len(rows_done), epochs)
        return self

    def _run_training(self, net, train_set: TensorSet, valid_set: TensorSet | None,
                      epochs: int, seed: int) -> None:
        """The one place where training runs (skorch's ``partial_fit`` on the net)."""
        device = torch.device(net.device)
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        # A forked, seeded torch RNG: dropout is reproducible and the caller's global
        # RNG state is left alone. The thread policy (see _threads) sets torch's CPU
        # threads for the size of a batch step and restores the caller's count.
        step = lambda: step_flops(net.module_, train_set.X, net.batch_size,  # noqa: E731
                                  training=True)
        with thread_policy(step, device), torch.random.fork_rng(devices=rng_devices):
            torch.manual_seed(seed)
            net.partial_fit(train_set, None, epochs=epochs, valid_set=valid_set)

    def _new_module(self, n_features: int, n_outputs: int, seed: int) -> torch.nn.Module:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            try:
                module = self._build_module(n_features, n_outputs)
            except (MemoryError, OverflowError, RuntimeError, TypeError) as exc:
                # torch reports allocation failures as RuntimeError, and sizes beyond
                # int64 as RuntimeError/TypeError "overflow"; anything else is a bug.
                message = str(exc).lower()
                if isinstance(exc, RuntimeError | TypeError) and "alloc" not in message and (
                        "overflow" not in message):
                    raise
                shape = ", ".join(f"{p}={getattr(self, p)!r}" for p in
                                  self._architecture_params) or "the network's parameters"
                raise MemoryError(
                    f"Not enough memory to build the network for {n_features} features "
                    f"and {n_outputs} outputs with {shape}; use smaller layers."
                ) from exc
            self._initialize_module(module)
        return module.to(getattr(torch, self.dtype))

    def _load_previous_weights(self, module: torch.nn.Module) -> None:
        try:
            module.load_state_dict(self.net_.module_.state_dict())
        except RuntimeError as exc:
            shape = ", ".join(self._architecture_params) or "the architecture"
            raise ValueError(
                "warm_start=True cannot continue from the previous fit: the network's "
                f"shape changed ({shape} or the number of features). Set warm_start=False "
                "to train a new network."
            ) from exc

    def _batch_size(self, n_samples: int) -> int:
        if self.solver == "lbfgs":
            return max(n_samples, 1)
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, max(n_samples, 1))

    def _make_net(self, module: torch.nn.Module, device: torch.device, *, target_type: str,
                  batch_size: int, shuffle_seed: int) -> SlicingNeuralNetClassifier:
        optimizer, optimizer_kwargs = optimizer_for(
            self.solver, learning_rate_init=self.learning_rate_init, momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum, beta_1=self.beta_1,
            beta_2=self.beta_2, epsilon=self.epsilon)
        lr = optimizer_kwargs.pop("lr")
        lbfgs = self.solver == "lbfgs"
        callbacks = [
            ("schedule", LearningRateSchedule("constant" if lbfgs else self.learning_rate,
                                              lr, self.power_t, self.max_iter)),
            ("monitor", ConvergenceMonitor(
                early_stopping=self.early_stopping, tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                adaptive=self.learning_rate == "adaptive" and not lbfgs,
                max_fun=self.max_fun if lbfgs else None, verbose=self.verbose)),
        ]
        if self.verbose:
            # skorch's own table, one row per epoch; the per-epoch bookkeeping columns
            # of our loop are left out.
            callbacks.append(("print_log", PrintLog(
                keys_ignored=["train_batch_count", "valid_batch_count", "train_samples",
                              "stop"], floatfmt=".4g")))
        return SlicingNeuralNetClassifier(
            module,
            criterion=torch.nn.CrossEntropyLoss,  # unused: get_loss computes the loss
            optimizer=optimizer,
            lr=lr,
            max_epochs=self.max_iter,
            batch_size=batch_size,
            iterator_train=TensorBatchIterator,
            iterator_valid=TensorBatchIterator,
            iterator_train__shuffle=self.shuffle,
            iterator_train__generator=torch.Generator().manual_seed(shuffle_seed),
            iterator_valid__batch_size=INFERENCE_BATCH_SIZE,
            train_split=None,
            callbacks=callbacks,
            verbose=int(bool(self.verbose)),  # PrintLog prints only when the net is verbose
            device=str(device),
            target_type=target_type,
            **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
        )

    def _check_finite(self, net, rows) -> None:
        params = [p.detach() for p in net.module_.parameters()]
        finite = bool(torch.stack([torch.isfinite(p).all() for p in params]).all())
        if not finite or not all(math.isfinite(r["train_loss"]) for r in rows):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed (e.g. a MinMaxScaler), or the "
                "learning rate (learning_rate_init) may be too high."
            )

    def _commit(self, net, mode: str, classes, target_type: str, n_outputs: int, rows,
                n_train: int) -> None:
        """Set the fitted attributes from a finished training call."""
        losses = [row["train_loss"] for row in rows]
        fresh = mode == "new"
        self.net_ = net
        self.device_ = str(net.device)
        self.classes_ = classes
        self.n_outputs_ = n_outputs
        self.out_activation_ = "softmax" if target_type == "multiclass" else "logistic"
        # n_iter_ counts the epochs of this call, as MLPClassifier's; t_ and the curves
        # go on over warm starts and partial_fit calls.
        self.n_iter_ = len(rows)
        self.t_ = (0 if fresh else self.t_) + len(rows) * n_train
        self.loss_curve_ = ([] if fresh else list(self.loss_curve_)) + losses
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float("nan")
        if self.early_stopping:
            previous = [] if fresh or self.validation_scores_ is None else self.validation_scores_
            self.validation_scores_ = list(previous) + [r["valid_acc"] for r in rows]
            self.best_validation_score_ = (max(self.validation_scores_)
                                           if self.validation_scores_ else None)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        self._set_network_attributes(net.module_)

    def _warn_if_not_converged(self, net, n_epochs: int, epochs: int) -> None:
        stop = net.history[-1].get("stop") if len(net.history) else None
        if self.solver == "lbfgs":
            if stop == "converged":
                return
            if stop == "max_fun":
                reason = (f"STOP: TOTAL NO. OF f AND g EVALUATIONS EXCEEDS LIMIT "
                          f"(max_fun={self.max_fun})")
            elif n_epochs == epochs:
                reason = f"STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT (max_iter={epochs})"
            else:
                return
            warnings.warn(
                f"lbfgs failed to converge after {n_epochs} iteration(s): {reason}. Increase "
                "max_iter or max_fun, or scale the data.", ConvergenceWarning, stacklevel=4)
        elif n_epochs == epochs and stop != "converged" and self.learning_rate != "cosine":
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)

    # -- prediction -------------------------------------------------------------------------
    def _logits(self, X) -> torch.Tensor:  # noqa: N803
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=_SPARSE_FORMATS,  # noqa: N806
                          dtype=self.dtype)
        if sp.issparse(X):
            X = X.toarray()  # noqa: N806
        return self._forward(X)

    def _forward(self, X: np.ndarray) -> torch.Tensor:  # noqa: N803
        """The one place where prediction forward passes run; returns CPU logits."""
        data = TensorSet(to_tensor(X, self.net_.device))
        rows = min(len(data), INFERENCE_BATCH_SIZE)
        chunk = lambda: step_flops(self.net_.module_, data.X, rows, training=False)  # noqa: E731
        with thread_policy(chunk, self.net_.device):
            # One device-to-host copy for the whole result, not one per batch.
            return self.net_.forward(data, training=False, device=self.net_.device).cpu()

    # -- persistence ------------------------------------------------------------------------
    def __getstate__(self):
        """Builtins, numpy arrays and one ``bytes`` blob: no torch or skorch objects.

        The blob is ``torch.save`` of CPU tensors (module, optimizer, shuffle generator),
        loaded back with ``weights_only=True``; the skorch net is rebuilt around it.
        """
        state = dict(super().__getstate__())  # a copy: the base may return __dict__ itself
        net = state.pop("net_", None)
        if net is not None:
            buffer = io.BytesIO()
            torch.save(net.training_state(), buffer)
            state["_net_state"] = {
                "torch": buffer.getvalue(),
                "history": [dict(row) for row in net.history],
                "batch_size": int(net.batch_size),
                "weight_decay": float(net.weight_decay),
                "l2_penalty": float(net.l2_penalty),
            }
        return state

    def __setstate__(self, state):
        saved = state.pop("_net_state", None)
        super().__setstate__(state)
        if saved is None:
            return
        device = resolve_device_for_loading(self.device)
        tensors = torch.load(io.BytesIO(saved["torch"]), map_location=device,
                             weights_only=True)
        module = self._build_module(self.n_features_in_, self.n_outputs_).to(
            getattr(torch, self.dtype))
        net = self._make_net(module, device, target_type=self._target_type,
                             batch_size=saved["batch_size"], shuffle_seed=0)
        net.initialize()
        net.load_training_state(tensors)
        net.set_weight_decay(saved["weight_decay"])
        net.l2_penalty = saved["l2_penalty"]
        net.history = History(saved["history"])
        self.net_ = net
        self.device_ = str(device)
