"""resdsl.create_model and resdsl.list_models: the API a timm user guesses. Arguments
checked as arguments; classes and channels changed without editing a spec; weights from
resdsl model files and from torchvision / timm state_dict files (made here from the
reference records, torchvision never imported); feature maps as detectors take them."""

from __future__ import annotations

import json
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import resdsl
from resdsl.diagnostics import ResdslArgumentError, ResdslFileError

from helpers import REFERENCE, SPECS, run_python


# ---- arguments ------------------------------------------------------------------------
def test_input_is_a_tuple_or_text():
    # Once iterated character by character: "got 7 sizes", at the spec's `input` line.
    as_text = resdsl.compile("resnet20", input="1x28x28")
    assert as_text.network.input == (1, 28, 28) == resdsl.parse_network("resnet20", input=(1, 28, 28)).input
    assert as_text(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@pytest.mark.parametrize("call, argument", [
    (lambda: resdsl.compile("resnet20", input="1x28"), "input"),
    (lambda: resdsl.analyze("resnet20", input=(3, 32)), "input"),
    (lambda: resdsl.parse_network("resnet20", input="0x32x32"), "input"),
    (lambda: resdsl.create_model("resnet20", input=(3, 1 << 20, 32)), "input"),
    (lambda: resdsl.create_model("resnet20", num_classes=0), "num_classes"),
    (lambda: resdsl.create_model("resnet20", num_classes=True), "num_classes"),
    (lambda: resdsl.create_model("resnet20", in_chans="3"), "in_chans"),
    (lambda: resdsl.create_model("resnet20", in_chans=1, input="3x32x32"), "in_chans"),
    (lambda: resdsl.create_model("resnet20", out_indices=(1,)), "out_indices"),
    (lambda: resdsl.create_model("resnet20", features_only=True, out_indices=(4,)), "out_indices"),
    (lambda: resdsl.create_model("resnet20", features_only=True, out_indices=(1, -3)), "out_indices"),
    (lambda: resdsl.create_model(SPECS / "resnet20.res:resnet20", network="plain20"), "network"),
])
def test_a_bad_argument_is_reported_as_that_argument_not_at_a_spec_line(call, argument):
    with pytest.raises(ResdslArgumentError) as caught:
        call()
    assert caught.value.argument == argument and caught.value.span is None
    assert str(caught.value).startswith(f"resdsl: error: argument '{argument}': ")
    assert "cifar.res" not in str(caught.value)  # once the caret was put in the spec


# ---- classes, channels, and what the model carries --------------------------------------
def test_num_classes_and_in_chans_change_the_network_not_the_spec():
    model = resdsl.create_model("resnet20", num_classes=7, in_chans=1).eval()
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    assert model.network.input == (1, 32, 32) and model.network.classes == 7
    assert model.report.params == sum(p.numel() for p in model.parameters())
    assert model.spec_source == (SPECS / "resnet20.res").read_text(encoding="utf-8")
    assert "family cifar_resnet" in model.origin.sources[str(SPECS / "cifar.res")]
    assert model.origin.classes == 7 and model.origin.input == (1, 32, 32)


def test_a_saved_model_keeps_its_overrides(tmp_path):
    from resdsl.modelfile import save_model

    model = resdsl.create_model("resnet20", num_classes=7, in_chans=1).eval()
    again = resdsl.create_model(save_model(model, tmp_path / "m.pt")).eval()
    x = torch.randn(2, 1, 32, 32)
    assert torch.equal(model(x), again(x))


def test_list_models_names_what_create_model_takes():
    names = resdsl.list_models()
    assert {"resnet34", "resnet20", "torchvision/resnet50", "timm/resnet50d"} <= set(names)
    assert resdsl.list_models("timm/*") == sorted(n for n in names if n.startswith("timm/"))
    assert resdsl.list_models("nothing*") == []
    assert resdsl.parse_network(resdsl.list_models("resnet3*")[0]).name == "resnet32"


def test_file_network_picks_one_network_of_a_file(tmp_path):
    spec = tmp_path / "two.res"
    spec.write_text(f'import "{SPECS / "cifar.res"}"\n'
                    "network a = cifar_resnet(n = 1)\nnetwork b = cifar_resnet(n = 2)\n")
    assert resdsl.parse_network(f"{spec}:b").name == "b"
    assert resdsl.create_model(f"{spec}:a").network.name == "a"
    assert resdsl.parse_network(f"{spec}:b", network="b").name == "b"


# ---- weights --------------------------------------------------------------------------
def reference_state_dict(model: str) -> tuple[dict, dict]:
    """A state_dict as torchvision saves one, made from the reference record alone (its
    keys, shapes and order), filled as the reference logits were computed."""
    record = json.loads((REFERENCE / f"{model}.json").read_text())
    g, state = torch.Generator().manual_seed(0), {}
    for name in sorted(record["state_dict"]):
        shape = record["state_dict"][name]
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(0)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=g) + 0.5
        else:
            state[name] = torch.randn(shape, generator=g) * 0.05
    return {name: state[name] for name in record["state_dict"]}, record


@pytest.mark.parametrize("wrap", [
    lambda sd: sd,
    lambda sd: {"state_dict": sd, "epoch": 90},
    lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    lambda sd: {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")},
])
def test_a_torchvision_state_dict_file_loads_and_gives_torchvision_s_logits(tmp_path, wrap):
    state, record = reference_state_dict("torchvision/resnet18")
    torch.save(wrap(state), tmp_path / "resnet18.pth")
    model = resdsl.create_model("torchvision/resnet18", weights=tmp_path / "resnet18.pth").eval()
    x = torch.randn(*record["input"]["shape"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.tensor(record["logits"]), atol=1e-4, rtol=0)


def test_a_timm_safetensors_file_loads(tmp_path):
    safetensors = pytest.importorskip("safetensors.torch")
    state, record = reference_state_dict("timm/resnet18d")
    safetensors.save_file(state, str(tmp_path / "model.safetensors"))
    model = resdsl.create_model("timm/resnet18d", weights=tmp_path / "model.safetensors").eval()
    x = torch.randn(*record["input"]["shape"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.tensor(record["logits"]), atol=1e-4, rtol=0)


def test_weights_that_do_not_fit_are_named(tmp_path):
    state, _ = reference_state_dict("torchvision/resnet18")
    torch.save(state, tmp_path / "r18.pth")
    with pytest.raises(ResdslFileError, match=r"missing 'layer1\.2\.conv1\.weight', .*\(and \d+ more\)"):
        resdsl.create_model("torchvision/resnet34", weights=tmp_path / "r18.pth")
    with pytest.raises(ResdslFileError, match=r"'fc\.weight' is 1000x512 in the file but 10x512"):
        resdsl.create_model("torchvision/resnet18", weights=tmp_path / "r18.pth", num_classes=10)
    torch.save({**state, "extra.weight": torch.zeros(1)}, tmp_path / "extra.pth")
    with pytest.raises(ResdslFileError, match="unexpected 'extra.weight'"):
        resdsl.create_model("torchvision/resnet18", weights=tmp_path / "extra.pth")


def test_weights_of_a_resdsl_model_file(tmp_path):
    from resdsl.modelfile import save_model

    trained = resdsl.create_model("resnet20").eval()
    path = save_model(trained, tmp_path / "m.pt")
    again = resdsl.create_model("resnet20", weights=path).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(trained(x), again(x))


class Unsafe:  # what weights_only refuses to unpickle
    pass


@pytest.mark.parametrize("content, message", [
    (lambda p: torch.save({"weights": Unsafe()}, p), "not a readable weights file"),
    (lambda p: torch.save([torch.zeros(1)], p), "not a state_dict"),
    (lambda p: p.write_bytes(b"not a file torch wrote"), "not a readable weights file"),
])
def test_files_that_are_not_weights_are_refused_without_running_them(tmp_path, content, message):
    path = tmp_path / "w.pth"
    content(path)
    with pytest.raises(ResdslFileError, match=message):
        resdsl.create_model("resnet20", weights=path)
    with pytest.raises(ResdslFileError, match="no such file"):
        resdsl.create_model("resnet20", weights=tmp_path / "missing.pth")


# ---- features for detection -----------------------------------------------------------
class TinyFPN(nn.Module):
    """A feature pyramid as torchvision's FeaturePyramidNetwork computes one: a 1x1 lateral
    per map, top-down nearest upsampling, a 3x3 on each sum; maps in, maps out, same keys."""

    def __init__(self, in_channels: list[int], out_channels: int):
        super().__init__()
        self.inner = nn.ModuleList(nn.Conv2d(c, out_channels, 1) for c in in_channels)
        self.layer = nn.ModuleList(nn.Conv2d(out_channels, out_channels, 3, padding=1)
                                   for _ in in_channels)

    def forward(self, maps: "OrderedDict[str, torch.Tensor]") -> "OrderedDict[str, torch.Tensor]":
        names, values = list(maps), list(maps.values())
        last = self.inner[-1](values[-1])
        results = [self.layer[-1](last)]
        for i in range(len(values) - 2, -1, -1):
            lateral = self.inner[i](values[i])
            last = lateral + F.interpolate(last, size=lateral.shape[-2:], mode="nearest")
            results.insert(0, self.layer[i](last))
        return OrderedDict(zip(names, results))


def test_features_only_gives_a_backbone_as_detectors_take_it():
    backbone = resdsl.create_model("torchvision/resnet18", features_only=True,
                                   out_indices=(1, 2, 3, 4), input="3x64x64")
    info = backbone.feature_info
    assert info.channels() == [64, 128, 256, 512] and info.reduction() == [4, 8, 16, 32]
    assert info.module_name() == ["layer1", "layer2", "layer3", "layer4"]
    assert len(info) == 5 and info.channels(0) == 64 and info[0]["module"] == "relu"
    assert backbone.out_channels == 512
    maps = backbone(torch.randn(2, 3, 64, 64))
    assert isinstance(maps, OrderedDict) and list(maps) == ["0", "1", "2", "3"]
    for channels, reduction, value in zip(info.channels(), info.reduction(), maps.values()):
        assert value.shape == (2, channels, 64 // reduction, 64 // reduction)
    fpn = TinyFPN(info.channels(), 32)
    pyramid = fpn(maps)
    assert [tuple(v.shape) for v in pyramid.values()] == [(2, 32, 16, 16), (2, 32, 8, 8),
                                                          (2, 32, 4, 4), (2, 32, 2, 2)]
    sum(v.sum() for v in pyramid.values()).backward()
    assert backbone.conv1.weight.grad is not None


def test_features_are_the_network_s_own_maps_and_weights():
    model = resdsl.create_model("timm/resnet18d").eval()
    features = resdsl.create_model("timm/resnet18d", features_only=True, out_indices=(0, -1))
    missing, unexpected = features.load_state_dict(model.state_dict(), strict=False)
    assert not missing and unexpected == ["fc.weight", "fc.bias"]
    features.eval()
    x = torch.randn(1, 3, 64, 64)
    maps = features(x)
    assert list(maps) == ["0", "1"] and features.feature_info.reduction() == [2, 32]
    head = model.fc(torch.flatten(F.adaptive_avg_pool2d(maps["1"], 1), 1))
    torch.testing.assert_close(head, model(x))


def test_features_of_stages_in_one_container_and_of_a_stem_in_one():
    backbone = resdsl.create_model("timm/resnetv2_50", features_only=True, input="3x64x64")
    assert backbone.feature_info.module_name() == ["stem.conv"] + [
        f"stages.{i}.blocks" for i in range(4)]
    maps = backbone(torch.randn(1, 3, 64, 64))
    assert [v.shape[1] for v in maps.values()] == backbone.feature_info.channels()


def test_a_map_is_not_overwritten_by_an_in_place_layer_after_it(tmp_path):
    # Stages sharing a container: the ReLU that begins the second works in place on the
    # map the first ends with.
    spec = tmp_path / "inplace.res"
    spec.write_text("network n {\n  input 3x8x8\n  classes 2\n  stem { conv 3x3, 4 }\n"
                    "  stage a in features {\n    conv 3x3, 4\n  }\n"
                    "  stage b in features {\n    relu\n    conv 3x3, 4\n  }\n"
                    "  head { avgpool; fc classes }\n}\n")
    backbone = resdsl.create_model(spec, features_only=True).eval()
    assert backbone.features[1].inplace
    maps = backbone(torch.randn(1, 3, 8, 8))
    assert list(maps) == ["0", "1", "2"] and (maps["1"] < 0).any()


def test_listing_models_and_their_feature_maps_needs_no_torch():
    code = ("import sys, resdsl\n"
            "from resdsl.features import feature_points\n"
            "from resdsl.tables import features_table\n"
            "assert 'resnet50' in resdsl.list_models()\n"
            "features_table('r', feature_points(resdsl.parse_network('resnet50', input='3x64x64')))\n"
            "sys.exit(any(m.split('.')[0] == 'torch' for m in sys.modules))\n")
    done = run_python(code)
    assert done.returncode == 0, done.stdout + done.stderr
