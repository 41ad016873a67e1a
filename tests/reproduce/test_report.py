"""The report from run folders written by hand: a row per net with the paper's number
beside ours, mean ± std and best over seeds, how far each run has come, and the figure."""

from __future__ import annotations

import json
import statistics
import sys

import pytest

from resdsl.reproduce.errors import ReproduceError
from resdsl.reproduce.experiments import load_experiment, select_nets
from resdsl.reproduce.options import ReproduceOptions
from resdsl.reproduce.plan import plan_runs
from resdsl.reproduce.report import (CONSOLE, FINISHED, NOT_STARTED, PARTIAL, claim_lines,
                                     collect, console_cells, figure_panels, markdown,
                                     table_cells, write_report)

from .reproduce_helpers import fake_run, planned

ONLY = ("resnet20", "resnet110", "resnet1202")


@pytest.fixture
def table6(tmp_path):
    """ResNet-110's five seeds finished; ResNet-20 halfway; ResNet-1202 not started."""
    jobs = planned(tmp_path, "table6", only=ONLY, iterations=6)
    finals = [0.065, 0.066, 0.064, 0.068, 0.067]
    for job, final in zip([j for j in jobs if j.spec == "resnet110"], finals):
        fake_run(job, checkpoints=[4, 6], errors={3: 0.5, 6: final})
    fake_run(jobs[0], checkpoints=[2], errors={3: 0.4})  # logged 3, saved 2: killed
    experiment = load_experiment("table6")
    return experiment, select_nets(experiment, list(ONLY)), jobs


def test_each_row_has_the_papers_numbers_beside_ours(table6):
    report = collect(*table6)
    resnet20, resnet110, resnet1202 = report.rows
    assert [r.status for r in resnet110.runs] == [FINISHED] * 5
    ours = [6.5, 6.6, 6.4, 6.8, 6.7]
    assert resnet110.ours.best == pytest.approx(6.4)
    assert resnet110.ours.mean == pytest.approx(statistics.fmean(ours))
    assert resnet110.ours.std == pytest.approx(statistics.stdev(ours))
    assert (resnet20.runs[0].status, resnet20.runs[0].reached) == (PARTIAL, 3)
    assert resnet20.ours.partial and resnet20.ours.best == pytest.approx(40.0)
    assert resnet1202.runs[0].status == NOT_STARTED and resnet1202.ours.best is None
    cells = {row[0]: row for row in table_cells(report)}
    assert cells["ResNet-110"][1:6] == ("6.43 (6.61 ± 0.16, 5 runs)", "6.40",
                                       "6.60 ± 0.16 (5 runs)", "5/5", "6/6")
    assert cells["ResNet-20"][1:6] == ("8.75", "40.00*", "—", "0/1", "3/6")
    assert cells["ResNet-1202"][1:6] == ("7.93", "—", "—", "0/1", "0/6")
    assert cells["ResNet-110"][6] == "11.60 ± 0.16 (5 runs)"  # training errors, 5 points up
    assert cells["ResNet-1202"][7] == "19.42M (paper 19.40M)"


def test_a_console_shows_the_first_columns_and_in_ascii_if_it_must(table6):
    report = collect(*table6)
    assert console_cells(report) == [row[:len(CONSOLE)] for row in table_cells(report)]
    plain = {row[0]: row for row in console_cells(report, ascii=True)}
    assert plain["ResNet-110"][1:4] == ("6.43 (6.61 +- 0.16, 5 runs)", "6.40",
                                        "6.60 +- 0.16 (5 runs)")
    assert plain["ResNet-20"][3] == "-"
    assert all(cell.isascii() for row in plain.values() for cell in row)


def test_report_files_hold_every_row(table6, tmp_path):
    experiment, nets, jobs = table6
    report = collect(*table6)
    files, notes = write_report(report, figure_panels(*table6), experiment.figure.title, tmp_path)
    assert sorted(p.name for p in files) == ["report.json", "report.md", "report.png"]
    assert notes == []
    text = (tmp_path / "report.md").read_text()
    for label in ("ResNet-20", "ResNet-110", "ResNet-1202"):
        assert f"| {label} |" in text
    assert "![" in text and "(report.png)" in text
    saved = json.loads((tmp_path / "report.json").read_text())
    assert [row["spec"] for row in saved["rows"]] == list(ONLY)
    assert saved["rows"][1]["paper"]["mean_std"] == [6.61, 0.16]
    assert len(saved["rows"][1]["runs"]) == 5


def test_the_figure_has_the_experiments_panels_for_the_nets_planned(table6):
    experiment, nets, jobs = table6
    panels = figure_panels(*table6)
    assert [p.title for p in panels] == [p.title for p in experiment.figure.panels]
    assert [c.label for c in panels[0].curves] == ["ResNet-20"]
    resnet110 = [c for c in panels[1].curves if c.label == "ResNet-110"]
    assert len(resnet110) == 5 and [c.first for c in resnet110] == [True] + [False] * 4
    only_20 = figure_panels(experiment, select_nets(experiment, ["resnet20"]), jobs[:1])
    assert len(only_20) == 1  # a panel with none of the nets planned is left out


def test_without_matplotlib_the_report_says_so_and_writes_the_rest(table6, tmp_path,
                                                                   monkeypatch):
    for name in ["matplotlib", *[m for m in sys.modules if m.startswith("matplotlib.")]]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import matplotlib" fails
    experiment = table6[0]
    files, notes = write_report(collect(*table6), figure_panels(*table6),
                                experiment.figure.title, tmp_path)
    assert sorted(p.name for p in files) == ["report.json", "report.md"]
    assert notes == ["matplotlib is not installed (pip install 'resdsl[plot]'): report.png "
                     "is not drawn"]
    assert "report.png" not in (tmp_path / "report.md").read_text()


def test_a_row_with_no_paper_number_says_why(tmp_path):
    jobs = planned(tmp_path, "fig6", only=("plain20",))
    experiment = load_experiment("fig6")
    report = collect(experiment, select_nets(experiment, ["plain20"]), jobs)
    row = table_cells(report)[0]
    assert row[1] == "—" and "no number for the plain nets" in row[8]
    assert "| plain-20 | — |" in markdown(report, drawn=False)


def laptop(tmp_path, finals: dict[str, list[float]], unfinished: tuple[str, ...] = ()):
    """fig6-cpu's runs, finished with these final test errors per net (3 seeds each)."""
    experiment = load_experiment("fig6-cpu")
    chosen = ReproduceOptions("fig6-cpu", out=tmp_path, train={"iterations": 6})
    plan = plan_runs(experiment, experiment.nets, chosen)
    for job in plan.jobs:
        final = finals[job.spec][job.seed]
        saved = [3] if job.spec in unfinished else [3, 6]
        fake_run(job, checkpoints=saved, errors={3: 0.9, 6: final}, data="Fashion-MNIST")
    return collect(experiment, experiment.nets, plan.jobs, plan.data, tuple(plan.departures))


def test_the_papers_orderings_are_checked_and_said_plainly(tmp_path):
    report = laptop(tmp_path, {"plain20": [0.10, 0.11, 0.12], "plain56": [0.30, 0.32, 0.31],
                               "resnet20": [0.10, 0.11, 0.12], "resnet56": [0.14, 0.15, 0.13]})
    plain, resnets = report.claims
    assert plain.shown is True and plain.text.startswith("plain-56's training error above "
                                                         "plain-20's (Figure 6, left)")
    assert plain.detail == "36.00 ± 1.00% (3 runs) against 16.00 ± 1.00% (3 runs)"
    assert resnets.shown is False  # ResNet-56 above ResNet-20 here: not what the paper shows
    assert claim_lines(report)[1].startswith("NOT shown: ResNet-56's training error at or "
                                             "below ResNet-20's")


def test_an_ordering_of_unfinished_runs_is_not_decided(tmp_path):
    same = [0.1, 0.1, 0.1]
    report = laptop(tmp_path, dict.fromkeys(("plain20", "plain56", "resnet20", "resnet56"), same),
                    unfinished=("plain56",))
    assert [claim.shown for claim in report.claims] == [None, True]


def test_the_report_names_its_data_and_every_departure_from_the_paper(tmp_path):
    report = laptop(tmp_path, dict.fromkeys(("plain20", "plain56", "resnet20", "resnet56"),
                                            [0.1, 0.1, 0.1]))
    assert report.data == "Fashion-MNIST"
    assert report.title == "Figure 6 on a laptop: plain and residual nets on Fashion-MNIST"
    assert "Fashion-MNIST" in report.table
    data, inputs, recipe = report.departures
    assert data.startswith("data: Fashion-MNIST, not CIFAR-10")
    assert inputs == ("input: plain20, plain56, resnet20, resnet56 built for 1x28x28 images, "
                      "not their specs' 3x32x32")
    assert recipe.startswith("recipe: laptop_fig6 instead of the paper's cifar10_paper: ")
    assert "iterations 64000 → 6" in recipe
    text = markdown(report, drawn=False)
    assert "## Departures from the paper" in text and "## The paper's orderings" in text
    assert "| iterations | training error | params |" in text


def test_the_papers_own_recipe_and_data_depart_in_nothing_but_what_was_set(tmp_path):
    experiment = load_experiment("fig6")
    plan = plan_runs(experiment, select_nets(experiment, ["resnet20"]),
                     ReproduceOptions("fig6", out=tmp_path))
    assert plan.departures == [] and plan.data == "cifar10"
    shorter = plan_runs(experiment, select_nets(experiment, ["resnet20"]),
                        ReproduceOptions("fig6", out=tmp_path, train={"iterations": 500}))
    assert shorter.departures == ["recipe: cifar10_paper instead of the paper's cifar10_paper: "
                                  "iterations 64000 → 500"]


def test_a_paper_experiment_on_other_images_says_what_to_type(tmp_path):
    experiment = load_experiment("fig6")
    options = ReproduceOptions("fig6", out=tmp_path, train={"data": "mnist"})
    with pytest.raises(ReproduceError, match="plain20 takes 3x32x32 images, as in the paper, "
                       "but MNIST's are 1x28x28: pass --input 1x28x28"):
        plan_runs(experiment, experiment.nets, options)
    built = plan_runs(experiment, select_nets(experiment, ["resnet20"]),
                      ReproduceOptions("fig6", out=tmp_path, train={"data": "mnist",
                                                                    "input": "1x28x28"}))
    assert built.jobs[0].input == (1, 28, 28)


def test_the_laptop_experiment_runs_on_cifar10_unchanged(tmp_path):
    """Where a user has CIFAR-10: the same nets at their own 3x32x32, nothing to adapt."""
    experiment = load_experiment("fig6-cpu")
    plan = plan_runs(experiment, experiment.nets,
                     ReproduceOptions("fig6-cpu", out=tmp_path, train={"data": "cifar10"}))
    assert plan.data == "cifar10" and {job.input for job in plan.jobs} == {None}
    assert not any(line.startswith(("data:", "input:")) for line in plan.departures)
    assert plan.departures[0].startswith("recipe: laptop_fig6 instead of the paper's")


@pytest.mark.parametrize("panels", [1, 2, 3])
def test_the_figures_heading_fits_its_panels(panels):
    """A one-panel figure (`--only resnet20,resnet56`) cut its key line at both edges;
    the heading is wrapped to the figure's width, and says everything it said."""
    from resdsl.reproduce.figure import HEADING_CHARS, KEY, heading

    title = "Figure 6 on a laptop: training on Fashion-MNIST"
    lines = heading(title, panels).split("\n")
    assert all(len(line) <= HEADING_CHARS * panels for line in lines)
    assert " ".join(lines) == f"{title} {KEY}"
    assert len(lines) == (2 if panels > 1 else 3)
