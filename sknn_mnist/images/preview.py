"""What a model saw: rows of digit pixels as PNG images, one each or on a contact sheet."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from .normalize import Layout

__all__ = ["contact_sheet", "row_image", "row_png"]


def row_image(row: np.ndarray, layout: Layout, scale: int = 1) -> Image.Image:
    """One row as a grey image (white ink on black, as the model sees it), ``scale`` times
    larger with square pixels."""
    pixels = np.asarray(row, np.float64).reshape(layout.height, layout.width)
    grey = np.clip(np.round(pixels * (255 / layout.pixel_max)), 0, 255).astype(np.uint8)
    image = Image.fromarray(grey, "L")
    if scale > 1:
        image = image.resize((layout.width * scale, layout.height * scale),
                             Image.Resampling.NEAREST)
    return image


def row_png(row: np.ndarray, layout: Layout, scale: int = 1) -> bytes:
    """:func:`row_image` encoded as PNG bytes."""
    buffer = io.BytesIO()
    row_image(row, layout, scale).save(buffer, format="PNG")
    return buffer.getvalue()


def contact_sheet(rows: np.ndarray, layout: Layout, captions: Sequence[str] | None = None,
                  *, scale: int = 4, columns: int = 10) -> Image.Image:
    """The rows side by side in a grid, each captioned (its name, its label).

    Parameters
    ----------
    rows : ndarray of shape (n, layout.n_pixels)
    layout : Layout
    captions : list of str, optional
        One short caption under each image (cut to fit).
    scale : int, default=4
        Each pixel as ``scale`` x ``scale`` pixels (28x28 rows become 112x112).
    columns : int, default=10

    Returns
    -------
    PIL.Image.Image
        An RGB image.
    """
    rows = np.asarray(rows)
    n = len(rows)
    columns = max(1, min(columns, n))
    cell_w, cell_h = layout.width * scale, layout.height * scale
    text_h = 14 if captions is not None else 0
    pad = 4
    grid = (math.ceil(n / columns), columns)
    sheet = Image.new("RGB", (grid[1] * (cell_w + pad) + pad,
                              grid[0] * (cell_h + text_h + pad) + pad), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    max_chars = max(4, cell_w // 6)
    for i, row in enumerate(rows):
        r, c = divmod(i, columns)
        x, y = pad + c * (cell_w + pad), pad + r * (cell_h + text_h + pad)
        sheet.paste(row_image(row, layout, scale).convert("RGB"), (x, y))
        if captions is not None:
            text = str(captions[i])
            if len(text) > max_chars:
                text = ".." + text[-(max_chars - 2):]
            draw.text((x + 1, y + cell_h + 1), text, fill=(230, 230, 230))
    return sheet
