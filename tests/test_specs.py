"""Every shipped spec parses, validates, round-trips through fmt and is canonical."""

import pytest

from resdsl.fmt import format_module
from resdsl.loader import load_program
from resdsl.lower import lower
from resdsl.parser import parse

from helpers import PRELUDE, REFERENCE, SPECS, network_specs, spec_files, spec_id

ALL = spec_files() + [PRELUDE]


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
    import shutil

    net = lower(load_program(path))
    shutil.copytree(SPECS, tmp_path / "specs")  # relative imports keep working
    copy = tmp_path / "specs" / path.relative_to(SPECS)
    copy.write_text(format_module(parse(path.read_text(), str(path))))
    again = lower(load_program(copy))
    assert again.model_dump() == net.model_dump()
    assert again == net


@pytest.mark.parametrize("path", network_specs(), ids=spec_id)
def test_spec_cites_its_source(path):
    first = path.read_text().splitlines()[0]
    sources = ("He et al. 2015", "He et al. 2016", "torchvision", "timm", "Highway")
    assert first.startswith("#") and any(source in first for source in sources)


def test_ir_json_is_complete_enough_to_rebuild():
    from resdsl import ir

    net = lower(load_program(SPECS / "resnet50.res"))
    assert ir.Network.model_validate_json(net.model_dump_json()) == net


def test_every_paper_network_has_a_spec():
    names = {spec_id(p) for p in network_specs()}
    paper = {"plain18", "plain34", "resnet18", "resnet34", "resnet34_A", "resnet34_B",
             "resnet34_C", "resnet50", "resnet101", "resnet152", "vgg19",
             "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "resnet1202",
             "plain20", "plain32", "plain44", "plain56", "plain110"}
    torchvision = {f"torchvision/resnet{d}" for d in (18, 34, 50, 101, 152)} | {
        "torchvision/wide_resnet50_2", "torchvision/resnext50_32x4d", "torchvision/vgg16",
        "torchvision/vgg19_bn"}
    timm = {f"timm/{p.stem}" for p in (REFERENCE / "timm").glob("*.json")}
    after = {"resnet110_preact", "resnet164_preact", "resnet1001_preact", "highway20",
             "highway32", "highway44", "highway56"}
    assert paper | torchvision | timm | after <= names
