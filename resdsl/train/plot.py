"""Error curves as the paper's Figure 6 draws them: training error thin and dashed,
held-out (test or validation) error bold, one colour per run, error in % vs iterations.

`plot_runs(["runs/plain20-...", "runs/resnet20-..."], "fig6.png")` overlays runs.
matplotlib is optional (`pip install resdsl[plot]`) and imported only here, only when
a figure is drawn; the Agg canvas is used directly, so no display and no pyplot state.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from .errors import PlotError
from .progress import HELD_OUT
from .runfolder import METRICS, read_metrics


def plot_runs(run_dirs: Sequence[str | os.PathLike], out_png: str | os.PathLike,
              labels: Sequence[str] | None = None) -> Path:
    """Draw the runs' metrics.jsonl into one PNG; the legend names each run (its folder)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError:
        raise PlotError("matplotlib is not installed (pip install 'resdsl[plot]')") from None
    figure = Figure(figsize=(6.4, 4.2), dpi=150)
    axes = figure.add_subplot()
    labels = list(labels) if labels is not None else [Path(run).name for run in run_dirs]
    for index, (run, label) in enumerate(zip(run_dirs, labels)):
        _draw_run(axes, Path(run), label, f"C{index % 10}")
    # Two legends: which colour is which run, and which line style is which error.
    styles = [Line2D([], [], color="0.3", linestyle="--", linewidth=0.8, label="training"),
              Line2D([], [], color="0.3", linewidth=2.2, label="held-out (test/val)")]
    axes.add_artist(axes.legend(handles=styles, loc="upper center", fontsize="small"))
    axes.legend(loc="upper right", fontsize="small")
    axes.set_xlabel("iterations")
    axes.set_ylabel("error (%)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda file: file.write(buffer.getvalue()))  # never a half-drawn PNG
    return out


def _draw_run(axes: Any, run: Path, label: str, color: str) -> None:
    records = read_metrics(run)
    if not records:
        raise PlotError("no metrics to plot: is this a run folder?", file=str(run / METRICS))
    train = [(r["iteration"], 100 * r["train_error"]) for r in records if "train_error" in r]
    held = [(r["iteration"], 100 * r[k]) for r in records for k in HELD_OUT if k in r]
    if train:
        axes.plot(*zip(*train), color=color, linestyle="--", linewidth=0.8)
    if held:
        axes.plot(*zip(*held), color=color, linewidth=2.2, label=label)
    else:
        axes.plot([], [], color=color, linewidth=2.2, label=label)
