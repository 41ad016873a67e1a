"""The shipped experiments: valid, runnable as declared, and the paper's numbers in them
equal to the reference figures (tests/reference/paper.json, which the package never reads)."""

from __future__ import annotations

import json

import pytest

from helpers import REFERENCE, ROOT
from resdsl.catalog import builtin_names
from resdsl.loader import load_program
from resdsl.lower import lower
from resdsl.reproduce.errors import ReproduceError
from resdsl.reproduce.experiments import (load_experiment, read_experiment, select_nets,
                                          shipped_experiments, shipped_names)

PAPER = json.loads((REFERENCE / "paper.json").read_text())
NETS = [(e.name, net) for e in shipped_experiments() for net in e.nets]


def test_the_three_experiments_ship_with_the_nets_they_reproduce():
    assert {"fig6", "table6", "highway"} <= set(shipped_names())
    specs = {e.name: [net.spec for net in e.nets] for e in shipped_experiments()}
    assert specs["fig6"] == [f"plain{d}" for d in (20, 32, 44, 56)] + \
        [f"resnet{d}" for d in (20, 32, 44, 56, 110, 1202)]
    assert specs["table6"] == [f"resnet{d}" for d in (20, 32, 44, 56, 110, 1202)]
    assert {f"highway{d}" for d in (20, 32, 44, 56)} | {f"resnet{d}" for d in (20, 32, 44, 56)} \
        | {"resnet110", "resnet110_preact", "resnet164_preact"} <= set(specs["highway"])
    table6 = load_experiment("table6")
    assert table6.seeds_of(next(n for n in table6.nets if n.spec == "resnet110")) == 5
    assert table6.runs() == 10


@pytest.mark.parametrize("experiment, net", NETS, ids=[f"{e}-{n.spec}" for e, n in NETS])
def test_each_net_is_a_built_in_spec_trained_with_its_own_recipe(experiment, net):
    network = lower(load_program(builtin_names()[net.spec]))
    if experiment.endswith("-cpu"):  # the laptop's recipe, its departures from the paper's listed
        assert net.recipe == "laptop_fig6" and network.recipe.name == "cifar10_paper"
        return
    assert network.recipe is not None and network.recipe.name == net.recipe
    if net.spec in ("resnet110", "resnet1202"):
        assert net.recipe == "cifar10_warmup"  # Sec. 4.2: warm up at lr 0.01


def _at(path: str):
    value = PAPER
    for key in path.split("."):
        value = value[key]
    return value


@pytest.mark.parametrize("experiment, net", NETS, ids=[f"{e}-{n.spec}" for e, n in NETS])
def test_the_papers_numbers_are_the_reference_figures(experiment, net):
    paper = net.paper
    if paper.reference is None:  # no number in the paper: the row says why
        assert paper.error is None and paper.note
        return
    reference = _at(paper.reference)
    for field in ("error", "params", "layers"):
        if getattr(paper, field) is not None or field in reference:
            assert getattr(paper, field) == reference.get(field), field
    spread = reference.get("error_mean_std", reference.get("error_mean_std_5_runs"))
    assert paper.mean_std == (tuple(spread) if spread else None)
    assert paper.mean_std_runs == (5 if "error_mean_std_5_runs" in reference else None)


def test_the_experiments_are_package_data():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    assert "resdsl.reproduce" in setuptools["packages"]
    assert "experiments/*.json" in setuptools["package-data"]["resdsl.reproduce"]


def test_unknown_names_are_one_line_errors_that_help():
    with pytest.raises(ReproduceError, match=r"no experiment named 'fig7' \(did you mean 'fig6'\?\)"):
        load_experiment("fig7")
    with pytest.raises(ReproduceError, match="the experiments: fig6, fig6-cpu, highway, highway-cpu, table6"):
        load_experiment("zzz")
    with pytest.raises(ReproduceError, match="--only resnet21: experiment fig6 has no net"):
        select_nets(load_experiment("fig6"), ["resnet20", "resnet21"])
    chosen = select_nets(load_experiment("fig6"), ["resnet20", "plain20"])
    assert [net.spec for net in chosen] == ["plain20", "resnet20"]  # the experiment's order


@pytest.mark.parametrize("change, message", [
    ({"seeds": 0}, "seeds must be between 1 and 100"),
    ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ({"figure": {"title": "t", "panels": [{"title": "p", "nets": ["resnet999"]}]}},
     "draws nets the experiment does not train: resnet999"),
    ({"name": "other"}, "names itself 'other'"),
])
def test_a_damaged_experiment_file_is_refused_naming_it(tmp_path, change, message):
    data = json.loads(load_experiment("fig6").model_dump_json())
    path = tmp_path / "fig6.json"
    path.write_text(json.dumps({**data, **change}))
    with pytest.raises(ReproduceError, match=message) as caught:
        read_experiment(path)
    assert caught.value.diagnostics[0].file == str(path)
