"""Dataset summaries: what ``python -m sknn_mnist.datasets info NAME`` prints.

The command itself is :mod:`sknn_mnist.cli.datasets`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._load import PathLike, load_dataset
from ._registry import get_spec

__all__ = ["dataset_info", "dataset_summary", "format_dataset_info"]


def dataset_summary(name: str, **kwargs: Any) -> dict[str, Any]:
    """Load a dataset (all rows, keyword arguments as :func:`load_dataset`) and summarise it
    as a JSON-serialisable dict: the spec's fields, ``source``, ``origin``, ``cache_path``,
    ``pixel_range``, ``subsets`` (per split: ``n_samples``, ``data_shape``, ``images_shape``,
    ``class_counts``), ``checksums`` and ``published_checksums`` (the registry's IDX md5s)."""
    spec = get_spec(name)
    b = load_dataset(spec.name, subset="all", **kwargs)
    X, y = b.data, b.target
    subsets: dict[str, Any] = {}
    for sub, sl in (("train", slice(0, spec.n_train)),
                    ("test", slice(spec.n_train, spec.n_samples)), ("all", slice(None))):
        counts = np.bincount(y[sl], minlength=spec.n_classes)
        n = int(counts.sum())
        subsets[sub] = {"n_samples": n, "data_shape": [n, spec.n_features],
                        "images_shape": [n, *spec.image_shape],
                        "class_counts": {str(i): int(c) for i, c in enumerate(counts)}}
    published = {f.filename: f.md5 for f in spec.idx_files or () if f.md5 is not None}
    return {
        "name": spec.name, "title": spec.title, "source": b.source, "origin": b.origin,
        "cache_path": b.cache_path, "dtype": str(X.dtype), "image_shape": list(spec.image_shape),
        "n_features": spec.n_features,
        "pixel_range": [int(X.min()), int(X.max())] if X.size else [0, 0],
        "target_names": list(spec.target_names), "subsets": subsets,
        "checksums": dict(b.checksums), "published_checksums": published,
        "openml_id": spec.openml_id, "homepage": spec.homepage, "license": spec.license,
    }


def format_dataset_info(summary: dict[str, Any]) -> str:
    """Render :func:`dataset_summary`'s dict as human-readable text."""
    s = summary
    lines = [f"{s['title']} ({s['name']})", f"  source      : {s['source']}",
             f"  origin      : {s['origin']}", f"  cache file  : {s['cache_path'] or '-'}"]
    if s.get("openml_id") is not None:
        lines.append(f"  OpenML id   : {s['openml_id']}")
    if s.get("homepage"):
        lines.append(f"  homepage    : {s['homepage']} (license: {s.get('license') or '?'})")
    (lo, hi), (h, w), names = s["pixel_range"], s["image_shape"], s["target_names"]
    lines.append(f"  features    : {s['n_features']} pixels ({h}x{w} images), {s['dtype']}, "
                 f"values {lo}..{hi}")
    lines.append(f"  classes     : {len(names)}: " + ", ".join(names))
    lines.append("  shapes      :")
    lines += [f"    {sub:<5}  data {tuple(d['data_shape'])}  images {tuple(d['images_shape'])}"
              for sub, d in s["subsets"].items()]
    lines.append("  class counts:")
    lines.append("    " + "class".ljust(14) + "".join(f"{sub:>8}" for sub in s["subsets"]))
    for i, cname in enumerate(names):
        label = f"{i} {cname}" if cname != str(i) else str(i)
        counts = "".join(f"{d['class_counts'][str(i)]:>8}" for d in s["subsets"].values())
        lines.append(f"    {label[:14]:<14}{counts}")
    published = s["published_checksums"]
    lines.append("  checksums   :")
    for k, v in s["checksums"].items():
        if v is not None and k not in published:
            lines.append(f"    {'sha256 (arrays data+target)' if k == 'sha256' else k}: {v}")
    if published:
        # The IDX md5s are in the load's checksums only when this data was built from IDX files.
        verified = all(s["checksums"].get(k) == v for k, v in published.items())
        note = ("verified" if s["source"] == "idx" else
                "verified when the cache was built" if verified else "published")
        lines.append(f"  IDX md5s ({note}):")
        lines += [f"    {fname}: {md5}" for fname, md5 in published.items()]
    return "\n".join(lines)


def dataset_info(
    name: str, *, data_home: PathLike | None = None, idx_dir: PathLike | None = None,
    download: bool = True, progress: bool | None = None, openml_url: str | None = None,
) -> str:
    """A printable summary of a dataset (source, shapes, class counts, checksums), loaded like
    :func:`load_dataset` (so it may build the cache or download).

    Examples
    --------
    >>> from sknn_mnist.datasets import dataset_info
    >>> print(dataset_info("digits"))  # doctest: +ELLIPSIS
    scikit-learn digits (8x8) (digits)
    ...
    """
    return format_dataset_info(dataset_summary(**locals()))
