"""Tables and JSON reports, pinned by golden files (`pytest --update-goldens` rewrites them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from resdsl import network_from_text, parse_network
from resdsl.analyzer import analyze
from resdsl.tables import (comparison_table, expect_table, human, stage_names, stage_table,
                           summary)

from helpers import DILATED, DILATED_OPTIONS, SPECS, network_specs

TABLE1_SPECS = [f"resnet{depth}" for depth in (18, 34, 50, 101, 152)]


def report_of(name: str):
    return analyze(parse_network(SPECS / f"{name}.res"))


def render(renderable) -> str:
    console = Console(width=200, record=True, color_system=None, file=_Null())
    console.print(renderable)
    # Rich pads lines to the width; trailing blanks would not survive an editor.
    return "".join(line.rstrip() + "\n" for line in console.export_text().splitlines())


class _Null:
    """Console output goes nowhere; export_text() returns what was recorded."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def golden_name(spec: Path) -> str:
    """specs/resnet34.res -> resnet34.json; specs/torchvision/resnet34.res ->
    torchvision_resnet34.json."""
    return "_".join(spec.relative_to(SPECS).with_suffix(".json").parts)


NETWORK_SPECS = network_specs()


@pytest.mark.parametrize("spec", NETWORK_SPECS, ids=golden_name)
def test_json_report_golden(spec, golden):
    golden(f"summary/{golden_name(spec)}", analyze(parse_network(spec)).to_json())


def test_table1_golden(golden):
    """`resdsl summary specs/resnet{18,34,50,101,152}.res`: the paper's Table 1."""
    text = render(comparison_table([report_of(name) for name in TABLE1_SPECS]))
    golden("tables/table1.txt", text)
    for row in ("conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "head", "FLOPs", "params"):
        assert row in text


def test_summary_golden(golden):
    golden("tables/resnet34_summary.txt", render(summary(report_of("resnet34"))))


def test_layers_golden(golden):
    golden("tables/resnet20_layers.txt", render(stage_table(report_of("resnet20"), layers=True)))


def test_stage_table_states_the_convention():
    text = render(stage_table(report_of("resnet18")))
    assert "multiply-adds" in text and "BN 2/elem" in text
    assert "11.69M" in text and "1.81G" in text  # rounded; JSON has the exact counts


def test_expect_table_marks_failures():
    text = 'import "{}"\nnetwork r = resnet18 {{ expect params 12.5M }}\n'.format(
        SPECS / "resnet18.res")
    report = analyze(network_from_text(text))
    rendered = render(expect_table(report))
    assert "FAIL" in rendered and "11,689,512" in rendered


def test_human_numbers():
    assert [human(n) for n in (11_689_512, 1_814_073_344, 269_722, 640, 0)] == [
        "11.69M", "1.81G", "269.72K", "640", "0"]


def test_stage_names_union_keeps_order():
    # VGG's conv2..conv5 have no counterpart in ResNet; they follow VGG's conv1.
    names = stage_names([report_of("resnet18"), report_of("vgg19")])
    assert names == ["conv1", "conv2", "conv3", "conv4", "conv5",
                     "conv2_x", "conv3_x", "conv4_x", "conv5_x", "head"]


def test_options_that_change_what_a_layer_computes_are_shown_in_summary_and_layers():
    """`dilation 2` is not `3x3, 32`: summary's stage row and every layer row say it, as
    they say groups, padding other than the default, bias, ceil_mode."""
    report = analyze(network_from_text(DILATED))
    stage = next(s for s in report.stages if s.name == "s1")
    assert stage.notation == ("3x3, 32, dilation 2; 3x3, 32, groups 4, bias true; "
                              "3x3, 32, padding 0; 3x3 max pool, stride 2, padding 0, ceil_mode "
                              "true; 2x2 avg pool, stride 1, padding 1, count_include_pad false")
    details = [row.detail for s in report.stages for row in s.layers]
    for option in DILATED_OPTIONS:
        assert any(detail.endswith(option) for detail in details), option
    assert "3x3, 32, dilation 2" in render(summary(report, layers=True))
