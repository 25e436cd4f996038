"""Reading digit images as users deliver them: accuracy per kind of image, and speed.

    python benchmarks/images.py [--quick] [--n-digits N] [--n-numbers N] [--requests N]

The benchmark set is built from the MNIST *test* digits (``_render.py``): photos of a digit
on paper (dark ink, enlarged, off-centre in a larger frame, a lighting gradient, a colour
cast, noise, blur, a slight rotation, JPEG), browser-canvas exports (the stroke only in the
alpha channel), tight scans (black on white) and numbers of 3 to 5 digits side by side
(and, as an extra row, touching). Each kind is read by ``sknn_mnist.images`` and by a
plain resize to 28x28 with inversion, and predicted by the pretrained default MLP and
CNN (``sknn_mnist.pretrained``), next to their accuracy on the same digits as MNIST has
them. Speed: ms per image to read and normalise, images/s for a folder, and
``POST /api/predict`` latency on 127.0.0.1.

Writes ``results/images.json`` (accuracy) and ``results/images_speed.json`` (speed).
"""

from __future__ import annotations

import http.client
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import load_average, machine_info, parser, write_result
from _render import KINDS, naive_row, render_number

import sknn_mnist
from sknn_mnist.datasets import load_mnist
from sknn_mnist.images import load_images, split_digits
from sknn_mnist.io.pretrained import pretrained_info

MODELS = {"MLP": "mnist-mlp", "CNN": "mnist-cnn"}
SEED = 2024


def _args():
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--n-digits", type=int, default=None, help="test digits per kind")
    p.add_argument("--n-numbers", type=int, default=None, help="numbers per kind")
    p.add_argument("--requests", type=int, default=None, help="API requests per model")
    args = p.parse_args()
    args.n_digits = args.n_digits or (100 if args.quick else 2000)
    args.n_numbers = args.n_numbers or (30 if args.quick else 500)
    args.requests = args.requests or (100 if args.quick else 1000)
    return args


def _percent(hits) -> float:
    return 100 * float(np.mean(hits))


def _digits_table(models, X, y, n_digits, rng) -> tuple[list[dict], dict]:
    picked = rng.choice(len(X), n_digits, replace=False)
    digits, labels = X[picked], y[picked]
    clean = {k: _percent(m.predict(digits) == labels) for k, m in models.items()}
    rows = [{"kind": f"clean MNIST rows ({n_digits} test digits)",
             **{f"{k} ours %": clean[k] for k in models}}]
    seconds: dict[str, list[float]] = {}
    for kind, render in KINDS.items():
        files = [render(d.reshape(28, 28), rng) for d in digits]
        times, ours = [], []
        for data in files:
            start = time.perf_counter()
            ours.append(load_images(data)[0])
            times.append(time.perf_counter() - start)
        seconds[kind] = times
        ours, naive = np.stack(ours), np.stack([naive_row(f) for f in files])
        row = {"kind": kind}
        for k, model in models.items():
            row[f"{k} ours %"] = _percent(model.predict(ours) == labels)
            row[f"{k} plain resize %"] = _percent(model.predict(naive) == labels)
            row[f"{k} ours - clean (points)"] = row[f"{k} ours %"] - clean[k]
        rows.append(row)
    return rows, seconds


def _numbers_rows(models, X, y, n_numbers, rng) -> tuple[list[dict], list[float]]:
    rows, split_times = [], []
    for label, gaps in (("numbers of 3-5 digits", (3, 11)),
                        ("numbers of 3-5 digits, touching (extra)", (-2, 2))):
        exact = {k: [] for k in models}
        segmented = []
        for _ in range(n_numbers):
            k = int(rng.integers(3, 6))
            picked = rng.choice(len(X), k, replace=False)
            data = render_number([X[i].reshape(28, 28) for i in picked], rng, gaps)
            start = time.perf_counter()
            rows_read = split_digits(data)
            split_times.append(time.perf_counter() - start)
            truth = "".join(str(d) for d in y[picked])
            segmented.append(len(rows_read) == k)
            for name, model in models.items():
                got = "".join(str(d) for d in model.predict(rows_read))
                exact[name].append(got == truth)
        rows.append({"kind": label, "numbers": n_numbers,
                     "cut into the right number of digits %": _percent(segmented),
                     **{f"{name} read exactly %": _percent(v) for name, v in exact.items()}})
    return rows, split_times


def _folder_rate(X, n_files: int, rng) -> float:
    with tempfile.TemporaryDirectory() as folder:
        for i in range(n_files):
            Path(folder, f"{i:05d}.jpg").write_bytes(KINDS["photo"](X[i].reshape(28, 28), rng))
        start = time.perf_counter()
        rows = load_images(folder)
        seconds = time.perf_counter() - start
    assert len(rows) == n_files
    return n_files / seconds


def _latency(name: str, body: bytes, n_requests: int) -> dict[str, float]:
    from sknn_mnist.serve import ServerThread

    with ServerThread([name]) as server:
        host, port = server.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        times = []
        for i in range(n_requests + 10):
            start = time.perf_counter()
            connection.request("POST", "/api/predict", body=body,
                               headers={"Content-Type": "image/jpeg"})
            response = connection.getresponse()
            response.read()
            if i >= 10:  # the first few warm the model and the connection up
                times.append(time.perf_counter() - start)
            assert response.status == 200
        connection.close()
    ms = np.array(times) * 1000
    return {"p50 ms": float(np.percentile(ms, 50)), "p99 ms": float(np.percentile(ms, 99)),
            "mean ms": float(ms.mean())}


def main() -> None:
    args = _args()
    rng = np.random.default_rng(SEED)
    X, y = load_mnist(subset="test", idx_dir=args.idx_dir, return_X_y=True, download=False,
                      **({"data_home": args.data_home} if args.data_home else {}))
    models = {k: sknn_mnist.pretrained(name) for k, name in MODELS.items()}
    load = load_average()
    digit_rows, seconds = _digits_table(models, X, y, args.n_digits, rng)
    number_rows, split_times = _numbers_rows(models, X, y, args.n_numbers, rng)
    full = {k: 100 * pretrained_info(name)["test_accuracy"] for k, name in MODELS.items()}
    met = all(abs(r[f"{k} ours - clean (points)"]) <= 1.5 for r in digit_rows[1:]
              for k in models)
    cnn_numbers = number_rows[0]["CNN read exactly %"]
    write_result(args, "images", {
        "benchmark": "images",
        "title": f"Images: MNIST test digits rendered as users deliver them "
                 f"({args.n_digits} digits per kind, {args.n_numbers} numbers)",
        "machine": machine_info("cpu"), "load_average": load,
        "table": digit_rows + number_rows,
        "targets": {"every kind within 1.5 points of clean": met,
                    "numbers read exactly >= 90% with the CNN": cnn_numbers >= 90},
        "notes": [
            f"Clean accuracy on the whole MNIST test set: MLP {full['MLP']:.2f}%, CNN "
            f"{full['CNN']:.2f}% (the pretrained models, sknn_mnist.pretrained); the "
            "'clean MNIST rows' row is the same digits as every kind, as MNIST has them.",
            "'ours' reads each file with sknn_mnist.images (load_images, split_digits for "
            "numbers); 'plain resize' converts the whole image to grey (over white where "
            "transparent), resizes it to 28x28 and inverts it, as a user's own code would.",
            "Kinds (benchmarks/_render.py): photo = dark pen on coloured paper, enlarged "
            "4-8x, off-centre in a frame 1.8-3x larger, lighting gradient 0.55-1.05, noise, "
            "blur, rotation up to 6 degrees, JPEG 60-90; canvas = 280x280 RGBA, the stroke "
            "only in alpha, digit 6-9x, not centred; scan = black on white, 3-6x, cropped "
            "to 0-3 pixels of margin, grey PNG; numbers = 3-5 digits 3-10 pixels apart "
            "(at MNIST's scale; 'touching': -2 to 1, overlapping), 3-5x, lighting, JPEG.",
            f"Targets: every kind within 1.5 points of clean: {'met' if met else 'NOT met'}; "
            f"numbers read exactly with the CNN >= 90%: {cnn_numbers:.1f}% "
            f"({'met' if cnn_numbers >= 90 else 'NOT met'}).",
        ],
    })
    photo = KINDS["photo"](X[0].reshape(28, 28), np.random.default_rng(0))
    speed_rows = [{"measure": f"read and normalise one image: {kind} (median ms)",
                   "value": 1000 * statistics.median(t)} for kind, t in seconds.items()]
    speed_rows.append({"measure": "split_digits on a number of 3-5 digits (median ms)",
                       "value": 1000 * statistics.median(split_times)})
    n_files = 100 if args.quick else 1000
    speed_rows.append({"measure": f"load_images on a folder of {n_files} photo JPEGs "
                                  "(images/s)", "value": _folder_rate(X, n_files, rng)})
    for k, name in MODELS.items():
        for stat, value in _latency(name, photo, args.requests).items():
            speed_rows.append({"measure": f"POST /api/predict, {k}, {args.requests} requests "
                                          f"on 127.0.0.1 ({stat})", "value": value})
    write_result(args, "images_speed", {
        "benchmark": "images_speed",
        "title": "Images: speed of reading images and of the page's API",
        "machine": machine_info("cpu"), "load_average": [load, load_average()],
        "table": speed_rows,
        "notes": [
            "One process, the CPU; each image is read from its encoded bytes (decode, ink, "
            "normalisation); the photo files are about 3-6x the digit's size in each "
            "direction. The API is a real uvicorn on 127.0.0.1, one keep-alive connection, "
            "requests one after the other, each a photo JPEG of one digit (decode, "
            "normalise, predict, PNG of the input, JSON), after 10 warm-up requests.",
            f"Load average at the start and end: {load} / {load_average()} on "
            f"{machine_info()['cpu_count']} cores (shared machine: times are inflated "
            "accordingly).",
        ],
    })


if __name__ == "__main__":
    main()
