"""How `resdsl train` shows a run: a rich progress bar on a terminal, plain lines otherwise.

These are the printing reporters of the training library's `Reporter` protocol
(`resdsl.train.progress`): the library never prints, the command line hands one of these
to `train`. `make_reporter` picks one.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

from ..train.runfolder import HELD_OUT

if TYPE_CHECKING:
    from ..train.progress import Reporter
    from ..train.runfolder import RunResult


def make_reporter(stream: IO[str] | None = None) -> Reporter:
    """A progress bar when `stream` (default stdout) is a terminal, plain lines otherwise."""
    stream = stream or sys.stdout
    return RichReporter(stream) if stream.isatty() else PlainReporter(stream)


def describe_start(summary: dict[str, Any]) -> str:
    s = summary
    shape = "x".join(map(str, s["input"]))
    data = s["data_title"] if s["data"] in s["data_title"] else f"{s['data_title']} ({s['data']})"
    return (f"training {s['network']} ({shape} inputs) for {s['iterations']} iterations (batch "
            f"{s['batch_size']}) on {data}: {s['train_images']} training images, reporting "
            f"the error on {s['eval_images']} {s['eval_set']} images; "
            f"{s['device']}, {s['precision']}{', channels-last' if s['channels_last'] else ''}; "
            f"run folder {s['run_dir']}"
            + (f"; resuming at iteration {s['start_iteration']}" if s["start_iteration"] else "")
            + describe_recipe(s.get("recipe")))


def describe_recipe(recipe: dict[str, Any] | None) -> str:
    """The resolved recipe, every field, so a log says exactly how the run trained."""
    if not recipe:
        return ""
    fields = ", ".join(f"{k} {','.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                       for k, v in recipe.items() if k != "name")
    return f"\nrecipe {recipe['name']}: {fields}"


def describe_metrics(m: dict[str, Any]) -> str:
    parts = []
    if "train_loss" in m:
        parts += [f"loss {m['train_loss']:.4f}", f"train err {100 * m['train_error']:5.2f}%",
                  f"lr {m['lr']:.4g}", f"{m['images_per_s']:,.0f} img/s"]
    for key in HELD_OUT:
        if key in m:
            parts.append(f"{key.partition('_')[0]} err {100 * m[key]:.2f}%")
    return "  ".join(parts)


def describe_result(result: RunResult) -> str:
    if result.interrupted:
        return (f"interrupted at iteration {result.iteration}; continue with "
                f"--resume {result.run_dir}")
    on = f"{result.data} " if result.data else ""
    return (f"done: final {on}{result.eval_set} error {100 * result.final_error:.2f}% after "
            f"{result.iteration} iterations; run folder {result.run_dir}")


class PlainReporter:
    """One line per log, for output that is not a terminal (CI, files, pipes)."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream
        self.total = 0
        self.last: tuple[float, int] | None = None  # (time, iteration) of the previous log

    def _print(self, text: str) -> None:
        print(text, file=self.stream or sys.stdout, flush=True)

    def start(self, summary: dict[str, Any]) -> None:
        self.total = summary["iterations"]
        self.last = (time.perf_counter(), summary["start_iteration"])
        self._print(describe_start(summary))

    def log(self, metrics: dict[str, Any]) -> None:
        iteration, now = metrics["iteration"], time.perf_counter()
        eta = ""
        if self.last and iteration > self.last[1]:
            seconds = (now - self.last[0]) / (iteration - self.last[1]) * (self.total - iteration)
            hours, rest = divmod(int(seconds), 3600)
            eta = f"  eta {hours}:{rest // 60:02d}:{rest % 60:02d}"
        self.last = (now, iteration)
        width = len(str(self.total))
        self._print(f"[{iteration:>{width}}/{self.total}]  {describe_metrics(metrics)}{eta}")

    def message(self, text: str) -> None:
        self._print(f"note: {text}")

    def finish(self, result: RunResult) -> None:
        self._print(describe_result(result))


class RichReporter:
    """A live progress bar: iteration, loss, train error, lr, images/s, ETA."""

    def __init__(self, stream: IO[str] | None = None):
        from rich.console import Console

        self.console = Console(file=stream) if stream else Console()
        self.progress: Any = None
        self.task: Any = None

    def start(self, summary: dict[str, Any]) -> None:
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeRemainingColumn)
        from rich.table import Column

        self.console.print(describe_start(summary))
        # On a narrow terminal the statistics are cut short; the count and ETA stay whole.
        digits = len(str(summary["iterations"]))
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(bar_width=24),
            MofNCompleteColumn(table_column=Column(min_width=2 * digits + 1)),
            TimeRemainingColumn(table_column=Column(min_width=7)),
            TextColumn("{task.fields[stats]}",
                       table_column=Column(no_wrap=True, overflow="ellipsis")),
            console=self.console)
        self.progress.start()
        self.task = self.progress.add_task(summary["network"], total=summary["iterations"],
                                           completed=summary["start_iteration"], stats="")

    def log(self, metrics: dict[str, Any]) -> None:
        training = {k: v for k, v in metrics.items() if k not in HELD_OUT}
        if "train_loss" in training:
            self.progress.update(self.task, completed=metrics["iteration"],
                                 stats=describe_metrics(training))
        held_out = {k: v for k, v in metrics.items() if k in HELD_OUT}
        if held_out:  # a line of its own, kept above the bar: the curve to watch
            self.console.print(f"iteration {metrics['iteration']}: {describe_metrics(held_out)}")

    def message(self, text: str) -> None:
        from rich.text import Text

        # Text, not markup: paths and messages may hold brackets.
        self.console.print(Text.assemble(("note: ", "yellow"), text))

    def finish(self, result: RunResult) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.console.print(describe_result(result))
