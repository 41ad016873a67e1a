"""The language's features, each checked on a small spec written here."""

import json

import pytest

from resdsl import parse_network
from resdsl.analyzer import shortcut_kind
from resdsl.diagnostics import ResdslError
from resdsl.expressions import Symbol, evaluate
from resdsl.loader import program_from_text
from resdsl.lower import lower, quantity
from resdsl.parser import parse

from helpers import REFERENCE, SPECS

TINY = """
network tiny {
    input 3x32x32
    classes 10
    shortcut A
    stem { conv 3x3, 16; batchnorm; relu }
    stage s1: 2 x basic(16)
    stage s2: 2 x basic(32), stride 2
    head { avgpool; fc classes }
}
"""


def net_of(text, **kw):
    return lower(program_from_text(text), **kw)


def value(text, env=None):
    expr = parse(f"network n {{ classes {text} }}").decls[0].body[0].value
    return evaluate(expr, env or {})


@pytest.mark.parametrize("text, expected", [
    ("2 * 3 + 1", 7), ("2 * (3 + 1)", 8), ("64 / 4", 16), ("7 // 2", 3), ("10 - 2 - 3", 5),
    ("4 * width", 256), ("(1 if width == 64 else 2)", 1), ("(1 if width != 64 else 2)", 2),
])
def test_evaluator_arithmetic(text, expected):
    assert value(text, {"width": 64}) == expected


def test_evaluator_is_exact_and_never_uses_eval():
    from fractions import Fraction

    assert value("64 / 3") == Fraction(64, 3)
    assert value("0.1 + 0.2") == Fraction(3, 10)
    assert value("B") == Symbol("B")
    with pytest.raises(ResdslError, match="unknown name '__import__'"):
        value("__import__")


def test_a_stage_stride_applies_to_its_first_block_only():
    net = net_of(TINY)
    s2 = net.stages[2]
    assert [b.args["stride"] for b in s2.blocks] == [2, 1]
    assert s2.out_shape == (32, 16, 16)


@pytest.mark.parametrize("option, first_kind, later_kind", [
    ("A", "zero_pad", "identity"), ("B", "projection", "identity"),
    ("C", "projection", "projection"), ("none", "none", "none"),
])
def test_shortcut_options(option, first_kind, later_kind):
    net = net_of(TINY.replace("shortcut A", f"shortcut {option}"))
    blocks = net.stages[2].blocks
    assert shortcut_kind(blocks[0]) == first_kind
    assert shortcut_kind(blocks[1]) == later_kind
    assert all(b.merge.shortcut.decl == option for b in blocks)


def test_stage_option_overrides_the_network_shortcut():
    net = net_of(TINY.replace("stride 2", "stride 2, shortcut C"))
    assert [shortcut_kind(b) for b in net.stages[2].blocks] == ["projection", "projection"]
    assert shortcut_kind(net.stages[1].blocks[0]) == "identity"


def test_families_derived_networks_and_overrides():
    text = TINY.replace("network tiny {", "family fam(n, width = 16) {") \
               .replace("2 x basic(16)", "n x basic(width)") + """
network a = fam(n = 3)
network b = a { shortcut B; stage s2: 1 x basic(64), stride 2 }
"""
    program = program_from_text(text)
    a, b = lower(program, "a"), lower(program, "b")
    assert len(a.stages[1].blocks) == 3 and a.shortcut == "A"
    assert b.shortcut == "B" and len(b.stages[2].blocks) == 1
    assert b.stages[2].out_shape == (64, 16, 16)


def test_imports_are_relative_to_the_importing_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.res").write_text(
        "block twice(width, stride = 1) { conv 3x3, width, stride stride; conv 3x3, width; residual }")
    (tmp_path / "net.res").write_text('import "lib/blocks.res"\n' + TINY.replace("basic", "twice"))
    net = parse_network(tmp_path / "net.res")
    assert net.stages[1].blocks[0].block == "twice"


def test_a_spec_may_redefine_a_prelude_block():
    text = "block basic(width, stride = 1) { conv 3x3, width, stride stride; relu; residual }\n" + TINY
    net = net_of(text)
    assert [i.kind for i in net.stages[1].blocks[0].items] == ["conv", "relu", "residual"]


def test_bottleneck_stride_position_is_a_block_parameter():
    paper = parse_network(SPECS / "resnet50.res")
    tv = parse_network(SPECS / "torchvision" / "resnet50.res")
    strides = lambda net: [i.stride for i in net.stages[2].blocks[0].items if i.kind == "conv"]
    assert strides(paper) == [2, 1, 1]
    assert strides(tv) == [1, 2, 1]


def test_input_override_changes_every_shape():
    net = parse_network(SPECS / "resnet18.res", input=(3, 32, 32))
    assert net.input == (3, 32, 32)
    assert net.stages[-2].out_shape == (512, 1, 1)


def test_module_names_follow_torchvision():
    net = parse_network(SPECS / "resnet18.res")
    stem, head = net.stages[0], net.stages[-1]
    assert [i.name for i in stem.items] == ["conv1", "bn1", "relu", "maxpool"]
    assert [i.name for i in head.items] == ["avgpool", "fc"]
    assert [s.module for s in net.stages[1:-1]] == ["layer1", "layer2", "layer3", "layer4"]


@pytest.mark.parametrize("text, value, tolerance", [
    ("21.8M", 21.8e6, 0.05e6 / 21.8e6), ("3.6G", 3.6e9, 0.05e9 / 3.6e9), ("0.27M", 0.27e6, 0.005 / 0.27),
    ("269722", 269722, 0.5 / 269722),
])
def test_expect_quantities_carry_the_rounding_of_the_written_figure(text, value, tolerance):
    got_value, got_tolerance = quantity(text)
    assert got_value == pytest.approx(value) and got_tolerance == pytest.approx(tolerance)


def test_cifar_recipe_is_the_papers():
    paper = json.loads((REFERENCE / "paper.json").read_text())["cifar10_recipe"]
    recipe = parse_network(SPECS / "resnet56.res").recipe
    assert (recipe.batch_size, recipe.lr, recipe.lr_gamma) == (paper["batch"], paper["lr"], paper["lr_gamma"])
    assert recipe.lr_steps == tuple(paper["lr_steps_iterations"])
    assert recipe.iterations == paper["iterations"]
    assert (recipe.momentum, recipe.weight_decay) == (0.9, 1e-4)  # paper: "momentum 0.9, weight decay 1e-4"
    assert recipe.crop_padding == 4 and recipe.hflip and recipe.normalize == "pixel_mean"
    assert recipe.warmup_lr is None


@pytest.mark.parametrize("name", ["resnet110", "resnet1202"])
def test_deepest_cifar_nets_warm_up(name):
    recipe = parse_network(SPECS / f"{name}.res").recipe
    assert (recipe.warmup_lr, recipe.warmup_until_error, recipe.lr) == (0.01, 0.8, 0.1)


def test_train_statement_overrides_recipe_fields():
    net = net_of(TINY.replace("head {", "train cifar10_paper { iterations 500; lr 0.05 }\n    head {"))
    assert (net.recipe.iterations, net.recipe.lr, net.recipe.batch_size) == (500, 0.05, 128)


def test_several_errors_are_reported_at_once():
    bad = TINY.replace("classes 10", "classes 0").replace("shortcut A", "shortcut E")
    with pytest.raises(ResdslError) as caught:
        net_of(bad)
    messages = [d.message for d in caught.value.diagnostics]
    assert any("classes must be positive" in m for m in messages)
    assert any("shortcut must be one of A, B, C, none" in m for m in messages)


def test_a_file_with_several_networks_needs_a_choice():
    program = program_from_text(TINY + TINY.replace("network tiny", "network other"))
    with pytest.raises(ResdslError, match="several networks"):
        lower(program)
    assert lower(program, "other").name == "other"
