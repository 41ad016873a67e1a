"""The training loop: SGD on the recipe, counted in iterations as the paper counts them.

`train` prepares a run (fresh, or resumed from its folder), then takes one SGD step per
iteration. Steps never wait for the device: losses and mistakes are summed on it and
read back only at the logging interval. At the logging, evaluation and checkpoint
intervals it writes metrics.jsonl, evaluates on the held-out images, redraws curves.png
and saves a checkpoint. A checkpoint holds everything a step depends on (weights,
momentum, warm-up state, data order and augmentation generators, every RNG, the partly
filled logging window), so a resumed run computes bit for bit what an uninterrupted
one would: on the CPU exactly (tested); on a GPU up to its own kernels' nondeterminism
(cuDNN autotuning, atomic adds), which this trainer leaves on for speed.
"""

from __future__ import annotations

import hashlib
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import ir
from .checkpoint import load_checkpoint, load_latest, restore_rng, rng_state, save_checkpoint
from .data import Data, check_batch_split, open_data
from .distributed import Distributed
from .errors import CheckpointError, DivergedError, OptionsError, PlotError
from .options import TrainOptions, resolve_recipe
from .plot import plot_runs
from .progress import RecordingReporter, Reporter
from .runfolder import (CONFIG, CURVES, append_metrics, load_run, new_run_dir, trim_metrics,
                        versions, write_config)
from .schedule import LRSchedule
from .speed import autocast, check_sync_bn, default_precision, prepare_model

# Options that a resumed run takes from the command line; all others come from the run's
# config.json, because changing them would change what the run computes.
RUNTIME_OPTIONS = ("resume", "device", "workers", "compile", "download")


@dataclass
class RunResult:
    run_dir: Path  # the run folder
    iteration: int  # iterations completed
    eval_set: str  # "test", or "val" when val_split held out training images
    final_error: float | None  # error on eval_set after the last iteration (a fraction);
    #                            None when interrupted. The final error, not the best one.
    interrupted: bool = False  # stopped by Ctrl-C; continue with TrainOptions(resume=run_dir)
    checkpoint: Path | None = None  # the newest checkpoint of the run


class _Window:
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
class _Run:
    """Everything the loop's steps share."""

    model: nn.Module  # the plain model: checkpoints hold its state_dict
    forward: nn.Module  # what a step calls: the model, maybe inside DDP, maybe compiled
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    data: Data
    recipe: ir.Recipe
    options: TrainOptions
    dist: Distributed
    device: torch.device
    precision: str  # "fp32" or "bf16"
    run_dir: Path
    reporter: Reporter
    window: _Window
    iteration: int = 0  # steps done
    in_step: bool = False  # a batch is drawn but the step not done: nothing to save
    last_eval: tuple[int, float] | None = None  # (iteration, error) of the latest evaluation
    checkpoint: Path | None = None  # newest checkpoint written or resumed from
    saved_at: int | None = None  # its iteration
    plot_failed: bool = False  # matplotlib missing: said once, not again

    def autocast(self) -> AbstractContextManager:
        return autocast(self.device, self.precision)


def train(model: nn.Module, network: ir.Network, recipe: ir.Recipe, options: TrainOptions,
          spec_text: str, reporter: Reporter) -> RunResult:
    """Train `model` (compiled from `network`) with `recipe` and `options`.

    With options.resume, the run folder's saved recipe and options are used (`recipe` is
    ignored) and `spec_text` must be the spec the run was started with.
    """
    dist = Distributed.from_env()
    try:
        return _loop(_prepare(model, network, recipe, options, spec_text, reporter, dist))
    finally:
        dist.close()


def evaluate(model: nn.Module, data: Data | Iterable[tuple[Tensor, Tensor]],
             device: torch.device | str, precision: str = "fp32") -> float:
    """Error (a fraction) of `model` on `data`'s held-out images: for `resdsl eval`."""
    batches = data.eval if isinstance(data, Data) else data
    device = torch.device(device)
    counts = count_errors(model, batches, device, lambda: autocast(device, precision))
    wrong, total = counts.tolist()
    return wrong / total


@torch.no_grad()
def count_errors(model: nn.Module, batches: Iterable[tuple[Tensor, Tensor]],
                 device: torch.device, autocast: Callable[[], AbstractContextManager]) -> Tensor:
    """(mistakes, images) as a float64 tensor on `device`; the model is left as it was."""
    was_training = model.training
    model.eval()
    counts = torch.zeros(2, dtype=torch.float64, device=device)
    for x, y in batches:
        with autocast():
            logits = model(x.to(device, non_blocking=True))
        counts[0] += (logits.argmax(1) != y.to(device, non_blocking=True)).sum()
        counts[1] += len(y)
    model.train(was_training)
    return counts


def pick_device(name: str, dist: Distributed | None = None) -> torch.device:
    """`auto` is CUDA when present; a bare `cuda` is this process's GPU under torchrun."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise OptionsError(f"unknown device '{name}': use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionsError(f"device '{name}' asked for, but this torch ({torch.__version__}) "
                           "sees no CUDA GPU: use --device cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", dist.local_rank if dist else 0)
    return device


def check_launch(options: TrainOptions, recipe: ir.Recipe, processes: int) -> None:
    """What every one of `processes` ranks would refuse, checked once before launching."""
    if processes < 1:
        raise OptionsError(f"--nproc must be at least 1, got {processes}")
    device = pick_device(options.device)
    if options.sync_bn:
        check_sync_bn(device)
    if device.type == "cuda" and device.index is None and processes > torch.cuda.device_count():
        raise OptionsError(f"--nproc {processes} asks for a GPU per process, but this machine "
                           f"has {torch.cuda.device_count()}")
    check_batch_split(recipe.batch_size, processes)


def seed_everything(seed: int) -> None:
    """Seed python, numpy (if present) and torch: call it before building the model too."""
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np
    except ImportError:
        return
    np.random.seed(seed % 2**32)


# ---- preparing a run -------------------------------------------------------------------

def _prepare(model: nn.Module, network: ir.Network, recipe: ir.Recipe, options: TrainOptions,
             spec_text: str, reporter: Reporter, dist: Distributed) -> _Run:
    if options.resume is not None:
        recipe, options = _resumed_settings(options, spec_text)
    recipe = resolve_recipe(recipe, options)
    device = pick_device(options.device, dist)
    if options.sync_bn:
        check_sync_bn(device)  # before the data is read: a mistake should cost nothing
    if device.type == "cuda":
        # This process's GPU, for NCCL, compile, CUDA graphs and the saved RNG state.
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its fastest kernels
    dist.start(device)
    seed_everything(options.seed)
    run = _build(model, network, recipe, options, device, dist,
                 reporter if dist.is_main else RecordingReporter())
    if options.resume is not None:
        _restore(run)
    elif dist.is_main:
        write_config(run.run_dir, _config(run, network, spec_text))
    for warning in run.data.warnings:
        run.reporter.message(warning)
    run.reporter.start(_summary(run, network))
    return run


def _resumed_settings(options: TrainOptions, spec_text: str) -> tuple[ir.Recipe, TrainOptions]:
    saved = load_run(options.resume)
    if saved.config.get("spec_sha256") != _sha256(spec_text):
        raise CheckpointError("this run was trained from another spec (its sha256 differs): "
                              "resume with the spec saved under 'spec' in this file",
                              file=str(Path(options.resume) / CONFIG))
    runtime = {name: getattr(options, name) for name in RUNTIME_OPTIONS}
    return saved.recipe, replace(saved.options, **runtime)


def _build(model: nn.Module, network: ir.Network, recipe: ir.Recipe, options: TrainOptions,
           device: torch.device, dist: Distributed, reporter: Reporter) -> _Run:
    if options.download and not dist.is_main:
        dist.barrier()  # rank 0 downloads first; the others then read what it wrote
    data = open_data(network, recipe, options, device, dist.rank, dist.world_size)
    if options.download and dist.is_main:
        dist.barrier()
    # Made once the data is there: a mistyped --data-dir leaves no empty run folder behind.
    run_dir = Path(options.resume) if options.resume is not None else Path(dist.share(
        str(new_run_dir(options.out, network.name)) if dist.is_main else None))
    model.train()
    forward = prepare_model(model, device, channels_last=options.channels_last,
                            compile=options.compile, sync_bn=options.sync_bn, wrap=dist.wrap)
    # Weight decay on every parameter, BatchNorm's included, as the paper's Caffe setup.
    optimizer = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=recipe.momentum,
                                weight_decay=recipe.weight_decay)
    precision = options.precision or default_precision(device)
    return _Run(model, forward, optimizer, LRSchedule(recipe), data, recipe, options, dist,
                device, precision, run_dir, reporter, _Window(device))


def _restore(run: _Run) -> None:
    """Load the newest good checkpoint: rank 0 chooses it (setting bad ones aside)."""
    if run.dist.is_main:
        state, path = load_latest(run.run_dir, run.reporter.message)
    path = Path(run.dist.share(str(path) if run.dist.is_main else None))
    if not run.dist.is_main:
        state = load_checkpoint(path)
    try:
        run.model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        run.schedule.load_state_dict(state["schedule"])
        run.data.train.load_state_dict(state["data"])
        run.window.load_state_dict(state["window"], run.dist)
        restore_rng(state["rng"])
    except (KeyError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"does not fit this run ({str(error).splitlines()[0]}): resume "
                              "with the spec and the kind of device (config.json) it was "
                              "trained with", file=str(path)) from None
    run.iteration = run.saved_at = int(state["iteration"])
    run.checkpoint = path
    if run.dist.is_main:
        trim_metrics(run.run_dir, run.iteration)  # the lost iterations are logged again
    run.reporter.message(f"resuming from {path} at iteration {run.iteration}")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _config(run: _Run, network: ir.Network, spec_text: str) -> dict[str, Any]:
    data = run.data
    return {
        "network": network.name, "spec_sha256": _sha256(spec_text), "spec": spec_text,
        "recipe": run.recipe.model_dump(mode="json"), "options": run.options.to_dict(),
        "seed": run.options.seed, "device": str(run.device), "precision": run.precision,
        "world_size": run.dist.world_size, "versions": versions(),
        "started": datetime.now().isoformat(timespec="seconds"),
        "data": {"source": data.source, "train_images": data.train_size,
                 "eval_images": data.eval_size, "eval_set": data.eval_set,
                 "classes": data.classes, "warnings": data.warnings},
    }


def _summary(run: _Run, network: ir.Network) -> dict[str, Any]:
    return {"network": network.name, "run_dir": str(run.run_dir), "device": str(run.device),
            "precision": run.precision, "world_size": run.dist.world_size,
            "iterations": run.recipe.iterations, "start_iteration": run.iteration,
            "batch_size": run.recipe.batch_size, "data": run.data.source,
            "train_images": run.data.train_size, "eval_images": run.data.eval_size,
            "eval_set": run.data.eval_set, "recipe": run.recipe.model_dump()}


# ---- the loop --------------------------------------------------------------------------

def _loop(run: _Run) -> RunResult:
    with _sigint_flag() as stop_requested:
        try:
            while run.iteration < run.recipe.iterations:
                run.in_step = True
                _step(run)
                run.iteration += 1
                run.in_step = False
                logged = _at_boundary(run)
                # Ranks must agree to stop at the same step: they vote where they sync anyway.
                if run.dist.world_size == 1 or logged:
                    if run.dist.any(stop_requested()):
                        return _stop(run)
        except KeyboardInterrupt:
            return _stop(run, abrupt=True)
    return _finish(run)


@contextmanager
def _sigint_flag() -> Iterator[Callable[[], bool]]:
    """First Ctrl-C: finish this step, save, return. A second one: stop at once."""
    hits: list[int] = []

    def handler(signum: int, frame: Any) -> None:
        if hits:
            raise KeyboardInterrupt
        hits.append(signum)

    if threading.current_thread() is not threading.main_thread():
        yield lambda: False  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


def _step(run: _Run) -> None:
    x, y = next(run.data.train)
    if run.options.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    lr = run.schedule.lr(run.iteration)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    with run.autocast():
        logits = run.forward(x)
    loss = F.cross_entropy(logits.float(), y)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    run.window.add(loss, (logits.argmax(1) != y).sum(), len(y), run.dist.world_size)


def _at_boundary(run: _Run) -> bool:
    """Log, evaluate and save when their intervals come; True when train stats were read."""
    it, options = run.iteration, run.options
    last = it == run.recipe.iterations
    record: dict[str, Any] = {}
    if it % options.log_every == 0 or last:
        record.update(_train_stats(run))
    evaluated = it % run.recipe.eval_every == 0 or last
    if evaluated:
        record[f"{run.data.eval_set}_error"] = _evaluate(run)
    if record:
        record = {"iteration": it, **record}
        if run.dist.is_main:
            append_metrics(run.run_dir, record)
        run.reporter.log(record)
    if evaluated:
        _plot(run)
    saved = it % options.checkpoint_every == 0 or last
    if saved:
        _save(run)
    if record or saved:
        run.window.restart_clock()
    return "train_loss" in record


def _train_stats(run: _Run) -> dict[str, float]:
    window = run.window
    loss_sum, wrong = window.totals(run.dist).tolist()  # the host sync of this interval
    if not math.isfinite(loss_sum):
        _diverged(run, loss_sum)
    elapsed = max(time.perf_counter() - window.started, 1e-9)
    stats = {"lr": run.schedule.lr(run.iteration - 1), "train_loss": loss_sum / window.seen,
             "train_error": wrong / window.seen, "images_per_s": window.timed / elapsed}
    if run.schedule.observe(stats["train_error"]):
        run.reporter.message(f"warm-up over at iteration {run.iteration}: training error "
                             f"{100 * stats['train_error']:.1f}% < "
                             f"{100 * run.recipe.warmup_until_error:.1f}%, lr now "
                             f"{run.schedule.lr(run.iteration):g}")
    window.reset()
    return stats


def _diverged(run: _Run, loss: float) -> None:
    kept = f"the last good checkpoint, {run.checkpoint}, is kept" if run.checkpoint else \
        "no checkpoint had been written yet"
    raise DivergedError(f"the training loss became {loss} by iteration {run.iteration}; "
                        f"nothing was saved after it and {kept}. Lower the learning rate "
                        "or add a warm-up (warmup_lr) and train again", file=str(run.run_dir))


def _evaluate(run: _Run) -> float:
    # The plain model, not DDP: each rank evaluates its share with rank 0's statistics.
    run.dist.sync_buffers(run.model)
    counts = count_errors(run.model, run.data.eval, run.device, run.autocast)
    wrong, total = run.dist.all_sum(counts).tolist()
    run.last_eval = (run.iteration, wrong / total)
    return wrong / total


def _plot(run: _Run) -> None:
    if not run.dist.is_main or run.plot_failed:
        return
    try:
        plot_runs([run.run_dir], run.run_dir / CURVES)
    except PlotError as error:
        run.plot_failed = True
        run.reporter.message(f"{error.message}; {CURVES} is not drawn")


def _save(run: _Run) -> None:
    """Checkpoint the run, after making sure nothing in it is NaN or infinite."""
    loss_sum = run.window.totals(run.dist)[0]
    finite = torch.stack([p.isfinite().all() for p in run.model.parameters()]).all()
    if not bool(finite & loss_sum.isfinite()):
        _diverged(run, float(loss_sum) if not loss_sum.isfinite() else math.nan)
    state = {"iteration": run.iteration, "model": run.model.state_dict(),
             "optimizer": run.optimizer.state_dict(), "schedule": run.schedule.state_dict(),
             "data": run.data.train.state_dict(), "window": run.window.state_dict(run.dist),
             "rng": rng_state()}
    if run.dist.is_main:
        run.checkpoint = save_checkpoint(run.run_dir, run.iteration, state,
                                         run.options.keep_checkpoints)
    run.saved_at = run.iteration


def _stop(run: _Run, abrupt: bool = False) -> RunResult:
    """Ctrl-C: save where the run stands, unless it stopped inside a step."""
    if run.in_step or (abrupt and run.dist.world_size > 1):
        run.reporter.message(f"stopped inside iteration {run.iteration + 1}: nothing saved; "
                             f"the last checkpoint ({run.checkpoint}) is kept")
    elif run.saved_at != run.iteration:
        _save(run)
    result = RunResult(run.run_dir, run.iteration, run.data.eval_set, None, True, run.checkpoint)
    run.reporter.finish(result)
    return result


def _finish(run: _Run) -> RunResult:
    if run.last_eval is None or run.last_eval[0] != run.iteration:
        _evaluate(run)  # resumed from the final checkpoint: nothing was evaluated yet
        _plot(run)
    run.dist.sync_buffers(run.model)
    result = RunResult(run.run_dir, run.iteration, run.data.eval_set, run.last_eval[1],
                       False, run.checkpoint)
    run.reporter.finish(result)
    return result
