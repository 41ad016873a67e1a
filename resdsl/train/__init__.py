"""Training: reproduce the paper's CIFAR-10 recipe on a compiled spec.

    options = TrainOptions(data="cifar10", data_dir="data", iterations=64000)
    plan = plan_run(network, network.recipe, options)    # decided once, before it runs
    result = train(plan)                                  # the model built from it, seeded

Modules, one per concern:

    options      TrainOptions: one field per `resdsl train` flag, with its help
    plan         a run's plan, decided once: the network (the spec as one Origin), recipe,
                 options, the saved run when resuming (what flags may change); the model
    setup        preparing the planned run: folder, device, data, optimizer, checkpoint
    loop         train(): the loop, the step, logging, evaluation, checkpoints
    run          the state of a run in progress, and what a checkpoint holds of it
    held_out     the error on held-out images; evaluate_checkpoint for `resdsl eval`
    datasets/    sources (cifar, folder, synthetic) and on-device batches
    shard        this process's share of the work (rank, world size)
    distributed  torchrun: the device, the process group, the collectives
    launch       `--nproc`: checked once, then torchrun in this process
    speed        precision, channels_last, torch.compile, SyncBatchNorm
    schedule     the learning rate: steps and warm-up
    rng          seeding, and the RNG states checkpoints hold
    checkpoint   checkpoint files: atomic, verified, set aside when bad
    runfolder    the run folder's files, RunResult, the metric names; reading them back
    recorder     what a run in progress writes (rank 0), and the folder's lock (lock)
    tensorboard  optional TensorBoard event files
    plot         Figure 6 curves
    progress     the Reporter protocol and a recording reporter (printing ones: cli/progress.py)
    files        reading user files safely; OS errors as one line naming the path
    errors       the errors a user can cause

Importing this package imports nothing else: each name below is imported on first use,
so the command line can read TrainOptions without loading torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {  # public name: the module that defines it
    "train": "loop", "prepare_run": "setup", "TrainOptions": "options",
    "Plan": "plan", "plan_run": "plan", "plan_resume": "plan", "plan_training": "plan",
    "build_model": "plan", "load_spec": "plan",
    "held_out_error": "held_out", "evaluate_checkpoint": "held_out",
    "Data": "datasets", "open_data": "datasets", "Shard": "shard", "pick_device": "distributed",
    "check_launch": "launch", "torchrun_args": "launch", "run_torchrun": "launch",
    "seed_everything": "rng", "load_weights": "checkpoint", "RunResult": "runfolder",
    "SavedRun": "runfolder", "load_run": "runfolder", "read_metrics": "runfolder",
    "plot_runs": "plot", "Reporter": "progress", "RecordingReporter": "progress",
    **{name: "errors" for name in ("TrainError", "OptionsError", "DataError", "CheckpointError",
                                   "RunFolderError", "DivergedError", "PlotError")},
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
