"""Data: first load through openml, our cached load, and the size of the dependency set.

    python benchmarks/data_loading.py [--quick] [--rounds N]

There is no internet here, so a local OpenML server (tests/_openml_server.py, the one the
tests use) serves MNIST made from the IDX files as OpenML's Parquet file; ``load_mnist`` then
goes through ``openml``'s real download path. Per round, in this order: a load with both caches
empty (download, openml's parse and its cache, our conversion and our cache), a load with only
openml's cache (its pickle), a load with only openml's downloaded Parquet file, and our cached
load. ``--quick`` serves the first 7,000 rows only.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from _common import machine_info, parser
from _common import write_result as _write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _openml_server import local_openml  # the tests' server, found above

from sknn_mnist.datasets import DATASETS, load_dataset

# The project's dependencies before openml (pyproject.toml), and openml.
BASE = ("numpy", "scikit-learn", "torch", "skorch", "joblib", "tqdm", "matplotlib", "skops")


def closure(names) -> set[str]:
    """Installed distributions ``names`` need, themselves included (extras left out)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            continue  # an environment marker's package for another platform
        seen.add(name)
        for req in dist.requires or []:
            if "extra ==" not in req:
                todo.append(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0])
    return seen


def size_mb(names) -> float:
    """Installed size of the distributions, from their RECORD files, in MB."""
    total = 0
    for name in names:
        for f in md.distribution(name).files or []:
            path = Path(f.locate())
            if path.is_file():
                total += path.stat().st_size
    return total / 1e6


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    args = parser(__doc__.split("\n\n")[0]).parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    X, y = load_dataset("mnist", subset="all", idx_dir=args.idx_dir, return_X_y=True,
                        data_home=args.data_home or tempfile.mkdtemp())
    name, spec = "mnist", DATASETS["mnist"]
    if args.quick:  # a 7,000-row MNIST, with no pinned checksum (that is of all 70,000 rows)
        name, spec = "mnist-quick", replace(spec, name="mnist-quick", n_train=6000,
                                            n_test=1000, sha256=None)
        X, y = np.concatenate([X[:6000], X[60000:61000]]), np.concatenate([y[:6000],
                                                                             y[60000:61000]])
        DATASETS[name] = spec
    raw: dict[str, list[float]] = {k: [] for k in ("download", "openml_pickle",
                                                   "openml_parquet", "cached")}
    with local_openml() as server, tempfile.TemporaryDirectory() as home:
        t = time.perf_counter()
        server.add_dataset(554, X, y, arff=False)
        parquet_build_s = time.perf_counter() - t
        home_p = Path(home)

        def load():
            b = load_dataset(name, subset="all", data_home=home_p, openml_url=server.url,
                             progress=False)
            assert np.array_equal(b.data, X) and np.array_equal(b.target, y)
            return b

        for r in range(rounds):
            shutil.rmtree(home_p, ignore_errors=True)
            raw["download"].append(timed(load))
            n_requests = len(server.requests)
            npz = home_p / f"{name}-v1.npz"
            npz.unlink()
            raw["openml_pickle"].append(timed(load))
            npz.unlink()
            for pkl in home_p.rglob("*.pkl.py3"):
                pkl.unlink()
            raw["openml_parquet"].append(timed(load))
            assert load().source == "cache"
            raw["cached"].append(statistics.median(timed(load) for _ in range(5)))
            # Only the first load of the round talks to the server (description, HEAD, GET).
            assert len(server.requests) == n_requests, server.requests[n_requests:]
            print(f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v[-1]:.2f} s"
                                                          for k, v in raw.items()), flush=True)
        pq_mb = (server.files[server.parquet_path(554)][0].__len__()) / 1e6
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    import_s = json.loads(subprocess.run(
        [sys.executable, "-c", "import json, time; import sknn_mnist.datasets; "
         "t = time.perf_counter(); import openml; print(json.dumps(time.perf_counter() - t))"],
        capture_output=True, text=True, check=True).stdout)

    base, full = closure(BASE), closure((*BASE, "openml"))
    added = sorted(full - base)
    med = {k: statistics.median(v) for k, v in raw.items()}
    rows = f"{len(y):,} rows"
    table = [
        {"measure": f"first load, both caches empty: local HTTP download of the Parquet file "
                    f"({pq_mb:.1f} MB), openml's parse and cache, our uint8 arrays and cache "
                    f"({rows})", "value": f"{med['download']:.2f} s", "target": ""},
        {"measure": f"first load from openml's cache (its pickle) to our arrays and cache "
                    f"({rows})", "value": f"{med['openml_pickle']:.2f} s", "target": ""},
        {"measure": f"first load from openml's downloaded Parquet file to our arrays and cache "
                    f"({rows})", "value": f"{med['openml_parquet']:.2f} s", "target": ""},
        {"measure": f"cached load_mnist(subset='all') ({rows}), median of 5",
         "value": f"{med['cached']:.3f} s", "target": "< 1 s"},
        {"measure": "import openml (fresh interpreter, after sknn_mnist.datasets)",
         "value": f"{import_s:.2f} s", "target": ""},
        {"measure": f"installed dependency set without openml ({len(base)} distributions)",
         "value": f"{size_mb(base):.0f} MB", "target": ""},
        {"measure": f"with openml ({len(full)} distributions; added: {', '.join(added)})",
         "value": f"{size_mb(full):.0f} MB (+{size_mb(added):.0f} MB)", "target": ""},
    ]
    result = {
        "benchmark": "data_loading",
        "title": "Data loading through openml: first load, cached load, dependency size",
        "machine": machine_info("cpu"),
        "table": table,
        "notes": [
            f"Median of {rounds} round(s); at the end of the run `uptime` said: {uptime} "
            "(2 cores). The first-load rows each include our sha256 checks and the atomic "
            "write of our .npz cache; the download row runs against a server on 127.0.0.1, "
            "so it leaves out the internet's bandwidth (MNIST's Parquet file is about "
            f"{pq_mb:.0f} MB here). The first round's download also paid this process's first "
            f"imports of openml, pandas, pyarrow and minio: {raw['download'][0]:.2f} s.",
            "Sizes: the files listed in each installed distribution's RECORD, for the "
            "distributions the project's dependencies need (pyproject.toml, with and "
            "without openml), extras left out. pandas was an optional test dependency "
            "before and is now needed through openml.",
        ],
        "uptime": uptime,
        "seconds": raw, "parquet_build_s": parquet_build_s, "import_openml_s": import_s,
        "added_distributions": added,
    }
    _write(args, "data_loading", result)


if __name__ == "__main__":
    main()
