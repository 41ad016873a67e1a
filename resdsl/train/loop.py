"""The training loop: SGD on the recipe, counted in iterations as the paper counts them.

`train` prepares the run its plan describes (`plan.py`, `setup.py`: new, or resumed), then takes one
step per iteration. Steps never wait for the device: losses and mistakes are summed on
it and read back only at the logging interval. At the logging, evaluation and checkpoint
intervals the run's recorder writes the metrics, redraws curves.png and saves a
checkpoint (`run.py` says what a checkpoint holds).
"""

from __future__ import annotations

import gc

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .distributed import Distributed
from .errors import DivergedError
from .held_out import count_errors
from .plan import Plan, build_model
from .progress import RecordingReporter, Reporter
from .run import Run
from .runfolder import RunResult, held_out_metric
from .setup import prepare_run


def train(plan: Plan, reporter: Reporter | None = None, model: nn.Module | None = None
          ) -> RunResult:
    """Run `plan` (plan.py): a new run, or the one it resumes. `model` is built from the
    plan's network unless given (a model of the same shapes: its weights are trained)."""
    reporter = reporter or RecordingReporter()
    model = model if model is not None else build_model(plan.network, plan.options)
    dist = Distributed.from_env()
    try:
        run = prepare_run(plan, model, reporter, dist)
        try:
            return _loop(run)
        finally:
            run.recorder.close()
            # DDP's reducer holds gloo work with tensors in it: let it go while the
            # interpreter is alive, or gloo's threads free them at exit and abort
            # (pytorch/pytorch#179291: "terminate called without an active exception").
            del run
            gc.collect()
    finally:
        dist.close()


def _loop(run: Run) -> RunResult:
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


def _step(run: Run) -> None:
    """One SGD step at the scheduled lr; the loss and mistakes stay on the device."""
    learner = run.learner
    x, y = next(run.data.train)
    if learner.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    learner.set_lr(learner.schedule.lr(run.iteration))
    with learner.autocast():
        logits = learner.forward(x)
    loss = F.cross_entropy(logits.float(), y)
    learner.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    learner.optimizer.step()
    run.window.add(loss, (logits.argmax(1) != y).sum(), len(y), run.dist.world_size)


def _at_boundary(run: Run) -> bool:
    """Log, evaluate and save when their intervals come; True when train stats were read."""
    it, options = run.iteration, run.options
    last = it == run.recipe.iterations
    record: dict[str, Any] = {}
    if it % options.log_every == 0 or last:
        record.update(_train_stats(run))
    evaluated = it % run.recipe.eval_every == 0 or last
    if evaluated:
        record[held_out_metric(run.data.eval_set)] = _evaluate(run)
    if record:
        record = {"iteration": it, **record}
        run.recorder.log(record)
        run.reporter.log(record)
    if evaluated:
        run.recorder.plot()
    saved = it % options.checkpoint_every == 0 or last
    if saved:
        _save(run)
    if record or saved:
        run.window.restart_clock()
    return "train_loss" in record


def _train_stats(run: Run) -> dict[str, float]:
    window, schedule = run.window, run.learner.schedule
    loss_sum, wrong = window.totals(run.dist).tolist()  # the host sync of this interval
    if not math.isfinite(loss_sum):
        _diverged(run, loss_sum)
    elapsed = max(time.perf_counter() - window.started, 1e-9)
    stats = {"lr": schedule.lr(run.iteration - 1), "train_loss": loss_sum / window.seen,
             "train_error": wrong / window.seen, "images_per_s": window.timed / elapsed}
    if schedule.observe(stats["train_error"]):
        run.reporter.message(f"warm-up over at iteration {run.iteration}: training error "
                             f"{100 * stats['train_error']:.1f}% < "
                             f"{100 * run.recipe.warmup_until_error:.1f}%, lr now "
                             f"{schedule.lr(run.iteration):g}")
    window.reset()
    return stats


def _diverged(run: Run, loss: float) -> None:
    checkpoint = run.recorder.checkpoint
    kept = f"the last good checkpoint, {checkpoint}, is kept" if checkpoint else \
        "no checkpoint had been written yet"
    raise DivergedError(f"the training loss became {loss} by iteration {run.iteration}; "
                        f"nothing was saved after it and {kept}. Lower the learning rate "
                        "or add a warm-up (warmup_lr) and train again", file=str(run.run_dir))


def _evaluate(run: Run) -> float:
    # The plain model, not DDP: each rank evaluates its share with rank 0's statistics.
    learner = run.learner
    run.dist.sync_buffers(learner.model)
    counts = count_errors(learner.model, run.data.eval, learner.device, learner.autocast)
    wrong, total = run.dist.all_sum(counts).tolist()
    run.last_eval = (run.iteration, wrong / total)
    return wrong / total


def _save(run: Run) -> None:
    """Checkpoint the run, after making sure nothing in it is NaN or infinite."""
    loss_sum = run.window.totals(run.dist)[0]
    parameters = run.learner.model.parameters()
    finite = torch.stack([p.isfinite().all() for p in parameters]).all()
    if not bool(finite & loss_sum.isfinite()):
        _diverged(run, float(loss_sum) if not loss_sum.isfinite() else math.nan)
    state = run.state_dict()
    run.recorder.save(run.iteration, state if run.dist.is_main else None,
                      run.options.keep_checkpoints, run.run_id)


def _stop(run: Run, abrupt: bool = False) -> RunResult:
    """Ctrl-C: save where the run stands, unless it stopped inside a step."""
    if run.in_step or (abrupt and run.dist.world_size > 1):
        run.reporter.message(f"stopped inside iteration {run.iteration + 1}: nothing saved; "
                             f"the last checkpoint ({run.recorder.checkpoint}) is kept")
    elif run.recorder.saved_at != run.iteration:
        _save(run)
    result = RunResult(run.run_dir, run.iteration, run.data.eval_set, None, True,
                       run.recorder.checkpoint, run.data.title)
    run.reporter.finish(result)
    return result


def _finish(run: Run) -> RunResult:
    if run.last_eval is None or run.last_eval[0] != run.iteration:
        _evaluate(run)  # resumed from the final checkpoint: nothing was evaluated yet
        run.recorder.plot()
    run.dist.sync_buffers(run.learner.model)
    result = RunResult(run.run_dir, run.iteration, run.data.eval_set, run.last_eval[1],
                       False, run.recorder.checkpoint, run.data.title)
    run.reporter.finish(result)
    return result
