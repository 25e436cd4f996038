"""Build scikit-learn's ``fetch_openml`` cache for ``mnist_784`` (id 554) offline.

``fetch_openml`` first looks in ``<data_home>/openml.org/<url path>.gz`` for every OpenML
response it needs (the description, the feature list, the qualities and the ARFF file) and
only goes to the network for a missing one. Writing those files from the IDX data, in the
layout and JSON shape OpenML answers with, lets the benchmark time scikit-learn's parse of
the same 70,000 images from its own cache on a machine without internet.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from pathlib import Path

import numpy as np

DATA_ID = 554
FILE_ID = 52667
ARFF_URL = f"https://api.openml.org/data/v1/download/{FILE_ID}/mnist_784.arff"


def _arff_bytes(X: np.ndarray, y: np.ndarray) -> bytes:
    """The dense ARFF OpenML serves for mnist_784: 784 numeric pixels and a nominal class."""
    out = io.StringIO()
    out.write("@RELATION mnist_784\n\n")
    for i in range(1, X.shape[1] + 1):
        out.write(f"@ATTRIBUTE pixel{i} NUMERIC\n")
    out.write("@ATTRIBUTE class {'0','1','2','3','4','5','6','7','8','9'}\n\n@DATA\n")
    pixels = io.StringIO()
    np.savetxt(pixels, X, fmt="%d", delimiter=",")
    # Quoted nominal values, as the header declares them; pandas then reads the class
    # column as strings, which is what scikit-learn's parser expects.
    out.writelines(f"{row},'{label}'\n"
                   for row, label in zip(pixels.getvalue().splitlines(), y, strict=True))
    return out.getvalue().encode()


def _features(n_pixels: int) -> list[dict]:
    common = {"is_ignore": "false", "is_row_identifier": "false",
              "number_of_missing_values": "0"}
    features = [{"index": str(i), "name": f"pixel{i + 1}", "data_type": "numeric",
                 "is_target": "false", **common} for i in range(n_pixels)]
    features.append({"index": str(n_pixels), "name": "class", "data_type": "nominal",
                     "nominal_value": [str(d) for d in range(10)], "is_target": "true",
                     **common})
    return features


def _write_gz(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(payload)


def build_cache(X: np.ndarray, y: np.ndarray, data_home: str | Path) -> Path:
    """Write the four cached responses ``fetch_openml(data_id=554)`` reads; return the root.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 784), uint8
        Pixels, in OpenML's row order (the 60,000 training images, then the 10,000 test).
    y : ndarray of shape (n_samples,)
        Digit labels 0-9.
    data_home : str or Path
        The ``data_home`` to pass to ``fetch_openml``.
    """
    root = Path(data_home) / "openml" / "openml.org"
    arff = _arff_bytes(X, y)
    description = {"data_set_description": {
        "id": str(DATA_ID), "name": "mnist_784", "version": "1", "format": "ARFF",
        "status": "active", "file_id": str(FILE_ID), "url": ARFF_URL,
        "default_target_attribute": "class", "md5_checksum": hashlib.md5(arff).hexdigest(),
    }}
    qualities = {"data_qualities": {"quality": [
        {"name": "NumberOfInstances", "value": f"{len(X)}.0"},
        {"name": "NumberOfFeatures", "value": f"{X.shape[1] + 1}.0"},
    ]}}
    features = {"data_features": {"feature": _features(X.shape[1])}}
    _write_gz(root / f"api/v1/json/data/{DATA_ID}.gz", json.dumps(description).encode())
    _write_gz(root / f"api/v1/json/data/features/{DATA_ID}.gz", json.dumps(features).encode())
    _write_gz(root / f"api/v1/json/data/qualities/{DATA_ID}.gz",
              json.dumps(qualities).encode())
    _write_gz(root / f"data/v1/download/{FILE_ID}/mnist_784.arff.gz", arff)
    return root
