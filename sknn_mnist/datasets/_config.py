"""Environment variables and defaults, resolved in one place.

``SKNN_MNIST_DATA``
    Cache folder (``data_home``). Default: ``sknn_mnist`` under
    :func:`sklearn.datasets.get_data_home` (which itself honours ``SCIKIT_LEARN_DATA``).
``SKNN_MNIST_IDX_DIR``
    Folder with the four standard ``*-idx?-ubyte.gz`` files (``idx_dir``), directly or in a
    sub-folder per dataset (``mnist/``, ``fashion-mnist/``, ``kmnist/``).
``SKNN_MNIST_OPENML_URL``
    OpenML server base URL. Default ``https://api.openml.org``.
``SKNN_MNIST_OPENML_TIMEOUT``
    Connect timeout in seconds (how fast an unreachable server fails). Default 5.
``SKNN_MNIST_OPENML_READ_TIMEOUT``
    Timeout in seconds of each read once connected. Default 30.
``SKNN_MNIST_OPENML_RETRIES``
    Retries after a transient error (HTTP 5xx, timeout, reset, short read). Default 3.
``SKNN_MNIST_OPENML_BACKOFF``
    First retry delay in seconds, doubled for each further retry. Default 0.5.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._openml import NetSettings

ENV_DATA_HOME = "SKNN_MNIST_DATA"
ENV_IDX_DIR = "SKNN_MNIST_IDX_DIR"
ENV_OPENML_URL = "SKNN_MNIST_OPENML_URL"
ENV_OPENML_TIMEOUT = "SKNN_MNIST_OPENML_TIMEOUT"
ENV_OPENML_READ_TIMEOUT = "SKNN_MNIST_OPENML_READ_TIMEOUT"
ENV_OPENML_RETRIES = "SKNN_MNIST_OPENML_RETRIES"
ENV_OPENML_BACKOFF = "SKNN_MNIST_OPENML_BACKOFF"

DEFAULT_OPENML_URL = "https://api.openml.org"
DEFAULT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5


def get_data_home(data_home: str | os.PathLike[str] | None = None) -> Path:
    """Return the cache folder: the argument, else ``$SKNN_MNIST_DATA``, else a default.

    The folder is not created here; the cache writer creates it only when it has something
    to write, so merely reading never leaves empty folders behind.

    Parameters
    ----------
    data_home : path-like, optional
        Explicit cache folder.

    Returns
    -------
    pathlib.Path
        Absolute, user-expanded path.
    """
    if data_home is None:
        data_home = os.environ.get(ENV_DATA_HOME) or None
    if data_home is None:
        # Imported lazily: sklearn.datasets is heavy and only needed for the default path.
        from sklearn.datasets import get_data_home as _sk_data_home

        # sklearn's get_data_home creates its own folder; ours is created by the cache
        # writer only when there is something to write.
        return Path(_sk_data_home()).expanduser().resolve() / "sknn_mnist"
    return Path(data_home).expanduser().resolve()


def get_idx_dir(idx_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Return the IDX folder: the argument, else ``$SKNN_MNIST_IDX_DIR``, else ``None``."""
    if idx_dir is None:
        idx_dir = os.environ.get(ENV_IDX_DIR) or None
    if idx_dir is None:
        return None
    return Path(idx_dir).expanduser().resolve()


def get_openml_url(openml_url: str | None = None) -> str:
    """Return the OpenML base URL without a trailing slash."""
    url = openml_url or os.environ.get(ENV_OPENML_URL) or DEFAULT_OPENML_URL
    return url.rstrip("/")


def _env_number(name: str, default: float, cast: type) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"environment variable {name}={raw!r} is not a valid number") from None
    if value < 0:
        raise ValueError(f"environment variable {name}={raw!r} must not be negative")
    return value


def get_timeout() -> float:
    """Socket timeout for OpenML requests, in seconds."""
    return float(_env_number(ENV_OPENML_TIMEOUT, DEFAULT_TIMEOUT, float))


def get_read_timeout() -> float:
    """Timeout of each read from OpenML once connected, in seconds."""
    return float(_env_number(ENV_OPENML_READ_TIMEOUT, DEFAULT_READ_TIMEOUT, float))


def get_retries() -> int:
    """Number of retries after a transient OpenML error."""
    return int(_env_number(ENV_OPENML_RETRIES, DEFAULT_RETRIES, int))


def get_backoff() -> float:
    """Delay before the first retry, in seconds; doubled for each further retry."""
    return float(_env_number(ENV_OPENML_BACKOFF, DEFAULT_BACKOFF, float))


def get_net_settings(base_url: str | None = None) -> NetSettings:
    """Collect the OpenML URL, timeouts and retry policy from the arguments and environment."""
    from ._openml import NetSettings

    return NetSettings(
        base_url=get_openml_url(base_url),
        timeout=get_timeout(),
        read_timeout=get_read_timeout(),
        retries=get_retries(),
        backoff=get_backoff(),
    )
