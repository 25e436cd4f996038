"""The trainer: owns a network's training state and runs training on a plan.

Everything that makes up a trained network lives in one :class:`Trainer`: the skorch net
(module, optimizer, shuffle generator, per-epoch history), the batch size and the L2
coefficient. One checkpoint API serves both the transactional rollback of a failed call
and persistence:

* :meth:`Trainer.checkpoint` takes a :class:`Checkpoint` (a copy, on the device);
* :meth:`Trainer.restore` puts one back;
* :meth:`Checkpoint.to_state` / :meth:`Checkpoint.from_state` turn it into builtins and one
  ``bytes`` blob (``torch.save`` of CPU tensors, loaded with ``weights_only=True``) and back;
* :meth:`Trainer.from_checkpoint` rebuilds a trainer around a module from one.
"""

from __future__ import annotations

import copy
import io
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from skorch.callbacks import PrintLog
from skorch.history import History

from .callbacks import ConvergenceMonitor, LearningRateSchedule
from .data import TensorBatchIterator, TensorSet, to_tensor
from .device import cuda_index, seed_generators
from .heads import OutputHead
from .net import SlicingNeuralNetClassifier
from .plan import TrainingPlan
from .solvers import Solver, get_solver
from .threads import step_flops, thread_policy

#: History keys of our epoch loop that skorch's ``PrintLog`` table leaves out.
_QUIET_KEYS = ["train_batch_count", "valid_batch_count", "train_samples", "stop"]


@dataclass
class Checkpoint:
    """A trained network's complete state: what a rollback restores and a file stores.

    Attributes
    ----------
    tensors : dict
        ``{"module": state_dict, "optimizer": state_dict, "generator": ByteTensor}``.
    history : list of dict
        The net's per-epoch history rows (the schedule and the stopping rules replay it).
    batch_size : int
    decay : float
        The L2 coefficient the solver applies.
    """

    tensors: dict[str, Any]
    history: list[dict[str, Any]]
    batch_size: int
    decay: float

    def to_state(self) -> dict[str, Any]:
        """Builtins and one ``bytes`` blob of CPU tensors: no torch or skorch objects."""
        buffer = io.BytesIO()
        torch.save(_to_cpu(self.tensors), buffer)
        return {"torch": buffer.getvalue(), "history": [dict(r) for r in self.history],
                "batch_size": int(self.batch_size), "decay": float(self.decay)}

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> Checkpoint:
        """Inverse of :meth:`to_state`, tensors loaded onto ``device``."""
        tensors = torch.load(io.BytesIO(state["torch"]), map_location=device,
                             weights_only=True)
        if "decay" in state:
            decay = state["decay"]
        else:  # files written before the trainer: the coefficient was stored per solver
            decay = state.get("weight_decay", 0.0) or 2 * state.get("l2_penalty", 0.0)
        return cls(tensors, list(state["history"]), int(state["batch_size"]), float(decay))

    def check_module(self, module: torch.nn.Module) -> None:
        """Check that the stored weights are those of ``module`` (names and shapes).

        ``module`` may live on the ``meta`` device: only its shapes are read.

        Raises
        ------
        ValueError
            A weight is missing, unexpected, or of another shape.
        """
        stored = self.tensors.get("module") if isinstance(self.tensors, dict) else None
        if not isinstance(stored, dict):
            raise ValueError("the saved network state holds no module weights")
        expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
        found = {k: tuple(v.shape) for k, v in stored.items() if isinstance(v, torch.Tensor)}
        if expected != found:
            differ = sorted(k for k in expected.keys() | found.keys()
                            if expected.get(k) != found.get(k))
            raise ValueError(
                "the saved weights do not match the network its parameters describe "
                f"(differing: {', '.join(differ[:5])}); the file was edited or is corrupt")


@dataclass
class TrainingOutcome:
    """What one training call did: its completed epochs' history rows."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False

    @property
    def stop(self) -> str | None:
        """Why training stopped early (``'converged'``, ``'max_fun'``), if it did."""
        return self.rows[-1].get("stop") if self.rows else None


class Trainer:
    """Trains one network through its skorch net; see the module docstring.

    Parameters
    ----------
    net : SlicingNeuralNetClassifier
        An initialised net.
    """

    def __init__(self, net: SlicingNeuralNetClassifier) -> None:
        self.net = net

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def create(cls, estimator: Any, module: torch.nn.Module, device: torch.device, *,
               head: OutputHead, batch_size: int, shuffle_seed: int,
               decay: float = 0.0) -> Trainer:
        """A new trainer for ``module`` with the estimator's training parameters."""
        net = make_net(estimator, module, device, head=head, batch_size=batch_size,
                       shuffle_seed=shuffle_seed, decay=decay)
        net.initialize()
        return cls(net)

    @classmethod
    def from_checkpoint(cls, estimator: Any, module: torch.nn.Module, device: torch.device,
                        head: OutputHead, checkpoint: Checkpoint) -> Trainer:
        """Rebuild a trainer (a loaded model) from a checkpoint."""
        trainer = cls.create(estimator, module, device, head=head,
                             batch_size=checkpoint.batch_size, shuffle_seed=0)
        trainer.restore(checkpoint)
        return trainer

    # -- checkpoints -----------------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """A copy of the whole training state, on the net's device."""
        net = self.net
        return Checkpoint(
            tensors={"module": _clone(net.module_.state_dict()),
                     "optimizer": _clone(net.optimizer_.state_dict()),
                     "generator": net.iterator_train__generator.get_state()},
            history=[dict(row) for row in net.history],
            batch_size=int(net.batch_size), decay=float(net.decay))

    def restore(self, checkpoint: Checkpoint) -> None:
        """Put the state of ``checkpoint`` back (module, optimizer, RNG, history, ...)."""
        net = self.net
        net.module_.load_state_dict(checkpoint.tensors["module"])
        net.optimizer_.load_state_dict(checkpoint.tensors["optimizer"])
        net.iterator_train__generator.set_state(checkpoint.tensors["generator"].cpu())
        net.history = History([dict(row) for row in checkpoint.history])
        net.set_params(batch_size=checkpoint.batch_size)
        net.set_decay(checkpoint.decay)

    # -- training --------------------------------------------------------------------------
    @property
    def module(self) -> torch.nn.Module:
        return self.net.module_

    @property
    def device(self) -> torch.device:
        return torch.device(self.net.device)

    def train(self, plan: TrainingPlan) -> TrainingOutcome:
        """Run ``plan.epochs`` epochs on the plan's data; the data goes to the device once.

        A ``KeyboardInterrupt`` (Ctrl-C) ends training after skorch has run
        ``on_train_end``; it is reported in the outcome (``interrupted``), and the caller
        decides what to keep and re-raises it.
        """
        net, device = self.net, self.device
        net.set_params(batch_size=plan.batch_size)
        net.set_decay(plan.decay)
        schedule = dict(net.callbacks_)["schedule"]
        schedule.max_epochs, schedule.samples_before = plan.horizon, plan.samples_seen
        X = to_tensor(plan.X, device)
        y = to_tensor(plan.y, device)
        weights = to_tensor(plan.sample_weight, device)
        train_rows, valid_rows = (None if r is None else to_tensor(r, device)
                                  for r in (plan.train_rows, plan.valid_rows))
        train_set = TensorSet(X, y, weights, rows=train_rows)
        valid_set = None if valid_rows is None else TensorSet(X, y, weights, rows=valid_rows)
        start = len(net.history)
        rng_devices = [cuda_index(device)] if device.type == "cuda" else []
        step = lambda: network_flops(net.module_, train_set.X, net.batch_size,  # noqa: E731
                                     training=True)
        # A forked, seeded torch RNG: dropout is reproducible and the caller's global RNG
        # state is left alone. The thread policy sets torch's CPU threads for the size of
        # a batch step and restores the caller's count.
        with thread_policy(step, device), torch.random.fork_rng(devices=rng_devices):
            seed_generators(plan.seeds.torch, device)
            # skorch's partial_fit catches the KeyboardInterrupt that our fit loop
            # re-raises (after dropping the incomplete epoch), runs on_train_end, and
            # returns; the loop's flag says it happened.
            net.partial_fit(train_set, None, epochs=plan.epochs, valid_set=valid_set)
        return TrainingOutcome(rows=list(net.history[start:]), interrupted=net.interrupted_)

    def finite(self, outcome: TrainingOutcome) -> bool:
        """Whether the weights and this call's losses are all finite."""
        params = [p.detach() for p in self.net.module_.parameters()]
        weights_ok = bool(torch.stack([torch.isfinite(p).all() for p in params]).all())
        return weights_ok and all(np.isfinite(r["train_loss"]) for r in outcome.rows)

    # -- prediction ------------------------------------------------------------------------
    def forward(self, X: np.ndarray) -> torch.Tensor:
        """Logits of ``X`` on the CPU: the one place where prediction forward passes run."""
        net = self.net
        data = TensorSet(to_tensor(X, net.device))
        rows = min(len(data), net.iterator_valid__batch_size)
        chunk = lambda: network_flops(net.module_, data.X, rows,  # noqa: E731
                                      training=False)
        with thread_policy(chunk, net.device):
            # One device-to-host copy for the whole result, not one per batch.
            return net.forward(data, training=False, device=net.device).cpu()


def network_flops(module: torch.nn.Module, sample: torch.Tensor, rows: int, *,
                  training: bool) -> float:
    """FLOPs of one step: the network's own count when it has one, else a measured one."""
    own = getattr(module, "step_flops", None)
    if own is not None:
        return own(sample, rows, training=training)
    return step_flops(module, sample, rows, training=training)


def make_net(estimator: Any, module: torch.nn.Module, device: torch.device, *,
             head: OutputHead, batch_size: int, shuffle_seed: int,
             decay: float = 0.0) -> SlicingNeuralNetClassifier:
    """The skorch net for ``module`` with the estimator's training parameters."""
    solver: Solver = get_solver(estimator.solver)
    arguments = solver.optimizer_arguments(estimator)
    lr = arguments.pop("lr")
    schedule = solver.schedule(estimator.learning_rate)
    callbacks = [
        ("schedule", LearningRateSchedule(schedule, lr, estimator.power_t,
                                          estimator.max_iter)),
        ("monitor", ConvergenceMonitor(
            early_stopping=estimator.early_stopping, tol=estimator.tol,
            n_iter_no_change=estimator.n_iter_no_change, adaptive=schedule == "adaptive",
            max_fun=solver.max_fun(estimator.max_fun), verbose=estimator.verbose,
            score_key=f"valid_{head.score_name}")),
    ]
    if estimator.verbose:
        # skorch's own table, one row per epoch, without our loop's bookkeeping columns.
        callbacks.append(("print_log", PrintLog(keys_ignored=_QUIET_KEYS, floatfmt=".4g")))
    return SlicingNeuralNetClassifier(
        module,
        criterion=torch.nn.CrossEntropyLoss,  # unused: get_loss asks the head
        optimizer=solver.optimizer,
        lr=lr,
        max_epochs=estimator.max_iter,
        batch_size=batch_size,
        iterator_train=TensorBatchIterator,
        iterator_valid=TensorBatchIterator,
        iterator_train__shuffle=estimator.shuffle,
        iterator_train__generator=torch.Generator().manual_seed(shuffle_seed),
        iterator_valid__batch_size=estimator._inference_batch_size,
        train_split=None,
        callbacks=callbacks,
        verbose=int(bool(estimator.verbose)),  # PrintLog prints only when the net is verbose
        device=str(device),
        head=head,
        solver=solver,
        decay=decay,
        **{f"optimizer__{k}": v for k, v in arguments.items()},
    )


def _clone(value: Any) -> Any:
    """A copy of a state dict: tensors cloned, containers rebuilt, the rest deep-copied.

    ``copy.deepcopy`` does the same at about ten times the cost per tensor, which a
    ``partial_fit`` call (a checkpoint for its rollback) pays on every call.
    """
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return type(value)((k, _clone(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return type(value)(_clone(v) for v in value)
    return copy.deepcopy(value)


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_to_cpu(v) for v in value)
    return value
