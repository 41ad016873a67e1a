"""`resdsl reproduce`: plan the experiment's runs, look at what their folders hold, run
what is not finished (skipping finished runs, resuming interrupted ones), then report.

    outcome = reproduce(ReproduceOptions("fig6", train={"data_dir": "data"}), events)
    outcome.failures    # runs that did not finish: each with the line that says why

`events` hears of each decision and each run's start and end, to show them (the command
line prints them; the library prints nothing). Every ended run is also appended to
`history.jsonl` in the reproduction's folder: which run, what was done, how it ended and
how long it took.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from ..train.files import reason
from .command import run_environment, train_command
from .errors import ReproduceError
from .experiments import Experiment, Net, load_experiment, select_nets
from .options import ReproduceOptions
from .plan import Plan, RunJob, plan_runs
from .processes import ProcessLauncher, last_error, log_path
from .report import Report, collect, figure_panels, on_data, write_report
from .scheduler import Ended, Slot, make_slots, run_queue
from .state import Action, RunState, run_state

HISTORY = "history.jsonl"
DONE, STOPPED, FAILED = "done", "stopped", "failed"  # how a run's process ended
STOPPED_EXIT = 130  # `resdsl train` after a Ctrl-C: it saved where it stood, then ended


class Events(Protocol):
    def planned(self, experiment: Experiment, jobs: list[RunJob], slots: list[Slot]) -> None: ...

    def decided(self, job: RunJob, state: RunState) -> None: ...

    def started(self, job: RunJob, state: RunState, slot: Slot, log: Path) -> None: ...

    def ended(self, job: RunJob, ended: Ended[RunJob], verdict: str, reason: str) -> None:
        """`verdict`: DONE, STOPPED (by a Ctrl-C, saved) or FAILED, with `reason`."""


@dataclass(frozen=True)
class Failure:
    job: RunJob
    reason: str  # one line: the run's own error, or what is wrong with its folder
    log: Path | None  # the run's log, when it ran


@dataclass
class Outcome:
    jobs: list[RunJob]
    states: dict[str, RunState]  # by run name: what was decided for each
    ended: list[Ended[RunJob]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False
    report: Report | None = None
    files: list[Path] = field(default_factory=list)  # the report's files
    notes: list[str] = field(default_factory=list)  # what the report could not do
    seconds: float = 0.0  # wall time of the whole reproduction


@dataclass(frozen=True)
class Prepared:
    experiment: Experiment
    nets: tuple[Net, ...]
    plan: Plan
    options: ReproduceOptions  # as given, the experiment's own training flags added

    @property
    def jobs(self) -> list[RunJob]:
        return self.plan.jobs


def prepare(options: ReproduceOptions) -> Prepared:
    """The experiment and its runs, every option checked: nothing has started yet."""
    experiment = load_experiment(options.experiment)
    nets = select_nets(experiment, list(options.only))
    options.check(gpu_count() if options.gpus is not None else None)
    options = replace(options, train={**experiment.train, **options.train},
                      per_device=options.per_device or experiment.per_device)
    return Prepared(experiment, nets, plan_runs(experiment, nets, options), options)


def gpu_count() -> int:
    import torch  # only with --gpus: the rest of a reproduction's own process runs without

    return torch.cuda.device_count()


def reproduce(options: ReproduceOptions, events: Events) -> Outcome:
    began = time.monotonic()
    plan = prepare(options)
    options = plan.options
    root, slots = options.run_root, make_slots(options.gpus, options.per_device)
    make_folder(root)
    events.planned(plan.experiment, plan.jobs, slots)
    outcome = Outcome(plan.jobs, {job.name: run_state(job) for job in plan.jobs})
    for job in plan.jobs:
        events.decided(job, outcome.states[job.name])
        if outcome.states[job.name].action is Action.CONFLICT:
            outcome.failures.append(Failure(job, outcome.states[job.name].reason, None))
    todo = [job for job in plan.jobs
            if outcome.states[job.name].action in (Action.START, Action.RESTART, Action.RESUME)]
    if todo and options.train.get("download"):
        download_once(plan.plan.data, options.train.get("data_dir", "data"))
    _run(todo, slots, options, outcome, events)
    _report(plan, root, outcome)
    outcome.seconds = time.monotonic() - began
    return outcome


def make_folder(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file of that name, no permission, a full disk
        raise ReproduceError(f"cannot make the reproduction's folder ({reason(error)}): "
                             "give another --out", file=str(root)) from None


def download_once(data: str, data_dir: str) -> None:
    """--download: fetch the data here, once, before any run starts. Runs side by side
    would each download the same files."""
    from ..train.datasets.sources import download_missing

    download_missing(data, Path(data_dir))


def _run(todo: list[RunJob], slots: list[Slot], options: ReproduceOptions, outcome: Outcome,
         events: Events) -> None:
    root, states = options.run_root, outcome.states

    def command(job: RunJob, slot: Slot) -> list[str]:
        return train_command(job, states[job.name].action, slot, options)

    def ended(end: Ended[RunJob]) -> None:
        verdict = DONE if end.ok else STOPPED if end.exit_code == STOPPED_EXIT else FAILED
        reason = "" if end.ok else _why(end, log_path(root, end.job))
        if verdict == FAILED:
            outcome.failures.append(Failure(end.job, reason, log_path(root, end.job)))
        _record(root, end, states[end.job.name], outcome.notes)
        events.ended(end.job, end, verdict, reason)

    def started(job: RunJob, slot: Slot) -> None:
        events.started(job, states[job.name], slot, log_path(root, job))

    launcher = ProcessLauncher(root, command,
                               lambda slot: run_environment(slot, options.per_device))
    result = run_queue(todo, slots, launcher, on_start=started, on_end=ended)
    outcome.ended, outcome.interrupted = result.ended, result.interrupted


def _why(end: Ended[RunJob], log: Path) -> str:
    if end.exit_code is None:
        return "not started: the reproduction was interrupted"
    said = last_error(log)
    how = f"killed by signal {-end.exit_code}" if end.exit_code < 0 else f"exit {end.exit_code}"
    return f"{how}: {said}" if said else how


def _record(root: Path, end: Ended[RunJob], state: RunState, notes: list[str]) -> None:
    """Append the ended run to history.jsonl. A record, not the runs' state: when it cannot
    be written the reproduction goes on, and says so once at the end."""
    line = {"run": end.job.name, "action": state.action.value, "from": state.reached,
            "exit": end.exit_code, "seconds": round(end.seconds, 3),
            "slot": [end.slot.gpu, end.slot.index],
            "ended": datetime.now().isoformat(timespec="seconds")}
    try:
        with open(root / HISTORY, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")
    except OSError as error:
        note = f"{root / HISTORY} could not be written ({reason(error)})"
        if note not in notes:
            notes.append(note)


def _report(plan: Prepared, root: Path, outcome: Outcome) -> None:
    outcome.report = collect(plan.experiment, plan.nets, plan.jobs, plan.plan.data,
                             tuple(plan.plan.departures))
    panels = figure_panels(plan.experiment, plan.nets, plan.jobs)
    outcome.files, outcome.notes = write_report(outcome.report, panels,
                                                on_data(plan.experiment.figure.title,
                                                        outcome.report.data), root)


def report_only(options: ReproduceOptions) -> Outcome:
    """`--report`: the report of whatever runs exist, nothing trained."""
    plan = prepare(options)
    outcome = Outcome(plan.jobs, {job.name: run_state(job) for job in plan.jobs})
    _report(plan, options.run_root, outcome)
    return outcome
