"""Handwritten-digit datasets in one line, offline after the first time.

>>> from sknn_mnist.datasets import load_mnist, load_dataset
>>> X, y = load_mnist(return_X_y=True)                  # doctest: +SKIP
>>> digits = load_dataset("digits", subset="test")      # bundled, never needs the network

Where the data comes from, in this order:

1. this package's cache under ``data_home`` (``$SKNN_MNIST_DATA``, default ``sknn_mnist``
   under scikit-learn's ``get_data_home()``): one uncompressed, sha256-checked ``.npz`` per
   dataset, written atomically; a cached MNIST loads in well under a second;
2. a folder with the four standard IDX ``.gz`` files (``idx_dir=`` or ``$SKNN_MNIST_IDX_DIR``),
   verified against the published md5s;
3. OpenML (``$SKNN_MNIST_OPENML_URL``, default ``https://api.openml.org``), md5-verified, with
   retries on transient errors only.

Datasets: ``mnist`` (OpenML 554), ``fashion-mnist`` (40996), ``kmnist`` (41982) and
``digits`` (scikit-learn's bundled 8x8 digits, pixels 0..16, a fixed stratified
1,437/360 split). Register more with :func:`register_dataset`.

Environment variables: ``SKNN_MNIST_DATA``, ``SKNN_MNIST_IDX_DIR``, ``SKNN_MNIST_OPENML_URL``,
``SKNN_MNIST_OPENML_TIMEOUT`` (connect, s, default 5), ``SKNN_MNIST_OPENML_READ_TIMEOUT``
(s, default 30), ``SKNN_MNIST_OPENML_RETRIES`` (default 3),
``SKNN_MNIST_OPENML_BACKOFF`` (s, default 0.5, doubled per retry).
"""

from __future__ import annotations

from ._config import (
    ENV_DATA_HOME,
    ENV_IDX_DIR,
    ENV_OPENML_BACKOFF,
    ENV_OPENML_READ_TIMEOUT,
    ENV_OPENML_RETRIES,
    ENV_OPENML_TIMEOUT,
    ENV_OPENML_URL,
    get_data_home,
)
from ._errors import (
    ArffFormatError,
    CacheCorruptError,
    ChecksumError,
    DatasetFormatError,
    DatasetUnavailableError,
    IdxFormatError,
)
from ._info import dataset_info, dataset_summary, format_dataset_info
from ._load import SUBSETS, load_dataset, load_mnist
from ._registry import (
    DATASETS,
    DatasetSpec,
    IdxFile,
    IdxFiles,
    get_spec,
    list_datasets,
    register_dataset,
    standard_idx_files,
)

__all__ = [
    "DATASETS",
    "ENV_DATA_HOME",
    "ENV_IDX_DIR",
    "ENV_OPENML_BACKOFF",
    "ENV_OPENML_READ_TIMEOUT",
    "ENV_OPENML_RETRIES",
    "ENV_OPENML_TIMEOUT",
    "ENV_OPENML_URL",
    "SUBSETS",
    "ArffFormatError",
    "CacheCorruptError",
    "ChecksumError",
    "DatasetFormatError",
    "DatasetSpec",
    "DatasetUnavailableError",
    "IdxFile",
    "IdxFiles",
    "IdxFormatError",
    "dataset_info",
    "dataset_summary",
    "format_dataset_info",
    "get_data_home",
    "get_spec",
    "list_datasets",
    "load_dataset",
    "load_mnist",
    "register_dataset",
    "standard_idx_files",
]
