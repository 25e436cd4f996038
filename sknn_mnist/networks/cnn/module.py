"""The torch network of ``CNNDigitClassifier``: the course's small convolutional network."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ...core.network import DigitNetwork
from ...core.threads import forward_flops
from .augment import RandomAffine

#: The course's input normalisation, ``(x - 0.5) / 0.5``: pixels scaled to [0, 1] (e.g. by
#: ``PixelScaler``) become [-1, 1].
INPUT_MEAN = 0.5
INPUT_STD = 0.5


def infer_image_shape(n_features: int, image_shape=None) -> tuple[int, int, int]:
    """The ``(channels, height, width)`` each row of ``n_features`` pixels is reshaped to.

    Parameters
    ----------
    n_features : int
        Row length.
    image_shape : None or sequence of 2 or 3 int, default=None
        ``None`` infers a square single-channel image (784 -> 28x28, 64 -> 8x8).
        ``(height, width)`` or ``(channels, height, width)``; one entry may be -1 and is
        then inferred from ``n_features``, as in ``numpy.reshape`` (``(1, -1)`` reads each
        row as a 1-pixel-high strip, whatever its length).

    Raises
    ------
    ValueError
        When the row length is not a square and no shape is given, or the shape does not
        hold ``n_features`` pixels.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        if side * side != n_features:
            raise ValueError(
                f"Cannot infer the image shape: rows have {n_features} features, which is "
                "not a square number (784 = 28x28, 64 = 8x8). Pass image_shape=(height, "
                "width) or (channels, height, width), e.g. image_shape=(1, -1) to read each "
                "row as a 1-pixel-high image."
            )
        return 1, side, side
    shape = [int(s) for s in image_shape]
    if len(shape) == 2:
        shape = [1, *shape]
    unknown = [i for i, s in enumerate(shape) if s == -1]
    known = math.prod(s for s in shape if s != -1)
    if len(unknown) == 1 and known > 0 and n_features % known == 0:
        shape[unknown[0]] = n_features // known
    if math.prod(shape) != n_features or min(shape) < 1:
        raise ValueError(
            f"image_shape={tuple(image_shape)!r} does not fit rows of {n_features} "
            "features: channels x height x width must equal the number of features."
        )
    return shape[0], shape[1], shape[2]


def _pool_kernel(height: int, width: int) -> tuple[int, int]:
    # Pool 2x2 but never across a dimension of size 1 (a 1-pixel-high strip).
    return (2 if height > 1 else 1, 2 if width > 1 else 1)


class CNNModule(DigitNetwork):
    """Flat pixel rows -> images -> conv blocks -> dense -> logits.

    ``[RandomAffine] -> normalise -> (Conv2d -> [BatchNorm2d] -> ReLU -> MaxPool2d) per
    entry of channels -> Dropout -> Linear(dense_units) -> ReLU -> Dropout -> Linear``.
    With the defaults this is the course's network: conv 3x3/32, pool, conv 3x3/64, pool,
    dropout 0.25, dense 128, dropout 0.5, dense 10.

    The normalisation ``(x - 0.5) / 0.5`` is a fixed affine map inside the network (not a
    trained layer, no state), so that the estimator takes the same [0, 1] pixels as every
    other model of the package and a saved model cannot lose it. Pooling uses
    ``ceil_mode=True`` so odd sizes keep their border (28 -> 14 -> 7 -> 4; 8 -> 4 -> 2 -> 1).

    Parameters
    ----------
    n_features : int
        Row length; must equal ``channels x height x width`` of ``image_shape``.
    n_outputs : int
        Output units: the number of classes, or 1 for a binary problem.
    image_shape : tuple of 3 int
        ``(channels, height, width)``, see :func:`infer_image_shape`.
    channels : sequence of int, default=(32, 64)
        Output channels of each convolution block.
    kernel_size : int, default=3
        Convolution kernel size (odd; padding keeps the image size).
    dense_units : int, default=128
        Width of the hidden dense layer (0: none, the features go straight to the output).
    conv_dropout, dense_dropout : float, default=0.25, 0.5
        Dropout after the convolution blocks and after the hidden dense layer.
    batch_norm : bool, default=False
        Whether to put a ``BatchNorm2d`` after each convolution.
    augment_shift, augment_rotation : float, default=0.0
        Training-time augmentation (see
        :class:`~sknn_mnist.networks.cnn.augment.RandomAffine`); 0 and 0 leave it out.
    dtype : torch.dtype, default=torch.float32
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        image_shape: tuple[int, int, int],
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        dense_units: int = 128,
        conv_dropout: float = 0.25,
        dense_dropout: float = 0.5,
        batch_norm: bool = False,
        augment_shift: float = 0.0,
        augment_rotation: float = 0.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.image_shape = tuple(int(s) for s in image_shape)
        n_channels, height, width = self.image_shape
        if n_channels * height * width != n_features:
            raise ValueError(f"image_shape {self.image_shape} does not hold {n_features} "
                             "features")
        self.augment = (RandomAffine(augment_shift, augment_rotation)
                        if augment_shift or augment_rotation else None)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        for i, out_channels in enumerate(channels):
            layers[f"conv{i}"] = nn.Conv2d(n_channels, out_channels, kernel_size,
                                           padding=kernel_size // 2)
            if batch_norm:
                layers[f"batchnorm{i}"] = nn.BatchNorm2d(out_channels)
            layers[f"activation{i}"] = nn.ReLU()
            kernel = _pool_kernel(height, width)
            layers[f"pool{i}"] = nn.MaxPool2d(kernel, ceil_mode=True)
            n_channels = out_channels
            height, width = -(-height // kernel[0]), -(-width // kernel[1])
        layers["flatten"] = nn.Flatten()
        if conv_dropout > 0:
            layers["dropout_conv"] = nn.Dropout(conv_dropout)
        n_in = n_channels * height * width
        if dense_units:
            layers["linear0"] = nn.Linear(n_in, dense_units)
            layers["activation_dense"] = nn.ReLU()
            if dense_dropout > 0:
                layers["dropout_dense"] = nn.Dropout(dense_dropout)
            n_in = dense_units
        layers["linear_out"] = nn.Linear(n_in, n_outputs)
        self.layers = nn.Sequential(layers)
        self.to(dtype)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        images = X.reshape(X.shape[0], *self.image_shape)
        if self.augment is not None:
            images = self.augment(images)
        return self.layers((images - INPUT_MEAN) / INPUT_STD)

    def linear_layers(self) -> list[nn.Linear]:
        """The dense layers in order, input to output."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def weight_layers(self) -> list[nn.Module]:
        """The convolution and dense layers in order, input to output."""
        return [m for m in self.layers if isinstance(m, nn.Conv2d | nn.Linear)]

    def step_flops(self, sample: torch.Tensor, rows: int, *, training: bool) -> float:
        """Counted from one forward pass of a row (in a forked RNG: random layers leave
        the caller's random state alone)."""
        with torch.random.fork_rng(devices=[]):
            per_row = forward_flops(self, sample[:1])
        return per_row * rows * (3.0 if training else 1.0)

    def to_onnx(self, graph, x: str) -> str:
        """What :meth:`forward` does (augmentation is off at inference), then the layers."""
        from ...io.onnx import layers_to_onnx

        shape = graph.const([-1, *self.image_shape], "shape", dtype=np.int64)
        x = graph.op("Reshape", [x, shape], "images")
        x = graph.op("Sub", [x, graph.const(INPUT_MEAN)])
        x = graph.op("Div", [x, graph.const(INPUT_STD)], "normalised")
        return layers_to_onnx(graph, self.layers, x)

