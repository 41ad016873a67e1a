"""Preparing a run from its plan (plan.py): its folder, device, data, model and
optimizer, and, when resuming, its newest good checkpoint; ready for the loop.

A resumed run with no checkpoint yet starts again from iteration 0.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import ir
from ..recipes import FIELDS as RECIPE_FIELDS
from .checkpoint import NoCheckpointError, load_checkpoint, load_latest
from .datasets import Data, open_data
from .distributed import Distributed, pick_device
from .errors import CheckpointError, OptionsError
from .files import first_line
from .lock import RunLock
from .options import TrainOptions
from .plan import Plan, shown
from .progress import RecordingReporter, Reporter
from .recorder import Recorder, claim_new_folder, claim_run_folder
from .rng import seed_everything
from .run import Learner, Run, Window
from .runfolder import CONFIG, check_unchanged, new_run_id, versions
from .schedule import LRSchedule
from .speed import check_sync_bn, default_channels_last, default_precision, prepare_model


def prepare_run(plan: Plan, model: nn.Module, reporter: Reporter, dist: Distributed) -> Run:
    """`plan`'s run, ready for the loop: its folder claimed (a new one made once the data
    is read, so a mistyped --data-dir leaves no empty folder behind), its data open, its
    checkpoint restored when resuming."""
    network, recipe, options = plan.network, plan.recipe, plan.options
    reporter = reporter if dist.is_main else RecordingReporter()
    with ExitStack() as undo:  # the lock and the writers, released if preparing fails
        lock = None
        if plan.resumed is not None and dist.is_main:
            lock = claim_run_folder(plan.run_dir)
            undo.callback(lock.release)
            check_unchanged(plan.resumed, plan.run_dir)
        device = _start(options, dist)
        seed_everything(options.seed)
        data = _open_data(network, recipe, options, device, dist)
        recorder = _recorder(options, network, data, dist, reporter, lock)
        undo.callback(recorder.close)
        run_id = plan.resumed.run_id if plan.resumed is not None else \
            dist.share(new_run_id() if dist.is_main else None)
        run = Run(_learner(model, recipe, options, device, dist), data, network, recipe,
                  options, dist, recorder, reporter, Window(device), run_id)
        if plan.resumed is not None:
            _restore(run, plan.changed)
        else:
            recorder.start(_config(run), resumed_at=None)
        for warning in data.warnings:
            reporter.message(warning)
        reporter.start(_summary(run))
        undo.pop_all()
    return run


def _start(options: TrainOptions, dist: Distributed) -> torch.device:
    device = pick_device(options.device, dist.local_rank)
    if options.sync_bn:
        check_sync_bn(device)  # before the data is read: a mistake should cost nothing
    if device.type == "cuda":
        # This process's GPU, for NCCL, compile, CUDA graphs and the saved RNG state.
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    dist.start(device)
    return device


def _open_data(network: ir.Network, recipe: ir.Recipe, options: TrainOptions,
               device: torch.device, dist: Distributed) -> Data:
    if options.download and not dist.is_main:
        dist.barrier()  # rank 0 downloads first; the others then read what it wrote
    data = open_data(network, recipe, options, device, dist.shard)
    if options.download and dist.is_main:
        dist.barrier()
    return data


def _recorder(options: TrainOptions, network: ir.Network, data: Data, dist: Distributed,
              reporter: Reporter, lock: RunLock | None) -> Recorder:
    if options.resume is not None:
        run_dir = Path(options.resume)
    elif dist.is_main:
        run_dir, lock = claim_new_folder(options.out, network.name, reporter.message)
    run_dir = Path(dist.share(str(run_dir) if dist.is_main else None))
    return Recorder(run_dir, data.eval_set, dist.is_main, lock, reporter.message)


def _learner(model: nn.Module, recipe: ir.Recipe, options: TrainOptions,
             device: torch.device, dist: Distributed) -> Learner:
    model.train()
    channels_last = options.channels_last if options.channels_last is not None else \
        default_channels_last(device)
    forward = prepare_model(model, device, channels_last=channels_last,
                            compile=options.compile, sync_bn=options.sync_bn, wrap=dist.wrap)
    # Weight decay on every parameter, BatchNorm's included, as the paper's Caffe setup.
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    precision = options.precision or default_precision(device)
    return Learner(model, forward, optimizer, LRSchedule(recipe), device, precision,
                   channels_last)


def _restore(run: Run, changed: dict[str, tuple[Any, Any]]) -> None:
    """Load the newest good checkpoint of this run: rank 0 chooses it (setting bad ones
    aside); none at all means the run starts again from iteration 0."""
    dist, reporter = run.dist, run.reporter
    path = None
    if dist.is_main:
        try:
            state, path = load_latest(run.run_dir, reporter.message, run.run_id)
        except NoCheckpointError:
            reporter.message(f"{run.run_dir} has no checkpoint yet: starting the run again "
                             "from iteration 0")
    path = dist.share(str(path) if path else None)
    if path is not None:
        _apply(run, state if dist.is_main else load_checkpoint(path), Path(path))
    if run.iteration > run.recipe.iterations:
        raise OptionsError(f"--iterations {run.recipe.iterations}: this run is already at "
                           f"iteration {run.iteration}; give at least that",
                           file=str(run.run_dir / CONFIG))
    run.recorder.start(None, resumed_at=run.iteration)  # the lost iterations are logged again
    if changed:
        _record_changes(run, changed)


def _apply(run: Run, state: dict[str, Any], path: Path) -> None:
    try:
        run.load_state_dict(state)
    except (KeyError, TypeError, AttributeError, IndexError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"does not fit this run ({first_line(error)[:300]}): resume "
                              "with the spec and the kind of device (config.json) it was "
                              "trained with", file=str(path)) from None
    run.recorder.checkpoint, run.recorder.saved_at = path, run.iteration
    run.reporter.message(f"resuming from {path} at iteration {run.iteration}")


def _record_changes(run: Run, changed: dict[str, tuple[Any, Any]]) -> None:
    said = ", ".join(f"{name} {shown(old)} -> {shown(new)}"
                      for name, (old, new) in changed.items())

    def change(config: dict[str, Any]) -> None:
        config["recipe"] = run.recipe.model_dump(mode="json")
        config.setdefault("options", {}).update(
            {name: new for name, (_, new) in changed.items() if name in config["options"]
             and name not in RECIPE_FIELDS})
        config.setdefault("resumed", []).append({
            "at": run.iteration, "when": datetime.now().isoformat(timespec="seconds"),
            "changed": {name: [old, new] for name, (old, new) in changed.items()}})

    run.recorder.update_config(change)
    run.reporter.message(f"resumed with {said}; recorded in {CONFIG}")


def _config(run: Run) -> dict[str, Any]:
    data, learner = run.data, run.learner
    return {
        "run_id": run.run_id, "network": run.network.name,
        # The spec, once: every file it read, imports included, so the folder alone
        # rebuilds the network (None for a network made in Python, not from a spec).
        "origin": run.network.origin.model_dump(mode="json") if run.network.origin else None,
        "recipe": run.recipe.model_dump(mode="json"), "options": run.options.to_dict(),
        "seed": run.options.seed, "device": str(learner.device), "precision": learner.precision,
        "channels_last": learner.channels_last,
        "world_size": run.dist.world_size, "versions": versions(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "data": {"name": run.options.data, "title": data.title, "source": data.source,
                 "input": list(run.network.input), "train_images": data.train_size,
                 "eval_images": data.eval_size, "eval_set": data.eval_set,
                 "classes": data.classes, "warnings": data.warnings},
    }


def _summary(run: Run) -> dict[str, Any]:
    data, learner = run.data, run.learner
    return {"network": run.network.name, "run_dir": str(run.run_dir),
            "device": str(learner.device), "precision": learner.precision,
            "channels_last": learner.channels_last,
            "world_size": run.dist.world_size, "iterations": run.recipe.iterations,
            "start_iteration": run.iteration, "batch_size": run.recipe.batch_size,
            "data": data.source, "data_title": data.title, "input": list(run.network.input),
            "train_images": data.train_size,
            "eval_images": data.eval_size, "eval_set": data.eval_set,
            "recipe": run.recipe.model_dump()}
