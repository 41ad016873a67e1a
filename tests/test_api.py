"""The public API: resdsl.parse / parse_network / analyze / compile / load."""

import importlib

import resdsl

from helpers import SPECS


def test_functions_survive_their_submodules_being_imported():
    # A submodule named like a function would replace it on the package once imported.
    for module in ("parser", "loader", "lower", "analyzer", "compiler", "fmt", "tables", "cli"):
        importlib.import_module(f"resdsl.{module}")
    assert resdsl.parse("network a { classes 3 }").decls[0].name == "a"
    assert resdsl.parse_network(SPECS / "resnet20.res").params == 269722
    assert resdsl.analyze(str(SPECS / "resnet20.res")).flops == 40551040
    assert sum(p.numel() for p in resdsl.compile(str(SPECS / "resnet20.res")).parameters()) == 269722
    from resdsl.compiler import CompiledNetwork

    model = resdsl.load(str(SPECS / "resnet20.res"))
    assert isinstance(model, CompiledNetwork) and type(model).__name__ == "Resnet20"


def test_specs_given_as_text():
    text = 'import "%s"\nnetwork r = resnet20 { shortcut B }\n' % (SPECS / "resnet20.res")
    net = resdsl.network_from_text(text)
    assert net.shortcut == "B"
    assert resdsl.analyze(net).params > 269722  # B adds two projections


def test_specs_given_by_name():
    assert resdsl.parse_network("resnet20") == resdsl.parse_network(SPECS / "resnet20.res")
    assert resdsl.analyze("torchvision/resnet50").params == 25557032


def test_saved_model_round_trip(tmp_path):
    import torch

    from resdsl.modelfile import save_model

    model = resdsl.load(str(SPECS / "resnet20.res")).eval()
    path = save_model(model, tmp_path / "m.pt")
    again = resdsl.load(str(path)).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model(x), again(x))
