"""Where do 2 intra-op threads start to beat 1? Training steps of MLPs of growing size.

    python benchmarks/thread_crossover.py [--quick] [--busy N]

Each row is one training step (forward, cross-entropy, backward, fused Adam) of an MLP on
random data, timed with ``torch.set_num_threads(1)`` and with all cores, interleaved, on an
idle machine and with ``--busy`` CPU-bound processes (default: as many as cores) running
beside it. The work per step is counted in FLOPs the way ``sknn_mnist.core.threads`` counts it,
so the crossover found here is the threshold the thread policy uses.
"""

from __future__ import annotations

import os
import time

import torch
from _common import busy_processes, interleaved, load_average, machine_info, parser
from _common import write_result as _write
from torch import nn

from sknn_mnist.core.threads import mlp_step_flops

#: (input features, hidden widths, batch size): digits, MNIST defaults, wider MNIST nets.
CONFIGS = [
    (64, (100, 50), 64),
    (64, (100, 50), 200),
    (784, (100, 50), 32),
    (784, (100, 50), 64),
    (784, (100, 50), 128),
    (784, (256, 128), 64),
    (784, (100, 50), 256),
    (784, (256, 128), 128),
    (784, (512, 256), 128),
    (784, (1024, 512), 256),
]


def step_timer(n_in: int, widths: tuple[int, ...], batch: int, threads: int, seconds: float):
    """A callable timing training steps for about ``seconds``; returns seconds per step."""
    torch.manual_seed(0)
    sizes = [n_in, *widths]
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-1], 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    X = torch.rand(batch * 16, n_in)
    y = torch.randint(0, 10, (batch * 16,))
    loss_fn = nn.CrossEntropyLoss()

    def steps(n: int) -> None:
        for i in range(n):
            start = (i % 16) * batch
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(X[start:start + batch]), y[start:start + batch]).backward()
            optimizer.step()

    def run() -> float:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            steps(3)  # warm the thread pool and the allocator at this thread count
            n, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                steps(8)
                n += 8
            return (time.perf_counter() - t0) / n
        finally:
            torch.set_num_threads(before)

    return run


def measure(rounds: int, seconds: float, cores: int) -> list[dict]:
    rows = []
    for n_in, widths, batch in CONFIGS:
        timings = interleaved(
            {"1 thread": step_timer(n_in, widths, batch, 1, seconds),
             f"{cores} threads": step_timer(n_in, widths, batch, cores, seconds)},
            rounds, reference="1 thread")
        rows.append({
            "net": "-".join(map(str, (n_in, *widths, 10))), "batch": batch,
            "MFLOP/step": mlp_step_flops(n_in, widths, 10, batch) / 1e6,
            "ms/step, 1 thread": 1e3 * timings["median_seconds"]["1 thread"],
            f"ms/step, {cores} threads": 1e3 * timings["median_seconds"][f"{cores} threads"],
            f"{cores} threads / 1 thread": timings["ratio_to_1 thread"][f"{cores} threads"],
        })
    return rows


def main() -> None:
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--busy", type=int, default=None,
                   help="CPU-bound processes beside the timed ones (default: one per core)")
    args = p.parse_args()
    cores = os.cpu_count() or 1
    busy = cores if args.busy is None else args.busy
    rounds = args.rounds or (1 if args.quick else 5)
    seconds = 0.05 if args.quick else 0.4
    if args.quick:
        del CONFIGS[2:-1]
    load_before = load_average()
    table = []
    for label, n_busy in (("idle", 0), (f"{busy} busy processes", busy)):
        with busy_processes(n_busy):
            for row in measure(rounds, seconds, cores):
                table.append({"machine": label, **row})
    result = {
        "benchmark": "thread_crossover",
        "title": f"Intra-op threads: 1 against {cores} per training step "
                 f"({rounds} interleaved rounds, idle and with {busy} busy processes)",
        "machine": machine_info("cpu"),
        "params": {"rounds": rounds, "seconds_per_timing": seconds, "busy": busy},
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "table": table,
        "notes": [f"Load average (1, 5, 15 min) before the run: {load_before}; after: "
                  f"{load_average()}. On a shared machine 'idle' means no busy processes "
                  "of ours, not an idle machine.",
                  "MFLOP/step counts forward + backward (3x the forward's 2 * batch * "
                  "sum(in * out)), as sknn_mnist.core.threads.mlp_step_flops does.",
                  "A ratio below 1 means the extra threads help."],
    }
    _write(args, "thread_crossover", result)


if __name__ == "__main__":
    main()
