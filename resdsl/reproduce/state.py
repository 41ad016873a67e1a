"""Where each planned run stands, read from its folder, and what to do with it: start it,
start it again (it stopped before its first checkpoint), resume it from its newest
checkpoint, or skip it (finished).

Checkpoints are the truth, not the metrics: a run logs its last line before it saves its
last checkpoint, so a run killed in between has logged its end but cannot skip it. The
files are only looked at here (names, config.json): no torch, and nothing is changed;
`resdsl train` itself resumes, setting aside a damaged checkpoint and falling back to the
one before.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..train.errors import TrainError
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
    reached: int = 0  # the newest checkpoint's iteration
    reason: str = ""  # for CONFLICT: what is wrong with the folder


def run_state(job: RunJob) -> RunState:
    """What to do with `job`'s folder."""
    if not (job.run_dir / CONFIG).exists():
        return RunState(Action.START)
    conflict = _conflict(job)
    if conflict:
        return RunState(Action.CONFLICT, reason=conflict)
    reached = newest_checkpoint(job)
    if reached == 0:
        return RunState(Action.RESTART)
    return RunState(Action.SKIP if reached >= job.iterations else Action.RESUME, reached)


def newest_checkpoint(job: RunJob) -> int:
    checkpoints = list_checkpoints(job.run_dir)
    return checkpoint_iteration(checkpoints[-1]) if checkpoints else 0


def _conflict(job: RunJob) -> str:
    """Why the folder is not this job's run ('' when it is): resuming it would go on with
    whatever it holds, so another network or seed there is refused, not trained."""
    try:
        config = read_config(job.run_dir)
    except TrainError as error:
        return f"{error.message}; move it away to start this run again"
    found = (config.get("network"), config.get("seed"))
    if found != (job.network, job.seed):
        return (f"holds a run of {found[0]} with seed {found[1]}, not {job.network} with "
                f"seed {job.seed}: move it away, or give another --out")
    return ""
