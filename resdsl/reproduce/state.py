"""Where each planned run stands, read from its folder, and what to do with it: start it,
start it again (it stopped before its first checkpoint), resume it from its newest
checkpoint, or skip it (finished).

Checkpoints are the truth, not the metrics: a run logs its last line before it saves its
last checkpoint, so a run killed in between has logged its end but cannot skip it. Nor are
their names the truth: the newest is loaded and verified as `resdsl train` would (digest,
iteration, run id), and a damaged one is passed over for the one before, said, and left
where it is: nothing is changed here. `resdsl train --resume` then sets it aside and
resumes from the same one. Only runs with checkpoints import torch, to load one of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from ..train.errors import CheckpointError, TrainError
from ..train.runfolder import CONFIG, checkpoint_iteration, list_checkpoints, read_config
from .plan import RunJob


class Action(enum.Enum):
    START = "start"  # no run there yet
    RESTART = "restart"  # a run that stopped before its first checkpoint: again, in place
    RESUME = "resume"  # continue from the newest checkpoint
    SKIP = "skip"  # finished: its newest checkpoint is at the planned iteration or beyond
    CONFLICT = "conflict"  # the folder holds something else: nothing is run, a failure


@dataclass(frozen=True)
class RunState:
    action: Action
    reached: int = 0  # the newest good checkpoint's iteration
    reason: str = ""  # for CONFLICT: what is wrong with the folder
    damaged: tuple[str, ...] = ()  # newer checkpoints that do not load, and why


def run_state(job: RunJob) -> RunState:
    """What to do with `job`'s folder."""
    if not (job.run_dir / CONFIG).exists():
        return RunState(Action.START)
    try:
        config = read_config(job.run_dir)
    except TrainError as error:
        return RunState(Action.CONFLICT, reason=f"{error.message}; move it away to start "
                                                "this run again")
    conflict = _conflict(job, config)
    if conflict:
        return RunState(Action.CONFLICT, reason=conflict)
    reached, damaged = newest_checkpoint(job, run_id_of(config))
    if reached == 0 and damaged:
        names = ", ".join(path.name for path in list_checkpoints(job.run_dir))  # all of them
        return RunState(Action.CONFLICT, reason=f"no checkpoint here can be used ({names} "
                        "damaged): move the folder away to start this run again",
                        damaged=damaged)
    if reached == 0:
        return RunState(Action.RESTART)
    action = Action.SKIP if reached >= job.iterations else Action.RESUME
    return RunState(action, reached, damaged=damaged)


def newest_checkpoint(job: RunJob, run_id: str | None = None) -> tuple[int, tuple[str, ...]]:
    """The iteration of the newest checkpoint that loads and is run `run_id`'s (0: none),
    and a line for each newer one that does not."""
    damaged = []
    for path in reversed(list_checkpoints(job.run_dir)):
        problem = _damage(path, run_id)
        if problem is None:
            return checkpoint_iteration(path), tuple(damaged)
        damaged.append(f"{path}: {problem}")
    return 0, tuple(damaged)


def run_id_of(config: dict) -> str | None:
    """The run's id, which its checkpoints carry (None: written before runs had ids)."""
    run_id = config.get("run_id")
    return run_id if isinstance(run_id, str) else None


def _damage(path: Path, run_id: str | None) -> str | None:
    """Why the checkpoint `path` cannot be resumed from; None when it can. Loaded as
    `resdsl train` loads it: the same checks, so the two never disagree."""
    from ..train.checkpoint import load_checkpoint  # torch: only where there is one to load

    try:
        load_checkpoint(path, run_id)
    except CheckpointError as error:
        return error.message
    return None


def _conflict(job: RunJob, config: dict) -> str:
    """Why the folder is not this job's run ('' when it is): resuming it would go on with
    whatever it holds, so another network or seed there is refused, not trained."""
    found = (config.get("network"), config.get("seed"))
    if found != (job.network, job.seed):
        return (f"holds a run of {found[0]} with seed {found[1]}, not {job.network} with "
                f"seed {job.seed}: move it away, or give another --out")
    return ""
