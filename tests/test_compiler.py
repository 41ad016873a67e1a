"""The compiler: every spec builds and runs, shortcuts are the paper's, names are
torchvision's, and the compiled modules behave as plain nn.Modules (deepcopy, .to,
torch.compile, TorchScript, DDP, save and load)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resdsl import network_from_text, parse_network
from resdsl.compiler import compile_network, describe_module
from resdsl.diagnostics import ResdslError, ResdslValidationError
from resdsl.modelfile import load_saved, save_model

from helpers import (SPECS, TINY_FAMILY, network_specs, randomize, spec_files, spec_id,
                     tiny_net)

NETWORK_SPECS = network_specs()
LIBRARY_SPECS = [p for p in spec_files() if p not in NETWORK_SPECS]  # families only
# The deepest or widest nets take seconds each to build and run on a CPU.
SLOW_SPECS = {"resnet101", "resnet152", "resnet1202", "vgg19"}

def main_path(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A basic block's layers before its residual point, written out by hand."""
    out = F.relu(block.bn1(block.conv1(x)))
    return block.bn2(block.conv2(out))


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---- every spec ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    pytest.param(p, id=spec_id(p), marks=[pytest.mark.slow] if p.stem in SLOW_SPECS else [])
    for p in NETWORK_SPECS])
def test_every_spec_compiles_and_runs(path):
    net = parse_network(path)
    model = compile_network(net).eval()
    with torch.no_grad():
        out = model(torch.randn(1, *net.input))
    assert out.shape == (1, net.classes)
    assert param_count(model) == net.params


@pytest.mark.parametrize("path", LIBRARY_SPECS, ids=spec_id)
def test_files_without_a_network_say_so(path):
    with pytest.raises(ResdslError, match="no network"):
        parse_network(path)


def test_top_level_names_and_order_are_torchvision_s():
    model = compile_network(tiny_net("B"))
    assert [name for name, _ in model.named_children()] == \
        ["conv1", "bn1", "relu", "layer1", "layer2", "avgpool", "fc"]
    assert list(model.state_dict())[-2:] == ["fc.weight", "fc.bias"]
    # In a block the projection comes last, after bn2, as torchvision registers it.
    block_keys = [k for k in model.state_dict() if k.startswith("layer2.0.")]
    assert block_keys.index("layer2.0.downsample.0.weight") > block_keys.index("layer2.0.bn2.weight")
    assert type(model.fc).__name__ == "FlatLinear" and isinstance(model.fc, nn.Linear)


# ---- shortcuts, as the paper defines them ------------------------------------------------------
def test_option_a_pads_with_zero_channels_and_has_no_parameters():
    model = randomize(compile_network(tiny_net("A"))).eval()
    block = model.layer2[0]
    assert type(block.downsample).__name__ == "ZeroPadShortcut"
    assert list(block.downsample.parameters()) == [] and list(block.downsample.buffers()) == []
    assert model.layer1[0].downsample is None  # the identity
    x = torch.randn(2, 4, 8, 8)
    shortcut = block.downsample(x)
    assert torch.equal(shortcut[:, :4], x[:, :, ::2, ::2])
    assert torch.count_nonzero(shortcut[:, 4:]) == 0
    with torch.no_grad():
        main = main_path(block, x)
        padded = torch.cat([x[:, :, ::2, ::2], torch.zeros(2, 4, 4, 4)], dim=1)
        assert torch.equal(block(x), F.relu(main + padded))
        # The new channels get nothing from the shortcut: only the main path.
        assert torch.equal(block(x)[:, 4:], F.relu(main[:, 4:]))


def test_option_b_projects_only_where_the_shape_changes():
    model = randomize(compile_network(tiny_net("B", n=2))).eval()
    projected = [name for name, m in model.named_modules() if name.endswith("downsample")]
    assert projected == ["layer2.0.downsample"]
    conv, bn = model.layer2[0].downsample
    assert (conv.kernel_size, conv.stride, conv.bias) == ((1, 1), (2, 2), None)
    assert isinstance(bn, nn.BatchNorm2d)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        identity_block, projection_block = model.layer1[0], model.layer2[0]
        assert torch.equal(identity_block(x), F.relu(main_path(identity_block, x) + x))
        expected = F.relu(main_path(projection_block, x) + bn(conv(x)))
        assert torch.equal(projection_block(x), expected)


def test_option_c_projects_on_every_block():
    net = tiny_net("C", n=2)
    model = compile_network(net)
    blocks = [b for stage in (model.layer1, model.layer2) for b in stage]
    assert all(isinstance(b.downsample, nn.Sequential) for b in blocks)
    assert all(b.downsample[0].kernel_size == (1, 1) for b in blocks)
    assert param_count(model) == net.params
    assert param_count(model) - param_count(compile_network(tiny_net("B", n=2))) == sum(
        b.downsample[0].weight.numel() + 2 * b.downsample[1].num_features for b in blocks
        if b is not model.layer2[0])


def test_plain_net_adds_nothing():
    model = randomize(compile_network(tiny_net("none", n=2))).eval()
    assert not any(name.endswith("downsample") for name, _ in model.named_modules())
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        for block, inp in ((model.layer1[0], x), (model.layer2[0], x)):
            assert block.relu2.inplace  # after bn2: nothing else reads it
            assert torch.equal(block(inp), F.relu(main_path(block, inp)))


def test_plain_and_residual_nets_have_the_same_parameters_for_option_a():
    assert param_count(compile_network(tiny_net("none", n=2))) == \
        param_count(compile_network(tiny_net("A", n=2)))


# ---- initialisation -----------------------------------------------------------------------------
def test_zero_init_residual_zeroes_the_bn_before_each_residual_point():
    model = compile_network(tiny_net("B", n=2), zero_init_residual=True).eval()
    blocks = [b for stage in (model.layer1, model.layer2) for b in stage]
    for block in blocks:
        assert torch.count_nonzero(block.bn2.weight) == 0
        assert torch.all(block.bn1.weight == 1)
    assert torch.all(model.layer2[0].downsample[1].weight == 1)  # torchvision leaves it
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():  # every block starts as its shortcut
        assert torch.equal(model.layer1[0](x), F.relu(x))
        assert torch.equal(model.layer2[0](x), F.relu(model.layer2[0].downsample(x)))
    default = compile_network(tiny_net("B"))
    assert torch.all(default.layer1[0].bn2.weight == 1)


def test_zero_init_residual_in_a_bottleneck_zeroes_bn3_and_spares_the_plain_net():
    text = TINY_FAMILY.replace("basic(4)", "bottleneck(2)").replace("basic(8)", "bottleneck(4)")
    model = compile_network(network_from_text(text + "network b = tiny(n = 1)"), zero_init_residual=True)
    block = model.layer1[0]
    assert torch.count_nonzero(block.bn3.weight) == 0 and torch.all(block.bn2.weight == 1)
    # A plain block has no shortcut to start from: zeroing would silence the net.
    plain = compile_network(tiny_net("none"), zero_init_residual=True)
    assert torch.all(plain.layer1[0].bn2.weight == 1)


def test_he_initialisation_as_torchvision():
    text = """network init {
        input 64x16x16
        classes 10
        stem { conv 3x3, 64, bias true; batchnorm; relu }
        head { avgpool; fc classes }
    }"""
    model = compile_network(network_from_text(text))
    fan_out = 64 * 3 * 3
    std = model.conv1.weight.std().item()
    assert abs(std - (2 / fan_out) ** 0.5) / (2 / fan_out) ** 0.5 < 0.05
    assert torch.count_nonzero(model.conv1.bias) == 0
    assert torch.all(model.bn1.weight == 1) and torch.count_nonzero(model.bn1.bias) == 0
    # fc keeps nn.Linear's default: uniform in +-1/sqrt(fan_in).
    bound = 64 ** -0.5
    assert model.fc.weight.abs().max() <= bound and model.fc.weight.abs().max() > bound / 2


# ---- every layer kind -----------------------------------------------------------------------------
def test_every_layer_kind_builds_its_torch_module():
    text = """network kinds {
        input 8x16x16
        classes 5
        stem { conv 3x3, 8, groups 4, bias true; maxpool 3x3, stride 2; avgpool 2x2 }
        head { flatten; fc 12; batchnorm; relu; dropout 0.25; fc classes, bias false }
    }"""
    net = network_from_text(text)
    model = compile_network(net).eval()
    kinds = {name: type(m) for name, m in model.named_children()}
    assert kinds == {"conv1": nn.Conv2d, "maxpool": nn.MaxPool2d, "avgpool": nn.AvgPool2d,
                     "flatten": nn.Flatten, "fc1": nn.Linear, "bn1": nn.BatchNorm1d,
                     "relu": nn.ReLU, "dropout": nn.Dropout, "fc2": nn.Linear}
    assert model.conv1.groups == 4 and model.fc2.bias is None and model.dropout.p == 0.25
    assert (model.maxpool.kernel_size, model.maxpool.stride, model.maxpool.padding) == (3, 2, 1)
    assert (model.avgpool.kernel_size, model.avgpool.stride) == (2, 2)
    assert model(torch.randn(3, *net.input)).shape == (3, 5)
    assert param_count(model) == net.params


def test_relu_works_in_place_only_where_nothing_else_reads_its_input():
    text = """
    block preact(width, stride = 1) {
        relu
        conv 3x3, width, stride stride
        batchnorm
        relu
        conv 3x3, width
        residual
    }
    network pre {
        input 4x8x8
        classes 3
        stem { relu; conv 3x3, 4 }
        stage s: 2 x preact(4)
        head { avgpool; fc classes }
    }"""
    model = compile_network(network_from_text(text)).train()
    assert not model.relu.inplace  # would overwrite the caller's input
    assert not model.layer1[0].relu1.inplace  # would overwrite the block input (the shortcut)
    assert model.layer1[0].relu2.inplace  # after batchnorm
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    before = x.detach().clone()
    model(x).sum().backward()
    assert torch.equal(x.detach(), before) and x.grad is not None


def test_duplicate_top_level_names_are_an_error():
    text = """network clash {
        input 3x8x8
        classes 10
        stem { conv 3x3, 4; layer1: batchnorm }
        stage s: 1 x basic(4)
        head { avgpool; fc classes }
    }"""
    with pytest.raises(ResdslValidationError, match="'layer1' is the module of a stage"):
        network_from_text(text)  # the lowering refuses the spec ...
    # ... and the compiler refuses an IR with the clash built some other way (from JSON, say).
    net = network_from_text(text.replace("layer1: batchnorm", "batchnorm"))
    stem = net.stages[0]
    renamed = stem.model_copy(update={"items": [stem.items[0],
                                                stem.items[1].model_copy(update={"name": "layer1"})]})
    clash = net.model_copy(update={"stages": [renamed, *net.stages[1:]]})
    with pytest.raises(ResdslValidationError, match="named 'layer1'"):
        compile_network(clash)


# ---- plain nn.Modules at run time ---------------------------------------------------------------------
def test_forward_is_only_the_layer_calls_and_one_addition():
    block = compile_network(tiny_net("B")).layer1[0]
    graph = torch.fx.symbolic_trace(block).graph
    ops = [str(node.target) for node in graph.nodes if node.op in ("call_module", "call_function")]
    assert ops == ["conv1", "bn1", "relu1", "conv2", "bn2", "<built-in function add>", "relu2"]


def test_replacing_a_submodule_is_seen_by_forward():
    model = compile_network(tiny_net("A")).eval()
    block = model.layer1[0]
    block.bn2 = nn.Identity()
    x = torch.randn(1, 4, 8, 8)
    with torch.no_grad():
        assert torch.equal(block(x), F.relu(block.conv2(F.relu(block.bn1(block.conv1(x)))) + x))


def test_deepcopy_gives_an_independent_equal_model():
    model = randomize(compile_network(tiny_net("B"))).eval()
    twin = copy.deepcopy(model)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(twin(x), model(x))
        assert twin.network == model.network
        twin.fc.weight.add_(1)
        assert not torch.equal(twin(x), model(x))


def test_to_another_dtype():
    model = randomize(compile_network(tiny_net("A"))).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        expected = model(x)
        model.to(torch.float64)
        out = model(x.double())
    assert out.dtype == torch.float64
    torch.testing.assert_close(out.float(), expected, atol=1e-5, rtol=1e-5)


def test_torch_compile_traces_the_whole_network_in_one_graph():
    torch._dynamo.reset()
    model = randomize(compile_network(tiny_net("A"))).train()
    x = torch.randn(4, 3, 8, 8)
    expected = model(x)
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # fullgraph: no breaks
    out = compiled(x)
    torch.testing.assert_close(out, expected)
    out.sum().backward()
    assert model.conv1.weight.grad is not None


# Twelve networks of different kinds and widths: more than dynamo's recompile limit (8),
# which one shared `forward` code object would exhaust.
MANY = """network many{k} {{
    input 3x8x8
    classes 2
    stem {{ conv 3x3, 8; batchnorm; relu }}
    stage s: 1 x {block}
    head {{ avgpool; fc classes }}
}}
"""
BLOCKS = ("basic({w})", "bottleneck({w})", "preact_basic({w})", "se_basic({w}, reduction = 2)")


@pytest.mark.slow
def test_twelve_networks_in_one_process_all_run_compiled():
    torch._dynamo.reset()
    x = torch.randn(2, 3, 8, 8)
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        for k in range(12):
            block = BLOCKS[k % len(BLOCKS)].format(w=4 + k)
            model = randomize(compile_network(network_from_text(MANY.format(k=k, block=block))))
            model.eval()
            with torch.no_grad():
                torch.testing.assert_close(torch.compile(model, backend="eager")(x), model(x))
    frames = torch._dynamo.utils.counters["frames"]
    assert frames["ok"] >= 12 and torch._dynamo.utils.counters["stats"]["unique_graphs"] >= 12
    torch._dynamo.reset()


def test_the_recompile_limit_is_hit_when_networks_share_their_code():
    """The control for the test above: one hand-written class of varying depth (one code
    object) does hit the limit, so passing above means each network has its own code."""
    class Shared(nn.Module):
        def __init__(self, depth: int):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(4, 4) for _ in range(depth))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    torch._dynamo.reset()
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True), \
            pytest.raises(Exception, match="recompile_limit"):
        for depth in range(1, 13):
            torch.compile(Shared(depth), backend="eager")(torch.randn(2, 4))
    torch._dynamo.reset()


def test_ddp_wraps_and_trains(tmp_path):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    if not dist.is_available() or dist.is_initialized():
        pytest.skip("torch.distributed unavailable, or a process group is already set up")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        model = DistributedDataParallel(compile_network(tiny_net("B")))
        model(torch.randn(2, 3, 8, 8)).sum().backward()
        assert model.module.layer2[0].downsample[0].weight.grad is not None
        path = save_model(model, tmp_path / "ddp.pt")  # unwraps to the network inside
        assert list(load_saved(path).state_dict()) == list(model.module.state_dict())
    finally:
        dist.destroy_process_group()


# ---- description for the CLI ------------------------------------------------------------------------
def test_describe_module_lists_stages_blocks_and_shortcuts():
    net = tiny_net("B", n=2)
    rows = describe_module(net)
    assert [(r["stage"], r["role"], r["module"], r["block"], r["shortcut"]) for r in rows] == [
        ("conv1", "stem", "", "", ""), ("conv2_x", "stage", "layer1", "2 x basic", "identity"),
        ("conv3_x", "stage", "layer2", "2 x basic", "projection, identity"),
        ("head", "head", "", "", "")]
    assert rows[0]["layers"] == ["conv1", "bn1", "relu"] and rows[0]["blocks"] == []
    assert [(b["module"], b["block"], b["shortcut"]) for b in rows[2]["blocks"]] == [
        ("layer2.0", "basic", "projection"), ("layer2.1", "basic", "identity")]
    model = compile_network(net)
    assert rows[2]["params"] == param_count(model.layer2)
    assert rows[2]["blocks"][0]["params"] == param_count(model.layer2[0])
    assert sum(r["params"] for r in rows) == param_count(model)
    assert rows[2]["input_shape"] == (4, 8, 8) and rows[2]["output_shape"] == (8, 4, 4)


def test_describe_module_of_a_net_without_residual_points():
    rows = describe_module(parse_network(SPECS / "vgg19.res"))
    assert rows[0]["block"] == "2 x conv_relu" and rows[0]["shortcut"] == ""
    assert rows[0]["blocks"][0]["shortcut"] is None and rows[0]["layers"] == ["layer1.2"]


def test_reserved_labels_cover_every_name_a_compiled_module_uses():
    """The lowering refuses these labels without importing torch; torch decides them."""
    from resdsl.ir.layers import RESERVED_LABELS

    model = compile_network(parse_network(SPECS / "resnet20.res"))
    block = model.layer2[0]
    used = {n for n in dir(nn.Module) + dir(nn.Sequential) + dir(type(block)) + dir(type(model))
            if not n.startswith("_")}
    used |= {n for n in vars(model) | vars(block) if not n.startswith("_")}
    assert used <= RESERVED_LABELS


def test_torchscript_scripts_every_compiled_network():
    for spec in ("resnet20", "resnet34_C", "plain20", "vgg19"):
        net = parse_network(SPECS / f"{spec}.res")
        model = randomize(compile_network(net)).eval()
        scripted = torch.jit.script(model)
        x = torch.randn(1, *net.input)
        with torch.no_grad():
            assert torch.equal(scripted(x), model(x))


def test_each_network_has_code_of_its_own():
    a, b = compile_network(tiny_net("A")), compile_network(tiny_net("B"))
    assert type(a).forward.__code__ is not type(b).forward.__code__
    assert "class TinyA" in a.source and "out = out + shortcut" in a.source
