"""Valid specs, generated: blocks with every graph feature (shortcut starts, gates,
highway merges, groups, repeats in place), shortcut declarations, imports, families and
recipes. Each must lower, format back to the same IR, compile, and be counted by the
analyser exactly as torch counts it (parameters, and FlopCounterMode / 2)."""

from __future__ import annotations

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils.flop_counter import FlopCounterMode

from resdsl.analyzer import analyze
from resdsl.compiler import compile_network
from resdsl.fmt import format_module
from resdsl.loader import load_program
from resdsl.lower import lower
from resdsl.parser import parse

SHORTCUTS = ["A", "B", "C", "D", "preact", "mine"]
MINE = """shortcut mine(channels, stride) {
    same { proj: { conv 1x1, channels } }
    changed { proj: { avgpool stride, stride stride, ceil_mode true; conv 1x1, channels; groupnorm 2 } }
}
"""


@st.composite
def block(draw, name: str, highway_allowed: bool) -> str:
    """A block whose first conv takes the stride and sets the width; then any of the
    graph's features, each where its shapes hold."""
    lines = []
    preact = draw(st.booleans())
    if preact:
        lines += ["    norm0: batchnorm", "    pre: relu"]
    lines.append("    conv1: conv 3x3, width, stride stride")
    lines.append(draw(st.sampled_from(["    bn1: batchnorm", "    bn1: groupnorm 2"])))
    lines.append("    act: relu")
    for index in range(draw(st.integers(0, 2))):
        kernel = draw(st.sampled_from(["1x1", "3x3"]))
        dilation = ", dilation 2" if kernel == "3x3" and draw(st.booleans()) else ""
        lines.append(f"    c{index}: conv {kernel}, width{dilation}")
    if draw(st.booleans()):
        lines.append("    2 x { relu; batchnorm }")
    if draw(st.booleans()):
        source = draw(st.sampled_from(["", " from act"]))
        lines.append(f"    se: gate{source} {{ avgpool; fc1: conv 1x1, width, bias true; sigmoid }}")
    if draw(st.booleans()):
        lines.append("    grp: { conv 1x1, width; batchnorm }")
    merge = draw(st.sampled_from(["residual", "residual", "highway"] if highway_allowed
                                 else ["residual"]))
    start = " from pre" if preact and draw(st.booleans()) else ""
    if merge == "highway":
        lines.append(f"    gate: highway{start} {{ conv 3x3, width, stride stride, bias true, "
                     "bias_init (-2); sigmoid }")
    else:
        lines.append(f"    residual{start}")
    lines.append("    relu")
    return f"block {name}(width, stride = 1) {{\n" + "\n".join(lines) + "\n}\n"


@st.composite
def spec(draw) -> tuple[str, str]:
    """(library, main): blocks, a shortcut and a family in the library; the network and a
    recipe in the main file, which imports it."""
    shortcut = draw(st.sampled_from(SHORTCUTS))
    highway = shortcut != "none"
    library = MINE + draw(block("b1", highway)) + draw(block("b2", highway))
    n = draw(st.integers(1, 2))
    height, width = draw(st.sampled_from([(8, 8), (9, 7), (12, 10)]))
    library += f"""family fam(n, shortcut = B) {{
    input    3x{height}x{width}
    classes  5
    shortcut shortcut
    stem {{ conv 3x3, 4; batchnorm; relu }}
    stage s1: n x b1(4)
    stage s2: n x b2(8), stride 2
    head {{ avgpool; fc classes }}
}}
"""
    lr = draw(st.sampled_from(["0.05", "0.1"]))
    main = f"""import "lib.res"

recipe mine = cifar10_warmup {{ lr {lr}; lr_steps 100, 200 }}

network fuzzed = fam(n = {n}, shortcut = {shortcut}) {{ train mine {{ iterations 20 }} }}
"""
    return library, main


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(spec())
def test_generated_valid_specs_lower_format_compile_and_count_exactly(tmp_path, files):
    library, main = files
    (tmp_path / "lib.res").write_text(library)
    (tmp_path / "main.res").write_text(main)
    net = lower(load_program(tmp_path / "main.res"))
    # fmt round trip: the canonical text of both files lowers to the same network.
    for name in ("lib.res", "main.res"):
        path = tmp_path / name
        path.write_text(format_module(parse(path.read_text(), str(path))))
    assert lower(load_program(tmp_path / "main.res")) == net
    assert net.recipe.iterations == 20 and net.recipe.warmup_lr == 0.01
    report = analyze(net)
    with torch.device("meta"):
        model = compile_network(net)
    assert sum(p.numel() for p in model.parameters()) == report.params == net.params
    with FlopCounterMode(display=False) as counter:
        out = model(torch.empty(1, *net.input, device="meta"))
    assert counter.get_total_flops() // 2 == report.flops
    assert tuple(out.shape) == (1, 5)
