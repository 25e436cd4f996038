"""``MLPDigitClassifier``: a PyTorch MLP trained through skorch, as a scikit-learn classifier."""

from __future__ import annotations

from ...core.classifier import TorchDigitClassifierBase
from .architecture import MLP_PARAMETER_CONSTRAINTS, MLPArchitecture


class MLPDigitClassifier(MLPArchitecture, TorchDigitClassifierBase):
    """Multilayer perceptron classifier in PyTorch, trained through skorch.

    A drop-in for :class:`sklearn.neural_network.MLPClassifier` (same parameter names and
    fitted attributes where the concept exists) that trains on a GPU when there is one,
    trains faster on the CPU, and adds dropout, batch normalisation, more activations,
    more optimizers and a cosine learning-rate schedule.

    The defaults are tuned for MNIST-like data scaled to [0, 1] (put a ``MinMaxScaler``
    in front): a 784-100-50-10 ReLU network, Adam at 2e-3, batches of 64, 15 epochs with
    a cosine-decaying learning rate. Its MNIST test accuracy is recorded in
    ``benchmarks/results/RESULTS.md`` (``benchmarks/accuracy.py``) and the README.

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
        the ``max_iter`` epochs of a ``fit``, updated each batch; it is the default
        because it removes the epoch-to-epoch wobble of a constant rate at the end of
        training. ``partial_fit`` has no horizon (a stream has no known end): there
        'cosine' trains at ``learning_rate_init`` on every call, as 'constant' does.
    learning_rate_init : float, default=2e-3
        Initial learning rate (scikit-learn's default is 1e-3: with its Glorot
        initialisation and the cosine decay, 2e-3 gives the 784-100-50-10 network more
        MNIST test accuracy; measured in ``benchmarks/accuracy.py``, see the README).
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
        ``0`` prints nothing; ``1`` prints skorch's ``PrintLog`` table, one row per epoch
        (learning rate, train loss, validation accuracy and loss when there is a validation
        set, seconds).
    warm_start : bool, default=False
        Whether ``fit`` starts from the weights of the previous fit (with a new optimizer
        and schedule, as in scikit-learn) for another ``max_iter`` epochs. The classes and
        the network's shape must be unchanged.
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
        Number of epochs run by the last call, as in scikit-learn: a warm-started ``fit``
        with ``max_iter=3`` gives 3, a ``partial_fit`` 1 (``t_`` and ``loss_curve_`` go
        on accumulating).
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

    Notes
    -----
    Same as ``MLPClassifier``: Glorot-uniform initialisation (weights and biases, factor
    2 for 'logistic'), ``alpha`` on every weight matrix (not the biases), the stopping
    rules, ``warm_start``, ``partial_fit(X, y, sample_weight=None, classes=None)``
    (``classes`` on the first call, no early stopping), multilabel indicator targets
    (sigmoid outputs, indicator predictions), ``predict_log_proba`` as
    ``np.log(predict_proba)``, a single class in ``y`` (fitted; every prediction is that
    class), ``ConvergenceWarning`` when ``max_iter`` (or L-BFGS's ``max_fun``) runs out,
    and the ``ValueError`` when training produces non-finite weights. scikit-learn's own
    MLP tests run on this class in ``tests/core/test_sklearn_mlp_suite.py``.

    Deliberately different:

    - Defaults: ``(100, 50)``, ``batch_size=64``, ``learning_rate_init=2e-3``,
      ``max_iter=15`` and ``learning_rate='cosine'`` (MNIST-tuned) instead of ``(100,)``,
      ``'auto'``, 1e-3, 200 and ``'constant'``; pass those to get scikit-learn's.
      'cosine' runs a fixed schedule, so it gives no ``ConvergenceWarning``; in
      ``partial_fit`` it has no horizon (see ``learning_rate``).
    - ``dtype`` (float32 by default, whatever X's dtype) and ``device`` are new; so are
      ``dropout``, ``batch_norm``, the activations 'leaky_relu', 'elu', 'gelu' and the
      solvers 'adamw', 'rmsprop', 'adagrad'; every solver takes every schedule.
    - 'lbfgs' is torch's L-BFGS (strong-Wolfe line search), one iteration per epoch;
      it stops on ``tol``/``n_iter_no_change`` like the other solvers, not on scipy's
      gradient tolerance.
    - ``alpha`` is scaled by the call's batch size (times the mean sample weight) for
      every batch, the short last one included; a one-sample last batch joins the
      previous batch. ``early_stopping`` stratifies the split for every single-label
      problem.
    - Ctrl-C (``KeyboardInterrupt``) is not swallowed: the completed epochs are kept,
      then it is raised again, so a script or grid search stops. Divergence is an
      error also with early stopping (``MLPClassifier`` then restores its best weights).
    - A single class in ``y``: ``predict_proba`` has one column of ones (one per class of
      ``classes_``), where ``MLPClassifier`` returns two.
    - Messages name your labels: the early-stopping error for a class with one sample
      says ``Classes with too few members are: [1]`` where ``MLPClassifier`` names its
      encoded label (``['True']``).
    - ``verbose`` prints skorch's table, one row per epoch, not ``Iteration n, loss``.

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
        **TorchDigitClassifierBase._parameter_constraints,
        **MLP_PARAMETER_CONSTRAINTS,
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
        learning_rate_init=2e-3,
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
