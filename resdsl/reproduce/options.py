"""What `resdsl reproduce` is asked: the experiment, where its runs go, how many seeds,
which nets, how many processes on which devices, and the training flags every run gets.

`ReproduceOptions.check()` refuses what cannot work before anything starts, each as one
line: no seeds, no processes, training flags that `resdsl train` would refuse in every
run, more GPUs than the machine has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ReproduceError
from .experiments import MAX_SEEDS

MAX_PER_DEVICE = 64  # processes on one device at once: more is a typo
# `resdsl train` flags a reproduction sets itself, per run: never passed through.
OWN_FLAGS = ("out", "resume", "seed")


@dataclass(frozen=True)
class ReproduceOptions:
    experiment: str
    out: Path | None = None  # the folder of the runs; None: runs/EXPERIMENT
    seeds: int | None = None  # runs per net; None: as the experiment says
    only: tuple[str, ...] = ()  # these nets of the experiment only
    gpus: int | None = None  # one process per GPU (times per_device); None: one device
    per_device: int | None = None  # processes at once on each device; None: as the
    #                                experiment says (else 1)
    train: dict[str, Any] = field(default_factory=dict)  # TrainOptions fields given, by name
    sets: tuple[str, ...] = ()  # --set FIELD=VALUE items, as given

    @property
    def run_root(self) -> Path:
        return self.out if self.out is not None else Path("runs") / self.experiment

    def check(self, gpus_present: int | None = None) -> None:
        """Refuse counts that cannot work. `gpus_present` is the machine's GPU count,
        needed only with --gpus (the caller counts them: that takes torch)."""
        if self.seeds is not None and not 1 <= self.seeds <= MAX_SEEDS:
            raise ReproduceError(f"--seeds must be between 1 and {MAX_SEEDS}, got {self.seeds}")
        if self.per_device is not None and not 1 <= self.per_device <= MAX_PER_DEVICE:
            raise ReproduceError(f"--per-device must be between 1 and {MAX_PER_DEVICE}, "
                                 f"got {self.per_device}")
        own = sorted(set(self.train) & set(OWN_FLAGS))
        if own:
            raise ReproduceError(f"--{own[0]} is set by reproduce for each run")
        if self.gpus is not None:
            self._check_gpus(gpus_present or 0)

    def _check_gpus(self, present: int) -> None:
        if self.gpus < 1:
            raise ReproduceError(f"--gpus must be at least 1, got {self.gpus}")
        device = self.train.get("device", "auto")
        if device not in ("auto", "cuda"):
            raise ReproduceError(f"--gpus {self.gpus} puts each run on a GPU of its own: "
                                 f"drop --device {device}")
        if self.gpus > present:
            raise ReproduceError(f"--gpus {self.gpus} asks for {self.gpus} GPUs, but this "
                                 f"machine has {present}")
