"""Error curves as the paper's Figure 6 draws them: training error thin and dashed,
held-out (test or validation) error bold, one colour per run, error in % vs iterations.

`plot_runs(["runs/plain20-...", "runs/resnet20-..."], "fig6.png")` overlays runs, each
labelled by its network's name (config.json), told apart by folder when names repeat.
The legend sits outside the axes, so it never hides a curve. matplotlib is optional
(`pip install resdsl[plot]`) and imported only here, only when a figure is drawn; the
Agg canvas is used directly, so no display and no pyplot state.
"""

from __future__ import annotations

import io
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from .errors import CheckpointError, PlotError
from .files import reason
from .runfolder import HELD_OUT, METRICS, read_config, read_metrics

TRAIN_STYLE = {"linestyle": "--", "linewidth": 0.8}
HELD_OUT_STYLE = {"linewidth": 2.2}


def plot_runs(run_dirs: Sequence[str | os.PathLike], out_png: str | os.PathLike,
              labels: Sequence[str] | None = None) -> Path:
    """Draw the runs' metrics.jsonl into one PNG; returns its path."""
    figure = new_figure(figsize=(7.6, 4.2), dpi=150, layout="constrained")
    from matplotlib.lines import Line2D

    out, runs = _checked_out(Path(out_png)), [Path(run) for run in run_dirs]
    labels = list(labels) if labels is not None else run_labels(runs)
    axes = figure.add_subplot()
    held_out = set()
    for index, (run, label) in enumerate(zip(runs, labels)):
        held_out |= _draw_run(axes, run, label, f"C{index % 10}")
    what = "/".join(sorted(k.partition("_")[0] for k in held_out)) or "held-out"
    # The data set by name ("Fashion-MNIST"); runs of older versions kept only its source.
    sources = {_data_name(_config(run).get("data", {})) for run in runs}
    on = f" on {sources.pop()}" if len(sources) == 1 and None not in sources else ""
    styles = [Line2D([], [], color="0.3", label="training", **TRAIN_STYLE),
              Line2D([], [], color="0.3", label=what, **HELD_OUT_STYLE)]
    handles = axes.get_legend_handles_labels()[0] + styles
    figure.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False)
    axes.set_title(f"Training (dashed) and {what} (bold) error{on}", fontsize="medium")
    axes.set_xlabel("iterations")
    axes.set_ylabel("error (%)")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    write_png(figure, out)
    return out


def _data_name(data: Any) -> str | None:
    return (data.get("title") or data.get("source")) if isinstance(data, dict) else None


def new_figure(**options: Any) -> Any:
    """A matplotlib Figure (no pyplot), or PlotError when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("matplotlib is not installed (pip install 'resdsl[plot]')") from None
    return Figure(**options)


def run_labels(runs: Sequence[Path]) -> list[str]:
    """Each run's network name, or its folder's name; the folder is added to names that
    repeat, and a number to what still repeats."""
    names = [_network_name(run) for run in runs]
    repeated = Counter(names)
    labels = [f"{name} ({run.name})" if repeated[name] > 1 and name != run.name else name
              for name, run in zip(names, runs)]
    counts, seen = Counter(labels), Counter()
    for index, label in enumerate(labels):
        if counts[label] > 1:
            seen[label] += 1
            labels[index] = f"{label} #{seen[label]}"
    return labels


def _network_name(run: Path) -> str:
    name = _config(run).get("network")
    return name if isinstance(name, str) and name else run.name


def _config(run: Path) -> dict[str, Any]:
    """The run's config.json; empty when there is none to read (the folder names the run)."""
    try:
        config = read_config(run)
    except CheckpointError:
        return {}
    return config if isinstance(config.get("data", {}), dict) else {**config, "data": {}}


def _checked_out(out: Path) -> Path:
    if out.is_dir():
        raise PlotError(f"is a folder: give --out a file name, such as {out / 'curves.png'}",
                        file=str(out))
    return out


def _draw_run(axes: Any, run: Path, label: str, color: str) -> set[str]:
    """Plot one run's curves; the held-out metrics it has."""
    records = read_metrics(run)
    if not records:
        raise PlotError("no metrics to plot: is this a run folder?", file=str(run / METRICS))
    train = [(r["iteration"], 100 * r["train_error"]) for r in records if "train_error" in r]
    held = [(r["iteration"], 100 * r[k]) for r in records for k in HELD_OUT if k in r]
    if train:
        _curve(axes, train, color, TRAIN_STYLE)
    _curve(axes, held, color, HELD_OUT_STYLE, label)
    return {k for r in records for k in HELD_OUT if k in r}


def _curve(axes: Any, points: list, color: str, style: dict, label: str | None = None) -> None:
    # One point is a line of no length, which draws nothing: a run evaluated once would
    # be missing from its own figure. Such a point is drawn as a dot.
    dot = {"marker": "o", "markersize": 2 * style["linewidth"] + 2} if len(points) == 1 else {}
    axes.plot(*(zip(*points) if points else ([], [])), color=color, label=label, **style, **dot)


def write_png(figure: Any, out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(out, lambda file: file.write(buffer.getvalue()))  # never a half-drawn PNG
    except OSError as error:
        raise PlotError(f"cannot write the figure ({reason(error)})", file=str(out)) from None
