"""resdsl.lower: a network's plan -> the IR. Its scalars (input, classes, shortcut), its
expectations, its sections lowered in order at the shape the last one ends with, and
errors collected over independent statements."""

import pytest

from resdsl import parse_network
from resdsl.analyzer import shortcut_kind
from resdsl.diagnostics import ResdslError
from resdsl.lower import quantity

from helpers import SPECS, TINY, lower_text


def test_a_stage_stride_applies_to_its_first_block_only():
    net = lower_text(TINY)
    s2 = net.stages[2]
    assert [b.args["stride"] for b in s2.blocks] == [2, 1]
    assert s2.out_shape == (32, 16, 16)


def test_stage_option_overrides_the_network_shortcut():
    net = lower_text(TINY.replace("stride 2", "stride 2, shortcut C"))
    assert [shortcut_kind(b) for b in net.stages[2].blocks] == ["projection", "projection"]
    assert shortcut_kind(net.stages[1].blocks[0]) == "identity"


def test_input_override_changes_every_shape():
    net = parse_network(SPECS / "resnet18.res", input=(3, 32, 32))
    assert net.input == (3, 32, 32)
    assert net.stages[-2].out_shape == (512, 1, 1)


@pytest.mark.parametrize("text, value, tolerance", [
    ("21.8M", 21.8e6, 0.05e6 / 21.8e6), ("3.6G", 3.6e9, 0.05e9 / 3.6e9), ("0.27M", 0.27e6, 0.005 / 0.27),
    ("269722", 269722, 0.5 / 269722),
])
def test_expect_quantities_carry_the_rounding_of_the_written_figure(text, value, tolerance):
    got_value, got_tolerance = quantity(text)
    assert got_value == pytest.approx(value) and got_tolerance == pytest.approx(tolerance)


def test_several_errors_are_reported_at_once():
    bad = TINY.replace("classes 10", "classes 0").replace("shortcut A", "shortcut E")
    with pytest.raises(ResdslError) as caught:
        lower_text(bad)
    messages = [d.message for d in caught.value.diagnostics]
    assert any("classes must be positive" in m for m in messages)
    assert any("shortcut must be one of A, B, C, none" in m for m in messages)
