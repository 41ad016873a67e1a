"""Preparing a run: a new one, or one resumed from its folder, ready for the loop.

A new run: the recipe and options as given; its folder is made (and locked) once the data
is read, so a mistyped --data-dir leaves no empty folder behind. A resumed run: its folder
is locked first, then its settings come from config.json, except what `changes` (the
flags the user gave) may change safely: more or fewer iterations, the evaluation and
checkpoint intervals, and where it runs. Any other change is refused, never ignored.
A resumed run with no checkpoint yet starts again from iteration 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import ir
from ..recipes import FIELDS as RECIPE_FIELDS
from ..recipes import resolve_recipe
from .checkpoint import NoCheckpointError, load_checkpoint, load_latest
from .datasets import Data, open_data
from .distributed import Distributed, pick_device
from .errors import CheckpointError, OptionsError
from .files import first_line
from .options import RECIPE_OVERRIDES, TrainOptions, option_types
from .progress import RecordingReporter, Reporter
from .lock import RunLock
from .recorder import Recorder, claim_new_folder, claim_run_folder
from .rng import seed_everything
from .run import Learner, Run, Window
from .runfolder import (CONFIG, SavedRun, check_same_spec, load_run, new_run_id,
                        spec_sha256, versions)
from .schedule import LRSchedule
from .speed import check_sync_bn, default_channels_last, default_precision, prepare_model

# Where and how fast a resumed run runs: taken from the command line, not config.json.
RUNTIME = ("resume", "device", "workers", "compile", "download", "data_dir", "max_memory")
# What a resumed run may change without changing what it computes up to then.
ADJUSTABLE = ("iterations", "eval_every", "checkpoint_every", "keep_checkpoints")


def prepare_run(model: nn.Module, recipe: ir.Recipe, options: TrainOptions, spec_text: str,
                reporter: Reporter, dist: Distributed, changes: Mapping[str, Any],
                spec_path: str | None = None) -> Run:
    network = _network_of(model)
    reporter = reporter if dist.is_main else RecordingReporter()
    with ExitStack() as undo:  # the lock and the writers, released if preparing fails
        saved, changed, lock = None, {}, None
        if options.resume is not None:
            if dist.is_main:  # locked before its config is read: no one changes it meanwhile
                lock = claim_run_folder(Path(options.resume))
                undo.callback(lock.release)
            saved = _saved_run(options.resume, spec_text, network)
            recipe, options, changed = resumed_settings(saved, options, changes)
        recipe = resolve_recipe(recipe, options.recipe_overrides(), network.input)
        device = _start(options, dist)
        seed_everything(options.seed)
        data = _open_data(network, recipe, options, device, dist)
        recorder = _recorder(options, network, data, dist, reporter, lock)
        undo.callback(recorder.close)
        run_id = saved.run_id if saved else dist.share(new_run_id() if dist.is_main else None)
        run = Run(_learner(model, recipe, options, device, dist), data, network, recipe,
                  options, dist, recorder, reporter, Window(device), run_id)
        if saved is not None:
            _restore(run, changed)
        else:
            recorder.start(_config(run, spec_text, spec_path), resumed_at=None)
        for warning in data.warnings:
            reporter.message(warning)
        reporter.start(_summary(run))
        undo.pop_all()
    return run


def _network_of(model: nn.Module) -> ir.Network:
    network = getattr(model, "network", None)
    if not isinstance(network, ir.Network):
        raise TypeError("train() takes a model compiled by resdsl (its .network is the IR "
                        f"it was compiled from); got a {type(model).__name__} without one")
    return network


def _saved_run(run_dir: str, spec_text: str, network: ir.Network) -> SavedRun:
    saved = load_run(run_dir)
    check_same_spec(saved, spec_text, network.name, run_dir)
    return saved


def resumed_settings(saved: SavedRun, options: TrainOptions, changes: Mapping[str, Any]
                     ) -> tuple[ir.Recipe, TrainOptions, dict[str, tuple[Any, Any]]]:
    """The saved recipe and options with `changes` applied where that is safe; the
    changes made, as {field: (old, new)}. Refuses any other change."""
    config = str(Path(options.resume) / CONFIG)
    if "recipe" in changes and changes["recipe"] != saved.recipe.name:
        _refuse("recipe", changes["recipe"], saved.recipe.name, config)
    recipe = resolve_recipe(saved.recipe, {k: v for k, v in changes.items() if k in RECIPE_FIELDS})
    changed = {name: (getattr(saved.recipe, name), getattr(recipe, name))
               for name in RECIPE_FIELDS if getattr(saved.recipe, name) != getattr(recipe, name)}
    for name, value in changes.items():
        if name not in option_types() or name in RUNTIME or name in RECIPE_FIELDS:
            continue  # a recipe field (compared above), or where the run runs
        if value != getattr(saved.options, name) and not _same_folder(name, value, options):
            changed[name] = (getattr(saved.options, name), value)
    for name, (old, new) in changed.items():
        if name not in ADJUSTABLE:
            _refuse(name, new, old, config)
    runtime = {name: getattr(options, name) for name in RUNTIME}
    # The data is where the run found it, unless the user says it has moved (--data-dir).
    runtime["data_dir"] = changes.get("data_dir", saved.options.data_dir)
    adjusted = {name: new for name, (_, new) in changed.items() if name in option_types()
                and name not in RECIPE_FIELDS}
    # The recipe carries the overrides now; the options must not apply them again.
    cleared = dict.fromkeys(RECIPE_OVERRIDES)
    return recipe, replace(saved.options, **runtime, **adjusted, **cleared), changed


def _same_folder(name: str, value: Any, options: TrainOptions) -> bool:
    return name == "out" and value is not None and \
        Path(value).resolve() == Path(options.resume).resolve()


def _refuse(name: str, new: Any, old: Any, config: str) -> None:
    flag = f"--set {name}={_shown(new)}" if name not in option_types() and name != "recipe" \
        else f"--{name.replace('_', '-')} {_shown(new)}"
    raise OptionsError(f"{flag} would change this run, which has {name} {_shown(old)}: a "
                       "resumed run keeps its settings, except --iterations, --eval-every, "
                       "--checkpoint-every, --keep-checkpoints and where it runs (--device, "
                       "--workers, --compile, --data-dir, --download). Drop the flag, or start "
                       "a new run with another --out", file=config)


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


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
    shown = ", ".join(f"{name} {_shown(old)} -> {_shown(new)}"
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
    run.reporter.message(f"resumed with {shown}; recorded in {CONFIG}")


def _config(run: Run, spec_text: str, spec_path: str | None) -> dict[str, Any]:
    data, learner = run.data, run.learner
    return {
        "run_id": run.run_id, "network": run.network.name, "spec_path": spec_path,
        "spec_sha256": spec_sha256(spec_text), "spec": spec_text,
        # Every file the spec read, imports included: the folder alone rebuilds the network.
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
