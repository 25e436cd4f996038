"""The dataset registry: one :class:`DatasetSpec` per dataset.

Adding a dataset is one entry in :data:`DATASETS` (or a :func:`register_dataset` call): the
loader, the cache, the IDX reader, the OpenML download and ``info`` all work from the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

__all__ = ["DATASETS", "DatasetSpec", "IdxFile", "IdxFiles", "get_spec", "list_datasets",
           "load_digits_arrays", "register_dataset", "standard_idx_files"]


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
    """:class:`IdxFiles` with the standard MNIST file names and the given md5s (train images,
    train labels, test images, test labels)."""
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return IdxFiles(*(IdxFile(n, m) for n, m in zip(names, md5s, strict=True)))


@dataclass(frozen=True)
class DatasetSpec:
    """Everything the loaders need to know about one dataset (rows: training rows first).

    ``name`` is the registry key, ``description`` the ``DESCR`` text, ``target_names`` one
    name per class (labels ``0 .. n_classes - 1``), ``pixel_max`` the largest pixel value;
    ``openml_id`` and ``idx_files`` (with their md5s) are ``None`` when the dataset is not
    on OpenML or has no IDX files; ``idx_subdirs`` are sub-folders of an ``idx_dir`` also
    searched (besides ``idx_dir`` and ``idx_dir/name``). ``sha256`` pins the checksum of the
    canonical arrays (``_cache.content_sha256``): every load, cached or fresh, must match it.
    ``bundled_loader`` returns ``(X, y)`` for data shipped with the dependencies, never
    cached nor downloaded. ``feature_names`` default to ``pixel1 .. pixelN`` (OpenML's).
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
    sha256: str | None = None
    bundled_loader: Callable[[], tuple[np.ndarray, np.ndarray]] | None = field(default=None,
                                                                               compare=False)
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
        names = self.feature_names or (f"pixel{i}" for i in range(1, self.n_features + 1))
        return list(names)


DIGITS_SPLIT_SEED, DIGITS_TEST_SIZE = 0, 360  # the package's split of the 1,797 digits


def load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits as uint8 ``X`` (pixels 0..16) and int64 ``y``: 1,437
    training then 360 test rows of a stratified split with a fixed seed, each part in the
    original relative order of its rows."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    train_idx, test_idx = train_test_split(
        np.arange(len(y)), test_size=DIGITS_TEST_SIZE, stratify=y, random_state=DIGITS_SPLIT_SEED
    )
    order = np.concatenate([np.sort(train_idx), np.sort(test_idx)])
    # The pixels are small integer counts stored as float64; uint8 is exact and 8x smaller.
    X_u8 = X[order].astype(np.uint8)
    if not np.array_equal(X_u8, X[order]):
        raise RuntimeError("sklearn digits pixels are not integers in 0..255")
    return np.ascontiguousarray(X_u8), y[order].astype(np.int64)


_DIGIT_NAMES = tuple(str(i) for i in range(10))
_SPLIT = """Standard split: the first 60,000 rows are the training set (also on OpenML,
data id {id}), the last 10,000 the test set; the IDX files hold the same split."""

# Pinned array checksums: MNIST's was computed from the four published IDX files (their md5s
# are below). Fashion-MNIST's and KMNIST's are absent because no copy of their files was at
# hand to compute them from and the checksum is of this package's own array layout, so no
# upstream source states it; their loads check the IDX md5s and the cache's own checksum.
DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist", title="MNIST", image_shape=(28, 28), n_train=60_000, n_test=10_000,
        description="MNIST database of handwritten digits (LeCun, Cortes, Burges).\n\n"
        "70,000 grey-level images of 28x28 pixels (uint8, 0 = background, 255 = ink), "
        "labels 0-9.\n" + _SPLIT.format(id=554),
        target_names=_DIGIT_NAMES, openml_id=554, idx_subdirs=("MNIST/raw", "MNIST"),
        idx_files=standard_idx_files((
            "f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
            "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")),
        sha256="2c104e57e8e3f758a03bb77bf23984cb8aeb4944d2295bd68d90cda1b12668d9",
        homepage="http://yann.lecun.com/exdb/mnist/", license="CC BY-SA 3.0",
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist", title="Fashion-MNIST", image_shape=(28, 28), n_train=60_000,
        n_test=10_000,
        description="Fashion-MNIST (Xiao, Rasul, Vollgraf 2017, Zalando Research).\n\n"
        "70,000 grey-level images of 28x28 pixels (uint8) of clothing articles in 10 "
        "classes, a drop-in replacement for MNIST.\n" + _SPLIT.format(id=40996),
        target_names=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                      "Shirt", "Sneaker", "Bag", "Ankle boot"),
        openml_id=40996,
        idx_files=standard_idx_files((
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
            "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")),
        idx_subdirs=("fashion_mnist", "fashion", "FashionMNIST/raw", "FashionMNIST"),
        homepage="https://github.com/zalandoresearch/fashion-mnist", license="MIT",
    ),
    "kmnist": DatasetSpec(
        name="kmnist", title="Kuzushiji-MNIST", image_shape=(28, 28), n_train=60_000,
        n_test=10_000,
        description="Kuzushiji-MNIST (Clanuwat et al. 2018, ROIS-DS Center for Open Data in "
        "the Humanities).\n\n70,000 grey-level images of 28x28 pixels (uint8) of cursive "
        "Japanese (Kuzushiji) characters, one per row of the hiragana table, 10 classes.\n"
        + _SPLIT.format(id=41982),
        target_names=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        openml_id=41982, idx_subdirs=("KMNIST/raw", "KMNIST"),
        idx_files=standard_idx_files((
            "bdb82020997e1d708af4cf47b453dcf7", "e144d726b3acfaa3e44228e80efcd344",
            "5c965bf0a639b31b8f53240b1b52f4d7", "7320c461ea6c1c855c0b718fb2a4b134")),
        homepage="https://github.com/rois-codh/kmnist", license="CC BY-SA 4.0",
    ),
    "digits": DatasetSpec(
        name="digits", title="scikit-learn digits (8x8)", image_shape=(8, 8), n_train=1_437,
        n_test=360,
        description="scikit-learn's bundled optical recognition of handwritten digits (UCI), "
        "via sklearn.datasets.load_digits: 1,797 images of 8x8 pixels, labels 0-9. Needs no "
        "network.\n\nUnlike the 28x28 datasets, pixels are counts in 0..16 (not 0..255), kept "
        "as uint8, so scale by 1/16 (not 1/255) to get [0, 1]. There is no published split, "
        "so this package defines one: stratified, fixed seed (sklearn train_test_split, "
        "test_size=360, random_state=0), 1,437 train / 360 test rows, each keeping the "
        "original relative order.",
        target_names=_DIGIT_NAMES, pixel_max=16, bundled_loader=load_digits_arrays,
        homepage="https://archive.ics.uci.edu/dataset/80", license="CC BY 4.0",
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
    ),
}


def list_datasets() -> list[str]:
    """Return the registered dataset names, sorted."""
    return sorted(DATASETS)


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name`` (case and ``_``/``-`` insensitive); an unknown
    name is a :class:`ValueError` listing the known names."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    try:
        return DATASETS[name.strip().lower().replace("_", "-")]
    except KeyError:
        known = ", ".join(repr(n) for n in list_datasets())
        raise ValueError(f"unknown dataset {name!r}; known datasets: {known}") from None


def register_dataset(spec: DatasetSpec, *, overwrite: bool = False) -> None:
    """Add ``spec`` to :data:`DATASETS` (``overwrite=True`` replaces an entry of that name);
    a taken name (without ``overwrite``) or an inconsistent spec is a :class:`ValueError`."""
    problems = {
        "names are lower-case with '-'": spec.name != spec.name.strip().lower().replace("_", "-"),
        "is already registered (pass overwrite=True)": spec.name in DATASETS and not overwrite,
        "n_train/n_test must be >= 0, not both 0": min(spec.n_train, spec.n_test) < 0
        or spec.n_samples == 0,
        "needs 2..256 target_names": not 2 <= spec.n_classes <= 256,
        "pixel_max must be in 1..255 (uint8)": not 0 < spec.pixel_max <= 255,
    }
    for problem, bad in problems.items():
        if bad:
            raise ValueError(f"dataset {spec.name!r}: {problem}")
    DATASETS[spec.name] = spec
