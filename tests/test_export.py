"""resdsl export: standalone PyTorch source, ONNX, TorchScript, safetensors, each checked
against the compiled module for equal outputs and equal state_dict keys."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

import resdsl
from resdsl import parse_network
from resdsl.cli import app
from resdsl.compiler import compile_network
from resdsl.export import export

from helpers import SPECS, randomize

runner = CliRunner()
SPECS_TO_EXPORT = ["resnet20", "plain20", "resnet34_C", "timm/resnetv2_50", "timm/seresnet50",
                   "highway20", "torchvision/vgg16", "timm/resnet50d"]


def randomized(net):
    return randomize(compile_network(net).eval(), scale=0.05)


# A fresh interpreter that cannot import resdsl: the exported file stands alone.
STANDALONE = """
import importlib.util, json, sys
sys.modules["resdsl"] = None  # any import of resdsl fails
import torch
spec = importlib.util.spec_from_file_location("exported", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
model = getattr(module, sys.argv[2])()
module.init_weights(model)
state = torch.load(sys.argv[3], weights_only=True)
model.load_state_dict(state, strict=True)
model.eval()
x = torch.load(sys.argv[4], weights_only=True)
with torch.no_grad():
    torch.save(model(x), sys.argv[5])
print(json.dumps(list(model.state_dict())))
"""


@pytest.mark.parametrize("name", SPECS_TO_EXPORT)
def test_pytorch_source_runs_without_resdsl_and_gives_equal_logits(name, tmp_path):
    net = parse_network(name, input=(3, 32, 32) if "/" in name else None)
    model = randomized(net)
    path = export(net, "pytorch", tmp_path / "model.py")
    x = torch.randn(2, *net.input)
    torch.save(model.state_dict(), tmp_path / "state.pt")
    torch.save(x, tmp_path / "x.pt")
    done = subprocess.run(
        [sys.executable, "-c", STANDALONE, str(path), type(model).__name__,
         str(tmp_path / "state.pt"), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")],
        capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == list(model.state_dict())
    with torch.no_grad():
        assert torch.equal(torch.load(tmp_path / "y.pt"), model(x))


def test_the_exported_source_reads_as_a_person_would_write_it(tmp_path):
    text = export(parse_network("resnet34"), "pytorch", tmp_path / "r.py").read_text()
    assert not re.search(r"^\s*(import|from) resdsl", text, re.M)
    assert "class BasicBlock(nn.Module):" in text and "class Resnet34(nn.Module):" in text
    assert "out = self.bn2(self.conv2(out))" in text
    assert "# out is F(x), the residual function" in text
    assert "option B: the identity, a 1x1 projection where the shape changes" in text
    assert "shortcut = self.downsample(x)" in text and "out = out + shortcut" in text


def test_exported_block_docstrings_carry_the_spec_comments(tmp_path):
    result = runner.invoke(app, ["export", "resnet110_preact", "--to", "pytorch", "--out",
                                 str(tmp_path / "p.py")])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "p.py").read_text()
    assert "Identity Mappings in Deep Residual Networks" in text  # the prelude's comment
    assert "shortcut = self.downsample(act1)" in text  # the projection reads the pre-activation


def test_torchscript_export_loads_and_agrees(tmp_path):
    net = parse_network("timm/seresnet50", input=(3, 64, 64))
    model = randomized(net)
    path = export(net, "torchscript", tmp_path / "m.pt", model=model)
    loaded = torch.jit.load(path)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_torch_export_keeps_working():
    model = randomized(parse_network("resnet20"))
    x = torch.randn(2, 3, 32, 32)
    program = torch.export.export(model, (x,))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), model(x))


def test_safetensors_carry_the_spec_and_load_back(tmp_path):
    pytest.importorskip("safetensors", reason="safetensors is an optional extra: resdsl[export]")
    from safetensors import safe_open

    net = parse_network(SPECS / "resnet20.res")
    model = randomized(net)
    path = export(net, "safetensors", tmp_path / "r.safetensors", model=model)
    with safe_open(str(path), framework="pt") as file:
        metadata = file.metadata()
    origin = json.loads(metadata["origin"])
    assert (SPECS / "resnet20.res").read_text() in origin["sources"].values()
    assert len(metadata["spec_sha256"]) == 64
    again = resdsl.load(path).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(again(x), model(x))


@pytest.mark.slow  # torch.onnx through torch.export: about 20 s
def test_onnx_export_runs_in_onnxruntime_with_equal_outputs(tmp_path):
    pytest.importorskip("onnxscript", reason="ONNX export is an optional extra: resdsl[onnx]")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is an optional extra: resdsl[onnx]")
    net = parse_network("resnet20")
    model = randomized(net)
    path = export(net, "onnx", tmp_path / "r.onnx", model=model)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = torch.randn(5, 3, 32, 32)  # another batch than the exported example's
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(out), model(x), atol=1e-4, rtol=1e-4)


def test_export_command_line(tmp_path):
    out = tmp_path / "r20.py"
    result = runner.invoke(app, ["export", "resnet20", "--to", "pytorch", "--out", str(out)])
    assert result.exit_code == 0 and f"wrote {out}" in result.output and out.is_file()
    bad = runner.invoke(app, ["export", "resnet20", "--to", "keras"])
    assert bad.exit_code == 2 and "choose one of pytorch, onnx, torchscript, safetensors" in bad.output
    missing = runner.invoke(app, ["export", "resnet20", "--to", "pytorch", "--out",
                                  str(tmp_path / "no" / "such" / "r.py")])
    assert missing.exit_code == 1 and "cannot write" in missing.output


def test_export_with_the_weights_of_a_model_file(tmp_path):
    from resdsl.modelfile import save_model

    net = parse_network("resnet20")
    model = randomized(net)
    saved = save_model(model, tmp_path / "m.pt")
    result = runner.invoke(app, ["export", "resnet20", "--to", "torchscript", "--weights",
                                 str(saved), "--out", str(tmp_path / "ts.pt")])
    assert result.exit_code == 0, result.output
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(torch.jit.load(tmp_path / "ts.pt")(x), model(x))


def test_export_refuses_the_weights_of_another_network(tmp_path):
    """The spec named on the command line is what is exported: a model file of another
    network is refused in one line naming both, not exported in its place."""
    from resdsl.modelfile import save_model

    saved = save_model(parse_network("resnet32"), tmp_path / "m32.pt")
    result = runner.invoke(app, ["export", "resnet20", "--to", "safetensors", "--weights",
                                 str(saved), "--out", str(tmp_path / "out.safetensors")])
    assert result.exit_code == 1, result.output
    assert f"{saved}: error: holds the weights of resnet32, not of resnet20" in result.output
    assert "wrote" not in result.output and not (tmp_path / "out.safetensors").exists()


def test_export_reads_the_spec_once(tmp_path, monkeypatch):
    """The spec named on the command line is read once, weights or not: a local file
    hiding a built-in spec is said once (it was said twice when export read it twice)."""
    import resdsl.loader as loader

    from resdsl.modelfile import save_model

    saved = save_model(parse_network("resnet20"), tmp_path / "m20.pt")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet20").write_text((SPECS / "resnet20.res").read_text().replace(
        'import "cifar.res"', f'import "{SPECS / "cifar.res"}"'))
    reads = []
    original = loader.read_spec
    monkeypatch.setattr(loader, "read_spec", lambda path: reads.append(path) or original(path))
    result = runner.invoke(app, ["export", "resnet20", "--to", "pytorch", "--weights",
                                 str(saved), "--out", "r20.py"])
    assert result.exit_code == 0, result.output
    assert result.output.count("using the local file resnet20") == 1
    assert len(reads) == 1  # the spec file (its import is read by the loader's own reader)


def test_export_refuses_weights_of_a_same_named_but_other_network(tmp_path):
    from resdsl.modelfile import save_model

    saved = save_model(parse_network("resnet20"), tmp_path / "m20.pt")
    result = runner.invoke(app, ["export", "resnet20", "--input", "3x64x64", "--to",
                                 "torchscript", "--weights", str(saved),
                                 "--out", str(tmp_path / "ts.pt")])
    assert result.exit_code == 1, result.output
    assert "holds the weights of another network named resnet20" in result.output
