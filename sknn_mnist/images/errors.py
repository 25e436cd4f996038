"""The errors of :mod:`sknn_mnist.images`: each names the image it is about.

Every error derives from :class:`ImageError`, a :class:`ValueError`; the ones about reading
a file (:class:`UnreadableImageError`, :class:`ImageNotFoundError`) are also
:class:`OSError`, so ``except OSError`` around file handling catches them too.
"""

from __future__ import annotations

__all__ = [
    "ImageError",
    "ImageNotFoundError",
    "ImageTooLargeError",
    "NoImagesError",
    "NoInkError",
    "UnreadableImageError",
]


class ImageError(ValueError):
    """An image cannot be turned into digit pixels. ``source`` names the image.

    Parameters
    ----------
    message : str
        What went wrong and what to do; it starts with the image's name.
    source : str, default=""
        The image's name: its path, or ``"<bytes>"``, ``"<PIL image>"``, ``"<array>"``,
        with its position in a list (``"item 3"``) when it came in one.
    """

    def __init__(self, message: str, source: str = ""):
        super().__init__(message)
        self.source = source

    def __str__(self) -> str:
        # OSError subclasses would format two args as "[Errno ...]": the message is it all.
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):
        return type(self), (str(self), self.source)


class UnreadableImageError(ImageError, OSError):
    """Not an image in a supported format, or a truncated or damaged one."""


class ImageNotFoundError(ImageError, FileNotFoundError):
    """No file or folder at the given path."""


class ImageTooLargeError(ImageError):
    """Over a size limit: the file's bytes or the image's pixels (a decompression bomb)."""


class NoInkError(ImageError):
    """The image holds no digit: blank, uniform, or nothing but noise."""


class NoImagesError(ImageError):
    """A folder (or a list) with no images in it."""
