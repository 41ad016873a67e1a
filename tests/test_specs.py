"""Every shipped spec parses, validates, round-trips through fmt and is canonical."""

import pytest

from resdsl.fmt import format_module
from resdsl.loader import load_program
from resdsl.lower import lower
from resdsl.parser import parse

from helpers import ROOT, network_specs, spec_files, spec_id

ALL = spec_files() + [ROOT / "resdsl" / "prelude.res"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: p.name if p.parent.name == "resdsl" else spec_id(p))
def test_syntax_round_trip_and_canonical_form(path):
    text = path.read_text()
    tree = parse(text, str(path))
    formatted = format_module(tree)
    assert parse(formatted, str(path)) == tree  # spans aside, the same tree
    assert formatted == text, "shipped files are kept in `resdsl fmt` form"


@pytest.mark.parametrize("path", network_specs(), ids=spec_id)
def test_ir_round_trip(path, tmp_path):
    """.res -> IR -> fmt -> IR gives an equal model_dump()."""
    net = lower(load_program(path))
    copy = tmp_path / path.name
    copy.write_text(format_module(parse(path.read_text(), str(path))))
    for imported in path.parent.glob("*.res"):  # fmt'd text keeps relative imports working
        if imported != path:
            (tmp_path / imported.name).write_text(imported.read_text())
    again = lower(load_program(copy))
    assert again.model_dump() == net.model_dump()
    assert again == net


@pytest.mark.parametrize("path", network_specs(), ids=spec_id)
def test_spec_cites_the_paper_or_torchvision(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("#") and ("He et al. 2015" in first or "torchvision" in first)


def test_ir_json_is_complete_enough_to_rebuild():
    from resdsl import ir

    net = lower(load_program(ROOT / "specs" / "resnet50.res"))
    assert ir.Network.model_validate_json(net.model_dump_json()) == net


def test_every_paper_network_has_a_spec():
    names = {spec_id(p) for p in network_specs()}
    paper = {"plain18", "plain34", "resnet18", "resnet34", "resnet34_A", "resnet34_B",
             "resnet34_C", "resnet50", "resnet101", "resnet152", "vgg19",
             "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
             "plain20", "plain32", "plain44", "plain56", "plain110"}
    torchvision = {f"torchvision/resnet{d}" for d in (18, 34, 50, 101, 152)}
    assert paper | torchvision <= names
