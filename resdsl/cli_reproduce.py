"""How `resdsl reproduce` shows a reproduction: a line per decision and per run's start
and end, then the table and what failed. The printing side of the library's `Events`
(`resdsl.reproduce.reproduction`), as cli_progress.py is for training.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .reproduce.experiments import Experiment
    from .reproduce.plan import RunJob
    from .reproduce.reproduction import Outcome
    from .reproduce.scheduler import Ended, Slot
    from .reproduce.state import RunState


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
        from .reproduce.state import Action

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
        from .reproduce.state import Action

        where = f" on GPU {slot.gpu}" if slot.gpu is not None else ""
        detail = {Action.RESUME: f"from iteration {state.reached}{where}",
                  Action.RESTART: f"it stopped before its first checkpoint{where}"}
        text = detail.get(state.action, where.strip())
        self._line(state.action.value, job, f"{text}; log {log}" if text else f"log {log}")

    def ended(self, job: RunJob, ended: Ended[RunJob], verdict: str, reason: str) -> None:
        from .reproduce.reproduction import DONE, STOPPED

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
    from .reproduce.report import claim_lines

    lines = [f"note: {note}" for note in outcome.notes]
    if outcome.report is not None:
        lines += claim_lines(outcome.report)
        lines += [f"departs from the paper: {line}" for line in outcome.report.departures]
    if outcome.seconds:  # it trained (not --report)
        from .reproduce.reproduction import STOPPED_EXIT
        from .reproduce.state import Action

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
