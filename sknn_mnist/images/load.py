"""``load_images`` and ``load_image``: image sources to rows of digit pixels."""

from __future__ import annotations

from typing import Any

import numpy as np

from .decode import ImageLimits, decode, iter_sources
from .ink import ink_map
from .normalize import Layout, layout_for, normalize

__all__ = ["image_names", "load_image", "load_images", "normalize_decoded"]


def normalize_decoded(decoded, layout: Layout) -> np.ndarray:
    """One decoded image to one row of ``layout``'s pixels."""
    return normalize(ink_map(decoded), layout, decoded.name)


def load_images(sources: Any, *, shape: Any = None, limits: ImageLimits | None = None,
                return_names: bool = False) -> np.ndarray | tuple[np.ndarray, list[str]]:
    """Read images of single digits as rows of pixels in MNIST's convention.

    Each image is decoded (PNG, JPEG, BMP, GIF, TIFF, WebP; every Pillow mode; EXIF
    orientation applied), its ink found (dark ink on light paper or light on dark, or the
    alpha channel of a transparent drawing; uneven lighting, paper texture, noise and
    specks removed) and laid out as MNIST's digits are: light ink on black, the digit's
    bounding box scaled to fit 20x20 with anti-aliasing, its centre of mass at the centre
    of 28x28.

    Parameters
    ----------
    sources : path, bytes, file object, PIL image, array, or a list of them
        A path is a file or a folder (its images, in natural name order: ``2.png`` before
        ``10.png``). An array is one image of shape (H, W), (H, W, 3) or (H, W, 4), of any
        size and dtype (uint8 is 0..255, floats in [0, 1] are intensities, any other range
        is stretched), or a stack (n, H, W) or (n, H, W, C).
    shape : None, 'mnist', 'digits', int, (height, width) or Layout, default=None
        The output layout: MNIST's 28x28 (784 pixels of 0..255) by default; ``'digits'``
        or ``(8, 8)``: scikit-learn's digits (64 pixels of 0..16, the digit filling the
        frame); another size: MNIST's convention at that size.
    limits : ImageLimits, optional
        Byte, pixel and working-size limits (default: 32 MiB, 50 megapixels).
    return_names : bool, default=False
        Also return each image's name (its path, or ``"<array> #3"``...).

    Returns
    -------
    X : ndarray of shape (n_images, n_pixels), uint8
    names : list of str
        Only with ``return_names=True``.

    Raises
    ------
    ImageNotFoundError
        A path that does not exist.
    UnreadableImageError
        A file that is not a supported image, or a truncated or damaged one (also an
        :class:`OSError`).
    ImageTooLargeError
        Over the byte or pixel limit (a decompression bomb is refused before decoding).
    NoInkError
        An image with no digit in it (blank, uniform, noise alone).
    NoImagesError
        A folder with no images, or no sources.
    ImageError
        Any other bad image (an array of NaNs, of a wrong shape); every one of these is a
        :class:`ValueError` whose message starts with the image's name.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn_mnist.images import load_images
    >>> page = np.full((120, 90), 255, np.uint8)   # white paper
    >>> page[30:90, 40:50] = 0                      # a dark "1"
    >>> X = load_images([page])
    >>> X.shape, X.dtype, int(X.max())
    ((1, 784), dtype('uint8'), 255)
    """
    layout = layout_for(shape)
    limits = limits or ImageLimits()
    rows, names = [], []
    for name, source in iter_sources(sources):
        rows.append(normalize_decoded(decode(source, name, limits), layout))
        names.append(name)
    X = np.stack(rows)
    return (X, names) if return_names else X


def load_image(source: Any, *, shape: Any = None,
               limits: ImageLimits | None = None) -> np.ndarray:
    """Read one image of a single digit as a row of pixels: see :func:`load_images`.

    Returns
    -------
    ndarray of shape (n_pixels,), uint8

    Raises
    ------
    ValueError
        ``source`` holds several images (a folder, a stack); and the errors of
        :func:`load_images`.
    """
    X, names = load_images(source, shape=shape, limits=limits, return_names=True)
    if len(X) != 1:
        raise ValueError(f"load_image reads one image; got {len(X)} ({names[0]}, ...): "
                         "use load_images")
    return X[0]


def image_names(sources: Any) -> list[str]:
    """The names :func:`load_images` gives the images of ``sources``, without reading
    them (folders are listed)."""
    return [name for name, _ in iter_sources(sources)]
