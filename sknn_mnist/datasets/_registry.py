"""The dataset registry: one :class:`DatasetSpec` entry per dataset.

Adding a dataset is one entry in :data:`DATASETS` (or a call to :func:`register_dataset`): the
loader, the cache, the IDX reader, the OpenML client and the ``info`` command all work from
the spec alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = [
    "DATASETS",
    "DatasetSpec",
    "IdxFile",
    "IdxFiles",
    "get_spec",
    "list_datasets",
    "register_dataset",
]


class IdxFile(NamedTuple):
    """One gzip-compressed IDX file and its published md5 (``None``: not verified)."""

    filename: str
    md5: str | None


class IdxFiles(NamedTuple):
    """The four standard IDX files of an MNIST-style dataset."""

    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile


def standard_idx_files(md5s: tuple[str | None, str | None, str | None, str | None]) -> IdxFiles:
    """Build :class:`IdxFiles` with the standard MNIST file names and the given md5s.

    Parameters
    ----------
    md5s : tuple of 4 str or None
        md5 of train images, train labels, test images, test labels (in that order).
    """
    names = (
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    )
    return IdxFiles(*(IdxFile(n, m) for n, m in zip(names, md5s, strict=True)))


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the loaders need to know about one dataset.

    Rows are always stored and returned with the training rows first, then the test rows, so
    ``subset="all"`` is ``train`` followed by ``test`` for every dataset.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"mnist"``.
    title : str
        Human-readable name.
    description : str
        Text for the ``DESCR`` field.
    image_shape : tuple of int
        Shape of one image, e.g. ``(28, 28)``.
    n_train, n_test : int
        Number of training and test rows.
    target_names : tuple of str
        One name per class; labels are ``0 .. len(target_names) - 1``.
    pixel_max : int
        Largest pixel value (255 for the 28x28 sets, 16 for digits).
    openml_id : int, optional
        OpenML data id; ``None`` when the dataset is not on OpenML.
    idx_files : IdxFiles, optional
        The IDX files and their md5s; ``None`` when there are none.
    idx_subdirs : tuple of str
        Sub-folders of an ``idx_dir`` also searched for this dataset's IDX files (besides
        ``idx_dir`` itself and ``idx_dir / name``), e.g. torchvision's ``"MNIST/raw"``.
    bundled_loader : callable, optional
        For data that ships with the dependencies: returns ``(X, y)`` already ordered train
        rows first. Such datasets are never cached nor downloaded.
    homepage, license : str
        Shown by ``info``.
    feature_names : tuple of str, optional
        Column names; default ``pixel1 .. pixelN`` (OpenML's naming).
    """

    name: str
    title: str
    description: str
    image_shape: tuple[int, int]
    n_train: int
    n_test: int
    target_names: tuple[str, ...]
    pixel_max: int = 255
    openml_id: int | None = None
    idx_files: IdxFiles | None = None
    idx_subdirs: tuple[str, ...] = ()
    bundled_loader: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(
        default=None, compare=False
    )
    homepage: str = ""
    license: str = ""
    feature_names: tuple[str, ...] | None = None

    @property
    def n_features(self) -> int:
        """Number of pixels per image."""
        return int(np.prod(self.image_shape))

    @property
    def n_samples(self) -> int:
        """Total number of rows (train + test)."""
        return self.n_train + self.n_test

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return len(self.target_names)

    def get_feature_names(self) -> list[str]:
        """Column names, ``pixel1 .. pixelN`` unless the spec gives its own."""
        if self.feature_names is not None:
            return list(self.feature_names)
        return [f"pixel{i}" for i in range(1, self.n_features + 1)]


def _load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    # Late import keeps the registry importable without pulling sklearn.datasets in.
    from ._bundled import load_digits_arrays

    return load_digits_arrays()


_DIGITS_NAMES = tuple(str(i) for i in range(10))

_MNIST_DESCR = """\
MNIST database of handwritten digits (LeCun, Cortes, Burges).

70,000 grey-level images of 28x28 pixels (uint8, 0 = background, 255 = ink), labels 0-9.
Standard split: the first 60,000 rows (OpenML mnist_784, data id 554) are the training set,
the last 10,000 the test set; the IDX files hold the same split."""

_FASHION_DESCR = """\
Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, Zalando Research).

70,000 grey-level images of 28x28 pixels (uint8) of clothing articles in 10 classes, a
drop-in replacement for MNIST. Standard split: first 60,000 rows train (OpenML data id 40996),
last 10,000 test; the IDX files hold the same split."""

_KMNIST_DESCR = """\
Kuzushiji-MNIST (Clanuwat et al. 2018, ROIS-DS Center for Open Data in the Humanities).

70,000 grey-level images of 28x28 pixels (uint8) of cursive Japanese (Kuzushiji) characters,
one per row of the hiragana table, 10 classes. Standard split: first 60,000 rows train
(OpenML data id 41982), last 10,000 test; the IDX files hold the same split."""

_DIGITS_DESCR = """\
scikit-learn's bundled optical recognition of handwritten digits (UCI), via
sklearn.datasets.load_digits: 1,797 images of 8x8 pixels, labels 0-9. Needs no network.

Unlike the 28x28 datasets, pixels are counts in 0..16 (not 0..255); they are kept as they
are, as uint8, so scale by 1/16 (not 1/255) to get [0, 1]. There is no published split, so
this package defines one: a stratified split with a fixed seed (sklearn train_test_split,
test_size=360, random_state=0), 1,437 train / 360 test rows, each keeping the original
relative order."""

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        title="MNIST",
        description=_MNIST_DESCR,
        image_shape=(28, 28),
        n_train=60_000,
        n_test=10_000,
        target_names=_DIGITS_NAMES,
        openml_id=554,
        idx_files=standard_idx_files(
            (
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "d53e105ee54ea40749a09fcbcd1e9432",
                "9fb629c4189551a2d022fa330f9573f3",
                "ec29112dd5afa0611ce80d1b7f02629c",
            )
        ),
        idx_subdirs=("MNIST/raw", "MNIST"),
        homepage="http://yann.lecun.com/exdb/mnist/",
        license="CC BY-SA 3.0",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        title="Fashion-MNIST",
        description=_FASHION_DESCR,
        image_shape=(28, 28),
        n_train=60_000,
        n_test=10_000,
        target_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        openml_id=40996,
        idx_files=standard_idx_files(
            (
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "25c81989df183df01b3e8a0aad5dffbe",
                "bef4ecab320f06d8554ea6380940ec79",
                "bb300cfdad3c16e7a12a480ee83cd310",
            )
        ),
        idx_subdirs=("fashion_mnist", "fashion", "FashionMNIST/raw", "FashionMNIST"),
        homepage="https://github.com/zalandoresearch/fashion-mnist",
        license="MIT",
    ),
    "kmnist": DatasetSpec(
        name="kmnist",
        title="Kuzushiji-MNIST",
        description=_KMNIST_DESCR,
        image_shape=(28, 28),
        n_train=60_000,
        n_test=10_000,
        target_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        openml_id=41982,
        idx_files=standard_idx_files(
            (
                "bdb82020997e1d708af4cf47b453dcf7",
                "e144d726b3acfaa3e44228e80efcd344",
                "5c965bf0a639b31b8f53240b1b52f4d7",
                "7320c461ea6c1c855c0b718fb2a4b134",
            )
        ),
        idx_subdirs=("KMNIST/raw", "KMNIST"),
        homepage="https://github.com/rois-codh/kmnist",
        license="CC BY-SA 4.0",
    ),
    "digits": DatasetSpec(
        name="digits",
        title="scikit-learn digits (8x8)",
        description=_DIGITS_DESCR,
        image_shape=(8, 8),
        n_train=1_437,
        n_test=360,
        target_names=_DIGITS_NAMES,
        pixel_max=16,
        bundled_loader=_load_digits_arrays,
        homepage="https://archive.ics.uci.edu/dataset/80",
        license="CC BY 4.0",
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
    ),
}


def list_datasets() -> list[str]:
    """Return the registered dataset names, sorted."""
    return sorted(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """Return the spec registered under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is unknown; the message lists the known names.
    """
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    key = name.strip().lower().replace("_", "-")
    try:
        return DATASETS[key]
    except KeyError:
        known = ", ".join(repr(n) for n in list_datasets())
        raise ValueError(f"unknown dataset {name!r}; known datasets: {known}") from None


def register_dataset(spec: DatasetSpec, *, overwrite: bool = False) -> None:
    """Add ``spec`` to :data:`DATASETS`.

    Parameters
    ----------
    spec : DatasetSpec
        The new entry; its ``name`` is the key.
    overwrite : bool, default False
        Replace an existing entry of the same name instead of raising.

    Raises
    ------
    ValueError
        If the name is taken and ``overwrite`` is false, or the spec is inconsistent.
    """
    if spec.name != spec.name.strip().lower().replace("_", "-"):
        raise ValueError(f"dataset names are lower-case with '-', got {spec.name!r}")
    if spec.name in DATASETS and not overwrite:
        raise ValueError(f"dataset {spec.name!r} is already registered (pass overwrite=True)")
    if spec.n_train < 0 or spec.n_test < 0 or spec.n_samples == 0:
        raise ValueError(f"dataset {spec.name!r}: n_train/n_test must be >= 0, not both 0")
    if spec.n_classes < 2 or spec.n_classes > 256:
        raise ValueError(f"dataset {spec.name!r}: needs 2..256 target_names")
    if not 0 < spec.pixel_max <= 255:
        raise ValueError(f"dataset {spec.name!r}: pixel_max must be in 1..255 (uint8)")
    DATASETS[spec.name] = spec
