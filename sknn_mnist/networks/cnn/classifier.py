"""``CNNDigitClassifier``: the course's convolutional network as a scikit-learn classifier."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError

from ...core.classifier import TorchDigitClassifierBase
from .module import CNNModule, infer_image_shape


class CNNDigitClassifier(TorchDigitClassifierBase):
    """Convolutional network classifier in PyTorch, trained through skorch.

    The course's small convolutional network for digit images, with the same training
    parameters, fitted attributes and behaviour as
    :class:`~sknn_mnist.MLPDigitClassifier` (both are thin layers over one shared core).
    Rows are flat pixels, as for every other model of the package; the network reshapes
    them to images (``image_shape``).

    With the defaults, the network is conv 3x3/32, ReLU, 2x2 max-pool, conv 3x3/64, ReLU,
    2x2 max-pool, dropout 0.25, dense 128, ReLU, dropout 0.5, dense n_classes; Adam at
    1e-3, batches of 64, 12 epochs with a cosine-decaying learning rate. Its MNIST test
    accuracy (on pixels scaled to [0, 1]: put :class:`~sknn_mnist.models.PixelScaler` or a
    ``MinMaxScaler`` in front), against the course's network and with ``augment=True``,
    is recorded in ``benchmarks/results/RESULTS.md`` (``benchmarks/cnn.py``).

    Parameters
    ----------
    channels : array-like of int or int, default=(32, 64)
        Output channels of each convolution block (conv -> [batch norm] -> ReLU -> 2x2
        max-pool).
    kernel_size : int, default=3
        Side of the square convolution kernels; odd, padded so that a convolution keeps
        the image size.
    dense_units : int, default=128
        Width of the hidden dense layer; 0 connects the convolution features straight to
        the output layer.
    conv_dropout : float, default=0.25
        Dropout probability on the flattened convolution features.
    dense_dropout : float, default=0.5
        Dropout probability after the hidden dense layer.
    batch_norm : bool, default=False
        Whether to add batch normalisation after each convolution.
    image_shape : array-like of 2 or 3 int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of the image each row holds,
        pixels in row-major order (channel first). None infers a square single-channel
        image (784 -> 28x28, 64 -> 8x8) and refuses other row lengths. One entry may be
        -1, inferred from the row length as in ``numpy.reshape``: ``(1, -1)`` reads any
        row as a 1-pixel-high strip (the pooling then pools along the width only).
    augment : bool, default=False
        Train on randomly shifted and rotated copies of the images, drawn afresh for
        every batch on the device and seeded by ``random_state``. Prediction sees the
        images as they are.
    augment_shift : float, default=0.1
        With ``augment``: largest shift, as a fraction of the image's height and width.
    augment_rotation : float, default=10.0
        With ``augment``: largest rotation in degrees, either way.
    solver, alpha, batch_size, learning_rate, learning_rate_init, power_t, max_iter, \
shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, \
early_stopping, validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, max_fun, \
device, dtype
        Training parameters, as in :class:`~sknn_mnist.MLPDigitClassifier` (``alpha`` is
        the L2 penalty on the convolution and dense weights). ``max_iter`` defaults to 12.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, n_iter_, t_, loss_, loss_curve_, \
best_loss_, validation_scores_, best_validation_score_, n_outputs_, out_activation_, \
device_, net_
        As in :class:`~sknn_mnist.MLPDigitClassifier`.
    image_shape_ : tuple of 3 int
        ``(channels, height, width)`` the rows were read as.

    Notes
    -----
    The network normalises its input with the course's fixed ``(x - 0.5) / 0.5``, so it
    expects pixels in [0, 1]. The weights start from torch's default initialisation (the
    course's), not the MLP's scikit-learn (Glorot) one: the defaults were measured with it.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.pipeline import make_pipeline
    >>> from sknn_mnist import CNNDigitClassifier
    >>> from sknn_mnist.models import PixelScaler
    >>> X, y = load_digits(return_X_y=True)
    >>> model = make_pipeline(PixelScaler(), CNNDigitClassifier(
    ...     channels=(8, 16), max_iter=10, random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.95
    True
    """

    _parameter_constraints: dict = {
        **TorchDigitClassifierBase._parameter_constraints,
        "channels": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "dense_units": [Interval(Integral, 0, None, closed="left")],
        "conv_dropout": [Interval(Real, 0, 1, closed="left")],
        "dense_dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "image_shape": [None, "array-like"],
        "augment": ["boolean"],
        "augment_shift": [Interval(Real, 0, 1, closed="both")],
        "augment_rotation": [Interval(Real, 0, 180, closed="both")],
    }

    _architecture_params = ("channels", "kernel_size", "dense_units", "batch_norm",
                            "image_shape")

    #: Rows per forward pass at prediction and validation time. The MLP's 8192 would hold
    #: 8192 x 32 x 28 x 28 floats per activation of the first convolution on MNIST; 1024
    #: rows need an eighth of that and were as fast or faster on the CPU (README, "The CNN").
    _inference_batch_size = 1024

    def __init__(
        self,
        channels=(32, 64),
        kernel_size=3,
        dense_units=128,
        *,
        conv_dropout=0.25,
        dense_dropout=0.5,
        batch_norm=False,
        image_shape=None,
        augment=False,
        augment_shift=0.1,
        augment_rotation=10.0,
        solver="adam",
        alpha=1e-4,
        batch_size=64,
        learning_rate="cosine",
        learning_rate_init=1e-3,
        power_t=0.5,
        max_iter=12,
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
        device="auto",
        dtype="float32",
    ):
        self.channels = channels
        self.kernel_size = kernel_size
        self.dense_units = dense_units
        self.conv_dropout = conv_dropout
        self.dense_dropout = dense_dropout
        self.batch_norm = batch_norm
        self.image_shape = image_shape
        self.augment = augment
        self.augment_shift = augment_shift
        self.augment_rotation = augment_rotation
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
        self.device = device
        self.dtype = dtype

    # -- hooks of the core ------------------------------------------------------------------
    def _check_architecture(self) -> None:
        channels = self._channels()
        if not channels or any(not float(c).is_integer() or c < 1 for c in channels):
            raise InvalidParameterError(
                f"The 'channels' parameter of {type(self).__name__} must hold one or more "
                f"positive integers. Got {self.channels!r} instead."
            )
        if self.kernel_size % 2 == 0:
            raise InvalidParameterError(
                f"The 'kernel_size' parameter of {type(self).__name__} must be odd (so that "
                f"padding keeps the image size). Got {self.kernel_size!r} instead."
            )
        if self.image_shape is not None:
            shape = np.asarray(self.image_shape)
            if (shape.ndim != 1 or len(shape) not in (2, 3)
                    or not all(float(s).is_integer() and (s >= 1 or s == -1) for s in shape)
                    or np.sum(shape == -1) > 1):
                raise InvalidParameterError(
                    f"The 'image_shape' parameter of {type(self).__name__} must be None, "
                    "(height, width) or (channels, height, width) of positive integers, "
                    f"one of which may be -1. Got {self.image_shape!r} instead."
                )

    def _build_module(self, n_features: int, n_outputs: int) -> torch.nn.Module:
        augment = self.augment
        return CNNModule(
            n_features, n_outputs, infer_image_shape(n_features, self.image_shape),
            channels=[int(c) for c in self._channels()],
            kernel_size=int(self.kernel_size),
            dense_units=int(self.dense_units),
            conv_dropout=self.conv_dropout,
            dense_dropout=self.dense_dropout,
            batch_norm=self.batch_norm,
            augment_shift=self.augment_shift if augment else 0.0,
            augment_rotation=self.augment_rotation if augment else 0.0,
        )

    def _initialize_module(self, module: torch.nn.Module) -> None:
        # Keep torch's default initialisation, drawn (seeded) when the module was built:
        # the course's network used it, and the defaults were measured with it.
        pass

    def _set_network_attributes(self, module: torch.nn.Module) -> None:
        self.image_shape_ = module.image_shape

    def _channels(self) -> list:
        channels = self.channels
        return [channels] if np.ndim(channels) == 0 else list(channels)
