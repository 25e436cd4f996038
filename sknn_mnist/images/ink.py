"""From grey levels to an ink map: light ink on a black background, lighting and dirt removed.

The steps, each a small function:

1. :func:`ink_signal`: where the drawing is (the alpha channel of a transparent canvas
   export, or the grey levels), which way round (dark ink on light paper is inverted: the
   background is the image's majority level), and uneven lighting removed (a smooth
   quadratic surface fitted to the background pixels, robustly, is subtracted);
2. :func:`contrast`: the noise floor and the ink level, measured on the image, map the
   signal to [0, 1] (0 paper, 1 full ink); an image with no ink above its noise raises
   :class:`~sknn_mnist.images.errors.NoInkError`;
3. :func:`keep_digit`: connected components: the digit (its largest piece, and the pieces
   near it or nearly as large) stays, specks and dust go.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from .decode import Decoded
from .errors import NoInkError

__all__ = ["CORE", "EIGHT", "box_gap", "contrast", "ink_map", "ink_signal", "keep_digit",
           "label_pieces"]

#: 8-connectivity: diagonal neighbours belong to the same stroke.
EIGHT = np.ones((3, 3), dtype=bool)
#: Ink at or above this level is a stroke's core (for components and bounding boxes).
CORE = 0.35
#: Sample points of the background fit.
_FIT_POINTS = 6000


def _sample(values: np.ndarray, n: int = 50_000) -> np.ndarray:
    """At most about ``n`` of ``values``, evenly strided: enough for medians and
    percentiles, at a fraction of the cost on a large image."""
    flat = values.ravel()
    return flat[:: max(1, flat.size // n)]


def _drawing_in_alpha(decoded: Decoded) -> bool:
    """A transparent canvas export: the opaque part is one flat colour, the shape is alpha."""
    alpha = decoded.alpha
    if alpha is None or float(alpha.max()) - float(alpha.min()) < 0.2:
        return False
    opaque = alpha > 0.5
    if not opaque.any() or opaque.all():
        return False
    return float(np.std(decoded.gray[opaque])) < 0.08


def _composite_on_white(decoded: Decoded) -> np.ndarray:
    # What a viewer shows: transparent pixels are the page behind them.
    if decoded.alpha is None:
        return decoded.gray
    return decoded.gray * decoded.alpha + (1 - decoded.alpha)


def _background_surface(image: np.ndarray) -> np.ndarray:
    """A quadratic surface through the background (ink bright), fitted robustly.

    Least squares on a grid of sample points, refitted without the points above the
    surface by more than 2.5 robust standard deviations (the ink), four times: gradients
    and vignetting go, strokes stay.
    """
    height, width = image.shape
    step = max(1, int(np.sqrt(height * width / _FIT_POINTS)))
    ys, xs = np.mgrid[0:height:step, 0:width:step]
    values = image[ys, xs].ravel().astype(np.float64)
    u, v = (xs.ravel() / max(width - 1, 1) - 0.5), (ys.ravel() / max(height - 1, 1) - 0.5)
    design = np.column_stack([np.ones_like(u), u, v, u * u, u * v, v * v])
    # Start from the darker Otsu class (the paper, ink being bright): a fit to every
    # point would bend towards a digit that fills the frame (a dome under a 0).
    keep = values <= threshold_otsu(values) if np.ptp(values) > 0 else np.ones(values.size,
                                                                                bool)
    coef = np.zeros(design.shape[1])
    for _ in range(4):
        if keep.sum() < design.shape[1] * 4:
            break
        # Normal equations: 6 unknowns, a few thousand points (lstsq's SVD is 50x slower).
        fit = design[keep]
        coef = np.linalg.solve(fit.T @ fit + 1e-9 * np.eye(fit.shape[1]), fit.T @ values[keep])
        residual = values - design @ coef
        spread = 1.4826 * np.median(np.abs(residual[keep] - np.median(residual[keep])))
        keep = residual < max(2.5 * spread, 1e-3)
    gu = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    gv = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None]
    c = coef.astype(np.float32)
    # Separable terms first: three full-size operations, not six.
    rows = c[0] + c[2] * gv + c[5] * gv * gv
    cols = c[1] * gu + c[3] * gu * gu
    return rows + cols + (c[4] * gv) * gu


def _light_background(gray: np.ndarray) -> bool:
    """Whether the background is the light level (dark ink on paper).

    Two votes on the share of light pixels (Otsu's split): over the whole image (the paper
    is most of a photo, even one showing the table around it) and along its border (the
    paper frames a digit, even in a tight crop of a 1 whose ink is most of the image).
    """
    sample = _sample(gray)
    if float(np.ptp(sample)) <= 0:
        return False
    threshold = threshold_otsu(sample)
    ring = np.concatenate([gray[0], gray[-1], gray[1:-1, 0], gray[1:-1, -1]])
    return float(np.mean(sample > threshold)) + float(np.mean(ring > threshold)) > 1


def ink_signal(decoded: Decoded) -> np.ndarray:
    """The drawing as a float image, ink bright and background near 0 (any scale)."""
    if _drawing_in_alpha(decoded):
        return decoded.alpha.astype(np.float32)
    gray = _composite_on_white(decoded)
    light = _light_background(gray)
    oriented = 1 - gray if light else gray
    if min(oriented.shape) < 8:
        background = np.full(gray.shape, np.median(oriented), np.float32)
    else:
        background = _background_surface(oriented)
    if not light:
        return oriented - background
    # Paper under uneven light: what the camera sees is light x reflectance, so the ink's
    # darkening is relative to the paper's brightness there (a stroke in the shade is as
    # dark, relatively, as one in full light): divide, do not subtract.
    paper = np.maximum(1 - background, 0.02)
    return (paper - gray) / paper


def _noise(signal: np.ndarray) -> float:
    """Pixel noise: robust spread of neighbour differences (strokes are few and smooth)."""
    # Every k-th row and column: some 20,000 differences each way are plenty for a median.
    step = max(1, round(signal.size / 20_000))
    diffs = [np.diff(signal[::step], axis=1).ravel(), np.diff(signal[:, ::step], axis=0).ravel()]
    diffs = [d for d in diffs if d.size]
    if not diffs:
        return 0.0
    d = np.concatenate(diffs)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2))


def contrast(signal: np.ndarray, name: str) -> np.ndarray:
    """Map the signal to ink in [0, 1]: the noise floor to 0, the strokes' level to 1.

    Raises
    ------
    NoInkError
        Nothing stands out of the noise: a blank or uniform image, or noise alone.
    """
    side = max(signal.shape)
    # Smooth away paper texture and sensor noise, at a scale below a stroke's width at
    # this size (none for MNIST-sized images, whose strokes are 2-3 pixels).
    sigma = float(np.clip((side - 64) / 256, 0.0, 1.2))
    smooth = ndi.gaussian_filter(signal, sigma) if sigma > 0.2 else signal
    noise = _noise(smooth)
    span = float(smooth.max() - smooth.min())
    if span < 0.03:
        raise NoInkError(f"{name}: no ink found: the image is blank or uniform", name)
    sample = _sample(smooth)
    threshold = float(threshold_otsu(sample))
    paper = float(np.median(sample[sample <= threshold]))
    inked = smooth[smooth > threshold]
    level = float(np.percentile(_sample(inked), 90))
    strength = level - paper
    if strength < max(0.05, 5 * noise):
        raise NoInkError(
            f"{name}: no ink found: nothing stands out of the noise (contrast "
            f"{strength:.3f}, noise {noise:.3f}); photograph the digit closer, in even "
            "light, with dark ink on plain paper", name)
    floor = paper + max(3 * noise, 0.12 * strength)
    ink = (smooth - floor) / max(level - floor, 1e-6)
    return np.clip(ink, 0, 1).astype(np.float32)


def label_pieces(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected pieces of the strokes' cores: ``(labels, areas)``, ``areas[k - 1]`` the
    pixel count of label ``k``."""
    labels, count = ndi.label(ink >= CORE, structure=EIGHT)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    return labels, areas


def box_gap(a: tuple[slice, slice], b: tuple[slice, slice]) -> float:
    """Distance between two bounding boxes (0 when they overlap)."""
    dy = max(a[0].start - b[0].stop, b[0].start - a[0].stop, 0)
    dx = max(a[1].start - b[1].stop, b[1].start - a[1].stop, 0)
    return float(np.hypot(dy, dx))


def keep_digit(ink: np.ndarray, name: str) -> np.ndarray:
    """Keep the digit, drop specks and dust.

    The largest piece is part of the digit; another piece stays if it is at least a fifth
    of its size, or at least 2% of it and within a quarter of the digit's size of its
    bounding box (the separate bar of a 5, a broken stroke). What is dropped is cleared;
    a kept piece keeps a margin of two pixels, its anti-aliased edge.

    Returns
    -------
    ndarray
        The ink of the digit, cropped to its bounding box and a margin of 3 pixels.
    """
    labels, areas = label_pieces(ink)
    if areas.size == 0:
        raise NoInkError(f"{name}: no ink found", name)
    boxes = ndi.find_objects(labels)
    main = int(np.argmax(areas))
    size = max(boxes[main][0].stop - boxes[main][0].start,
               boxes[main][1].stop - boxes[main][1].start)
    largest = float(areas[main])
    kept = [k for k, area in enumerate(areas)
            if area >= 0.2 * largest or (area >= 0.02 * largest
                                         and box_gap(boxes[k], boxes[main]) <= 0.25 * size)]
    # Only the kept pieces' surroundings matter: work in their bounding box (plus the
    # margin), which is what normalisation crops to anyway.
    margin = 3
    top = max(min(boxes[k][0].start for k in kept) - margin, 0)
    left = max(min(boxes[k][1].start for k in kept) - margin, 0)
    window = (slice(top, max(boxes[k][0].stop for k in kept) + margin),
              slice(left, max(boxes[k][1].stop for k in kept) + margin))
    mask = ndi.binary_dilation(np.isin(labels[window], [k + 1 for k in kept]), EIGHT,
                               iterations=2)
    return np.where(mask, ink[window], 0).astype(np.float32)


def ink_map(decoded: Decoded, *, despeckle: bool = True) -> np.ndarray:
    """The ink of one decoded image: float32, 0 background, 1 full ink.

    Raises
    ------
    NoInkError
        The image holds no ink.
    """
    ink = contrast(ink_signal(decoded), decoded.name)
    return keep_digit(ink, decoded.name) if despeckle else ink
