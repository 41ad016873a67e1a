"""Rich renderables of analyser reports: the paper's tables, returned, never printed.

The CLI prints them; exact counts live in `Report.to_json()`, the tables round them
(11.69M, 1.81G). Like the analyser, this module never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .limits import human_bytes
from .analyzer import FP32_BYTES, SHORT_CONVENTIONS, NotationPart, Report, StageReport, analyze

COUNT_COLUMNS = ("params", "FLOPs (mult-adds)", "element-wise", "activations (fp32)")


@dataclass(frozen=True)
class Glyphs:
    """The characters tables draw with: Unicode, or ASCII for a console that cannot
    encode box drawing (PYTHONIOENCODING=cp1252, a Windows code page, ascii)."""

    box: box.Box
    heavy_box: box.Box
    brackets: tuple[str, str, str, str, str, str]  # top, middle, bottom: left and right
    passed: str
    failed: str
    plus_minus: str


UNICODE = Glyphs(box.HEAVY_HEAD, box.HEAVY_HEAD, ("⎡", "⎤", "⎢", "⎥", "⎣", "⎦"), "✓", "✗", "±")
ASCII = Glyphs(box.ASCII, box.ASCII2, ("/", "\\", "|", "|", "\\", "/"), "ok", "FAIL", "+-")


def glyphs_for(encoding: str | None) -> Glyphs:
    """UNICODE if `encoding` can write every character UNICODE uses, else ASCII."""
    sample = "".join(UNICODE.brackets) + UNICODE.passed + UNICODE.failed + "±┏━┃┡╇│├┼└┴"
    try:
        sample.encode(encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return ASCII
    return UNICODE


# ---- numbers and shapes ----------------------------------------------------------------
def human(n: int | float) -> str:
    """11689512 -> '11.69M', 1814073344 -> '1.81G'; below a thousand, as is."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:g}"


def shape_text(shape: list[int]) -> str:
    return "x".join(str(d) for d in shape)


def spatial_text(stage: StageReport) -> str:
    """The stage's last feature-map size, as Table 1 prints it (`56x56`; the head: `1x1`)."""
    for layer in reversed(stage.layers):
        if len(layer.output_shape) == 3:
            return shape_text(layer.output_shape[1:])
    return shape_text(stage.output_shape) + "-d"


# ---- Table 1's bracket notation ------------------------------------------------------
def part_lines(part: NotationPart, glyphs: Glyphs = UNICODE) -> list[str]:
    """A group of blocks as the paper draws it: a bracket of convs and `x n` beside it."""
    if part.repeat is None:
        return list(part.lines)
    if len(part.lines) == 1:
        return [f"[{part.lines[0]}] x {part.repeat}"]
    width = max(len(line) for line in part.lines)
    last, middle = len(part.lines) - 1, (len(part.lines) - 1) // 2
    out = []
    for i, line in enumerate(part.lines):
        top_l, top_r, mid_l, mid_r, bottom_l, bottom_r = glyphs.brackets
        left, right = (top_l, top_r) if i == 0 else (bottom_l, bottom_r) if i == last \
            else (mid_l, mid_r)
        suffix = f" x {part.repeat}" if i == middle else ""
        out.append(f"{left}{line.ljust(width)}{right}{suffix}")
    return out


def notation_cell(stage: StageReport, glyphs: Glyphs = UNICODE) -> str:
    return "\n".join(line for part in stage.notation_parts for line in part_lines(part, glyphs))


# ---- one network -----------------------------------------------------------------------
def _counts(row, style: str = "") -> list[Text]:
    cells = (human(row.params), human(row.flops), human(row.elementwise),
             human_bytes(FP32_BYTES * row.activations))
    return [Text(cell, style=style) for cell in cells]


def stage_table(report: Report, layers: bool = False, glyphs: Glyphs = UNICODE) -> Table:
    """Stage by stage: output size, the block in Table 1's notation, and the counts.
    With `layers`, every layer follows its stage's row."""
    table = Table(title=f"{report.network}  (input {shape_text(report.input)}, "
                        f"shortcut {report.shortcut})",
                  caption=SHORT_CONVENTIONS, caption_justify="left", box=glyphs.heavy_box)
    table.add_column("stage")
    table.add_column("output size")
    table.add_column("layers")
    for name in COUNT_COLUMNS:
        table.add_column(name, justify="right")
    for stage in report.stages:
        # A rule under every stage: its notation spans several lines.
        table.add_row(stage.name, shape_text(stage.output_shape), notation_cell(stage, glyphs),
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


def expect_table(report: Report, glyphs: Glyphs = UNICODE) -> Table:
    """Each `expect` of the spec against the count, pass in green, FAIL in red."""
    table = Table(title=f"{report.network}: expectations", box=glyphs.heavy_box)
    for name in ("metric", "expected", "actual", "exact", "tolerance", "result"):
        table.add_column(name, justify="right" if name in ("actual", "exact") else "left")
    for e in report.expects:
        metric = "FLOPs (mult-adds)" if e.metric == "flops" else e.metric
        result = Text("pass", style="green") if e.passed else Text("FAIL", style="bold red")
        table.add_row(metric, e.expected, human(e.actual), f"{e.actual:,}",
                      f"±{100 * e.tolerance:.2g}%", result)
    return table


def summary(report: Report, layers: bool = False, glyphs: Glyphs = UNICODE) -> Group:
    """What `resdsl summary` shows for one network: the stage table, then its expects."""
    parts = [stage_table(report, layers, glyphs)]
    if report.expects:
        parts.append(expect_table(report, glyphs))
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


def comparison_table(reports: list[Report], glyphs: Glyphs = UNICODE) -> Table:
    """The layout of the paper's Table 1: a row per stage, a column per network, then
    FLOPs and parameters."""
    table = Table(title="Architectures (as the paper's Table 1)",
                  caption=SHORT_CONVENTIONS, caption_justify="left", show_lines=True,
                  box=glyphs.heavy_box)
    table.add_column("layer name")
    table.add_column("output size")
    for report in reports:
        table.add_column(report.network)
    for name in stage_names(reports):
        stages = [next((s for s in r.stages if s.name == name), None) for r in reports]
        sizes = dict.fromkeys(spatial_text(s) for s in stages if s is not None)
        table.add_row(name, " / ".join(sizes),
                      *[notation_cell(s, glyphs) if s is not None else "" for s in stages])
    table.add_row("FLOPs (mult-adds)", "", *[human(r.flops) for r in reports])
    table.add_row("element-wise", "", *[human(r.elementwise) for r in reports])
    table.add_row("params", "", *[human(r.params) for r in reports])
    return table


# ---- other commands' tables ---------------------------------------------------------------
def structure_table(net, rows: list[dict], glyphs: Glyphs = UNICODE) -> Group:
    """`resdsl build`: the compiled module, a row per stage (rows: describe_module's)."""
    table = Table(title=f"{net.name}: compiled module", title_justify="left", box=glyphs.heavy_box)
    for column in ("module", "stage", "block", "shortcut", "output", "params"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for row in rows:
        table.add_row(row["module"], row["stage"], row["block"], row["shortcut"],
                      shape_text(row["output_shape"]), f"{row['params']:,}")
    total = Text(f"total: {net.params:,} parameters; input {shape_text(net.input)}, "
                 f"output {shape_text(net.output)}")
    return Group(table, total)


def diff_table(result, glyphs: Glyphs = UNICODE) -> Table:
    """`resdsl diff`: a row per pair of stages, what changed and the counts' deltas."""
    table = Table(title=f"{result.a} -> {result.b}", box=glyphs.heavy_box, show_lines=True,
                  caption="stages paired by role (stem, head), by name, else by output "
                          "size; deltas: the second network's counts minus the first's",
                  caption_justify="left")
    table.add_column("stage")
    table.add_column("what changed")
    for name in COUNT_COLUMNS:
        table.add_column(f"delta {name}", justify="right")
    for stage in result.stages:
        name = stage.a if stage.a == stage.b else f"{stage.a or '-'} / {stage.b or '-'}"
        table.add_row(name, "\n".join(stage.changes) or Text("same", style="dim"),
                      *_signed(stage.deltas))
    table.add_row(Text("total", style="bold"), "",
                  *_signed({k: v[2] for k, v in result.totals.items()}, "bold"))
    return table


def _signed(deltas: dict[str, int], style: str = "") -> list[Text]:
    def one(key: str, value: int) -> str:
        if value == 0:
            return "0"
        text = human_bytes(FP32_BYTES * abs(value)) if key == "activations" else human(abs(value))
        return ("+" if value > 0 else "-") + text
    return [Text(one(k, deltas[k]), style=style) for k in ("params", "flops", "elementwise",
                                                            "activations")]


def listing(pattern: str | None = None) -> list[dict]:
    """`resdsl list`: every built-in network with its source, parameters, multiply-adds
    and input, counted from the spec each time (nothing stored beside it)."""
    from .lower import lower

    rows = []
    for entry, program, decl, name in built_in_networks(pattern):
        report = analyze(lower(program, decl.name))
        rows.append({"name": name, "source": entry.source, "params": report.params,
                     "flops": report.flops, "input": report.input})
    return rows


def model_names(pattern: str | None = None) -> list[str]:
    """`resdsl.list_models`: every built-in network's name as `create_model` takes it
    (`resnet34`; `FILE:NETWORK` where a file's network is not named after the file)."""
    return [name for *_, name in built_in_networks(pattern)]


def built_in_networks(pattern: str | None = None):
    """(entry, program, declaration, name) of every network of the built-in specs. Here,
    not in catalog.py: the loader resolves imports through the catalog."""
    from .catalog import entries
    from .loader import load_program

    for entry in entries(pattern):
        program = load_program(entry.path)
        for decl in program.networks:
            name = entry.name if decl.name == entry.path.stem else f"{entry.name}:{decl.name}"
            yield entry, program, decl, name


def list_table(rows: list[dict], glyphs: Glyphs = UNICODE) -> Table:
    """`resdsl list`: the built-in specs with their counts (computed, not stored)."""
    table = Table(box=glyphs.heavy_box)
    for column in ("name", "source", "params", "FLOPs (mult-adds)", "input"):
        table.add_column(column, justify="right" if column in ("params", "FLOPs (mult-adds)") else "left")
    for row in rows:
        table.add_row(row["name"], row["source"], human(row["params"]), human(row["flops"]),
                      shape_text(row["input"]))
    return table


def features_table(name: str, points: list, glyphs: Glyphs = UNICODE) -> Table:
    """`resdsl summary --features`: the maps `create_model(features_only=True)` returns
    (`features.FeaturePoint`s), by the position `out_indices` takes."""
    table = Table(title=f"{name}: feature maps (create_model(..., features_only=True))",
                  box=glyphs.heavy_box)
    for column in ("index", "module", "stage", "channels", "reduction", "output size"):
        table.add_column(column, justify="right" if column in ("index", "channels", "reduction")
                         else "left")
    for i, point in enumerate(points):
        table.add_row(str(i), point.module, point.stage, str(point.channels),
                      str(point.reduction), shape_text(point.shape[1:]))
    return table


def experiments_table(rows: list[tuple[str, str, int]], glyphs: Glyphs = UNICODE) -> Table:
    """`resdsl reproduce --list`: each experiment, what it reproduces, its runs."""
    table = Table(box=glyphs.heavy_box)
    table.add_column("experiment")
    table.add_column("reproduces", overflow="fold")
    table.add_column("runs", justify="right")
    for name, reproduces, runs in rows:
        table.add_row(name, reproduces, str(runs))
    return table


def cells_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]],
                glyphs: Glyphs = UNICODE) -> Table:
    """A table of cells already written as text (the reproduction's report)."""
    table = Table(title=title, box=glyphs.heavy_box)
    for index, column in enumerate(header):
        table.add_column(column, overflow="fold", no_wrap=index == 0)  # names stay whole
    for row in rows:
        table.add_row(*row)
    return table
