"""Networks side by side, one column each, as the paper's Figure 3 draws VGG-19, the
34-layer plain net and ResNet-34: a box per layer in the paper's words, the output size
in the left margin where the map shrinks, and each shortcut as an arc beside its block,
solid for the identity and dotted where it projects or pads.

A column that would hold more than `COLLAPSE_OVER` boxes draws each run of alike blocks
once, with its count beside it (`x 36`), as Table 1 writes `[...] x 36`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import groupby

from .. import ir
from ..analyzer import Report, analyze, block_lines, flat_layers, shortcut_kind
from ..tables import human
from .model import Arc, Box, Drawing, Label, Line, Panel, text_height, text_width
from .words import (arc_style, gate_words, is_boxed, kind_words, layer_words, shortcut_lines,
                    size_words)

# ResNet-50 (52 boxes) and ResNet-56 (57) stay whole; ResNet-101 (103) collapses.
COLLAPSE_OVER = 60

FONT, SMALL, TITLE, STATS, COUNT = 8.0, 7.0, 10.0, 7.5, 9.0  # points
BOX_H, GAP = 0.26, 0.18  # a box, and the arrow between two boxes (inches)
JOIN = GAP / 5  # how far from the gap's middle an arc ends, and the next one starts
MIN_BOX_W = 1.25
ARC_REACH = 0.2  # from the boxes' right edge to an identity arc
SIDE_GAP = 0.3  # from the boxes' right edge to a shortcut's side box
COLUMN_GAP = 0.35
TOP = 0.25  # the title's centre
MARGIN = 0.2


@dataclass
class Step:
    """What a column draws next: a layer of the stem or head, or a block standing for
    `count` alike blocks (`kinds`: their shortcuts, analyzer.shortcut_kind)."""

    layer: ir.Layer | None = None
    block: ir.Block | None = None
    count: int = 1
    kinds: list[str] = field(default_factory=list)


def path_items(items: list) -> list:
    """A block's main path as Figure 3 draws it: boxed layers, gates, the merge."""
    out = []
    for item in items:
        if isinstance(item, ir.Group):
            out.extend(path_items(item.items))
        elif isinstance(item, (ir.Gate, ir.Merge, ir.Branches, ir.Select, ir.Chain)) or (
                isinstance(item, ir.Layer) and is_boxed(item)):
            out.append(item)
    return out


def _stage_steps(stage: ir.Stage, collapse: bool) -> list[Step]:
    def key(index_item):
        index, item = index_item
        # Blocks alike in Table 1's bracket run together; anything else stands alone.
        return block_lines(item) if collapse and isinstance(item, ir.Block) else index

    steps = []
    for _, run in groupby(enumerate(stage.items), key):
        items = [item for _, item in run]
        if isinstance(items[0], ir.Block):
            steps.append(Step(block=items[0], count=len(items),
                              kinds=[shortcut_kind(b) or "none" for b in items]))
        else:
            steps.extend(Step(layer=layer) for layer in flat_layers(items) if is_boxed(layer))
    return steps


def column_steps(net: ir.Network, collapse: bool | None = None) -> list[Step]:
    """The column's steps; `collapse` None decides by the box count."""
    steps = [step for stage in net.stages for step in _stage_steps(stage, bool(collapse))]
    if collapse is None and box_count(steps) > COLLAPSE_OVER:
        return column_steps(net, collapse=True)
    return steps


def box_count(steps: list[Step]) -> int:
    return sum(1 if step.layer else sum(not isinstance(item, ir.Merge)
                                        for item in path_items(step.block.items))
               for step in steps)


def mix_note(kinds: list[str]) -> list[str]:
    """`1 projection`, `7 identity` for a run whose shortcuts differ; nothing otherwise."""
    counts = Counter(kinds)
    return [f"{n} {kind_words(kind)}" for kind, n in counts.items()] if len(counts) > 1 else []


class Column:
    """Lays out one network's column from its left edge `x0`; see `panel`, `right`."""

    def __init__(self, net: ir.Network, steps: list[Step], x0: float):
        self.net, self.steps, self.x0 = net, steps, x0
        self.panel = Panel(net.name)
        self._measure()
        self.cursor = 0.0  # the middle of the gap under the last box
        self.size: tuple[int, ...] | None = None  # the map size last written in the margin
        self.last_bottom: float | None = None

    def _measure(self) -> None:
        """Widths of the margin, the boxes, the side boxes and the counts."""
        main, side, sizes, counts = ["image"], [], [size_words(self.net.input)], []
        for step in self.steps:
            items = [step.layer] if step.layer else path_items(step.block.items)
            for item in items:
                if isinstance(item, ir.Merge):
                    side += shortcut_lines(item.shortcut)
                else:
                    main.append(gate_words(item) if isinstance(item, ir.Gate) else layer_words(item))
                    sizes.append(size_words(item.out_shape))
            if step.count > 1:
                counts += [f"x {step.count}", *mix_note(step.kinds)]
        widest = max(text_width(text, SMALL) for text in sizes)
        self.box_w = max(MIN_BOX_W, max(text_width(t, FONT) for t in main) + 0.24)
        self.cx = self.x0 + widest + 0.12 + self.box_w / 2
        box_right = self.cx + self.box_w / 2
        self.arc_out = box_right + ARC_REACH
        self.side_w = max((text_width(t, SMALL) for t in side), default=0.0) + 0.14
        self.side_out = box_right + SIDE_GAP + self.side_w / 2 if side else self.arc_out
        reach = max(self.arc_out + 0.08, self.side_out + (self.side_w / 2 if side else 0.08))
        self.count_x = reach + 0.12
        count_w = max((text_width(t, COUNT, bold=True) for t in counts), default=0.0)
        self.right = self.count_x + 0.08 + count_w if counts else reach

    def layout(self, report: Report) -> Panel:
        self._title(report)
        self._box(("image",), self.net.input, role="input")
        for step in self.steps:
            if step.layer is not None:
                self._box((layer_words(step.layer),), step.layer.out_shape)
            else:
                self._block(step)
        self.bottom = self.cursor
        return self.panel

    def _title(self, report: Report) -> None:
        lines = (self.net.name, f"{human(report.params)} params",
                 f"{human(report.flops)} multiply-adds")
        widest = max(text_width(lines[0], TITLE, bold=True), text_width(lines[2], STATS))
        self.right = max(self.right, self.cx + widest / 2)
        self.panel.labels += [
            Label(self.cx, TOP, lines[0], "title", TITLE, "center", bold=True),
            Label(self.cx, TOP + 0.2, lines[1], "stats", STATS, "center"),
            Label(self.cx, TOP + 0.34, lines[2], "stats", STATS, "center")]
        self.cursor = TOP + 0.5

    def _box(self, lines: tuple[str, ...], shape: tuple[int, ...], role: str = "layer") -> None:
        top = self.cursor + GAP / 2
        box = Box(self.cx, top + BOX_H / 2, self.box_w, BOX_H, lines, role, FONT)
        if self.last_bottom is not None:
            self.panel.lines.append(Line(((self.cx, self.last_bottom), (self.cx, top))))
        self.panel.boxes.append(box)
        self.last_bottom, self.cursor = box.bottom, box.bottom + GAP / 2
        spatial = tuple(shape[1:]) if len(shape) == 3 else (1, 1)
        if spatial != self.size:
            self.panel.labels.append(Label(box.left - 0.1, box.y, size_words(shape), "size",
                                           SMALL, "right"))
            self.size = spatial

    def _block(self, step: Step) -> None:
        start = self.cursor + JOIN
        for item in path_items(step.block.items):
            if isinstance(item, ir.Merge):
                self._merge(item, step.block, start)
            elif isinstance(item, ir.Gate):
                self._box((gate_words(item),), item.out_shape, role="gate")
            else:
                self._box((layer_words(item),), item.out_shape)
        if step.count > 1:
            self._count(step, start, self.cursor - JOIN)

    def _merge(self, merge: ir.Merge, block: ir.Block, start: float) -> None:
        if not merge.adds:
            return  # the plain net: no shortcut to draw
        end = self.cursor - JOIN
        lines = tuple(shortcut_lines(merge.shortcut)) if merge.shortcut.kind == "path" else ()
        out = self.side_out if lines else self.arc_out
        self.panel.arcs.append(Arc((self.cx, start), (self.cx, end), out, arc_style(block),
                                   shortcut_kind(block), merge.kind))
        if lines:
            height = text_height(len(lines), SMALL) + 0.08
            self.panel.boxes.append(Box(out, (start + end) / 2, self.side_w, height, lines,
                                        "shortcut", SMALL))
        if merge.kind == "highway":  # the gate T mixes at the merge: mark it there
            self.panel.labels.append(Label(out, end - 0.12, "T", "mark", SMALL, "center", True))

    def _count(self, step: Step, top: float, bottom: float) -> None:
        """Table 1's bracket round the run, its count and, if its shortcuts differ, how."""
        x, notes = self.count_x, mix_note(step.kinds)
        self.panel.lines.append(Line(((x - 0.06, top), (x, top), (x, bottom), (x - 0.06, bottom)),
                                     arrow=False))
        y = (top + bottom) / 2 - 0.07 * len(notes)
        self.panel.labels.append(Label(x + 0.08, y, f"x {step.count}", "count", COUNT, bold=True))
        for index, note in enumerate(notes):
            self.panel.labels.append(Label(x + 0.08, y + 0.17 + 0.13 * index, note, "note", SMALL))


def network_figure(networks: list[ir.Network], collapse: bool | None = None) -> Drawing:
    """Figure 3 for these networks, left to right. `collapse`: True draws each run of
    alike blocks once, False every block, None decides per column (`COLLAPSE_OVER`)."""
    panels, x0, bottom = [], MARGIN, 0.0
    for net in networks:
        column = Column(net, column_steps(net, collapse), x0)
        panels.append(column.layout(analyze(net)))
        x0, bottom = column.right + COLUMN_GAP, max(bottom, column.bottom)
    return Drawing(width=x0 - COLUMN_GAP + MARGIN, height=bottom + MARGIN, panels=panels)
