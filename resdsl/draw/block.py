"""One block top to bottom, as the paper's Figures 2 and 5 draw it: the input's depth
(`64-d`), a box per weight layer (`3x3, 64`), `relu` and `BN` written beside the line,
the shortcut curving round to a circled plus, and the output's depth.

Shortcut paths (a projection, zero padding, ResNet-D's pool and projection) sit as a box
on their arc; a gate's branch (squeeze-and-excitation) and a highway's T run down the
left and join at a circled times or at the highway's mix.
"""

from __future__ import annotations

from .. import ir
from ..analyzer import flat_layers, shortcut_kind
from ..ir import shape_text
from .model import Arc, Box, Drawing, DrawError, Label, Line, Node, Panel, text_height, text_width
from .words import (arc_style, depth_words, is_boxed, kind_words, layer_words, minor_words,
                    shortcut_lines)

FONT, SMALL, TITLE, STATS = 9.0, 8.0, 10.0, 7.5  # points
BOX_H, GAP, MINOR_H = 0.32, 0.24, 0.2  # inches: a box, the arrow between, a `relu` line
NODE_R = 0.11
MIN_BOX_W, MIN_BRANCH_W = 1.5, 1.0
SIDE_GAP = 0.35  # from the boxes to an arc, and from the branch to the boxes
TOP, MARGIN = 0.25, 0.25
HIGHWAY = "T·F(x) + (1−T)·x"


def find_block(networks: list[ir.Network], name: str) -> tuple[ir.Network, ir.Stage, ir.Block]:
    """The first block declared as `name`, in the networks' order."""
    for net in networks:
        for stage in net.stages:
            for block in stage.blocks:
                if block.block == name:
                    return net, stage, block
    known = sorted({b.block for net in networks for stage in net.stages for b in stage.blocks})
    where = ", ".join(net.name for net in networks)
    listed = f"the blocks there: {', '.join(known)}" if known else "it has no blocks"
    origin = networks[0].origin
    raise DrawError(f"no block '{name}' in {where}; {listed}",
                    file=origin.path if origin else None)


def _branches(block: ir.Block) -> list[list]:
    """The side branches a block draws down its left: gates' and highway gates'."""
    return [item.branch if isinstance(item, ir.Gate) else item.gate
            for item in block.items if isinstance(item, ir.Gate)
            or (isinstance(item, ir.Merge) and item.gate)]


class BlockLayout:
    """Places one block; `x` metrics are fixed up front from every label it will draw."""

    def __init__(self, net: ir.Network, stage: ir.Stage, block: ir.Block):
        self.net, self.stage, self.block = net, stage, block
        self.panel = Panel(block.block)
        self.points: dict[str | None, float] = {}  # where each labelled item's output is
        self._measure()

    def _measure(self) -> None:
        main = [layer_words(l, conv=False) for l in flat_layers(self.block.items) if is_boxed(l)]
        main += [part.figure_words() for part in ir.walk_items(self.block.items)
                 if isinstance(part, (ir.Branches, ir.Select, ir.Chain))]  # one box each
        self.box_w = max(MIN_BOX_W, max((text_width(t, FONT) for t in main), default=0) + 0.3)
        branch = [l for items in _branches(self.block) for l in flat_layers(items)]
        boxed = [text_width(layer_words(l, conv=False), FONT) for l in branch if is_boxed(l)]
        minor = [text_width(minor_words(l), SMALL) for l in branch if not is_boxed(l)]
        self.branch_w = max(MIN_BRANCH_W, max(boxed, default=0) + 0.3)
        reach = max(self.branch_w / 2, max(minor, default=0) + 0.1)
        self.xb = MARGIN + reach
        left = self.xb + self.branch_w / 2 + SIDE_GAP if branch else MARGIN + 0.3
        self.cx = left + self.box_w / 2
        merge = self.block.merge
        side = shortcut_lines(merge.shortcut, minor=True, conv=False) if merge and merge.shortcut.kind == "path" else []
        self.side = tuple(side)
        self.side_w = max((text_width(t, SMALL) for t in side), default=0) + 0.16
        self.out = self.cx + self.box_w / 2 + SIDE_GAP + (self.side_w / 2 if side else 0)
        beyond = self.side_w / 2 if side else text_width("identity", SMALL) + 0.12
        self.width = self.out + beyond + MARGIN

    def layout(self) -> Drawing:
        self._title()
        self._items(self.block.items)
        self._output()
        return Drawing(self.width, self.cursor + MARGIN + 0.2, [self.panel])

    def _title(self) -> None:
        block, middle = self.block, self.width / 2
        lines = (block.block, f"{self.net.name}: {self.stage.name}, block {block.name}",
                 f"in {shape_text(block.in_shape)}, out {shape_text(block.out_shape)}, "
                 f"{block.params:,} params")
        widest = max(text_width(lines[0], TITLE, bold=True), *(text_width(t, STATS) for t in lines[1:]))
        self.width = max(self.width, widest + 2 * MARGIN)
        middle = self.width / 2
        self.panel.labels += [Label(middle, TOP, lines[0], "title", TITLE, "center", True),
                              Label(middle, TOP + 0.22, lines[1], "stats", STATS, "center"),
                              Label(middle, TOP + 0.37, lines[2], "stats", STATS, "center")]
        y = TOP + 0.72
        self.panel.labels.append(Label(self.cx - 0.08, y, depth_words(block.in_shape), "shape",
                                       SMALL, "right"))
        self.last_bottom = y - 0.1  # the line starts beside the input's depth
        self.points[None] = y + 0.14
        self.cursor = y + 0.24  # an arc or a branch leaves above what the block writes first

    def _items(self, items: list) -> None:
        for item in items:
            if isinstance(item, ir.Group):
                self._items(item.items)
            elif isinstance(item, ir.Gate):
                self._gate(item)
            elif isinstance(item, ir.Merge):
                self._merge(item)
            elif is_boxed(item):
                self._box((layer_words(item, conv=False),))
            else:
                self._minor(minor_words(item))
            self.points[item.name] = self.cursor

    def _box(self, lines: tuple[str, ...]) -> None:
        top = self.cursor + GAP / 2
        box = Box(self.cx, top + BOX_H / 2, self.box_w, BOX_H, lines, "layer", FONT)
        self.panel.boxes.append(box)
        self._connect(top)
        self.last_bottom, self.cursor = box.bottom, box.bottom + GAP / 2

    def _minor(self, text: str, role: str = "minor") -> None:
        self.panel.labels.append(Label(self.cx + 0.08, self.cursor + MINOR_H / 2, text, role, SMALL))
        self.cursor += MINOR_H

    def _connect(self, top: float) -> None:
        self.panel.lines.append(Line(((self.cx, self.last_bottom), (self.cx, top))))

    def _node(self, op: str, lowest: float) -> Node:
        """A circled operation on the main line, no higher than `lowest` allows."""
        top = max(self.cursor, lowest) + GAP / 2
        node = Node(self.cx, top + NODE_R, NODE_R, op)
        self.panel.nodes.append(node)
        self._connect(top)
        self.last_bottom, self.cursor = node.y + NODE_R, node.y + NODE_R + GAP / 2
        return node

    def _gate(self, gate: ir.Gate) -> None:
        source = self.points.get(gate.source, self.cursor) if gate.source else self.cursor
        node = self._node("mul", self._branch(gate.branch, source))
        self._arrive(node, gate.name)

    def _merge(self, merge: ir.Merge) -> None:
        if not merge.adds:
            return  # the plain net's block: its path alone, nothing to add
        shortcut = merge.shortcut
        start = self.points[shortcut.start] if shortcut.kind == "path" and shortcut.start in self.points \
            else self.points[None]
        side_h = text_height(len(self.side), SMALL) + 0.1 if self.side else 0.0
        # Low enough for the side box between the arc's corners, and for the gate's branch.
        lowest = start + side_h + 0.2 - GAP / 2 - NODE_R
        if merge.gate:
            source = self.points.get(merge.source, self.points[None])
            lowest = max(lowest, self._branch(merge.gate, source))
        node = self._node("add", lowest)
        self._arc(merge, start, node, side_h)
        if merge.gate:
            self._arrive(node, "T")
            self._minor(HIGHWAY, role="formula")

    def _arc(self, merge: ir.Merge, start: float, node: Node, side_h: float) -> None:
        self.panel.arcs.append(Arc((self.cx, start), (self.cx + NODE_R, node.y), self.out,
                                   arc_style(self.block), shortcut_kind(self.block), merge.kind))
        middle = (start + node.y) / 2
        if self.side:
            self.panel.boxes.append(Box(self.out, middle, self.side_w, side_h, self.side,
                                        "shortcut", SMALL))
        else:
            self.panel.labels.append(Label(self.out + 0.1, middle, kind_words("identity"), "arc", SMALL))

    def _branch(self, items: list, source: float) -> float:
        """Draws a branch down the left from the main line at `source`; returns the
        height its last element ends at."""
        cursor, last = source, None
        for layer in flat_layers(items):
            if not is_boxed(layer):
                self.panel.labels.append(Label(self.xb - 0.08, cursor + MINOR_H / 2,
                                               minor_words(layer), "minor", SMALL, "right"))
                cursor += MINOR_H
                continue
            top = cursor + GAP / 2
            box = Box(self.xb, top + BOX_H / 2, self.branch_w, BOX_H,
                      (layer_words(layer, conv=False),), "branch", FONT)
            points = ((self.xb, last),) if last is not None else ((self.cx, source), (self.xb, source))
            self.panel.lines.append(Line((*points, (self.xb, top))))
            self.panel.boxes.append(box)
            last, cursor = box.bottom, box.bottom + GAP / 2
        self.branch_end = last if last is not None else source
        return cursor

    def _arrive(self, node: Node, name: str) -> None:
        """The branch's line down to the node's row and into its left side."""
        self.panel.lines.append(Line(((self.xb, self.branch_end), (self.xb, node.y),
                                      (self.cx - NODE_R, node.y))))
        middle = (self.xb + self.cx - NODE_R) / 2
        self.panel.labels.append(Label(middle, node.y - 0.1, name, "branch", SMALL, "center"))

    def _output(self) -> None:
        end = self.cursor + 0.12
        self._connect(end)
        self.panel.labels.append(Label(self.cx - 0.08, end - 0.04, depth_words(self.block.out_shape),
                                       "shape", SMALL, "right"))
        self.cursor = end


def block_figure(networks: list[ir.Network], name: str) -> Drawing:
    """Figure 5 for the first block declared as `name` in `networks`."""
    return BlockLayout(*find_block(networks, name)).layout()
