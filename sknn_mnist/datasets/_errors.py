"""Exceptions raised by :mod:`sknn_mnist.datasets`.

Two families, so callers can tell "go get the data some other way" from "the data you pointed
me at is broken":

* :class:`DatasetUnavailableError` (an :class:`OSError`): no source could provide the dataset
  (no cache, no IDX files, OpenML unreachable).
* :class:`DatasetFormatError` (a :class:`ValueError`) and its subclasses: a file or download
  was found but is malformed or fails its checksum.
"""

from __future__ import annotations

__all__ = [
    "ArffFormatError",
    "CacheCorruptError",
    "ChecksumError",
    "DatasetFormatError",
    "DatasetUnavailableError",
    "IdxFormatError",
]


class DatasetUnavailableError(OSError):
    """No source (cache, IDX directory, OpenML) could provide the requested dataset.

    The message names the dataset, every source that was tried with the reason it failed, and
    the options for working offline.

    Attributes
    ----------
    dataset : str
        Registry name of the dataset.
    attempts : list of str
        One line per source tried, in order.
    """

    def __init__(self, message: str, *, dataset: str = "", attempts: list[str] | None = None):
        super().__init__(message)
        self.dataset = dataset
        self.attempts = list(attempts or [])

    def __str__(self) -> str:
        # OSError.__str__ would prefix "[Errno ...]" style formatting for 2-tuple args; the
        # message is the whole point here, so return it verbatim.
        return str(self.args[0]) if self.args else ""


class DatasetFormatError(ValueError):
    """A dataset file or download exists but is malformed."""


class IdxFormatError(DatasetFormatError):
    """An IDX file is malformed: wrong magic number, truncated, wrong counts or shape."""


class ChecksumError(DatasetFormatError):
    """A file's checksum differs from the published one."""


class ArffFormatError(DatasetFormatError):
    """An ARFF download could not be parsed into the expected arrays."""


class CacheCorruptError(DatasetFormatError):
    """A cache file is unreadable, truncated, or its stored checksum does not match."""
