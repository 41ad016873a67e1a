"""resdsl.modelfile: a compiled network saved with the text of every spec file it came
from, loaded back bit for bit without those files, and every broken or hostile model
file refused as a ResdslFileError that names it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch
from torch import nn

import resdsl
from resdsl import parse_network
from resdsl.compiler import compile_network
from resdsl.diagnostics import ResdslFileError
from resdsl.modelfile import FORMAT_VERSION, load_saved, save_model

from helpers import SPECS, TINY_FAMILY, randomize, tiny_net


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_save_and_load_round_trip_is_bitwise(tmp_path):
    spec = SPECS / "resnet20.res"  # imports cifar.res: the sources travel
    net = parse_network(spec)
    model = randomize(compile_network(net)).eval()
    path = save_model(model, tmp_path / "model.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not a temp file's 0600
    loaded = resdsl.load(path).eval()  # the public API reads model files too
    x = torch.randn(2, *net.input)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    assert loaded.network == net
    stored = torch.load(path, weights_only=True)
    assert stored["format_version"] == FORMAT_VERSION and stored["network"] == "resnet20"
    assert stored["input"] == [3, 32, 32] and stored["resdsl_version"] == resdsl.__version__
    sources = stored["origin"]["sources"]
    assert sources[str(spec)] == spec.read_text()
    assert (SPECS / "cifar.res").read_text() in sources.values()


def test_a_model_file_is_rebuilt_without_its_spec_files(tmp_path):
    folder = tmp_path / "specs"
    folder.mkdir()
    (folder / "lib.res").write_text(TINY_FAMILY)
    (folder / "net.res").write_text('import "lib.res"\nnetwork n = tiny(n = 1, shortcut = B)\n')
    model = randomize(compile_network(parse_network(folder / "net.res"))).eval()
    path = save_model(model, tmp_path / "n.pt")
    for spec in folder.iterdir():
        spec.unlink()
    loaded = load_saved(path).eval()
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_a_model_file_with_an_input_override_keeps_it(tmp_path):
    net = parse_network(SPECS / "resnet20.res", input=(3, 16, 16))
    loaded = load_saved(save_model(net, tmp_path / "small.pt"))
    assert loaded.network.input == (3, 16, 16)


def test_save_an_ir_network_compiles_it_first(tmp_path):
    net = tiny_net("C")
    path = save_model(net, tmp_path / "fresh.pt")
    assert param_count(load_saved(path, zero_init_residual=True)) == net.params


def _write(path: Path, payload) -> Path:
    torch.save(payload, path)
    return path


def _replace_weight(stored: dict, value, dtype=None) -> dict:
    """`stored` with fc.weight filled with `value`, cast to `dtype`, or replaced by it."""
    weight = stored["state_dict"]["fc.weight"]
    if dtype is not None:
        weight = weight.to(dtype)
    elif isinstance(value, float):
        weight = torch.full_like(weight, value)
    else:
        weight = value
    return {**stored, "state_dict": {**stored["state_dict"], "fc.weight": weight}}


def test_load_errors_are_resdsl_file_errors(tmp_path):
    good = save_model(tiny_net("A"), tmp_path / "good.pt")
    stored = torch.load(good, weights_only=True)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00not a model at all")
    bad_weights = {**stored, "state_dict": {**stored["state_dict"], "fc.weight": torch.zeros(1)}}
    origin = stored["origin"]
    hostile = {**origin, "sources": {origin["path"]: origin["sources"][origin["path"]].replace(
        "basic(8)", "basic(2147483648)")}}
    cases = {
        tmp_path / "missing.pt": "no such file",
        tmp_path: "not a regular file",
        truncated: "not a readable resdsl model file",
        garbage: "not a readable resdsl model file",
        _write(tmp_path / "other.pt", {"weights": torch.zeros(2)}): "not a resdsl model file",
        _write(tmp_path / "nostate.pt", {**stored, "state_dict": None}): "'state_dict' is missing",
        _write(tmp_path / "newer.pt", {**stored, "format_version": FORMAT_VERSION + 1}): "newer resdsl",
        _write(tmp_path / "badorigin.pt", {**stored, "origin": {}}): "its spec cannot be read",
        _write(tmp_path / "hostile.pt", {**stored, "origin": hostile}): "too many to build",
        _write(tmp_path / "badweights.pt", bad_weights): "weights do not fit",
        _write(tmp_path / "older.pt", {**stored, "format_version": 1, "spec_text": "x"}):
            "older resdsl",
        _write(tmp_path / "boolversion.pt", {**stored, "format_version": True}): "'format_version'",
        _write(tmp_path / "zeroversion.pt", {**stored, "format_version": 0}): "'format_version'",
        _write(tmp_path / "nan.pt", _replace_weight(stored, float("nan"))): "NaN or infinite",
        _write(tmp_path / "double.pt", _replace_weight(stored, None, torch.float64)):
            "is torch.float64",
        _write(tmp_path / "notensor.pt", _replace_weight(stored, "x")): "is not a tensor",
        _write(tmp_path / "badinput.pt", {**stored, "origin": {**origin, "input": [3, -4, 4]}}):
            "must be positive",
    }
    for path, message in cases.items():
        with pytest.raises(ResdslFileError, match=message) as caught:
            load_saved(path)
        assert caught.value.diagnostics[0].file == str(path)


def test_save_refuses_what_resdsl_did_not_compile(tmp_path):
    with pytest.raises(TypeError, match="not a network compiled by resdsl"):
        save_model(nn.Linear(2, 2), tmp_path / "m.pt")
    assert list(tmp_path.iterdir()) == []


def test_save_into_a_missing_folder_is_a_file_error(tmp_path):
    with pytest.raises(ResdslFileError, match="cannot write"):
        save_model(tiny_net("A"), tmp_path / "no" / "such" / "model.pt")
