"""`resdsl draw`: the drawing model's structure (arcs, dotted shortcuts, counts, the
paper's words), its geometry (nothing overlaps, no arc crosses a box), and the files
it writes (SVG text, PNG size), through the library and the command line."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from functools import lru_cache

import pytest
from typer.testing import CliRunner

from resdsl import parse_network
from resdsl.cli import app
from resdsl.draw import (DrawError, block_figure, draw_figure, figure_format, network_figure,
                         write_figure)
from resdsl.draw.block import BlockLayout
from resdsl.draw.model import Box, Drawing, Label, text_width

from helpers import DILATED, GUARD_SECONDS, SPECS

runner = CliRunner()


@lru_cache(maxsize=None)
def net(name: str):
    return parse_network(SPECS / f"{name}.res")


def column(name: str, collapse: bool | None = None):
    return network_figure([net(name)], collapse).panels[0]


def layer_texts(panel) -> list[str]:
    return [box.text for box in panel.boxes if box.role == "layer"]


# ---- Figure 3: columns ---------------------------------------------------------------
def test_resnet34_has_16_arcs_3_dotted_where_option_b_projects():
    arcs = column("resnet34").arcs
    assert len(arcs) == 16
    dotted = [arc for arc in arcs if arc.style == "dotted"]
    assert [arc.kind for arc in dotted] == ["projection"] * 3
    sides = [box.text for box in column("resnet34").boxes if box.role == "shortcut"]
    assert sides == ["1x1 conv, 128, /2", "1x1 conv, 256, /2", "1x1 conv, 512, /2"]


def test_plain34_has_no_arcs_and_the_same_boxes_as_resnet34():
    assert column("plain34").arcs == []
    assert layer_texts(column("plain34")) == layer_texts(column("resnet34"))


def test_option_a_zero_padding_is_dotted_too():
    dotted = [arc for arc in column("resnet34_A").arcs if arc.style == "dotted"]
    assert [arc.kind for arc in dotted] == ["zero_pad"] * 3
    assert len(column("resnet34_A").arcs) == 16


def test_resnet34_labels_read_as_figure_3():
    texts = layer_texts(column("resnet34"))
    assert texts[:3] == ["7x7 conv, 64, /2", "pool, /2", "3x3 conv, 64"]
    assert texts[2 + 2 * 3] == "3x3 conv, 128, /2"  # conv3_x's first conv, after 3 blocks
    assert texts[-2:] == ["avg pool", "fc 1000"]
    assert len(texts) == 36  # 1 + pool + 32 + avg pool + fc: no BN, no ReLU boxes
    sizes = [label.text for label in column("resnet34").labelled("size")]
    assert sizes == [f"output size: {s}" for s in (224, 112, 56, 28, 14, 7, 1)]


def test_vgg19_boxes():
    stages = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]
    expected = [text for n, width in stages
                for text in [f"3x3 conv, {width}, bias true"] * n + ["pool, /2"]]
    assert layer_texts(column("vgg19")) == expected + ["fc 4096", "fc 4096", "fc 1000"]
    assert column("vgg19").arcs == []


def test_options_that_change_what_a_layer_computes_are_drawn():
    from resdsl import network_from_text

    texts = layer_texts(network_figure([network_from_text(DILATED)]).panels[0])
    assert texts == ["3x3 conv, 16", "3x3 conv, 32, dilation 2", "3x3 conv, 32, groups 4, bias true",
                     "3x3 conv, 32, padding 0", "pool, /2, padding 0, ceil_mode true",
                     "2x2 avg pool, padding 1, count_include_pad false", "avg pool",
                     "fc 10, bias false"]


def test_title_and_counts_come_from_the_analyser():
    labels = [label.text for label in column("resnet34").labels[:3]]
    assert labels == ["resnet34", "21.80M params", "3.66G multiply-adds"]


def test_long_columns_collapse_to_table_1_counts():
    panel = column("resnet152")  # 155 boxes: collapsed by default
    assert [label.text for label in panel.labelled("count")] == ["x 3", "x 8", "x 36", "x 3"]
    assert len(panel.arcs) == 4 and {arc.style for arc in panel.arcs} == {"dotted"}
    assert "1 projection" in [label.text for label in panel.labelled("note")]
    assert "35 identity" in [label.text for label in panel.labelled("note")]
    assert len(column("resnet152", collapse=False).arcs) == 50
    deep = column("resnet1202")
    assert [label.text for label in deep.labelled("count")] == ["x 200"] * 3
    assert len(layer_texts(deep)) == 1 + 2 * 3 + 2


def test_collapse_and_expand_can_be_forced():
    assert len(column("resnet34").arcs) == 16  # 36 boxes: drawn whole by default
    collapsed = column("resnet34", collapse=True)
    assert [label.text for label in collapsed.labelled("count")] == ["x 3", "x 4", "x 6", "x 3"]


def test_gates_and_shortcut_paths_are_drawn_in_columns():
    se = column("timm/seresnet50")
    assert [box.text for box in se.boxes if box.role == "gate"][0] == "se gate, [16, 256]"
    d = column("timm/resnet50d")
    assert ("2x2 avg pool, /2, ceil_mode true, count_include_pad false\n1x1 conv, 512"
            in [box.text for box in d.boxes if box.role == "shortcut"])
    highway = column("highway20")
    assert {arc.merge for arc in highway.arcs} == {"highway"}
    assert [label.text for label in highway.labelled("mark")] == ["T"] * 9


# ---- Figures 2 and 5: one block --------------------------------------------------------
def test_basic_block_draws_the_circled_plus_and_the_identity_arc():
    panel = block_figure([net("resnet34")], "basic").panels[0]
    assert [box.text for box in panel.boxes] == ["3x3, 64", "3x3, 64"]
    assert [node.op for node in panel.nodes] == ["add"]
    (arc,), (node,) = panel.arcs, panel.nodes
    assert (arc.style, arc.kind) == ("solid", "identity")
    assert arc.end == (node.x + node.radius, node.y)  # into the side of the plus
    texts = [label.text for label in panel.labels]
    assert texts.count("64-d") == 2 and texts.count("relu") == 2 and "identity" in texts


def test_bottleneck_first_block_projects_with_its_bn():
    panel = block_figure([net("resnet50")], "bottleneck").panels[0]
    assert [box.text for box in panel.boxes if box.role == "layer"] == ["1x1, 64", "3x3, 64", "1x1, 256"]
    assert [box.text for box in panel.boxes if box.role == "shortcut"] == ["1x1, 256\nBN"]
    assert panel.arcs[0].style == "dotted"
    assert [label.text for label in panel.labelled("shape")] == ["64-d", "256-d"]


def test_se_block_shows_its_gate():
    panel = block_figure([net("timm/seresnet50")], "se_bottleneck").panels[0]
    assert [node.op for node in panel.nodes] == ["mul", "add"]
    assert [box.text for box in panel.boxes if box.role == "branch"] == ["avg pool", "1x1, 16, bias true", "1x1, 256, bias true"]
    assert "se" in [label.text for label in panel.labelled("branch")]
    assert "sigmoid" in [label.text for label in panel.labelled("minor")]


def test_parallel_paths_and_a_selection_are_a_box_each():
    panel = block_figure([net("timm/skresnet34")], "sk_basic").panels[0]
    boxes = [box for box in panel.boxes if box.role == "layer"]
    assert [box.text for box in boxes] == ["concat of 2 paths, input split",
                                           "softmax across 2 groups", "3x3, 64"]
    from resdsl.draw.model import text_width
    assert all(box.width > text_width(box.text, 9.0) for box in boxes)  # the words fit


def test_highway_block_shows_its_t_gate_and_mix():
    panel = block_figure([net("highway20")], "highway").panels[0]
    assert panel.arcs[0].merge == "highway"
    assert [label.text for label in panel.labelled("branch")] == ["T"]
    assert [label.text for label in panel.labelled("formula")] == ["T·F(x) + (1−T)·x"]


def test_preact_projection_reads_the_pre_activated_input():
    network = net("resnet110_preact")
    stage = network.stages[2]  # conv3_x: its first block changes shape
    panel = BlockLayout(network, stage, stage.blocks[0]).layout().panels[0]
    first_relu = next(label for label in panel.labelled("minor") if label.text == "relu")
    assert panel.arcs[0].start[1] > first_relu.y  # leaves after act1, not at the input
    assert [box.text for box in panel.boxes if box.role == "shortcut"] == ["1x1, 32, /2"]


def test_unknown_block_names_the_blocks_there():
    with pytest.raises(DrawError, match=r"no block 'nope' in resnet34, seresnet50; the "
                                        r"blocks there: basic, se_bottleneck"):
        block_figure([net("resnet34"), net("timm/seresnet50")], "nope")


# ---- geometry ---------------------------------------------------------------------------
def rect(item) -> tuple[float, float, float, float]:
    if isinstance(item, Box):
        return item.left, item.top, item.right, item.bottom
    width, half = text_width(item.text, item.size, item.bold), item.size * 0.62 / 72
    left = {"left": item.x, "center": item.x - width / 2, "right": item.x - width}[item.align]
    return left, item.y - half, left + width, item.y + half


def meets(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def problems(drawing: Drawing) -> list[str]:
    """Text over text or boxes, text out of its box, and arcs through boxes or labels."""
    found = []
    for panel in drawing.panels:
        items = [*panel.boxes, *panel.labels]
        for i, a in enumerate(items):
            found += [f"{a.text!r} meets {b.text!r}" for b in items[i + 1:] if meets(rect(a), rect(b))]
        found += [f"{box.text!r} overflows" for box in panel.boxes
                  if text_width(box.text, box.size) > box.width - 0.05]
        for arc in panel.arcs:
            (x0, y0), (x1, y1) = arc.start, arc.end
            legs = [(x0, y0, arc.out, y0), (arc.out, y0, arc.out, y1), (x1, y1, arc.out, y1)]
            own = [item for item in items if abs(getattr(item, "x", 0) - arc.out) < 1e-9
                   and y0 < item.y < y1 and getattr(item, "role", "") in ("shortcut", "mark")]
            found += [f"an arc crosses {item.text!r}" for item in items if item not in own
                      for leg in legs if meets((min(leg[0], leg[2]) + 0.01, leg[1] - 0.005,
                                                max(leg[0], leg[2]) - 0.01, leg[3] + 0.005),
                                               rect(item))]
    return found


FIGURES = {
    "figure 3": lambda: network_figure([net("vgg19"), net("plain34"), net("resnet34")]),
    "option A, D, SE, highway, preact": lambda: network_figure(
        [net("resnet34_A"), net("timm/resnet50d"), net("timm/seresnet50"), net("highway20"),
         net("resnet110_preact")]),
    "collapsed": lambda: network_figure([net("resnet152"), net("resnet1202")]),
    "basic": lambda: block_figure([net("resnet34")], "basic"),
    "bottleneck": lambda: block_figure([net("resnet50")], "bottleneck"),
    "se": lambda: block_figure([net("timm/seresnet50")], "se_bottleneck"),
    "highway": lambda: block_figure([net("highway20")], "highway"),
    "preact": lambda: block_figure([net("resnet110_preact")], "preact_basic"),
}


@pytest.mark.parametrize("name", FIGURES)
def test_nothing_overlaps_and_no_arc_crosses_a_box(name):
    assert problems(FIGURES[name]()) == []


def test_text_widths_are_never_underestimated():
    """The layouts size boxes from `text_width`; matplotlib's own metrics must not exceed it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(dpi=100)
    renderer = FigureCanvasAgg(figure).get_renderer()
    drawings = [FIGURES[name]() for name in ("figure 3", "se", "highway", "collapsed")]
    items = {(item.text, item.size, isinstance(item, Label) and item.bold)
             for drawing in drawings for panel in drawing.panels
             for item in [*panel.boxes, *panel.labels]}
    for content, size, bold in sorted(items):
        text = figure.text(0, 0, content, fontsize=size, linespacing=1.25,
                           fontweight="bold" if bold else "normal")
        measured = text.get_window_extent(renderer).width / 100
        text.remove()
        assert text_width(content, size, bold) >= measured, content


def test_height_grows_with_the_content():
    short, tall = network_figure([net("resnet18")]), network_figure([net("resnet50")])
    assert tall.height > short.height > 5


# ---- files ---------------------------------------------------------------------------------
def test_svg_keeps_the_labels_as_text_and_is_deterministic(tmp_path):
    drawing = network_figure([net("resnet34"), net("resnet152")])
    first, second = write_figure(drawing, tmp_path / "a.svg"), write_figure(drawing, tmp_path / "b.svg")
    assert first.read_bytes() == second.read_bytes()
    root = ElementTree.parse(first).getroot()
    texts = {"".join(node.itertext()).strip() for node in root.iter() if node.tag.endswith("text")}
    assert {"3x3 conv, 128, /2", "1x1 conv, 128, /2", "x 36", "resnet34", "pool, /2"} <= texts


def test_block_svg_has_its_labels_and_draws_the_plus_with_lines(tmp_path):
    svg = write_figure(block_figure([net("resnet34")], "basic"), tmp_path / "basic.svg").read_text()
    assert "3x3, 64" in svg and "64-d" in svg and "identity" in svg
    assert "⊕" not in svg


def test_png_size_follows_the_drawing(tmp_path):
    from PIL import Image

    drawing = block_figure([net("resnet34")], "basic")
    with Image.open(write_figure(drawing, tmp_path / "basic.png")) as image:
        assert image.format == "PNG"
        assert abs(image.size[1] - drawing.height * 150) < 2


def test_only_svg_and_png_are_written(tmp_path):
    assert figure_format("a.SVG") == "svg" and figure_format("b.png") == "png"
    with pytest.raises(DrawError, match=r"must end in \.svg or \.png"):
        draw_figure([net("resnet34")], tmp_path / "figure.pdf")
    assert list(tmp_path.iterdir()) == []


def test_drawing_imports_neither_torch_nor_matplotlib():
    code = ("import sys; from resdsl import parse_network; from resdsl.draw import network_figure, "
            "block_figure\n"
            f"n = parse_network({str(SPECS / 'resnet34.res')!r}); network_figure([n]); "
            "block_figure([n], 'basic')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'matplotlib'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=GUARD_SECONDS)
    assert done.stdout.strip() == "[]", done.stderr


# ---- the command line ------------------------------------------------------------------
def run(*args):
    return runner.invoke(app, ["draw", *map(str, args)])


def test_cli_draws_png_and_svg(tmp_path):
    for name in ("fig.png", "fig.svg"):
        result = run(SPECS / "plain18.res", SPECS / "resnet18.res", "--out", tmp_path / name)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"wrote {tmp_path / name}"
        assert (tmp_path / name).stat().st_size > 1000
    result = run(SPECS / "resnet34.res", "--block", "basic", "--out", tmp_path / "b.svg", "--expand")
    assert result.exit_code == 0 and "3x3, 64" in (tmp_path / "b.svg").read_text()


def test_cli_refuses_other_suffixes(tmp_path):
    result = run(SPECS / "resnet34.res", "--out", tmp_path / "fig.jpg")
    assert result.exit_code == 1
    assert "fig.jpg: error: cannot draw a '.jpg' file" in result.output
    assert "Traceback" not in result.output


def test_cli_unknown_block_lists_the_blocks(tmp_path):
    result = run(SPECS / "resnet50.res", "--block", "basic", "--out", tmp_path / "fig.svg")
    assert result.exit_code == 1
    assert "error: no block 'basic' in resnet50; the blocks there: bottleneck" in result.output


def test_cli_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    for name in ["matplotlib", *[m for m in sys.modules if m.startswith("matplotlib.")]]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import matplotlib" fails
    result = run(SPECS / "resnet34.res", "--out", tmp_path / "fig.png")
    assert result.exit_code == 1
    assert result.output.strip() == ("resdsl: error: matplotlib is not installed "
                                     "(pip install 'resdsl[plot]')")
    assert not (tmp_path / "fig.png").exists()


def test_a_res2net_chain_is_one_box_with_its_step_and_scale():
    panel = block_figure([net("timm/res2net50_14w_8s")], "res2net_bottleneck").panels[0]
    boxes = [box for box in panel.boxes if box.role == "layer"]
    assert [box.text for box in boxes] == ["1x1, 112", "3x3, 14, chain of 8", "1x1, 256"]
    from resdsl.draw.model import text_width
    assert all(box.width > text_width(box.text, 9.0) for box in boxes)


def test_a_gate_in_a_group_is_drawn_as_a_gate():
    text = """
block attn_basic(width, stride = 1) {
    conv1: { conv 3x3, width, stride stride; batchnorm; relu }
    conv2: { conv 3x3, width; batchnorm; attn: gate { avgpool; conv 1x1, 4; relu; conv 1x1, width; sigmoid } }
    residual
    relu
}
network t {
    input 3x16x16; classes 10
    stem { conv 3x3, 16 }
    stage s: 1 x attn_basic(16)
    head { avgpool; fc classes }
}"""
    from resdsl import network_from_text
    panel = block_figure([network_from_text(text)], "attn_basic").panels[0]
    assert [node.op for node in panel.nodes] == ["mul", "add"]
