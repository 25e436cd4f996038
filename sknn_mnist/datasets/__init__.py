"""Handwritten-digit datasets in one line, offline after the first time.

>>> from sknn_mnist.datasets import load_mnist, load_dataset
>>> X, y = load_mnist(return_X_y=True)                  # doctest: +SKIP
>>> digits = load_dataset("digits", subset="test")      # bundled, never needs the network

Where the data comes from, in this order:

1. this package's cache under ``data_home`` (``$SKNN_MNIST_DATA``, default ``sknn_mnist``
   under scikit-learn's data home): one uncompressed, sha256-checked ``.npz`` per dataset,
   written atomically; a cached MNIST loads in well under a second;
2. a folder with the four standard IDX ``.gz`` files (``idx_dir=`` or ``$SKNN_MNIST_IDX_DIR``),
   verified against the published md5s;
3. OpenML, through the ``openml`` package and its settings (``openml.config``); see
   :mod:`._openml` for the three it gets for the duration of a load.

Datasets: ``mnist`` (OpenML 554), ``fashion-mnist`` (40996), ``kmnist`` (41982) and
``digits`` (scikit-learn's bundled 8x8 digits, pixels 0..16, a fixed stratified 1,437/360
split). Register more with :func:`register_dataset`.
"""

from __future__ import annotations

from ._errors import (
    CacheCorruptError,
    ChecksumError,
    DatasetFormatError,
    DatasetUnavailableError,
    IdxFormatError,
)
from ._info import dataset_info, dataset_summary, format_dataset_info
from ._load import ENV_DATA_HOME, ENV_IDX_DIR, SUBSETS, get_data_home, load_dataset, load_mnist
from ._openml import ENV_OPENML_RETRIES, ENV_OPENML_URL
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
    "DATASETS", "ENV_DATA_HOME", "ENV_IDX_DIR", "ENV_OPENML_RETRIES", "ENV_OPENML_URL",
    "SUBSETS", "CacheCorruptError", "ChecksumError", "DatasetFormatError", "DatasetSpec",
    "DatasetUnavailableError", "IdxFile", "IdxFiles", "IdxFormatError", "dataset_info",
    "dataset_summary", "format_dataset_info", "get_data_home", "get_spec", "list_datasets",
    "load_dataset", "load_mnist", "register_dataset", "standard_idx_files",
]
