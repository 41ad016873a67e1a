"""The reproduction's figure, drawn as the paper draws Figure 6: a panel per group of nets
side by side (plain nets on the left, ResNets on the right), training error thin and
dashed, test error bold, a colour per network, error in % against iterations.

Each panel's legend sits below its axes, so it never hides a curve. Where every run has
converged (final test errors under 15%) the error axis stops at 20% as the paper's does,
so the curves can be laid on the paper's; otherwise it shows the whole 0-100%. matplotlib
is the `plot` extra: without it `draw_figure` raises PlotError, and the report says so.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..train.plot import HELD_OUT_STYLE, TRAIN_STYLE, new_figure, write_png
from ..train.runfolder import HELD_OUT, read_metrics

PAPER_TOP = 20.0  # % error: the top of the paper's Figure 6 axes
CONVERGED = 15.0  # % final test error under which the paper's axes fit every curve
PANEL_SIZE = (4.3, 3.6)  # inches per panel, before its legend
SCALE = 10_000  # iterations per tick label unit on long runs, as the paper's axes
HEADING_CHARS = 52  # characters of the heading that fit across one panel
KEY = "dashed: training error, bold: test error, dot: the final test error (the table's)"


@dataclass(frozen=True)
class Curve:
    label: str  # the network, as the paper names it: "ResNet-110"
    run_dir: Path
    first: bool  # the first of its net's runs: only that one goes into the legend


@dataclass(frozen=True)
class PanelCurves:
    title: str
    curves: tuple[Curve, ...]


def draw_figure(title: str, panels: Sequence[PanelCurves], out_png: Path) -> Path:
    figure = new_figure(figsize=(PANEL_SIZE[0] * len(panels), PANEL_SIZE[1] + 1.2), dpi=150,
                        layout="constrained")
    data = [[(curve, _series(curve.run_dir)) for curve in panel.curves] for panel in panels]
    top = _error_axis_top(data)
    axes = figure.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, panel, series in zip(axes, panels, data):
        _draw_panel(ax, panel.title, series, top)
    axes[0].set_ylabel("error (%)")
    figure.suptitle(heading(title, len(panels)), fontsize="medium")
    write_png(figure, out_png)
    return out_png


def heading(title: str, panels: int) -> str:
    """The title and the key to the lines, wrapped to the figure's width (one panel is
    too narrow for the key on one line: it was cut at both edges)."""
    width = HEADING_CHARS * panels
    return "\n".join(textwrap.wrap(title, width) + textwrap.wrap(KEY, width))


def _series(run_dir: Path) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(training, held-out) error in % by iteration; empty when the run has no metrics."""
    records = read_metrics(run_dir)
    train = [(r["iteration"], 100 * r["train_error"]) for r in records if "train_error" in r]
    held = [(r["iteration"], 100 * r[k]) for r in records for k in HELD_OUT if k in r]
    return train, held


def _error_axis_top(data: list[list[tuple[Curve, Any]]]) -> float:
    finals = [held[-1][1] for panel in data for _, (_, held) in panel if held]
    return PAPER_TOP if finals and max(finals) < CONVERGED else 100.0


def _draw_panel(axes: Any, title: str, series: list[tuple[Curve, Any]], top: float) -> None:
    colours: dict[str, str] = {}
    for curve, (train, held) in series:
        colour = colours.setdefault(curve.label, f"C{len(colours) % 10}")
        if train:
            axes.plot(*zip(*train), color=colour, **TRAIN_STYLE)
        label = curve.label if curve.first else None
        axes.plot(*(zip(*held) if held else ([], [])), color=colour, label=label,
                  **HELD_OUT_STYLE)
        if held:  # the final error, the table's number; alone when evaluated only at the end
            axes.plot(*held[-1], color=colour, marker="o", markersize=4)
    if not any(train or held for _, (train, held) in series):
        axes.text(0.5, 0.5, "no runs yet", transform=axes.transAxes, ha="center",
                  va="center", color="0.5")
    axes.set_title(title, fontsize="medium")
    _iteration_axis(axes, max((it for _, (train, held) in series for it, _ in train + held),
                              default=0))
    axes.set_ylim(bottom=0, top=top)
    if top == PAPER_TOP:
        axes.set_yticks(range(0, int(PAPER_TOP) + 1, 5))
    axes.grid(alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False,
                fontsize="small")


def _iteration_axis(axes: Any, last: int) -> None:
    """Iterations in units of 10^4 once runs are that long, as the paper's `iter. (1e4)`."""
    if last < 2 * SCALE:
        axes.set_xlabel("iterations")
        return
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    axes.xaxis.set_major_locator(MultipleLocator(SCALE))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / SCALE:g}"))
    axes.set_xlabel("iterations (1e4)")
