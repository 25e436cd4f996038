"""How many networks one stack may hold: the memory bound and the measured sweet spot.

On a CPU a stack pays until one stacked step does about :data:`STEP_FLOPS_CPU` FLOPs;
past that the step is as efficient as the CPU's matrix products get and more networks
only add memory traffic (benchmarks/stack_scaling.py: the per-network time of the MLP
falls up to K=32, the largest measured, on the digits, 4.6 MFLOP a network-step, and up to
K=8-16 on MNIST rows, 32 MFLOP, where K=32 is slower again). Networks that run through
``vmap`` (the CNN) are not stacked on a CPU: their grouped convolutions were slower per
network than single fits there.

With worker processes to spare (a search's ``n_jobs``), a CPU network whose training step
keeps a core busy on its own (at least :data:`WORKER_STEP_FLOPS_CPU`) trains faster in a
worker of its own, one fit after another, than in a stack: W workers scale by about W,
while a stack of MNIST-row MLPs gained 1.25-1.8x over their fits one by one
(benchmarks/search_mnist.py: the stack in one process slower than scikit-learn's 2
workers on a quiet machine; on the digits, the stack faster).

A stack's memory is its networks' weights (with gradients, two optimizer moments, the
early-stopping copy and the update's temporaries: about 6 copies) plus their activations
for one batch (forward outputs kept for the backward pass, and their gradients); the data
is shared. The estimate counts a network's parameters and the outputs of its layers for
one row (forward hooks on a one-row pass), so it holds for any architecture.
"""

from __future__ import annotations

import math
import os

import torch
from torch import nn

#: FLOPs of one stacked training step past which a larger stack stops paying on a CPU.
STEP_FLOPS_CPU = 3e8
#: Most networks per stack on a CPU, however small each is (the largest K measured).
MAX_NETWORKS_CPU = 32
#: On a GPU, larger stacks keep paying until memory is the bound.
MAX_NETWORKS_CUDA = 256
#: With worker processes free, CPU networks with training steps of at least this many
#: FLOPs are fitted in the workers instead of a stack (the step size from which a second
#: torch thread helps, ``threads.SINGLE_THREAD_BELOW_FLOPS``: the step fills a core).
WORKER_STEP_FLOPS_CPU = 1e7
#: The fraction of the free memory a stack may take.
MEMORY_FRACTION = 0.25


def network_bytes(module: nn.Module, sample: torch.Tensor, batch_size: int) -> int:
    """Estimated bytes one network of a stack needs (weights and one batch's activations).

    ``sample`` is one input row of the training dtype, on the module's device.
    """
    itemsize = sample.element_size()
    weights = sum(p.numel() for p in module.parameters()) + sum(
        b.numel() for b in module.buffers())
    outputs = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: outputs.append(out.numel()))
             for m in module.modules() if not list(m.children())]
    training = module.training
    try:
        with torch.no_grad():
            module.eval()(sample[:1])
    finally:
        module.train(training)
        for hook in hooks:
            hook.remove()
    activations = sum(outputs)
    return int((6 * weights + 3 * batch_size * activations) * itemsize)


def free_bytes(device: torch.device) -> int:
    """Free memory of ``device``: the GPU's free memory, or the host's available RAM."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def chunk_size(per_network: int, device: torch.device, n_networks: int,
               max_networks: int | None = None, *, step_flops: float = 0.0,
               vectorised: bool = False) -> int:
    """Networks per stack: at most the measured cap, within the memory budget.

    ``step_flops`` is one network's FLOPs per training step, ``vectorised`` whether the
    network runs through ``vmap``. 1 means: fit them one by one.
    """
    if max_networks:
        cap = max_networks
    elif device.type == "cuda":
        cap = MAX_NETWORKS_CUDA
    elif vectorised:
        cap = 1
    else:
        cap = min(MAX_NETWORKS_CPU, max(2, math.floor(STEP_FLOPS_CPU / max(step_flops, 1))))
    budget = MEMORY_FRACTION * free_bytes(device)
    by_memory = max(1, math.floor(budget / max(per_network, 1)))
    return max(1, min(cap, by_memory, n_networks))


def workers_beat_stacking(step_flops: float, device: torch.device, workers: int) -> bool:
    """Whether ``workers`` processes fit networks of ``step_flops`` faster than a stack.

    Only on a CPU (one GPU is shared by the stack), with more than one worker, for steps of
    at least :data:`WORKER_STEP_FLOPS_CPU`.
    """
    return device.type == "cpu" and workers > 1 and step_flops >= WORKER_STEP_FLOPS_CPU
