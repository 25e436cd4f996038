"""``TorchMLPRegressor``: a PyTorch MLP trained through skorch, as a scikit-learn regressor."""

from __future__ import annotations

from ...core.regressor import TorchRegressorBase
from .architecture import MLP_PARAMETER_CONSTRAINTS, MLPArchitecture


class TorchMLPRegressor(MLPArchitecture, TorchRegressorBase):
    """Multilayer perceptron regressor in PyTorch, trained through skorch.

    A drop-in for :class:`sklearn.neural_network.MLPRegressor`: its parameters, with its
    defaults, and its fitted attributes, on the same core as
    :class:`~sknn_mnist.MLPDigitClassifier` (the solvers, schedules, stopping rules,
    ``device``, ``dtype``, safe failure, thread policy and persistence are the
    classifier's). The output layer is the identity (``loss='squared_error'``) or the
    exponential (``loss='poisson'``); ``score`` is R^2.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        Half the squared error averaged over the outputs, or half the Poisson deviance
        summed over them (its network outputs are log-means; the predictions are their
        ``exp``), as in ``MLPRegressor``. 'poisson' needs non-negative targets.
    hidden_layer_sizes : array-like of int or int, default=(100,)
        Width of each hidden layer. An empty tuple gives a linear model.
    activation : {'relu', 'tanh', 'logistic', 'sigmoid', 'identity', 'leaky_relu', 'elu', \
'gelu'}, default='relu'
        Hidden-layer activation. 'sigmoid' is an alias of 'logistic'.
    solver : {'adam', 'sgd', 'lbfgs', 'adamw', 'rmsprop', 'adagrad'}, default='adam'
        Optimizer. 'lbfgs' trains full-batch, one L-BFGS iteration per ``max_iter`` step,
        and ignores ``batch_size``, ``learning_rate_init`` and ``learning_rate``.
    alpha : float, default=1e-4
        L2 penalty on the weights (not the biases), scaled as in scikit-learn.
    batch_size : int or 'auto', default='auto'
        Minibatch size; 'auto' is ``min(200, n_samples)``.
    learning_rate : {'constant', 'invscaling', 'adaptive', 'cosine'}, default='constant'
        Learning-rate schedule, as in :class:`~sknn_mnist.MLPDigitClassifier`: 'cosine'
        anneals to 1% of ``learning_rate_init`` over the ``max_iter`` epochs of a ``fit``,
        and has no horizon in ``partial_fit`` (every call trains at ``learning_rate_init``).
    learning_rate_init : float, default=1e-3
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of 'invscaling'.
    max_iter : int, default=200
        Number of epochs (for 'lbfgs': L-BFGS iterations). Training stops earlier when the
        loss (or, with early stopping, the validation R^2) stops improving.
    shuffle : bool, default=True
        Whether to shuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the weight initialisation, the shuffling, dropout and the validation split.
    tol : float, default=1e-4
        Minimum improvement of the loss (or validation R^2) that counts as progress.
    verbose : int or bool, default=False
        ``1`` prints skorch's ``PrintLog`` table, one row per epoch (``valid_r2`` with
        early stopping).
    warm_start : bool, default=False
        Whether ``fit`` starts from the weights of the previous fit. The number of outputs,
        ``loss`` and the network's shape must be unchanged.
    momentum, nesterovs_momentum : float, bool, default=0.9, True
        Momentum of 'sgd'.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (a random split), stop when
        the validation R^2 has not improved by ``tol`` for ``n_iter_no_change`` epochs, and
        restore the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training data held out for early stopping.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam/AdamW coefficients (``epsilon`` also for RMSprop and Adagrad).
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement tolerated before stopping.
    max_fun : int, default=15000
        For 'lbfgs': stop once the loss has been evaluated this many times.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Whether to add batch normalisation after each hidden linear layer.
    device : str, default='auto'
        'auto' (CUDA when available, else CPU), 'cpu', 'cuda' or 'cuda:N'. The training
        data is moved to the device once per fit.
    dtype : {'float32', 'float64'}, default='float32'
        Precision of the weights and the computation (the targets are converted to it);
        'float64' matches scikit-learn's arithmetic but is slower.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when X was a DataFrame with string column names.
    n_iter_ : int
        Number of epochs run by the last call.
    t_ : int
        Number of training samples seen.
    loss_ : float
        Training loss of the last epoch.
    loss_curve_ : list of float
        Training loss of each epoch.
    best_loss_ : float or None
        Smallest training loss; None with early stopping.
    validation_scores_ : list of float or None
        Validation R^2 of each epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best validation R^2 with early stopping, else None.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs (columns of ``y``).
    out_activation_ : str
        'identity', or 'exp' for ``loss='poisson'``.
    coefs_, intercepts_ : list of ndarray
        Weight matrices (``MLPRegressor``'s shapes) and bias vectors, numpy copies.
    device_ : str
        Device the network lives on.
    net_ : SlicingNeuralNetClassifier
        The fitted skorch net (``net_.module_`` is the torch module, ``net_.history`` the
        per-epoch history).

    Notes
    -----
    Same as ``MLPRegressor``: the parameters and their defaults, the fitted attributes,
    the losses (half squared error, half Poisson deviance with the ``exp`` output), the
    Glorot-uniform initialisation, ``alpha``, the stopping rules, early stopping on the
    validation R^2 (weighted by ``sample_weight``), ``warm_start``, ``partial_fit(X, y,
    sample_weight=None)``, multi-output ``y``, 1-D predictions for one output,
    ``ConvergenceWarning`` when ``max_iter`` or ``max_fun`` runs out.

    Deliberately different:

    - ``dtype`` (float32 by default, whatever X's dtype), ``device``, ``dropout``,
      ``batch_norm``, the extra activations, solvers and the 'cosine' schedule are new;
      'lbfgs' is torch's L-BFGS, one iteration per epoch; ``predict`` returns float64.
    - Divergence is an error (``ValueError``, the model left as it was), also with early
      stopping, where ``MLPRegressor`` restores its best weights and returns; a final loss
      far above that of predicting 0 warns.
    - ``loss='poisson'`` with a negative target is a ``ValueError`` (``MLPRegressor``
      trains on NaN losses). A ``warm_start`` fit or a ``partial_fit`` with another
      ``loss`` or number of outputs than the fitted model's is a ``ValueError``.
    - Ctrl-C keeps the completed epochs and is raised again.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn_mnist import TorchMLPRegressor
    >>> X = np.linspace(-3, 3, 400).reshape(-1, 1)
    >>> y = np.sin(X).ravel()
    >>> model = TorchMLPRegressor(hidden_layer_sizes=(64, 64), learning_rate_init=1e-2,
    ...                           max_iter=300, random_state=0).fit(X, y)
    >>> model.score(X, y) > 0.99
    True
    """

    _parameter_constraints: dict = {
        **TorchRegressorBase._parameter_constraints,
        **MLP_PARAMETER_CONSTRAINTS,
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
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
        self.loss = loss
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
