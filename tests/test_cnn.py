"""CNNDigitClassifier: its network, image shapes, augmentation, and the estimator on the core."""

from __future__ import annotations

import pytest
import torch

from sknn_mnist._augment import RandomAffine
from sknn_mnist._cnn_module import CNNModule, infer_image_shape


# -- image shapes -------------------------------------------------------------------------
@pytest.mark.parametrize(("n_features", "expected"), [(784, (1, 28, 28)), (64, (1, 8, 8)),
                                                      (1, (1, 1, 1))])
def test_square_rows_are_single_channel_square_images(n_features, expected):
    assert infer_image_shape(n_features) == expected


def test_non_square_rows_need_an_image_shape():
    with pytest.raises(ValueError, match=r"10 features, which is not a square.*image_shape"):
        infer_image_shape(10)


@pytest.mark.parametrize(("shape", "expected"), [((1, -1), (1, 1, 10)), ((2, 5), (1, 2, 5)),
                                                 ((2, -1, 5), (2, 1, 5)), ((-1, 5), (1, 2, 5))])
def test_explicit_shapes_and_one_inferred_dimension(shape, expected):
    assert infer_image_shape(10, shape) == expected


@pytest.mark.parametrize("shape", [(3, 3), (-1, 3), (-1, -1), (0, 10), (1, 2, 3, 4)])
def test_shapes_that_do_not_hold_the_row_are_refused(shape):
    with pytest.raises(ValueError, match="does not fit rows of 10 features"):
        infer_image_shape(10, shape)


# -- the network --------------------------------------------------------------------------
def test_default_network_is_the_course_network():
    module = CNNModule(784, 10, (1, 28, 28))
    convs = [m for m in module.layers if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == [
        (1, 32, (3, 3), (1, 1)), (32, 64, (3, 3), (1, 1))]
    dense = module.linear_layers()
    assert [(d.in_features, d.out_features) for d in dense] == [(64 * 7 * 7, 128), (128, 10)]
    dropouts = [m.p for m in module.layers if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [0.25, 0.5]
    assert module.augment is None
    assert module(torch.rand(3, 784)).shape == (3, 10)


@pytest.mark.parametrize(("shape", "flat"), [((1, 8, 8), 64 * 2 * 2), ((1, 1, 10), 64 * 3),
                                             ((1, 1, 1), 64), ((3, 5, 7), 64 * 2 * 2)])
def test_pooling_works_for_small_and_odd_images(shape, flat):
    n_features = shape[0] * shape[1] * shape[2]
    module = CNNModule(n_features, 3, shape)
    assert module.linear_layers()[0].in_features == flat
    assert module(torch.rand(2, n_features)).shape == (2, 3)


def test_input_normalisation_is_the_fixed_course_affine():
    # A network whose first layer sees its input: a 1x1 "image" through a single 1x1 conv
    # with weight 1 and bias 0, no pooling effect, ReLU keeps the positive part.
    module = CNNModule(1, 1, (1, 1, 1), channels=(1,), kernel_size=1, dense_units=0,
                       conv_dropout=0, dense_dropout=0)
    conv, out = module.layers.conv0, module.layers.linear_out
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.zero_()
        out.weight.fill_(1.0)
        out.bias.zero_()
    x = torch.tensor([[0.0], [0.5], [0.75], [1.0]])
    assert torch.allclose(module(x)[:, 0], torch.tensor([0.0, 0.0, 0.5, 1.0]))


def test_batch_norm_and_dtype():
    module = CNNModule(64, 10, (1, 8, 8), channels=(4, 8), batch_norm=True,
                       dtype=torch.float64)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in module.layers) == 2
    assert all(p.dtype == torch.float64 for p in module.parameters())
    assert module(torch.rand(4, 64, dtype=torch.float64)).dtype == torch.float64


# -- augmentation -------------------------------------------------------------------------
def test_augmentation_is_the_identity_in_eval_mode():
    layer = RandomAffine(0.2, 15).eval()
    images = torch.rand(4, 1, 8, 8)
    assert layer(images) is images


def test_augmentation_moves_pixels_per_image_and_is_seeded():
    layer = RandomAffine(0.25, 0).train()
    images = torch.zeros(6, 1, 8, 8)
    images[:, :, 3:5, 3:5] = 1.0
    torch.manual_seed(0)
    first = layer(images)
    torch.manual_seed(0)
    again = layer(images)
    assert torch.equal(first, again)
    assert first.shape == images.shape
    assert not torch.allclose(first, images)
    # Each image gets its own draw: the shifted blobs land in different places.
    centres = {tuple(torch.nonzero(img[0] > 0.5).float().mean(0).round().tolist())
               for img in first}
    assert len(centres) > 1


def test_rotation_alone_keeps_a_centred_symmetric_image():
    layer = RandomAffine(0, 90).train()
    images = torch.zeros(5, 1, 9, 9)
    images[:, :, 4, 4] = 1.0  # a single centre pixel does not move under rotation
    out = layer(images)
    assert torch.allclose(out[:, 0, 4, 4], torch.ones(5), atol=1e-5)
