"""Dataset summaries for the ``info`` command (and the project CLI)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._load import PathLike, load_dataset
from ._registry import get_spec

__all__ = ["dataset_info", "dataset_summary", "format_dataset_info"]


def dataset_summary(
    name: str,
    *,
    data_home: PathLike | None = None,
    idx_dir: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
    openml_url: str | None = None,
) -> dict[str, Any]:
    """Load a dataset (all rows) and summarise it as a JSON-serialisable dict.

    Parameters are those of :func:`load_dataset`.

    Returns
    -------
    dict
        ``name``, ``title``, ``source``, ``origin``, ``cache_path``, ``image_shape``,
        ``n_features``, ``pixel_range``, ``dtype``, ``target_names``, ``subsets`` (for train,
        test and all: ``n_samples``, ``data_shape``, ``class_counts``), ``checksums`` (sha256
        of the arrays, verified source checksums), ``published_checksums`` (the registry's
        IDX md5s) and ``openml_id``.
    """
    spec = get_spec(name)
    b = load_dataset(
        spec.name,
        subset="all",
        data_home=data_home,
        idx_dir=idx_dir,
        download=download,
        progress=progress,
        openml_url=openml_url,
    )
    X, y = b.data, b.target
    subsets: dict[str, Any] = {}
    for sub, sl in (
        ("train", slice(0, spec.n_train)),
        ("test", slice(spec.n_train, spec.n_samples)),
        ("all", slice(0, spec.n_samples)),
    ):
        counts = np.bincount(y[sl], minlength=spec.n_classes)
        subsets[sub] = {
            "n_samples": int(counts.sum()),
            "data_shape": [int(counts.sum()), spec.n_features],
            "images_shape": [int(counts.sum()), *spec.image_shape],
            "class_counts": {str(i): int(c) for i, c in enumerate(counts)},
        }
    published = {}
    if spec.idx_files is not None:
        published = {f.filename: f.md5 for f in spec.idx_files if f.md5 is not None}
    return {
        "name": spec.name,
        "title": spec.title,
        "source": b.source,
        "origin": b.origin,
        "cache_path": b.cache_path,
        "dtype": str(X.dtype),
        "image_shape": list(spec.image_shape),
        "n_features": spec.n_features,
        "pixel_range": [int(X.min()), int(X.max())] if X.size else [0, 0],
        "target_names": list(spec.target_names),
        "subsets": subsets,
        "checksums": dict(b.checksums),
        "published_checksums": published,
        "openml_id": spec.openml_id,
        "homepage": spec.homepage,
        "license": spec.license,
    }


def format_dataset_info(summary: dict[str, Any]) -> str:
    """Render :func:`dataset_summary`'s dict as human-readable text."""
    s = summary
    lines = [
        f"{s['title']} ({s['name']})",
        f"  source      : {s['source']}",
        f"  origin      : {s['origin']}",
        f"  cache file  : {s['cache_path'] or '-'}",
    ]
    if s.get("openml_id") is not None:
        lines.append(f"  OpenML id   : {s['openml_id']}")
    if s.get("homepage"):
        lines.append(f"  homepage    : {s['homepage']} (license: {s.get('license') or '?'})")
    lo, hi = s["pixel_range"]
    h, w = s["image_shape"]
    lines.append(
        f"  features    : {s['n_features']} pixels ({h}x{w} images), {s['dtype']}, "
        f"values {lo}..{hi}"
    )
    names = s["target_names"]
    lines.append(f"  classes     : {len(names)}: " + ", ".join(names))
    lines.append("  shapes      :")
    for sub in ("train", "test", "all"):
        d = s["subsets"][sub]
        lines.append(
            f"    {sub:<5}  data {tuple(d['data_shape'])}  images {tuple(d['images_shape'])}"
        )
    lines.append("  class counts:")
    header = "    " + "class".ljust(14) + "".join(f"{sub:>8}" for sub in ("train", "test", "all"))
    lines.append(header)
    for i, cname in enumerate(names):
        key = str(i)
        label = f"{i} {cname}" if cname != key else key
        counts = "".join(
            f"{s['subsets'][sub]['class_counts'][key]:>8}" for sub in ("train", "test", "all")
        )
        lines.append(f"    {label[:14]:<14}{counts}")
    published = s["published_checksums"]
    lines.append("  checksums   :")
    for k, v in s["checksums"].items():
        if v is None or k in published:
            continue
        label = "sha256 (arrays data+target)" if k == "sha256" else k
        lines.append(f"    {label}: {v}")
    if published:
        # The IDX md5s are in the load's checksums only when this data was built from IDX files.
        verified = all(s["checksums"].get(k) == v for k, v in published.items())
        note = "verified when the cache was built" if verified else "published"
        if s["source"] == "idx":
            note = "verified"
        lines.append(f"  IDX md5s ({note}):")
        for fname, md5 in published.items():
            lines.append(f"    {fname}: {md5}")
    return "\n".join(lines)


def dataset_info(
    name: str,
    *,
    data_home: PathLike | None = None,
    idx_dir: PathLike | None = None,
    download: bool = True,
    progress: bool | None = None,
    openml_url: str | None = None,
) -> str:
    """Return a printable summary of a dataset: source, shapes, class counts, checksums.

    Loads the dataset like :func:`load_dataset` (so it may build the cache or download);
    parameters are the same.

    Examples
    --------
    >>> from sknn_mnist.datasets import dataset_info
    >>> print(dataset_info("digits"))  # doctest: +ELLIPSIS
    scikit-learn digits (8x8) (digits)
    ...
    """
    return format_dataset_info(
        dataset_summary(
            name,
            data_home=data_home,
            idx_dir=idx_dir,
            download=download,
            progress=progress,
            openml_url=openml_url,
        )
    )
