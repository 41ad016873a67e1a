"""The state of a run in progress: what `setup` makes, the loop advances and a checkpoint
holds.

A checkpoint holds everything a step depends on (weights, momentum, warm-up state, data
order and augmentation generators, every RNG, the partly filled logging window), so a
resumed run computes bit for bit what an uninterrupted one would: on the CPU exactly
(tested); on a GPU up to its own kernels' nondeterminism (cuDNN autotuning, atomic adds),
which this trainer leaves on for speed.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .. import ir
from .datasets import Data
from .distributed import Distributed
from .options import TrainOptions
from .progress import Reporter
from .recorder import Recorder
from .rng import restore_rng, rng_state
from .schedule import LRSchedule
from .speed import autocast


class Window:
    """Training loss and mistakes since the last log, summed on the device: no syncs."""

    def __init__(self, device: torch.device):
        self.sums = torch.zeros(2, dtype=torch.float64, device=device)  # loss x images, wrong
        self.seen = 0  # images in the sums, all ranks together
        self.restart_clock()

    def restart_clock(self) -> None:
        # images/s counts training only: the clock restarts after evaluations and saves.
        self.started, self.timed = time.perf_counter(), 0

    def add(self, loss: Tensor, wrong: Tensor, images: int, world_size: int) -> None:
        self.sums[0] += loss.detach().double() * images
        self.sums[1] += wrong
        self.seen += images * world_size
        self.timed += images * world_size

    def totals(self, dist: Distributed) -> Tensor:
        """The sums over all ranks, the same on every rank."""
        return dist.all_sum(self.sums.clone())

    def reset(self) -> None:
        self.sums.zero_()
        self.seen = 0

    def state_dict(self, dist: Distributed) -> dict[str, Any]:
        return {"sums": self.totals(dist).cpu(), "seen": self.seen}

    def load_state_dict(self, state: dict[str, Any], dist: Distributed) -> None:
        # Rank 0 carries the saved totals, the others start from zero: sums stay right.
        sums = state["sums"].to(self.sums.device)
        self.sums = sums if dist.is_main else torch.zeros_like(sums)
        self.seen = int(state["seen"])


@dataclass
class Learner:
    """The model and what updates it."""

    model: nn.Module  # the plain model: checkpoints hold its state_dict
    forward: nn.Module  # what a step calls: the model, maybe inside DDP, maybe compiled
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    device: torch.device
    precision: str  # "fp32" or "bf16"
    channels_last: bool

    def autocast(self) -> AbstractContextManager:
        return autocast(self.device, self.precision)

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr


@dataclass
class Run:
    """Everything the loop's steps share."""

    learner: Learner
    data: Data
    network: ir.Network
    recipe: ir.Recipe
    options: TrainOptions
    dist: Distributed
    recorder: Recorder  # the run folder's files, written on rank 0
    reporter: Reporter
    window: Window
    run_id: str | None  # config.json's; every checkpoint carries it
    iteration: int = 0  # steps done
    in_step: bool = False  # a batch is drawn but the step not done: nothing to save
    last_eval: tuple[int, float] | None = None  # (iteration, error) of the latest evaluation

    @property
    def run_dir(self) -> Path:
        return self.recorder.run_dir

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint holds (a collective: every rank calls it)."""
        learner = self.learner
        return {"iteration": self.iteration, "model": learner.model.state_dict(),
                "optimizer": learner.optimizer.state_dict(),
                "schedule": learner.schedule.state_dict(), "data": self.data.train.state_dict(),
                "window": self.window.state_dict(self.dist), "rng": rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        learner = self.learner
        learner.model.load_state_dict(state["model"])
        learner.optimizer.load_state_dict(state["optimizer"])
        learner.schedule.load_state_dict(state["schedule"])
        self.data.train.load_state_dict(state["data"])
        self.window.load_state_dict(state["window"], self.dist)
        restore_rng(state["rng"])
        self.iteration = int(state["iteration"])
