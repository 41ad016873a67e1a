"""The shipped specs (specs/, in the wheel as resdsl.specs): every network of the paper,
of torchvision and timm the project reproduces has one, and each says where it comes
from. (That they parse, validate and are canonical: test_fmt.py, test_compiler.py.)"""

import pytest

from helpers import REFERENCE, network_specs, spec_id


@pytest.mark.parametrize("path", network_specs(), ids=spec_id)
def test_spec_cites_its_source(path):
    first = path.read_text().splitlines()[0]
    sources = ("He et al. 2015", "He et al. 2016", "torchvision", "timm", "Highway")
    assert first.startswith("#") and any(source in first for source in sources)


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
