"""``MLPDigitClassifier``: a PyTorch MLP trained through skorch, as a scikit-learn classifier."""

from __future__ import annotations

import io
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data
from skorch.helper import predefined_split
from skorch.history import History

from ._callbacks import ConvergenceMonitor, EpochLogger, LearningRateSchedule
from ._data import TensorBatchIterator, TensorSet, to_tensor
from ._device import (
    DEVICE_HELP,
    is_valid_device_name,
    resolve_device,
    resolve_device_for_loading,
)
from ._module import ACTIVATIONS, MLPModule
from ._net import SlicingNeuralNetClassifier
from ._optim import SOLVERS, optimizer_for

#: Rows per forward pass at prediction and validation time. Large batches are much faster
#: than the training batch size and the activations of 8192 rows are small.
INFERENCE_BATCH_SIZE = 8192

_SPARSE_FORMATS = ["csr", "csc", "coo"]


def _seed(rng: np.random.RandomState) -> int:
    return int(rng.randint(np.iinfo(np.int32).max))


class MLPDigitClassifier(ClassifierMixin, BaseEstimator):
    """Multilayer perceptron classifier in PyTorch, trained through skorch.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` (same parameter names and
    fitted attributes where the concept exists) that trains on a GPU when there is one,
    trains faster on the CPU, and adds dropout, batch normalisation, more activations,
    more optimizers and a cosine learning-rate schedule.

    The defaults are tuned for MNIST-like data scaled to [0, 1] (put a ``MinMaxScaler``
    in front): a 784-100-50-10 ReLU network, Adam at 1e-3, batches of 64, 15 epochs with
    a cosine-decaying learning rate. That reaches about 98% test accuracy on MNIST in
    about 15 seconds on 2 CPU cores.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int or int, default=(100, 50)
        Width of each hidden layer. An empty tuple gives multinomial logistic regression.
    activation : {'relu', 'tanh', 'logistic', 'sigmoid', 'identity', 'leaky_relu', 'elu', \
'gelu'}, default='relu'
        Hidden-layer activation. 'sigmoid' is an alias of 'logistic'.
    solver : {'adam', 'sgd', 'lbfgs', 'adamw', 'rmsprop', 'adagrad'}, default='adam'
        Optimizer. 'lbfgs' trains full-batch, one L-BFGS iteration per ``max_iter`` step,
        and ignores ``batch_size``, ``learning_rate_init`` and ``learning_rate``.
    alpha : float, default=1e-4
        L2 penalty on the weights (not the biases), scaled as in scikit-learn: the penalty
        ``alpha / 2 * ||W||^2`` is divided by the batch's total sample weight. Applied as
        weight decay for gradient solvers (decoupled for 'adamw'), and in the loss for
        'lbfgs'.
    batch_size : int or 'auto', default=64
        Minibatch size; 'auto' is ``min(200, n_samples)`` as in scikit-learn. A value
        larger than the number of samples means full-batch training.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine'}, default='cosine'
        Learning-rate schedule, for every solver but 'lbfgs'. 'constant', 'invscaling'
        (``learning_rate_init / (t + 1) ** power_t`` with ``t`` the samples seen) and
        'adaptive' (divide by 5 when ``n_iter_no_change`` epochs bring no improvement) are
        scikit-learn's. 'cosine' anneals from ``learning_rate_init`` to 1% of it over
        ``max_iter`` epochs, updated each batch; it is the default because it removes the
        epoch-to-epoch wobble of a constant rate at the end of training.
    learning_rate_init : float, default=1e-3
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    max_iter : int, default=15
        Number of epochs (for 'lbfgs': L-BFGS iterations). Training stops earlier when the
        loss (or, with early stopping, the validation score) stops improving.
    shuffle : bool, default=True
        Whether to shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling, dropout and the validation split.
        With an int, results on the CPU are identical from one fit to the next.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation score) that counts as progress.
    verbose : int or bool, default=0
        ``0`` prints nothing; ``1`` prints one line per epoch (train loss, validation loss
        and accuracy when there is a validation set, learning rate, seconds).
    warm_start : bool, default=False
        Whether ``fit`` starts from the weights of the previous fit (with a new optimizer,
        as in scikit-learn). The classes and the network's shape must be unchanged.
    momentum : float, default=0.9
        Momentum of 'sgd'.
    nesterovs_momentum : bool, default=True
        Whether 'sgd' uses Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), stop when the
        validation accuracy has not improved by ``tol`` for ``n_iter_no_change`` epochs,
        and restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam/AdamW coefficients (``epsilon`` also for RMSprop and Adagrad).
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement tolerated before stopping.
    max_fun : int, default=15000
        For 'lbfgs': stop once the loss has been evaluated this many times.
    dropout : float, default=0.0
        Dropout probability after each hidden activation (0 <= dropout < 1).
    batch_norm : bool, default=False
        Whether to add batch normalisation after each hidden linear layer.
    device : str, default='auto'
        'auto' (CUDA when ``torch.cuda.is_available()``, else CPU), 'cpu', 'cuda' or
        'cuda:N'. The training data is moved to the device once per fit.
    dtype : {'float32', 'float64'}, default='float32'
        Precision of the weights and the computation. float32 is fast everywhere;
        float64 matches scikit-learn's arithmetic (useful for exact comparisons) but is
        several times slower, much more so on most GPUs.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    n_iter_ : int
        Number of epochs run (cumulative over ``partial_fit`` and warm-started fits).
    t_ : int
        Number of training samples seen.
    loss_ : float
        Training loss of the last epoch (cross-entropy plus the L2 penalty).
    loss_curve_ : list of float
        Training loss of each epoch.
    best_loss_ : float or None
        Smallest training loss; None with early stopping, as in scikit-learn.
    validation_scores_ : list of float or None
        Validation accuracy of each epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best validation accuracy with early stopping, else None.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units: n_classes, or 1 for a binary problem.
    out_activation_ : str
        'softmax', or 'logistic' for a binary problem.
    coefs_ : list of ndarray
        Weight matrices; ``coefs_[i]`` has shape (units in layer i, units in layer i + 1).
    intercepts_ : list of ndarray
        Bias vectors; ``intercepts_[i]`` has shape (units in layer i + 1,).
    device_ : str
        Device the network lives on: where it trained, or where it was loaded.
    net_ : SlicingNeuralNetClassifier
        The fitted skorch net (``net_.module_`` is the torch module, ``net_.history`` the
        per-epoch history).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> from sknn_mnist import MLPDigitClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(MinMaxScaler(), MLPDigitClassifier(max_iter=30, random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
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
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "device": [str],
        "dtype": [StrOptions({"float32", "float64"})],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100, 50),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size=64,
        learning_rate="cosine",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=15,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dropout=0.0,
        batch_norm=False,
        device="auto",
        dtype="float32",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.device = device
        self.dtype = dtype

    # -- public API ----------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None):  # noqa: N803
        """Train the network on ``X``, ``y`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
            Training data, any real dtype (e.g. uint8 pixels); converted to float32 once.
            Sparse input is densified.
        y : array-like of shape (n_samples,)
            Labels: ints, strings, bools, or a pandas categorical.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-sample weights of the loss.

        Returns
        -------
        self : MLPDigitClassifier
        """
        self._validate_params()
        self._check_param_values()
        continuing = self.warm_start and hasattr(self, "net_")
        # As scikit-learn: a warm start checks X against the fitted n_features_in_ (and
        # feature names) instead of resetting them before failing.
        X, y = validate_data(self, X, y, reset=not continuing,  # noqa: N806
                             accept_sparse=_SPARSE_FORMATS, dtype=self.dtype)
        classes, y_codes = self._encode_labels(y)
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError(
                "warm_start can only be used where `y` has the same classes as in the "
                f"previous call to fit. Previously got {self.classes_}, `y` has {classes}."
            )
        self.classes_ = classes
        return self._train(X, y_codes, sample_weight, incremental=False,
                           continuing=continuing)

    def _check_solver(self) -> bool:
        if self.solver == "lbfgs":
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers; "
                f"solver={self.solver!r} is not stochastic."
            )
        return True

    @available_if(_check_solver)
    def partial_fit(self, X, y, classes=None, sample_weight=None):  # noqa: N803
        """Train for one epoch on ``X``, ``y``, continuing from the current weights.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the labels that will ever appear. Required on the first call, ignored
            afterwards (as in scikit-learn).
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : MLPDigitClassifier
        """
        first_call = not hasattr(self, "net_")
        if first_call:
            self._validate_params()
            self._check_param_values()
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: the network's "
                    "output layer needs every label up front, e.g. "
                    "partial_fit(X, y, classes=np.arange(10))."
                )
        X, y = validate_data(self, X, y, reset=first_call,  # noqa: N806
                             accept_sparse=_SPARSE_FORMATS, dtype=self.dtype)
        if first_call:
            self.classes_, _ = self._encode_labels(np.asarray(classes))
        check_classification_targets(y)
        unknown = np.setdiff1d(np.unique(y), self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in classes_ "
                f"{self.classes_.tolist()}; pass every label in `classes` on the first "
                "call to partial_fit."
            )
        y_codes = np.searchsorted(self.classes_, y)
        return self._train(X, y_codes, sample_weight, incremental=True, continuing=True)

    def predict_proba(self, X):  # noqa: N803
        """Class probabilities, float64, columns in ``classes_`` order, rows summing to 1."""
        logits = self._logits(X).double()
        if self.n_outputs_ == 1:
            positive = torch.sigmoid(logits[:, 0])
            return torch.stack([1 - positive, positive], dim=1).numpy()
        return torch.softmax(logits, dim=1).numpy()

    def predict_log_proba(self, X):  # noqa: N803
        """Logarithm of :meth:`predict_proba`, computed stably from the logits."""
        logits = self._logits(X).double()
        if self.n_outputs_ == 1:
            z = logits[:, 0]
            return torch.stack([torch.nn.functional.logsigmoid(-z),
                                torch.nn.functional.logsigmoid(z)], dim=1).numpy()
        return torch.log_softmax(logits, dim=1).numpy()

    def predict(self, X):  # noqa: N803
        """Predicted labels, taken from ``classes_``."""
        logits = self._logits(X)
        if self.n_outputs_ == 1:
            codes = (logits[:, 0] > 0).long()
        else:
            codes = logits.argmax(dim=1)
        return self.classes_[codes.numpy()]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- validation helpers -----------------------------------------------------------------
    def _check_param_values(self) -> None:
        """Checks that parameter constraints cannot express."""
        if not is_valid_device_name(self.device):
            raise InvalidParameterError(
                f"The 'device' parameter of {type(self).__name__} must be {DEVICE_HELP}. "
                f"Got {self.device!r} instead."
            )
        sizes = self._hidden_sizes()
        if any(int(s) != s or s < 1 for s in sizes):
            raise InvalidParameterError(
                "The 'hidden_layer_sizes' parameter of "
                f"{type(self).__name__} must hold positive integers. Got "
                f"{self.hidden_layer_sizes!r} instead."
            )
        if self.early_stopping and self.validation_fraction == 0:
            raise ValueError("early_stopping=True needs validation_fraction > 0.")

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        if np.ndim(sizes) == 0:
            sizes = [sizes]
        return [int(s) if float(s).is_integer() else s for s in sizes]

    def _encode_labels(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        check_classification_targets(y)
        if type_of_target(y) == "multilabel-indicator":
            raise ValueError(f"{type(self).__name__} does not support multilabel targets.")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; got one "
                f"class: {classes.tolist()}."
            )
        return classes, codes

    def _logits(self, X) -> torch.Tensor:  # noqa: N803
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse=_SPARSE_FORMATS,  # noqa: N806
                          dtype=self.dtype)
        if sp.issparse(X):
            X = X.toarray()  # noqa: N806
        data = TensorSet(to_tensor(X, self.net_.device))
        # One device-to-host copy for the whole result, not one per batch.
        return self.net_.forward(data, training=False, device=self.net_.device).cpu()

    # -- training ---------------------------------------------------------------------------
    def _train(self, X, y_codes, sample_weight, *, incremental: bool,  # noqa: N803
               continuing: bool):
        if sp.issparse(X):
            X = X.toarray()  # noqa: N806
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True)
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must have a positive sum.")
        n_samples = X.shape[0]
        binary = len(self.classes_) == 2
        rng = check_random_state(self.random_state)
        init_seed, shuffle_seed, torch_seed, split_seed = (_seed(rng) for _ in range(4))

        resume = incremental and hasattr(self, "net_")  # partial_fit after a first call
        device = torch.device(self.net_.device) if resume else resolve_device(self.device)
        X_t = to_tensor(X, device)  # noqa: N806
        y_t = to_tensor(y_codes.astype(X.dtype if binary else np.int64), device)
        w_t = to_tensor(sample_weight, device)
        train_rows = valid_rows = None
        if self.early_stopping and not incremental:
            train_idx, valid_idx = train_test_split(
                np.arange(n_samples), test_size=self.validation_fraction,
                random_state=split_seed, stratify=y_codes)
            train_rows, valid_rows = (to_tensor(i, device) for i in (train_idx, valid_idx))
        train_set = TensorSet(X_t, y_t, w_t, rows=train_rows)
        valid_set = None if valid_rows is None else TensorSet(X_t, y_t, w_t, rows=valid_rows)
        if self.batch_norm and len(train_set) < 2:
            raise ValueError("batch_norm=True needs at least 2 training samples.")

        n_features = X.shape[1]
        n_outputs = 1 if binary else len(self.classes_)
        if resume:
            net = self.net_
        else:
            net = self._make_net(n_features, n_outputs, device, shuffle_seed,
                                 batch_size=self._batch_size(len(train_set)),
                                 mean_weight=1.0 if w_t is None
                                 else float(sample_weight.mean()))
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(init_seed)
                net.initialize()
            if continuing and hasattr(self, "net_"):
                # warm_start: new optimizer, old weights; the curves and counters go on
                # (n_iter_ is cumulative, as in scikit-learn).
                self._copy_weights_into(net)
                if self.early_stopping and self.validation_scores_ is None:
                    self.validation_scores_ = []
            else:
                self.loss_curve_, self.n_iter_, self.t_ = [], 0, 0
                self.validation_scores_ = [] if self.early_stopping else None
                # partial_fit never validates: without this, a first partial_fit with
                # early_stopping=True would leave the attribute undefined.
                self.best_validation_score_ = None

        callbacks = dict(net.callbacks_)
        callbacks["schedule"].begin(epoch_offset=self.n_iter_ if incremental else 0,
                                    samples_seen=self.t_ if incremental else 0)
        callbacks["monitor"].begin(enabled=not incremental)
        net.train_split = None if valid_set is None else predefined_split(valid_set)
        history_start = len(net.history)
        rng_devices = [device.index or 0] if device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=rng_devices):
                torch.manual_seed(torch_seed)
                net.partial_fit(train_set, None, epochs=1 if incremental else self.max_iter)
        finally:
            net.train_split = None  # do not keep the validation data alive in the model

        self.net_ = net
        self.device_ = str(device)
        self.n_outputs_ = n_outputs
        self._record_training(net.history[history_start:], len(train_set),
                              callbacks["monitor"], incremental)
        return self

    def _batch_size(self, n_samples: int) -> int:
        if self.solver == "lbfgs":
            return max(n_samples, 1)
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, max(n_samples, 1))

    def _make_net(self, n_features: int, n_outputs: int, device: torch.device,
                  shuffle_seed: int, batch_size: int, mean_weight: float = 1.0):
        optimizer, optimizer_kwargs = optimizer_for(
            self.solver, learning_rate_init=self.learning_rate_init, momentum=self.momentum,
            nesterovs_momentum=self.nesterovs_momentum, beta_1=self.beta_1,
            beta_2=self.beta_2, epsilon=self.epsilon)
        lr = optimizer_kwargs.pop("lr")
        # scikit-learn divides the penalty alpha/2 ||W||^2 by the batch's summed sample
        # weight; its gradient is then alpha / (batch_size * mean weight) * W.
        decay = self.alpha / (batch_size * mean_weight)
        extra: dict[str, Any] = {f"optimizer__{k}": v for k, v in optimizer_kwargs.items()}
        l2_penalty = 0.0
        if self.solver == "lbfgs":
            l2_penalty = decay / 2
        elif decay:
            extra["optimizer__param_groups"] = [("layers.linear*.weight",
                                                 {"weight_decay": decay})]
        callbacks = [
            ("schedule", LearningRateSchedule(
                "constant" if self.solver == "lbfgs" else self.learning_rate,
                lr, self.power_t, self.max_iter)),
            ("monitor", ConvergenceMonitor(
                early_stopping=self.early_stopping, tol=self.tol,
                n_iter_no_change=self.n_iter_no_change,
                adaptive=self.learning_rate == "adaptive" and self.solver != "lbfgs",
                max_fun=self.max_fun if self.solver == "lbfgs" else None,
                verbose=self.verbose)),
        ]
        if self.verbose:
            callbacks.append(("logger", EpochLogger(self.max_iter)))
        binary = n_outputs == 1
        generator = torch.Generator().manual_seed(shuffle_seed)
        return SlicingNeuralNetClassifier(
            MLPModule,
            module__n_features=n_features,
            module__hidden_layer_sizes=self._hidden_sizes(),
            module__n_outputs=n_outputs,
            module__activation=self.activation,
            module__dropout=self.dropout,
            module__batch_norm=self.batch_norm,
            module__dtype=getattr(torch, self.dtype),
            criterion=torch.nn.BCEWithLogitsLoss if binary else torch.nn.CrossEntropyLoss,
            optimizer=optimizer,
            lr=lr,
            max_epochs=self.max_iter,
            batch_size=batch_size,
            iterator_train=TensorBatchIterator,
            iterator_valid=TensorBatchIterator,
            iterator_train__shuffle=self.shuffle,
            iterator_train__generator=generator,
            iterator_valid__batch_size=INFERENCE_BATCH_SIZE,
            train_split=None,
            callbacks=callbacks,
            verbose=0,
            device=str(device),
            binary=binary,
            l2_penalty=l2_penalty,
            **extra,
        )

    def _copy_weights_into(self, net) -> None:
        try:
            net.module_.load_state_dict(self.net_.module_.state_dict())
        except RuntimeError as exc:
            raise ValueError(
                "warm_start=True cannot continue from the previous fit: the network's "
                "shape changed (hidden_layer_sizes, batch_norm or the number of features). "
                "Set warm_start=False to train a new network."
            ) from exc

    def _record_training(self, rows, n_train: int, monitor, incremental: bool) -> None:
        self.loss_curve_ = self.loss_curve_ + [row["train_loss"] for row in rows]
        self.n_iter_ += len(rows)
        self.t_ += len(rows) * n_train
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else float("nan")
        if self.early_stopping and not incremental:
            self.validation_scores_ = self.validation_scores_ + [r["valid_acc"] for r in rows]
            self.best_validation_score_ = (max(self.validation_scores_)
                                           if self.validation_scores_ else None)
            self.best_loss_ = None
        else:
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
            if not self.early_stopping:
                self.validation_scores_ = None
                self.best_validation_score_ = None
        linear = self.net_.module_.linear_layers()
        self.coefs_ = [layer.weight.detach().cpu().numpy().T.copy() for layer in linear]
        self.intercepts_ = [layer.bias.detach().cpu().numpy().copy() for layer in linear]
        self.n_layers_ = len(linear) + 1
        self.out_activation_ = "logistic" if self.n_outputs_ == 1 else "softmax"
        ran_all_epochs = len(rows) == self.max_iter
        if (not incremental and ran_all_epochs and not monitor.converged_
                and self.learning_rate != "cosine" and self.solver != "lbfgs"
                and not self.early_stopping):
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.", ConvergenceWarning, stacklevel=4)

    # -- persistence ------------------------------------------------------------------------
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: the base may return __dict__ itself
        net = state.pop("net_", None)
        if net is not None:
            # Torch state travels as CPU tensors in torch's format, so that a model trained
            # on a GPU loads anywhere; the skorch net is rebuilt around it on load.
            buffer = io.BytesIO()
            torch.save({
                "module": {k: v.cpu() for k, v in net.module_.state_dict().items()},
                "optimizer": _optimizer_state_to_cpu(net.optimizer_.state_dict()),
                "generator": net.iterator_train__generator.get_state(),
            }, buffer)
            state["_torch_state"] = buffer.getvalue()
            state["_history"] = [dict(row) for row in net.history]
            state["_batch_size"] = net.batch_size
        return state

    def __setstate__(self, state):
        torch_state = state.pop("_torch_state", None)
        history = state.pop("_history", None)
        batch_size = state.pop("_batch_size", None)
        super().__setstate__(state)
        if torch_state is None:
            return
        device = resolve_device_for_loading(self.device)
        saved = torch.load(io.BytesIO(torch_state), map_location=device, weights_only=True)
        net = self._make_net(self.n_features_in_, self.n_outputs_, device, shuffle_seed=0,
                             batch_size=batch_size)
        net.initialize()
        net.module_.load_state_dict(saved["module"])
        net.optimizer_.load_state_dict(saved["optimizer"])
        net.iterator_train__generator.set_state(saved["generator"].cpu())
        net.history = History(history)
        self.net_ = net
        self.device_ = str(device)


def _optimizer_state_to_cpu(state: dict) -> dict:
    def move(value):
        if isinstance(value, torch.Tensor):
            return value.cpu()
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(move(v) for v in value)
        return value
    return move(state)
