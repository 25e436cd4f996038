"""Handwritten-digit datasets in one line, offline after the first time.

>>> from sknn_mnist.datasets import load_mnist, load_dataset
>>> X, y = load_mnist(return_X_y=True)                  # doctest: +SKIP
>>> digits = load_dataset("digits", subset="test")      # bundled, never needs the network

Sources, in order: this package's checksummed ``.npz`` cache under ``data_home`` (a cached
MNIST loads in well under a second); a folder with the four IDX ``.gz`` files (``idx_dir``),
md5-checked; OpenML through the ``openml`` package and its settings (see ``_openml``).
Datasets: ``mnist``, ``fashion-mnist``, ``kmnist`` and ``digits`` (scikit-learn's bundled
8x8 digits); register more with :func:`register_dataset`.
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
