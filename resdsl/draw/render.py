"""A `Drawing` as an SVG or PNG file, through matplotlib's object-oriented API.

matplotlib is optional (`pip install 'resdsl[plot]'`) and imported only here, only when
a file is written. The canvases are used directly (Agg for PNG, the SVG backend for
SVG): no pyplot, no display. One axes spans the figure with one data unit per inch and
y pointing down, so the model's coordinates are used as they are.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..atomic import atomic_write
from ..diagnostics import ResdslFileError
from .model import Arc, Box, Drawing, DrawError, Label, Line, Node

FORMATS = {".svg": "svg", ".png": "png"}
DPI = 150  # PNG pixels per inch: 8-point text is 17 pixels tall, crisp at 100%
INK, FILL, SHADE = "0.1", "white", "0.93"
LINE_W = 0.9  # points
DOTTED = (0, (1.2, 1.6))  # the paper's dotted shortcut: short dashes, short gaps
CORNER = 0.08  # inches: the rounding of an arc's corners


def figure_format(path: str | Path) -> str:
    """"svg" or "png", from the file's suffix; anything else is refused."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DrawError(f"cannot draw a '{suffix or 'suffix-less'}' file: the figure's name "
                        "must end in .svg or .png", file=str(path))
    return FORMATS[suffix]


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise DrawError("matplotlib is not installed (pip install 'resdsl[plot]')") from None
    return matplotlib, Figure


def write_figure(drawing: Drawing, path: str | Path) -> Path:
    """Render `drawing` into `path` (.svg or .png), atomically; return the path."""
    path = Path(path)
    kind = figure_format(path)
    matplotlib, Figure = _matplotlib()
    figure = Figure(figsize=(drawing.width, drawing.height), dpi=DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, drawing.width)
    axes.set_ylim(drawing.height, 0)
    axes.set_axis_off()
    for panel in drawing.panels:
        _draw_lines(axes, panel.lines)
        _draw_arcs(axes, panel.arcs)
        _draw_boxes(axes, panel.boxes)
        _draw_nodes(axes, panel.nodes)
        _draw_labels(axes, panel.labels)
    buffer = io.BytesIO()
    # Text stays text in the SVG (searchable, editable); fixed ids and no date, so the
    # same drawing writes the same bytes.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "resdsl"}):
        if kind == "svg":
            from matplotlib.backends.backend_svg import FigureCanvasSVG
            FigureCanvasSVG(figure).print_svg(buffer, metadata={"Date": None})
        else:
            _print_png(figure, buffer)
    return _write(path, buffer.getvalue())


def _print_png(figure, buffer: io.BytesIO) -> None:
    """An 8-bit grey PNG: the drawing has no colour, and grey takes a third of the bytes
    of RGBA (docs/figure3.png: 140 KB, not 360). Pillow comes with matplotlib."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw",
                             "RGBA", 0, 1)
    image.convert("L").save(buffer, "png", optimize=True, dpi=(DPI, DPI))


def _write(path: Path, data: bytes) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda file: file.write(data))
    except OSError as error:
        raise ResdslFileError(f"cannot write: {error.strerror or error}", file=str(path)) from None
    return path


def _arrow(axes, start, end, **style) -> None:
    from matplotlib.patches import FancyArrowPatch

    axes.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=7,
                                   shrinkA=0, shrinkB=0, color=INK, linewidth=LINE_W,
                                   zorder=3, **style))


def _polyline(axes, points, linestyle="-") -> None:
    xs, ys = zip(*points)
    axes.plot(xs, ys, color=INK, linewidth=LINE_W, linestyle=linestyle, zorder=2,
              solid_capstyle="butt")


def _draw_lines(axes, lines: list[Line]) -> None:
    for line in lines:
        if len(line.points) > 2 or not line.arrow:
            _polyline(axes, line.points[:-1] if line.arrow else line.points)
        if line.arrow:
            _arrow(axes, line.points[-2], line.points[-1])


def _arc_path(arc: Arc):
    """The bracket: out along the start's row, down the `out` column, back in along the
    end's row, its corners rounded (quadratic Béziers)."""
    from matplotlib.path import Path as MplPath

    (x0, y0), (x1, y1), out = arc.start, arc.end, arc.out
    side = 1 if out > x0 else -1
    r = min(CORNER, abs(y1 - y0) / 2, abs(out - x0) / 2)
    vertices = [(x0, y0), (out - side * r, y0), (out, y0), (out, y0 + r), (out, y1 - r),
                (out, y1), (out - side * r, y1), (x1 + side * 0.06, y1)]
    codes = [MplPath.MOVETO, MplPath.LINETO, MplPath.CURVE3, MplPath.CURVE3, MplPath.LINETO,
             MplPath.CURVE3, MplPath.CURVE3, MplPath.LINETO]
    return MplPath(vertices, codes)


def _draw_arcs(axes, arcs: list[Arc]) -> None:
    from matplotlib.patches import PathPatch

    for arc in arcs:
        style = DOTTED if arc.style == "dotted" else "-"
        axes.add_patch(PathPatch(_arc_path(arc), fill=False, edgecolor=INK, linewidth=LINE_W,
                                 linestyle=style, zorder=2))
        side = 1 if arc.out > arc.end[0] else -1  # the head, solid, on the last stretch
        _arrow(axes, (arc.end[0] + side * 0.07, arc.end[1]), arc.end)


def _draw_boxes(axes, boxes: list[Box]) -> None:
    from matplotlib.patches import FancyBboxPatch

    for box in boxes:
        if box.role != "input":
            face = SHADE if box.role in ("gate", "branch") else FILL
            axes.add_patch(FancyBboxPatch(
                (box.left, box.top), box.width, box.height, boxstyle="round,pad=0,rounding_size=0.03",
                facecolor=face, edgecolor=INK, linewidth=LINE_W, zorder=4,
                linestyle=DOTTED if box.role == "shortcut" else "-"))
        axes.text(box.x, box.y, box.text, fontsize=box.size, ha="center", va="center",
                  linespacing=1.25, color=INK, zorder=5)


def _draw_nodes(axes, nodes: list[Node]) -> None:
    from matplotlib.patches import Circle

    for node in nodes:
        axes.add_patch(Circle((node.x, node.y), node.radius, facecolor=FILL, edgecolor=INK,
                              linewidth=LINE_W, zorder=4))
        r = node.radius * (0.62 if node.op == "add" else 0.45)
        strokes = ([((-r, 0), (r, 0)), ((0, -r), (0, r))] if node.op == "add"
                   else [((-r, -r), (r, r)), ((-r, r), (r, -r))])
        for (ax, ay), (bx, by) in strokes:  # the + or x drawn as lines, not a glyph
            axes.plot((node.x + ax, node.x + bx), (node.y + ay, node.y + by), color=INK,
                      linewidth=LINE_W, zorder=5, solid_capstyle="butt")


def _draw_labels(axes, labels: list[Label]) -> None:
    for label in labels:
        # A mark sits on a line (the T of a highway arc): give it a ground to stand on.
        ground = ({"boxstyle": "circle,pad=0.15", "facecolor": FILL, "edgecolor": INK,
                   "linewidth": LINE_W * 0.8} if label.role == "mark" else None)
        axes.text(label.x, label.y, label.text, fontsize=label.size, ha=label.align,
                  va="center", fontweight="bold" if label.bold else "normal", color=INK,
                  bbox=ground, zorder=6)
