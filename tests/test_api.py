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
    assert type(resdsl.load(str(SPECS / "resnet20.res"))).__name__ == "CompiledNetwork"


def test_specs_given_as_text():
    text = 'import "%s"\nnetwork r = resnet20 { shortcut B }\n' % (SPECS / "resnet20.res")
    assert resdsl.parse_network(text).shortcut == "B"
    assert resdsl.analyze(text).params > 269722  # B adds two projections


def test_saved_model_round_trip(tmp_path):
    import torch

    from resdsl.compiler import save_model

    model = resdsl.load(str(SPECS / "resnet20.res")).eval()
    path = save_model(model, (SPECS / "resnet20.res").read_text(), tmp_path / "m.pt")
    again = resdsl.load(str(path)).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(model(x), again(x))
