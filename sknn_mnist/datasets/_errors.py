"""Exceptions: "no source had the data" (an OSError) or "the data found is broken"."""

from __future__ import annotations

__all__ = ["CacheCorruptError", "ChecksumError", "DatasetFormatError", "DatasetUnavailableError",
           "IdxFormatError"]


class DatasetUnavailableError(OSError):
    """No source (cache, IDX folder, OpenML) could provide the dataset; the message names
    every source tried with why it failed and the offline options. ``dataset`` is the
    registry name, ``attempts`` one line per source tried."""

    def __init__(self, message: str, *, dataset: str = "", attempts: list[str] | None = None):
        super().__init__(message)
        self.dataset = dataset
        self.attempts = list(attempts or [])

    def __str__(self) -> str:
        # OSError formats 2-tuple args as "[Errno ...]"; the message is the whole point here.
        return str(self.args[0]) if self.args else ""


class DatasetFormatError(ValueError):
    """A dataset file or download exists but is malformed."""


class IdxFormatError(DatasetFormatError):
    """An IDX file is malformed: wrong magic number, truncated, wrong counts or shape."""


class ChecksumError(DatasetFormatError):
    """A file's or array's checksum differs from the published or pinned one."""


class CacheCorruptError(DatasetFormatError):
    """A cache file is unreadable, truncated, or fails its checksums."""
