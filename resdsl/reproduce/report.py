"""The reproduction's report, from whatever run folders exist: a row per net with the
paper's number beside ours (the best run, and mean ± std over seeds), how many runs have
finished and how far each has come; written as report.md, report.json and report.png.

Ours is a run's test error after its last iteration (the final one, not the best seen:
the paper reports final errors). A net none of whose runs has finished shows its runs'
latest test error instead, marked `*`: a figure to watch, not one to compare. Beside it,
the training error at the end (over the windows logged in the last tenth of the
iterations), which is what Figure 6's orderings are
about: the experiment's claims ("plain-56 above plain-20") are checked on it, mean ± std
over seeds, and stated plainly, shown or not. The report names the data the runs trained
on and lists every way they depart from the paper.
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
from ..train.datasets.names import data_title
from ..train.runfolder import HELD_OUT, read_config, read_metrics
from .experiments import Claim, Experiment, Net, PaperFigures
from .figure import Curve, PanelCurves, draw_figure
from .plan import RunJob
from .state import newest_checkpoint, run_id_of

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
    train_error: float | None = None  # %, the mean of the windows logged in the last tenth
    data: str | None = None  # the data set it trained on, as its config.json names it


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
    train: Stats  # the final training errors


@dataclass(frozen=True)
class ClaimResult:
    text: str  # "plain-56's training error above plain-20's (Figure 6, left)"
    shown: bool | None  # None: not every run of the two nets has finished
    detail: str  # the two means ± std it was decided on


@dataclass(frozen=True)
class Report:
    experiment: str
    title: str  # with the data set named
    reproduces: str
    table: str
    data: str  # what the runs trained on: "Fashion-MNIST"
    rows: tuple[Row, ...]
    departures: tuple[str, ...]  # every way the runs depart from the paper
    claims: tuple[ClaimResult, ...]
    written: str  # when, ISO 8601

    def to_json(self) -> str:
        # The paper's figures are a pydantic model inside these dataclasses.
        return json.dumps(asdict(self), indent=2, default=lambda paper: paper.model_dump()) + "\n"


def collect(experiment: Experiment, nets: tuple[Net, ...], jobs: list[RunJob],
            data: str = "cifar10", departures: tuple[str, ...] = ()) -> Report:
    """The report of `jobs`' run folders; `data` is what they were planned to train on and
    `departures` how they depart from the paper (plan.py)."""
    rows = []
    for net in nets:
        mine = [job for job in jobs if job.spec == net.spec]
        runs = tuple(read_run(job) for job in mine)
        params = mine[0].params if mine else 0
        rows.append(Row(net.spec, net.label, params, net.paper, runs, stats(runs),
                        stats(runs, train=True)))
    data = data_named(rows, data)
    claims = tuple(check_claim(claim, rows) for claim in experiment.claims
                   if {claim.net, claim.than} <= {row.spec for row in rows})
    return Report(experiment.name, on_data(experiment.title, data), experiment.reproduces,
                  on_data(experiment.table, data), data, tuple(rows), tuple(departures),
                  claims, datetime.now().isoformat(timespec="seconds"))


def on_data(text: str, data: str) -> str:
    return text.replace("{data}", data)


def data_named(rows: list[Row], planned: str) -> str:
    """The data the runs trained on, as their config.json says; the planned data where no
    run has started. Runs on different data (a reused folder) are all named."""
    found = sorted({run.data for row in rows for run in row.runs if run.data})
    return " and ".join(found) if found else data_title(planned)


def check_claim(claim: Claim, rows: list[Row]) -> ClaimResult:
    by_spec = {row.spec: row for row in rows}
    net, than = by_spec[claim.net], by_spec[claim.than]
    words = "above" if claim.relation == "above" else "at or below"
    text = f"{net.label}'s training error {words} {than.label}'s ({claim.source})"
    detail = f"{_spread(net.train)} against {_spread(than.train)}"
    if not (net.train.count and than.train.count) or net.train.partial or than.train.partial \
            or any(r.status != FINISHED for r in net.runs + than.runs):
        return ClaimResult(text, None, detail)
    above = net.train.mean > than.train.mean
    return ClaimResult(text, above if claim.relation == "above" else not above, detail)


def _spread(stats: Stats) -> str:
    if stats.mean is None:
        return "—"
    std = f" ± {stats.std:.2f}" if stats.std is not None else ""
    return f"{stats.mean:.2f}{std}% ({stats.count} run{'s' * (stats.count != 1)})"


def read_run(job: RunJob) -> RunRecord:
    """Where `job`'s run folder stands; NOT_STARTED where there is none (or none readable)."""
    try:
        config = read_config(job.run_dir)
        records = read_metrics(job.run_dir)
    except TrainError:
        return RunRecord(job.name, job.seed, NOT_STARTED, 0, job.iterations, None, None, None)
    data = config.get("data") if isinstance(config.get("data"), dict) else {}
    held = [(r["iteration"], r[k]) for r in records for k in HELD_OUT if k in r]
    trained = final_training_error(records, job.iterations)
    saved, _ = newest_checkpoint(job, run_id_of(config))  # a damaged one is no finish
    reached = max([saved, *(r["iteration"] for r in records)])
    status = FINISHED if saved >= job.iterations else PARTIAL
    at, error = held[-1] if held else (None, None)
    return RunRecord(job.name, job.seed, status, reached, job.iterations,
                     None if error is None else 100 * error, at, data.get("eval_set"),
                     trained, data.get("title"))


def final_training_error(records: list[dict[str, Any]], planned: int) -> float | None:
    """A run's final training error, in %: the mean over the windows logged in the last
    tenth of its iterations (the last window alone is a few batches, and noisy)."""
    logged = [(r["iteration"], r["train_error"]) for r in records if "train_error" in r]
    if not logged:
        return None
    last = [error for iteration, error in logged if iteration > planned - planned // 10] \
        or [logged[-1][1]]
    return 100 * statistics.fmean(last)


def stats(runs: tuple[RunRecord, ...], train: bool = False) -> Stats:
    """Over the finished runs' final errors (test errors, or training errors with
    `train`), else over the unfinished runs' latest ones (marked partial)."""
    def error(run: RunRecord) -> float | None:
        return run.train_error if train else run.error

    finished = [error(r) for r in runs if r.status == FINISHED and error(r) is not None]
    errors = finished or [error(r) for r in runs if error(r) is not None]
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
          "training error", "params", "in the paper")
CONSOLE = HEADER[:6]  # the columns a terminal shows; report.md has them all


def table_cells(report: Report) -> list[tuple[str, ...]]:
    return [(row.label, paper_error(row.paper), _best(row.ours), _mean_std(row.ours),
             f"{sum(r.status == FINISHED for r in row.runs)}/{len(row.runs)}",
             _iterations(row.runs), _mean_std(row.train, single=True), _params(row),
             _paper_source(row.paper))
            for row in report.rows]


def console_cells(report: Report, ascii: bool = False) -> list[tuple[str, ...]]:
    """The CONSOLE columns of the table's cells; `ascii` spells ± and dashes out, for a
    console that cannot encode them."""
    cells = [row[:len(CONSOLE)] for row in table_cells(report)]
    if ascii:
        plain = str.maketrans({"±": "+-", "—": "-", "–": "-"})
        cells = [tuple(cell.translate(plain) for cell in row) for row in cells]
    return cells


def claim_lines(report: Report) -> list[str]:
    """Each claim of the paper as a sentence: shown, not shown, or not decided yet."""
    verdicts = {True: "shown", False: "NOT shown", None: "not decided (runs unfinished)"}
    return [f"{verdicts[claim.shown]}: {claim.text}: {claim.detail}" for claim in report.claims]


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


def _mean_std(ours: Stats, single: bool = False) -> str:
    """mean ± std over the runs; with `single`, a lone run's error too."""
    if ours.mean is None or ours.count < (1 if single else 2):
        return "—"
    star = "*" if ours.partial else ""
    if ours.count == 1:
        return f"{ours.mean:.2f} (1 run){star}"
    return f"{ours.mean:.2f} ± {ours.std:.2f} ({ours.count} runs){star}"


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
    lines += ["", NOTE]
    if report.claims:
        lines += ["", "## The paper's orderings, on our runs", ""]
        lines += [f"- {line}" for line in claim_lines(report)]
    lines += ["", "## Departures from the paper", ""]
    lines += [f"- {line}" for line in report.departures] or ["None: the paper's data, "
                                                              "inputs and recipes."]
    lines += ["", "## Runs", "", _md_row(RUN_HEADER), _md_row(["---"] * len(RUN_HEADER))]
    lines += [_md_row(cells) for cells in run_cells(report)]
    if any(run.eval_set == "val" for row in report.rows for run in row.runs):
        lines += ["", "These runs held out training images (--val-split): their errors are "
                      "validation errors, not test errors."]
    lines += ["", f"Written {report.written} from the run folders beside this file."]
    return "\n".join(lines) + "\n"


NOTE = ("Errors are test errors in %, on the data named in the title. Paper: the paper's "
        "figure on CIFAR-10 (its best run, with the "
        "mean ± std of its runs where it gives them). Ours: each run's error after its last "
        "iteration; best "
        "is the lowest over the net's runs (seeds), mean ± std their mean and sample "
        "standard deviation. `*`: no run of that net has finished yet, so the figure is the "
        "latest error of its unfinished runs. Iterations: how far the runs have come, of "
        "the planned total. Training error: each run's over the training batches "
        "(augmented, in training mode) logged in its last tenth of iterations, mean ± std "
        "over the runs.")


def _md_row(cells: Any) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
