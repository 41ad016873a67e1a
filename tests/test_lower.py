"""resdsl.lower: a network's plan -> the IR. Its scalars (input, classes, shortcut), its
expectations, its sections lowered in order at the shape the last one ends with, and
errors collected over independent statements."""

import pytest

from resdsl import parse_network
from resdsl.analyzer import shortcut_kind
from resdsl.diagnostics import ResdslError
from resdsl.lower import DEFAULT_SHORTCUT, quantity

from helpers import SPECS, TINY, lower_text


def messages(text: str) -> list[tuple[str, str]]:
    with pytest.raises(ResdslError) as caught:
        lower_text(text)
    return [(d.message, str(d.span)) for d in caught.value.diagnostics]


def test_sections_run_in_order_each_at_the_shape_the_last_one_ends_with():
    net = lower_text(TINY)
    assert [(s.name, s.role, s.module) for s in net.stages] == [
        ("stem", "stem", ""), ("s1", "stage", "layer1"), ("s2", "stage", "layer2"), ("head", "head", "")]
    for before, after in zip(net.stages, net.stages[1:]):
        assert after.in_shape == before.out_shape
    assert net.stages[0].in_shape == net.input == (3, 32, 32) and net.output == (10,)


def test_a_stage_stride_applies_to_its_first_block_only():
    net = lower_text(TINY)
    s2 = net.stages[2]
    assert [b.args["stride"] for b in s2.blocks] == [2, 1]
    assert s2.out_shape == (32, 16, 16)


def test_stage_option_overrides_the_network_shortcut():
    net = lower_text(TINY.replace("stride 2", "stride 2, shortcut C"))
    assert [shortcut_kind(b) for b in net.stages[2].blocks] == ["projection", "projection"]
    assert shortcut_kind(net.stages[1].blocks[0]) == "identity"


def test_a_network_without_a_shortcut_statement_gets_option_b():
    net = lower_text(TINY.replace("    shortcut A\n", ""))
    assert net.shortcut == DEFAULT_SHORTCUT == "B"
    assert [shortcut_kind(b) for b in net.stages[2].blocks] == ["projection", "identity"]


def test_input_override_changes_every_shape():
    net = parse_network(SPECS / "resnet18.res", input=(3, 32, 32))
    assert net.input == (3, 32, 32)
    assert net.stages[-2].out_shape == (512, 1, 1)
    assert net.origin.input == (3, 32, 32)  # a model file rebuilds it so


def test_the_origin_is_recorded_and_not_part_of_the_network():
    net = lower_text(TINY)
    assert (net.origin.path, net.origin.network, net.origin.input) == ("<string>", "tiny", None)
    assert net.origin.sources == {"<string>": TINY}
    assert net == net.model_copy(update={"origin": None}) and "origin" not in net.model_dump()


@pytest.mark.parametrize("text, value, tolerance", [
    ("21.8M", 21.8e6, 0.05e6 / 21.8e6), ("3.6G", 3.6e9, 0.05e9 / 3.6e9), ("0.27M", 0.27e6, 0.005 / 0.27),
    ("269722", 269722, 0.5 / 269722), ("0", 0.0, 0.0),
])
def test_expect_quantities_carry_the_rounding_of_the_written_figure(text, value, tolerance):
    got_value, got_tolerance = quantity(text)
    assert got_value == pytest.approx(value) and got_tolerance == pytest.approx(tolerance)


def test_within_replaces_the_rounding_tolerance():
    net = lower_text(TINY.replace("head {", "expect flops 3.6G within 2%\n    expect params 0.27M\n    head {"))
    flops, params = net.expects
    assert (flops.metric, flops.value, flops.text, flops.tolerance) == ("flops", 3.6e9, "3.6G", 0.02)
    assert (params.metric, params.tolerance) == ("params", pytest.approx(0.005 / 0.27))


def test_several_errors_are_reported_at_once():
    bad = TINY.replace("classes 10", "classes 0").replace("shortcut A", "shortcut E")
    with pytest.raises(ResdslError) as caught:
        lower_text(bad)
    messages = [d.message for d in caught.value.diagnostics]
    assert any("classes must be positive" in m for m in messages)
    assert any("shortcut must be one of A, B, C, none" in m for m in messages)


def test_a_missing_input_and_missing_classes_are_both_reported():
    assert messages("network n { stem { conv 3x3, 4 } }") == [
        ("network 'n' has no `input` statement", "<string>:1:1"),
        ("network 'n' has no `classes` statement", "<string>:1:1")]


def test_sections_stop_at_the_first_that_fails():
    """A later stage starts at the shape the failed one would have ended with: it is not
    lowered, so its own mistake is not reported on a guess."""
    bad = TINY.replace("stage s1: 2 x basic(16)", "stage s1: 2 x basic(16), stride 3") \
              .replace("stride 2", "stride 5")
    assert messages(bad) == [("stride must be 1 or 2, got 3", "<string>:7:37")]
