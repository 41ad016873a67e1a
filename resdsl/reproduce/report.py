"""The reproduction's report, from whatever run folders exist: a row per net with the
paper's number beside ours (the best run, and mean ± std over seeds), how many runs have
finished and how far each has come; written as report.md, report.json and report.png.

Ours is a run's test error after its last iteration (the final one, not the best seen:
the paper reports final errors). A net none of whose runs has finished shows its runs'
latest test error instead, marked `*`: a figure to watch, not one to compare.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from ..train.errors import PlotError, TrainError
from ..train.files import write_failure
from ..train.runfolder import HELD_OUT, read_config, read_metrics
from .experiments import Experiment, Net, PaperFigures
from .figure import Curve, PanelCurves, draw_figure
from .plan import RunJob
from .state import newest_checkpoint

MARKDOWN, JSON, PNG = "report.md", "report.json", "report.png"
FINISHED, PARTIAL, NOT_STARTED = "finished", "partial", "not started"


@dataclass(frozen=True)
class RunRecord:
    name: str
    seed: int
    status: str  # FINISHED, PARTIAL or NOT_STARTED
    reached: int  # iterations trained: the newest checkpoint's, or a later logged one
    planned: int
    error: float | None  # % on the held-out set, at `at`
    at: int | None  # the iteration of that error
    eval_set: str | None  # "test", or "val" for runs that held out training images


@dataclass(frozen=True)
class Stats:
    best: float | None  # the lowest error, %
    mean: float | None
    std: float | None  # the sample std (n - 1), with two runs or more
    count: int  # the runs these are over
    partial: bool  # over unfinished runs' latest errors: no run of the net has finished


@dataclass(frozen=True)
class Row:
    spec: str
    label: str
    params: int
    paper: PaperFigures
    runs: tuple[RunRecord, ...]
    ours: Stats


@dataclass(frozen=True)
class Report:
    experiment: str
    title: str
    reproduces: str
    table: str
    rows: tuple[Row, ...]
    written: str  # when, ISO 8601

    def to_json(self) -> str:
        # The paper's figures are a pydantic model inside these dataclasses.
        return json.dumps(asdict(self), indent=2, default=lambda paper: paper.model_dump()) + "\n"


def collect(experiment: Experiment, nets: tuple[Net, ...], jobs: list[RunJob]) -> Report:
    rows = []
    for net in nets:
        mine = [job for job in jobs if job.spec == net.spec]
        runs = tuple(read_run(job) for job in mine)
        params = mine[0].params if mine else 0
        rows.append(Row(net.spec, net.label, params, net.paper, runs, stats(runs)))
    return Report(experiment.name, experiment.title, experiment.reproduces, experiment.table,
                  tuple(rows), datetime.now().isoformat(timespec="seconds"))


def read_run(job: RunJob) -> RunRecord:
    """Where `job`'s run folder stands; NOT_STARTED where there is none (or none readable)."""
    try:
        config = read_config(job.run_dir)
        records = read_metrics(job.run_dir)
    except TrainError:
        return RunRecord(job.name, job.seed, NOT_STARTED, 0, job.iterations, None, None, None)
    eval_set = config.get("data", {}).get("eval_set") if isinstance(config.get("data"), dict) \
        else None
    held = [(r["iteration"], r[k]) for r in records for k in HELD_OUT if k in r]
    saved = newest_checkpoint(job)
    reached = max([saved, *(r["iteration"] for r in records)])
    status = FINISHED if saved >= job.iterations else PARTIAL
    at, error = held[-1] if held else (None, None)
    return RunRecord(job.name, job.seed, status, reached, job.iterations,
                     None if error is None else 100 * error, at, eval_set)


def stats(runs: tuple[RunRecord, ...]) -> Stats:
    finished = [r.error for r in runs if r.status == FINISHED and r.error is not None]
    errors = finished or [r.error for r in runs if r.error is not None]
    if not errors:
        return Stats(None, None, None, 0, False)
    std = statistics.stdev(errors) if len(errors) > 1 else None
    return Stats(min(errors), statistics.fmean(errors), std, len(errors), not finished)


def write_report(report: Report, panels: list[PanelCurves], figure_title: str,
                 root: Path) -> tuple[list[Path], list[str]]:
    """Write report.md, report.json and report.png into `root`; the files written, and
    notes on what could not be (the figure without matplotlib)."""
    written, notes = [], []
    try:
        root.mkdir(parents=True, exist_ok=True)
        try:
            written.append(draw_figure(figure_title, panels, root / PNG))
        except PlotError as error:
            notes.append(f"{error.message}: {PNG} is not drawn")
        for name, text in ((MARKDOWN, markdown(report, drawn=bool(written))),
                           (JSON, report.to_json())):
            atomic_write(root / name, lambda file, text=text: file.write(text.encode()))
            written.append(root / name)
    except OSError as error:
        raise write_failure(error, root, "the report", "the runs are not affected") from None
    return written, notes


def figure_panels(experiment: Experiment, nets: tuple[Net, ...],
                  jobs: list[RunJob]) -> list[PanelCurves]:
    """The experiment's panels, holding the nets planned (a panel left empty is left out)."""
    labels = {net.spec: net.label for net in nets}
    panels = []
    for panel in experiment.figure.panels:
        curves = tuple(Curve(labels[job.spec], job.run_dir, job.seed == first_seed(jobs, job))
                       for spec in panel.nets if spec in labels
                       for job in jobs if job.spec == spec)
        if curves:
            panels.append(PanelCurves(panel.title, curves))
    return panels


def first_seed(jobs: list[RunJob], job: RunJob) -> int:
    return min(other.seed for other in jobs if other.spec == job.spec)


# ---- the table, as text: report.md writes it, the command line prints the same cells ----
HEADER = ("network", "paper", "ours: best", "ours: mean ± std", "finished", "iterations",
          "params", "in the paper")
CONSOLE = HEADER[:6]  # the columns a terminal shows; report.md has them all


def table_cells(report: Report) -> list[tuple[str, ...]]:
    return [(row.label, paper_error(row.paper), _best(row.ours), _mean_std(row.ours),
             f"{sum(r.status == FINISHED for r in row.runs)}/{len(row.runs)}",
             _iterations(row.runs), _params(row), _paper_source(row.paper))
            for row in report.rows]


RUN_HEADER = ("run", "status", "iterations", "error (%)", "at iteration")


def run_cells(report: Report) -> list[tuple[str, ...]]:
    """A row per run: where each stands, and its latest held-out error."""
    return [(run.name, run.status, f"{run.reached}/{run.planned}",
             "—" if run.error is None else f"{run.error:.2f}",
             "—" if run.at is None else str(run.at))
            for row in report.rows for run in row.runs]


def paper_error(paper: PaperFigures) -> str:
    if paper.error is None:
        return "—"
    if paper.mean_std is None:
        return f"{paper.error:.2f}"
    runs = f", {paper.mean_std_runs} runs" if paper.mean_std_runs else ""
    return f"{paper.error:.2f} ({paper.mean_std[0]:.2f} ± {paper.mean_std[1]:.2f}{runs})"


def _best(ours: Stats) -> str:
    return "—" if ours.best is None else f"{ours.best:.2f}{'*' if ours.partial else ''}"


def _mean_std(ours: Stats) -> str:
    if ours.mean is None or ours.count < 2:
        return "—"
    return f"{ours.mean:.2f} ± {ours.std:.2f} ({ours.count} runs){'*' if ours.partial else ''}"


def _iterations(runs: tuple[RunRecord, ...]) -> str:
    if not runs:
        return "—"
    least, most = min(r.reached for r in runs), max(r.reached for r in runs)
    reached = f"{least}" if least == most else f"{least}–{most}"
    return f"{reached}/{runs[0].planned}"


def _params(row: Row) -> str:
    ours = f"{row.params / 1e6:.2f}M"
    return f"{ours} (paper {row.paper.params / 1e6:.2f}M)" if row.paper.params else ours


def _paper_source(paper: PaperFigures) -> str:
    return "; ".join(part for part in (paper.source, paper.label, paper.note) if part)


def markdown(report: Report, drawn: bool) -> str:
    cells = table_cells(report)
    lines = [f"# {report.experiment}: {report.title}", "", report.reproduces, ""]
    if drawn:
        lines += [f"![{report.title}]({PNG})", ""]
    lines += [f"## {report.table}", "", _md_row(HEADER), _md_row(["---"] * len(HEADER))]
    lines += [_md_row(row) for row in cells]
    lines += ["", NOTE, "", "## Runs", "", _md_row(RUN_HEADER), _md_row(["---"] * len(RUN_HEADER))]
    lines += [_md_row(cells) for cells in run_cells(report)]
    if any(run.eval_set == "val" for row in report.rows for run in row.runs):
        lines += ["", "These runs held out training images (--val-split): their errors are "
                      "validation errors, not test errors."]
    lines += ["", f"Written {report.written} from the run folders beside this file."]
    return "\n".join(lines) + "\n"


NOTE = ("Errors are test errors in %. Paper: the paper's figure (its best run, with the "
        "mean ± std of its runs where it gives them). Ours: each run's error after its last "
        "iteration; best "
        "is the lowest over the net's runs (seeds), mean ± std their mean and sample "
        "standard deviation. `*`: no run of that net has finished yet, so the figure is the "
        "latest error of its unfinished runs. Iterations: how far the runs have come, of "
        "the planned total.")


def _md_row(cells: Any) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
