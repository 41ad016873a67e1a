"""The drawing as plain data: boxes, arcs, lines, nodes and labels, placed in inches.

The layouts (`columns.py`, `block.py`) compute it from the IR; `render.py` turns it into
matplotlib artists. Nothing here imports torch or matplotlib, so tests check a figure's
structure (how many arcs, which are dotted, what the boxes say) without drawing it.

Coordinates are inches from the top-left corner, y growing downwards as the figures
read; font sizes are points. Text widths are estimated here, from DejaVu Sans (the font
matplotlib ships), so that a layout can size its boxes without a renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..diagnostics import ResdslError

Point = tuple[float, float]


class DrawError(ResdslError):
    """A figure that cannot be drawn: an unknown block, a bad file suffix, no matplotlib."""


@dataclass(frozen=True)
class Box:
    """A framed layer: on the main path, on a shortcut (`shortcut`), a gate, the input."""

    x: float  # centre
    y: float  # centre
    width: float
    height: float
    lines: tuple[str, ...]  # the first is the layer; later ones (a shortcut's BN) smaller
    role: Literal["layer", "shortcut", "gate", "branch", "input"]
    size: float  # points

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def top(self) -> float:
        return self.y - self.height / 2

    @property
    def bottom(self) -> float:
        return self.y + self.height / 2

    @property
    def left(self) -> float:
        return self.x - self.width / 2

    @property
    def right(self) -> float:
        return self.x + self.width / 2


@dataclass(frozen=True)
class Arc:
    """A shortcut: leaves the main line at `start`, runs out to x = `out` (right of the
    boxes it passes), along it, and back in to `end`, with an arrowhead there."""

    start: Point
    end: Point
    out: float
    style: Literal["solid", "dotted"]  # the paper's: identity solid, the rest dotted
    kind: str  # analyzer.shortcut_kind: identity, projection, zero_pad, pool+projection
    merge: Literal["residual", "highway"] = "residual"


@dataclass(frozen=True)
class Line:
    """A connection along `points`, with an arrowhead at the last one if `arrow`."""

    points: tuple[Point, ...]
    arrow: bool = True


@dataclass(frozen=True)
class Node:
    """A circled operation drawn with lines (no font glyph): the addition, the gate's
    product."""

    x: float
    y: float
    radius: float
    op: Literal["add", "mul"]


@dataclass(frozen=True)
class Label:
    x: float
    y: float  # the text's vertical centre
    text: str
    role: str  # title, stats, size, count, note, minor, shape, mark, arc, branch
    size: float  # points
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False


@dataclass
class Panel:
    """One network's column (Figure 3) or one block (Figures 2 and 5)."""

    name: str
    boxes: list[Box] = field(default_factory=list)
    arcs: list[Arc] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [*(box.text for box in self.boxes), *(label.text for label in self.labels)]

    def labelled(self, role: str) -> list[Label]:
        return [label for label in self.labels if label.role == role]


@dataclass
class Drawing:
    width: float  # inches
    height: float
    panels: list[Panel]


# ---- text metrics ---------------------------------------------------------------------
# Advance widths of DejaVu Sans in ems, by character class; over-estimating a little
# costs some white space, under-estimating makes text run out of its box.
_NARROW = set(" ,.:;!|'ilj()[]/-")
_WIDE = set("ABCDEFGHKNOQRUVXYw@%")
_WIDEST = set("MWm")
LINE_HEIGHT = 1.25  # of the font size, between lines of one box


BOLD = 1.15  # DejaVu Sans Bold's advance over the regular's


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Inches the longest line of `text` takes at `size` points (an estimate)."""
    def ems(line: str) -> float:
        return sum(0.34 if c in _NARROW else 1.0 if c in _WIDEST else 0.8 if c in _WIDE else 0.64
                   for c in line)
    widest = max((ems(line) for line in text.split("\n")), default=0.0)
    return widest * size / 72 * (BOLD if bold else 1.0)


def text_height(lines: int, size: float) -> float:
    return lines * LINE_HEIGHT * size / 72
