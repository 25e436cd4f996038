"""Read files named by the user safely: regular files only, never blocking, bounded in size.

A path given on the command line or to :func:`~sknn_mnist.io.persistence.load_model` may
name a FIFO (opening it for reading blocks until a writer comes), a device (``/dev/zero``
never ends), a folder, or a symbolic-link loop. :func:`open_regular` opens it without
blocking and refuses anything but a regular file; :func:`read_bounded` also refuses a file
larger than a limit before reading a byte of it.

Only the standard library is imported: the command line reads ``--param-grid`` files
before it imports numpy or scikit-learn.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from .files import PathLike

__all__ = ["NotARegularFileError", "TooLargeFileError", "file_size", "open_regular",
           "read_bounded"]


class NotARegularFileError(ValueError):
    """The path is a FIFO, a device or a socket, or it cannot be opened."""


class TooLargeFileError(ValueError):
    """The file is larger than the caller's limit."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(path: PathLike, what: str = "file") -> BinaryIO:
    """Open ``path`` for reading if it is a regular file, without blocking on a FIFO.

    Parameters
    ----------
    path : path-like
    what : str, default="file"
        What the file is, for the messages (``"model file"``).

    Raises
    ------
    FileNotFoundError
        No such file (``"{what} not found: {path}"``).
    IsADirectoryError
        A folder.
    NotARegularFileError
        A FIFO, a device or a socket, or it cannot be opened (no permission, a
        symbolic-link loop, a name too long); the message says which.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{path} is a folder, not a {what}") from None
    except OSError as exc:
        raise NotARegularFileError(
            f"cannot open {what} {path}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode):
        return os.fdopen(fd, "rb")
    os.close(fd)
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{path} is a folder, not a {what}")
    raise NotARegularFileError(f"{path} is {_kind(mode)}, not a regular {what}")


def read_bounded(path: PathLike, max_bytes: int, what: str = "file") -> bytes:
    """The content of regular file ``path``, refused above ``max_bytes``.

    The size is checked before reading, and the read stops one byte past the limit (a file
    that grows while it is read is refused too).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, NotARegularFileError
        See :func:`open_regular`.
    TooLargeFileError
        Larger than ``max_bytes``.
    """
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size
        data = b"" if size > max_bytes else f.read(max_bytes + 1)
    if size > max_bytes or len(data) > max_bytes:
        raise TooLargeFileError(f"{what} {path} holds {max(size, len(data)):,} bytes, more "
                                f"than the {max_bytes:,} allowed")
    return data


def file_size(file: BinaryIO) -> int:
    """Size in bytes of an open regular file."""
    return os.fstat(file.fileno()).st_size
