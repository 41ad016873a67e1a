"""Rich renderables of analyser reports: the paper's tables, returned, never printed.

The CLI prints them; exact counts live in `Report.to_json()`, the tables round them
(11.69M, 1.81G). Like the analyser, this module never imports torch.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .analyzer import FP32_BYTES, SHORT_CONVENTIONS, NotationPart, Report, StageReport

COUNT_COLUMNS = ("params", "FLOPs (mult-adds)", "element-wise", "activations (fp32)")


# ---- numbers and shapes ----------------------------------------------------------------
def human(n: int | float) -> str:
    """11689512 -> '11.69M', 1814073344 -> '1.81G'; below a thousand, as is."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:g}"


def human_bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def shape_text(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape)


def spatial_text(stage: StageReport) -> str:
    """The stage's last feature-map size, as Table 1 prints it (`56x56`; the head: `1x1`)."""
    for layer in reversed(stage.layers):
        if len(layer.output_shape) == 3:
            return shape_text(layer.output_shape[1:])
    return shape_text(stage.output_shape) + "-d"


# ---- Table 1's bracket notation ------------------------------------------------------
def part_lines(part: NotationPart) -> list[str]:
    """A group of blocks as the paper draws it: a bracket of convs and `x n` beside it."""
    if part.repeat is None:
        return list(part.lines)
    if len(part.lines) == 1:
        return [f"[{part.lines[0]}] x {part.repeat}"]
    width = max(len(line) for line in part.lines)
    last, middle = len(part.lines) - 1, (len(part.lines) - 1) // 2
    out = []
    for i, line in enumerate(part.lines):
        left, right = ("⎡", "⎤") if i == 0 else ("⎣", "⎦") if i == last else ("⎢", "⎥")
        suffix = f" x {part.repeat}" if i == middle else ""
        out.append(f"{left}{line.ljust(width)}{right}{suffix}")
    return out


def notation_cell(stage: StageReport) -> str:
    return "\n".join(line for part in stage.notation_parts for line in part_lines(part))


# ---- one network -----------------------------------------------------------------------
def _counts(row, style: str = "") -> list[Text]:
    cells = (human(row.params), human(row.flops), human(row.elementwise),
             human_bytes(FP32_BYTES * row.activations))
    return [Text(cell, style=style) for cell in cells]


def stage_table(report: Report, layers: bool = False) -> Table:
    """Stage by stage: output size, the block in Table 1's notation, and the counts.
    With `layers`, every layer follows its stage's row."""
    table = Table(title=f"{report.network}  (input {shape_text(report.input)}, "
                        f"shortcut {report.shortcut})",
                  caption=SHORT_CONVENTIONS, caption_justify="left")
    table.add_column("stage")
    table.add_column("output size")
    table.add_column("layers")
    for name in COUNT_COLUMNS:
        table.add_column(name, justify="right")
    for stage in report.stages:
        # A rule under every stage: its notation spans several lines.
        table.add_row(stage.name, shape_text(stage.output_shape), notation_cell(stage),
                      *_counts(stage), end_section=True)
        if layers:
            _layer_rows(table, stage)
    table.add_row(Text("total", style="bold"), shape_text(report.output), "",
                  *_counts(report, "bold"))
    return table


def _layer_rows(table: Table, stage: StageReport) -> None:
    for i, layer in enumerate(stage.layers):
        table.add_row(Text("  " + layer.name, style="dim"), shape_text(layer.output_shape),
                      Text(layer.detail, style="dim"), *_counts(layer, "dim"),
                      end_section=i == len(stage.layers) - 1)


def expect_table(report: Report) -> Table:
    """Each `expect` of the spec against the count, pass in green, FAIL in red."""
    table = Table(title=f"{report.network}: expectations")
    for name in ("metric", "expected", "actual", "exact", "tolerance", "result"):
        table.add_column(name, justify="right" if name in ("actual", "exact") else "left")
    for e in report.expects:
        metric = "FLOPs (mult-adds)" if e.metric == "flops" else e.metric
        result = Text("pass", style="green") if e.passed else Text("FAIL", style="bold red")
        table.add_row(metric, e.expected, human(e.actual), f"{e.actual:,}",
                      f"±{100 * e.tolerance:.2g}%", result)
    return table


def summary(report: Report, layers: bool = False) -> Group:
    """What `resdsl summary` shows for one network: the stage table, then its expects."""
    parts = [stage_table(report, layers)]
    if report.expects:
        parts.append(expect_table(report))
    return Group(*parts)


# ---- several networks side by side: Table 1 ----------------------------------------------
def stage_names(reports: list[Report]) -> list[str]:
    """The union of stage names, each network's order kept (a new name goes after the
    name that precedes it in its own network)."""
    names: list[str] = []
    for report in reports:
        previous = None
        for stage in report.stages:
            if stage.name not in names:
                at = names.index(previous) + 1 if previous is not None else 0
                names.insert(at, stage.name)
            previous = stage.name
    return names


def comparison_table(reports: list[Report]) -> Table:
    """The layout of the paper's Table 1: a row per stage, a column per network, then
    FLOPs and parameters."""
    table = Table(title="Architectures (as the paper's Table 1)",
                  caption=SHORT_CONVENTIONS, caption_justify="left", show_lines=True)
    table.add_column("layer name")
    table.add_column("output size")
    for report in reports:
        table.add_column(report.network)
    for name in stage_names(reports):
        stages = [next((s for s in r.stages if s.name == name), None) for r in reports]
        sizes = dict.fromkeys(spatial_text(s) for s in stages if s is not None)
        table.add_row(name, " / ".join(sizes),
                      *[notation_cell(s) if s is not None else "" for s in stages])
    table.add_row("FLOPs (mult-adds)", "", *[human(r.flops) for r in reports])
    table.add_row("element-wise", "", *[human(r.elementwise) for r in reports])
    table.add_row("params", "", *[human(r.params) for r in reports])
    return table
