"""Training-time data augmentation for image batches: small random shifts and rotations."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class RandomAffine(nn.Module):
    """Shift and rotate each image of a batch by a random amount, in training mode only.

    A layer rather than a data-loader transform, so that augmentation runs on the device
    as two batched kernels per batch (``affine_grid`` + ``grid_sample``), with no per-image
    Python work and no host round trip. In evaluation mode (``predict``, validation) it is
    the identity, like ``Dropout``. Its randomness comes from torch's global generator,
    which the estimator seeds from ``random_state`` for every fit, as it does for dropout.

    Pixels moved in from outside the image are 0, the background of digit images scaled to
    [0, 1]; this is why the layer runs before the input normalisation.

    Parameters
    ----------
    max_shift : float
        Largest shift, as a fraction of the image's height and width (0.1 moves a 28x28
        digit by up to 2.8 pixels in each direction).
    max_rotation : float
        Largest rotation in degrees, either way.
    """

    def __init__(self, max_shift: float, max_rotation: float) -> None:
        super().__init__()
        self.max_shift = float(max_shift)
        self.max_rotation = float(max_rotation)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.max_shift == 0 and self.max_rotation == 0):
            return images
        n = images.shape[0]
        # One draw of (angle, dx, dy) per image in [-1, 1).
        draws = torch.rand(n, 3, device=images.device, dtype=images.dtype) * 2 - 1
        angle = draws[:, 0] * math.radians(self.max_rotation)
        # affine_grid works in normalised coordinates [-1, 1]: a shift of fraction f of
        # the side is 2f there.
        shift = draws[:, 1:] * (2 * self.max_shift)
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], dim=1),
                             torch.stack([sin, cos, shift[:, 1]], dim=1)], dim=1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros",
                             align_corners=False)

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}, max_rotation={self.max_rotation}"
