"""The command line of each run: `python -m resdsl train ...` in a process of its own, so
one that crashes does not take the reproduction with it, and the environment it gets.

A new run is `train SPEC --out RUN --seed S`; an interrupted one `train --resume RUN`,
which continues from its newest checkpoint with its own saved settings. Both get the
reproduction's training flags, the planned `--iterations` (so a run finished at an
earlier, shorter plan is extended, not redone), the data and the input planned. A GPU slot's run sees only its GPU
(`CUDA_VISIBLE_DEVICES`), which it then calls `cuda`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from .options import ReproduceOptions
from .plan import RunJob
from .scheduler import Slot
from .state import Action

VISIBLE = "CUDA_VISIBLE_DEVICES"


def train_command(job: RunJob, action: Action, slot: Slot,
                  options: ReproduceOptions) -> list[str]:
    """The argv of the process that trains `job` (RESUME, else from the start)."""
    given = {**options.train, "iterations": job.iterations, "data": job.data}
    if job.input is not None:  # built for the data's images, as planned (and reported)
        given["input"] = "x".join(map(str, job.input))
    if slot.gpu is not None:
        given["device"] = "cuda"
    if action is Action.RESUME:
        head = ["train", "--resume", str(job.run_dir)]
    else:
        head = ["train", str(job.spec_path), "--out", str(job.run_dir), "--seed", str(job.seed)]
        head += [] if job.own_recipe else ["--recipe", job.recipe]
    sets = [arg for item in options.sets for arg in ("--set", item)]
    return [sys.executable, "-m", "resdsl", *head, *flags(given), *sets]


def flags(given: Mapping[str, Any]) -> list[str]:
    """TrainOptions fields as `resdsl train` flags: `--data-dir D`, `--compile`, `--no-compile`."""
    args = []
    for name, value in given.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            args.append(flag if value else f"--no-{flag[2:]}")
        else:
            args += [flag, str(value)]
    return args


def run_environment(slot: Slot, slots_per_device: int,
                    base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a run on `slot`: its GPU alone where it has one; where several
    share the CPU, a share of its cores each (unless the user set OMP_NUM_THREADS)."""
    env = dict(os.environ if base is None else base)
    if slot.gpu is not None:
        # The i-th GPU of those this process sees: a user's own CUDA_VISIBLE_DEVICES holds.
        visible = [d for d in env.get(VISIBLE, "").split(",") if d.strip()]
        env[VISIBLE] = visible[slot.gpu] if slot.gpu < len(visible) else str(slot.gpu)
    elif slots_per_device > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // slots_per_device))
    env.setdefault("PYTHONUNBUFFERED", "1")  # the log shows each line as it is written
    return env
