"""`resdsl reproduce`, and how it shows a reproduction: a line per decision and per run's
start and end, then the table and what failed. The printing side of the library's
`Events` (`resdsl.reproduce.reproduction`), as progress.py is for training.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, List, Optional

import typer

from .console import err, glyphs, out, report_errors, say
from .training import TRAIN_OPTIONS, recipe_sets, with_train_options

if TYPE_CHECKING:
    from ..reproduce.experiments import Experiment
    from ..reproduce.plan import RunJob
    from ..reproduce.reproduction import Outcome
    from ..reproduce.scheduler import Ended, Slot
    from ..reproduce.state import RunState

# The training flags every run of a reproduction gets; --out, --resume and --seed are its own.
REPRODUCE_TRAIN_OPTIONS = tuple(name for name in TRAIN_OPTIONS
                                if name not in ("out", "resume", "seed", "sync_bn"))


# Long only for its options, one typer parameter each; the body parses, calls and prints.
@report_errors
@with_train_options(*REPRODUCE_TRAIN_OPTIONS)
def reproduce(experiment: Optional[str] = typer.Argument(None, metavar="EXPERIMENT",
                                                         help="which: resdsl reproduce --list",
                                                         show_default=False),
              output: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FOLDER",
                                                    help="the runs' folder (default "
                                                         "runs/EXPERIMENT)"),
              seeds: Optional[int] = typer.Option(None, help="runs per net (default: as the "
                                                  "experiment says)"),
              only: List[str] = typer.Option([], "--only", metavar="NAMES",
                                             help="these nets of the experiment only: "
                                                  "--only resnet20,plain20"),
              gpus: Optional[int] = typer.Option(None, help="run on N GPUs, one run per GPU "
                                                 "at a time (times --per-device)"),
              per_device: Optional[int] = typer.Option(None, "--per-device", metavar="K",
                                                       help="runs at once on each device "
                                                            "(default: as the experiment "
                                                            "says, else 1)"),
              report_now: bool = typer.Option(False, "--report", help="only write the report "
                                              "of the runs there are; train nothing"),
              list_all: bool = typer.Option(False, "--list", help="list the experiments"),
              set_fields: List[str] = typer.Option([], "--set", help="override a recipe "
                                                   "field in every run: --set iterations=400"),
              given: dict = None) -> None:
    """Reproduce an experiment of the paper: train its runs (skipping finished ones,
    resuming interrupted ones), then report the paper's numbers beside ours."""
    from ..reproduce.options import ReproduceOptions
    from ..reproduce.reproduction import report_only, reproduce as run_reproduction

    if list_all:
        return _list_experiments()
    if experiment is None:
        raise typer.BadParameter("name an experiment (resdsl reproduce --list)",
                                 param_hint="EXPERIMENT")
    recipe_sets(set_fields)  # a malformed --set is a usage error, as for train
    names = tuple(name.strip() for item in only for name in item.split(",") if name.strip())
    options = ReproduceOptions(experiment, out=output, seeds=seeds, only=names, gpus=gpus,
                               per_device=per_device, train=given, sets=tuple(set_fields))
    outcome = report_only(options) if report_now else \
        run_reproduction(options, PrintedEvents(say))
    _print_outcome(outcome)
    if outcome.failures or outcome.interrupted:
        raise typer.Exit(130 if outcome.interrupted and not outcome.failures else 1)


def _list_experiments() -> None:
    from ..reproduce.experiments import shipped_experiments
    from ..tables import experiments_table

    rows = [(e.name, e.reproduces, e.runs()) for e in shipped_experiments()]
    out.print(experiments_table(rows, glyphs()))


def _print_outcome(outcome: Outcome) -> None:
    from ..reproduce.report import CONSOLE, console_cells
    from ..tables import ASCII, cells_table

    style = glyphs()
    cells = console_cells(outcome.report, ascii=style is ASCII)
    out.print(cells_table(outcome.report.table, CONSOLE, cells, style))
    for line in outcome_lines(outcome):
        say(line)
    for line in failure_lines(outcome):
        err.print(line, markup=False)


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class PrintedEvents:
    """A line per event, through `say` (the CLI's console)."""

    def __init__(self, say: Callable[[str], None]):
        self.say = say

    def planned(self, experiment: Experiment, jobs: list[RunJob], slots: list[Slot]) -> None:
        devices = sorted({slot.gpu for slot in slots}, key=str)
        where = "the default device" if devices == [None] else f"{len(devices)} GPUs"
        at_once = len(slots)
        self.say(f"reproduce {experiment.name}: {len({j.spec for j in jobs})} networks, "
                 f"{len(jobs)} runs into {jobs[0].run_dir.parent if jobs else '?'}; "
                 f"{at_once} at a time on {where}")

    def decided(self, job: RunJob, state: RunState) -> None:
        from ..reproduce.state import Action

        if state.action is Action.SKIP:
            self._line("skip", job, f"finished ({state.reached}/{job.iterations})")
        elif state.action is Action.CONFLICT:
            self._line("refuse", job, state.reason)
        if state.damaged and state.reached:  # an older checkpoint counts instead
            then = "resuming from" if state.action is Action.RESUME else "counting"
            for line in state.damaged:
                self._line("damaged", job, f"{line}; {then} the checkpoint of iteration "
                                           f"{state.reached}")

    def started(self, job: RunJob, state: RunState, slot: Slot, log: Path) -> None:
        from ..reproduce.state import Action

        where = f" on GPU {slot.gpu}" if slot.gpu is not None else ""
        detail = {Action.RESUME: f"from iteration {state.reached}{where}",
                  Action.RESTART: f"it stopped before its first checkpoint{where}"}
        text = detail.get(state.action, where.strip())
        self._line(state.action.value, job, f"{text}; log {log}" if text else f"log {log}")

    def ended(self, job: RunJob, ended: Ended[RunJob], verdict: str, reason: str) -> None:
        from ..reproduce.reproduction import DONE, STOPPED

        took = duration(ended.seconds)
        if verdict == DONE:
            self._line("done", job, f"in {took}")
        elif verdict == STOPPED:
            self._line("stopped", job, f"after {took}: it saved where it stood")
        else:
            self._line("FAILED", job, f"after {took}: {reason}")

    def _line(self, word: str, job: RunJob, text: str) -> None:
        self.say(f"{word:<7} {job.name}: {text}")


def outcome_lines(outcome: Outcome) -> list[str]:
    """What the reproduction ends with: the files written, and what is left to do."""
    from ..reproduce.report import claim_lines

    lines = [f"note: {note}" for note in outcome.notes]
    if outcome.report is not None:
        lines += claim_lines(outcome.report)
        lines += [f"departs from the paper: {line}" for line in outcome.report.departures]
    if outcome.seconds:  # it trained (not --report)
        from ..reproduce.reproduction import STOPPED_EXIT
        from ..reproduce.state import Action

        ok = sum(end.ok for end in outcome.ended)
        stopped = sum(end.exit_code == STOPPED_EXIT for end in outcome.ended)
        skipped = sum(state.action is Action.SKIP for state in outcome.states.values())
        counts = [f"{ok} trained", f"{stopped} stopped" if stopped else "",
                  f"{len(outcome.failures)} failed", f"{skipped} finished already"]
        lines.append(f"{len(outcome.jobs)} runs: {', '.join(c for c in counts if c)}; "
                     f"{duration(outcome.seconds)}")
    if outcome.files:
        names = ", ".join(path.name for path in outcome.files)
        lines.append(f"wrote {names} in {outcome.files[0].parent} (report.md: every column, "
                     "each run, the paper's sources)")
    if outcome.interrupted:
        lines.append("interrupted: the runs saved where they stood; the same command "
                     "resumes them")
    return lines


def failure_lines(outcome: Outcome) -> list[str]:
    failures = outcome.failures
    if not failures:
        return []
    lines = [f"error: {len(failures)} of {len(outcome.jobs)} runs failed:"]
    for failure in failures:
        log = f" (log {failure.log})" if failure.log else ""
        lines.append(f"  {failure.job.name}: {failure.reason}{log}")
    return lines
