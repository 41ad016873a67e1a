"""Pictures of networks as the paper draws them (`resdsl draw`).

    drawing = network_figure([vgg19, plain34, resnet34])   # Figure 3: columns
    drawing = block_figure([resnet34], "basic")             # Figure 5: one block
    write_figure(drawing, "fig3.svg")                       # .svg or .png

    model.py    the drawing as plain data (boxes, arcs, lines, nodes, labels)
    words.py    layers in the figures' words: `3x3 conv, 128, /2`, `pool, /2`
    columns.py  networks side by side (Figure 3), runs of blocks collapsed when long
    block.py    one block top to bottom (Figures 2 and 5)
    render.py   matplotlib, imported only there and only when a file is written

Like the analyser, nothing here imports torch: a drawing needs only the IR.
"""

from __future__ import annotations

from pathlib import Path

from .. import ir
from .block import block_figure
from .columns import COLLAPSE_OVER, network_figure
from .model import Arc, Box, Drawing, DrawError, Label, Line, Node, Panel
from .render import figure_format, write_figure

__all__ = ["COLLAPSE_OVER", "Arc", "Box", "DrawError", "Drawing", "Label", "Line", "Node",
           "Panel", "block_figure", "draw_figure", "figure_format", "network_figure",
           "write_figure"]


def draw_figure(networks: list[ir.Network], out: str | Path, block: str | None = None,
                collapse: bool | None = None) -> Path:
    """Write Figure 3 of `networks` (or, with `block`, Figure 5 of that block) to `out`."""
    figure_format(out)  # refuse a bad suffix before any work
    drawing = block_figure(networks, block) if block else network_figure(networks, collapse)
    return write_figure(drawing, out)
