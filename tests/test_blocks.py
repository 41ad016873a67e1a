"""The block as a small graph: shortcut declarations, where a shortcut starts, gates,
highway merges, groups and containers, and the new primitives, each compiled and
checked against the same computation written out with torch here."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resdsl import analyze, network_from_text, parse_network
from resdsl.analyzer import shortcut_kind
from resdsl.compiler import compile_network

from helpers import SPECS, TINY, lower_text, randomize


def tiny(block: str, shortcut: str = "B", extra: str = "") -> str:
    return extra + f"""
network tiny {{
    input    3x8x8
    classes  10
    shortcut {shortcut}
    stem {{ conv 3x3, 4 }}
    stage s1: 1 x {block}(4)
    stage s2: 1 x {block}(8), stride 2
    head {{ avgpool; fc classes }}
}}
"""


def built(text: str):
    net = network_from_text(text)
    return net, randomize(compile_network(net)).eval()


# ---- one rule for where a bottleneck downsamples --------------------------------------------
BOTTLENECKS = ("bottleneck", "preact_bottleneck", "se_bottleneck")


def test_every_bottleneck_of_the_prelude_takes_stride_on_with_the_papers_default():
    from resdsl.fmt import expr
    from resdsl.loader import prelude_namespace

    blocks = prelude_namespace().blocks
    defaults = {name: expr(param.default) for name, block in blocks.items()
                for param in block.params if param.name == "stride_on"}
    assert set(defaults) == set(BOTTLENECKS) and set(defaults.values()) == {"1x1"}, defaults


@pytest.mark.parametrize("block", BOTTLENECKS)
def test_swapping_one_bottleneck_for_another_keeps_the_stride_where_it_was(block):
    """A downsampling bottleneck strides its first 1x1, whichever of them it is, unless
    the call says `stride_on = 3x3`."""
    for call, strided in (("", "conv1"), (", stride_on = 3x3", "conv2")):
        text = tiny(block, "preact" if block.startswith("preact") else "B")
        net = network_from_text(text.replace(f"{block}(8)", f"{block}(8{call})"))
        first = net.stages[2].blocks[0]
        convs = {item.name: item.stride for item in first.items if item.kind == "conv"}
        assert [name for name, stride in convs.items() if stride == 2] == [strided], convs


# ---- the paper's options are declarations ------------------------------------------------
def test_the_paper_options_are_declared_in_the_prelude():
    from resdsl.loader import prelude_namespace

    shortcuts = prelude_namespace().shortcuts
    assert {"A", "B", "C", "none", "D", "preact"} <= set(shortcuts)
    assert [c.name for c in shortcuts["C"].cases] == ["same", "changed"]


@pytest.mark.parametrize("option, first_kind, later_kind", [
    ("A", "zero_pad", "identity"), ("B", "projection", "identity"),
    ("C", "projection", "projection"), ("none", "none", "none"),
])
def test_shortcut_options(option, first_kind, later_kind):
    net = lower_text(TINY.replace("shortcut A", f"shortcut {option}"))
    blocks = net.stages[2].blocks
    assert shortcut_kind(blocks[0]) == first_kind
    assert shortcut_kind(blocks[1]) == later_kind
    assert all(b.merge.shortcut.decl == option for b in blocks)


def test_bottleneck_stride_position_is_a_block_parameter():
    paper = parse_network(SPECS / "resnet50.res")
    tv = parse_network(SPECS / "torchvision" / "resnet50.res")
    strides = lambda net: [i.stride for i in net.stages[2].blocks[0].items if i.kind == "conv"]
    assert strides(paper) == [2, 1, 1]
    assert strides(tv) == [1, 2, 1]


def test_a_spec_declares_its_own_shortcut_and_names_its_modules():
    text = tiny("basic", "P", extra="""
shortcut P(channels, stride) {
    changed { proj: { conv 1x1, channels, stride stride } }
}
""")
    net, model = built(text)
    assert [shortcut_kind(b) for s in net.stages for b in s.blocks] == ["identity", "projection"]
    assert "layer2.0.proj.0.weight" in model.state_dict()
    assert not any("bn" in key for key in model.state_dict() if ".proj." in key)  # no BN
    block, x = model.layer2[0], torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        out = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
        assert torch.equal(block(x), F.relu(out + block.proj(x)))


def test_resnet_d_pools_before_it_projects():
    net, model = built(tiny("basic", "D"))
    down = model.layer2[0].downsample
    assert isinstance(down[0], nn.AvgPool2d) and down[0].ceil_mode and not down[0].count_include_pad
    x = torch.randn(2, 4, 7, 7)  # odd: the ceil_mode window shows
    with torch.no_grad():
        expected = down[2](down[1](F.avg_pool2d(x, 2, 2, ceil_mode=True, count_include_pad=False)))
        assert torch.equal(down(x), expected)


# ---- where the shortcut starts: pre-activation ----------------------------------------------
def test_preact_identity_carries_x_and_the_projection_reads_the_preactivation():
    net, model = built(tiny("preact_basic", "preact"))
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        for block in (model.layer1[0], model.layer2[0]):
            pre = F.relu(block.norm1(x))
            out = block.conv2(F.relu(block.norm2(block.conv1(pre))))
            shortcut = x if block.downsample is None else block.downsample(pre)
            assert torch.equal(block(x), out + shortcut)
            x = block(x)
    assert model.layer1[0].downsample is None and shortcut_kind(net.stages[2].blocks[0]) == "projection"


def test_he_2016_cifar_nets_count_what_the_paper_reports():
    paper = {"resnet110_preact": 1.7e6, "resnet164_preact": 1.7e6}
    for name, params in paper.items():
        assert abs(parse_network(SPECS / f"{name}.res").params - params) / params < 0.03


# ---- gates -----------------------------------------------------------------------------------
def test_squeeze_and_excitation_scales_the_channels():
    net, model = built(tiny("se_basic", extra="") .replace("(4)", "(16)").replace("(8)", "(32)"))
    block, x = model.layer1[0], torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        out = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
        se = block.se
        gate = torch.sigmoid(se.fc2(F.relu(se.fc1(out.mean((2, 3), keepdim=True)))))
        assert torch.allclose(block(x), F.relu(out * gate + block.downsample(x)), atol=1e-6)
    assert se.fc1.out_channels == 16 // 16 and se.fc1.bias is not None
    rows = {r.name: r for s in analyze(net).stages for r in s.layers}
    assert rows["layer1.0.se"].kind == "gate" and rows["layer1.0.se"].elementwise == 16 * 8 * 8


def test_a_gate_may_read_another_point():
    extra = """
block gated(width, stride = 1) {
    conv1: conv 3x3, width, stride stride
    bn1:   batchnorm
    act:   relu
    conv2: conv 3x3, width
    g:     gate from act { conv 1x1, width; sigmoid }
           residual
}
"""
    net, model = built(tiny("gated", extra=extra))
    block, x = model.layer1[0], torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        act = F.relu(block.bn1(block.conv1(x)))
        expected = block.conv2(act) * block.g(act) + x
        assert torch.equal(block(x), expected)


# ---- highway ---------------------------------------------------------------------------------
def test_highway_mixes_the_path_and_the_shortcut_by_its_gate():
    net, model = built(tiny("highway", "A"))
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        for block in (model.layer1[0], model.layer2[0]):
            out = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
            t = block.gate(x)
            carry = x if block.downsample is None else block.downsample(x)
            assert torch.allclose(block(x), F.relu(t * out + (1 - t) * carry), atol=1e-6)
            x = block(x)
    rows = {r.name: r for s in analyze(net).stages for r in s.layers}
    merge = rows["layer1.0.gate"]  # the highway's label names its gate and its row
    assert merge.kind == "highway" and merge.elementwise == 4 * 4 * 8 * 8
    assert rows["layer1.0.gate.0"].kind == "conv"


def test_the_gate_bias_starts_where_the_spec_says():
    model = compile_network(network_from_text(tiny("highway", "A")))
    assert torch.all(model.layer1[0].gate[0].bias == -3)
    assert torch.all(model.layer1[0].conv1.weight != 0)  # the rest as torchvision inits


def test_highway_and_preact_nets_train(tmp_path):
    from resdsl.train import TrainOptions, plan_run, train
    from resdsl.train.progress import RecordingReporter

    # The families of specs/highway20.res and specs/resnet110_preact.res, one block a stage:
    # the same blocks and recipe, a few seconds on a CPU.
    for library, family in (("cifar.res", "cifar_highway"), ("preact.res", "cifar_preact")):
        spec = f"{family}_1"
        net = network_from_text(f'import "{SPECS / library}"\nnetwork {spec} = {family}(n = 1)\n')
        torch.manual_seed(0)
        model = compile_network(net)
        options = TrainOptions(data="synthetic:64", iterations=20, batch_size=16, lr=0.05,
                               eval_every=20, log_every=5, seed=0, out=str(tmp_path / spec))
        reporter = RecordingReporter()
        recipe = net.recipe.model_copy(update={"warmup_lr": None, "warmup_until_error": None})
        train(plan_run(net, recipe, options), reporter, model)
        losses = [log["train_loss"] for log in reporter.logs if "train_loss" in log]
        assert losses[-1] < losses[0], (spec, losses)


# ---- groups, containers and the new primitives ----------------------------------------------------
def test_groups_number_their_children_and_containers_their_items():
    net = network_from_text("""network g {
        input 3x16x16
        classes 10
        stem conv1 in stem { conv: conv 3x3, 8; pool: maxpool 3x3, stride 2 }
        stage a in features { 2 x { conv 3x3, 8, bias true; relu } }
        stage b in features { maxpool 2x2, stride 2 }
        head { deep: { conv 1x1, 10; batchnorm; relu }; avgpool; flatten }
    }""")
    model = compile_network(net)
    keys = list(model.state_dict())
    assert "stem.conv.weight" in keys and "features.0.weight" in keys and "features.2.bias" in keys
    assert [name for name, _ in model.features.named_children()] == ["0", "1", "2", "3", "4"]
    assert "deep.1.running_mean" in keys
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_dilation_groupnorm_and_adaptive_pooling():
    net = network_from_text("""network p {
        input 4x9x9
        classes 6
        stem { conv 3x3, 8, dilation 2; groupnorm 4; relu; adaptive_avgpool 2x3 }
        head { flatten; fc classes }
    }""")
    model = randomize(compile_network(net)).eval()
    conv, norm, pool = model.conv1, model.gn1, model.adaptive_avgpool
    assert conv.dilation == (2, 2) and conv.padding == (2, 2) and norm.num_groups == 4
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        y = F.adaptive_avg_pool2d(F.relu(F.group_norm(conv(x), 4, norm.weight, norm.bias)), (2, 3))
        assert torch.allclose(model(x), model.fc(y.flatten(1)), atol=1e-6)
    rows = {r.name: r for s in analyze(net).stages for r in s.layers}
    assert rows["conv1"].output_shape == [8, 9, 9]
    # Windows of 9 -> 2 are 0..5 and 4..9; of 9 -> 3 are three of 3: 10 x 9 reads per channel.
    assert rows["adaptive_avgpool"].elementwise == 8 * 10 * 9


@pytest.mark.parametrize("size", [5, 6, 7])
def test_pooling_shapes_follow_torch(size):
    text = f"""network q {{
        input 2x{size}x{size}
        classes 2
        stem {{ maxpool 3x3, stride 2, ceil_mode true; avgpool 2x2, ceil_mode true, count_include_pad false }}
        head {{ avgpool; fc classes }}
    }}"""
    net = network_from_text(text)
    model = compile_network(net)
    x = torch.randn(1, 2, size, size)
    y = F.avg_pool2d(F.max_pool2d(x, 3, 2, 1, ceil_mode=True), 2, 2, ceil_mode=True,
                     count_include_pad=False)
    assert tuple(net.stages[0].out_shape) == tuple(y.shape[1:])
    assert model.avgpool1(model.maxpool(x)).shape == y.shape


def test_avgpool_pads_nothing_unless_told():
    """A map of ones averages to one: no zeros of a default padding in the average."""
    net = network_from_text("""network a {
        input 1x6x6
        classes 4
        stem { avgpool 3x3, stride 1 }
        head { flatten; fc classes }
    }""")
    model = compile_network(net)
    assert net.stages[0].out_shape == (1, 4, 4)
    assert torch.equal(model.avgpool(torch.ones(1, 1, 6, 6)), torch.ones(1, 1, 4, 4))


# ---- a gate outside a block's own list ------------------------------------------------------
def test_a_gate_in_a_labelled_group_scales_that_group_under_its_name():
    """timm's `conv2.attn`: a gate inside a group is a module of its own there (a
    Sequential only passes its input on), multiplying the group's path by its branch."""
    extra = """
block attn_basic(width, stride = 1) {
    conv1: { conv: conv 3x3, width, stride stride; bn: batchnorm; relu }
    conv2: {
        conv: conv 3x3, width
        bn:   batchnorm
        attn: gate { avgpool; fc1: conv 1x1, 2; relu; fc2: conv 1x1, width; sigmoid }
    }
    residual
    relu
}
"""
    net, model = built(tiny("attn_basic", extra=extra))
    assert "layer1.0.conv2.attn.fc1.weight" in model.state_dict()
    conv2, x = model.layer1[0].conv2, torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        path = conv2.bn(conv2.conv(x))
        attn = conv2.attn
        gate = torch.sigmoid(attn.fc2(F.relu(attn.fc1(path.mean((2, 3), keepdim=True)))))
        torch.testing.assert_close(conv2(x), path * gate)
    rows = {r.name: r for s in analyze(net).stages for r in s.layers}
    assert rows["layer1.0.conv2.attn"].kind == "gate"
    assert rows["layer1.0.conv2.attn"].elementwise == 4 * 8 * 8


def test_a_gate_in_a_stem_scales_the_stem():
    net, model = built("""network t {
        input 3x8x8; classes 10
        stem { conv 3x3, 8; se: gate { avgpool; conv 1x1, 8; sigmoid } }
        head { avgpool; fc classes }
    }""")
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out = model.conv1(x)
        gate = torch.sigmoid(getattr(model.se, "1")(out.mean((2, 3), keepdim=True)))
        torch.testing.assert_close(model.se(out), out * gate)


# ---- Res2Net's chain ------------------------------------------------------------------------
CHAIN = """
block r2(width, stride = 1, scale = 4) {
    conv1: conv 1x1, width * scale
    bn1:   batchnorm
           relu
           chain scale { conv 3x3, width, stride stride; batchnorm; relu }
    conv3: conv 1x1, 4 * width
    bn3:   batchnorm
           residual
           relu
}
"""


def chain_by_hand(block, out: torch.Tensor, scale: int, stage: bool) -> torch.Tensor:
    """timm's Bottle2neck between bn1's ReLU and conv3, written out."""
    spx, spo = torch.chunk(out, scale, 1), []
    for i in range(scale - 1):
        sp = spx[i] if i == 0 or stage else sp + spx[i]
        sp = F.relu(block.bns[i](block.convs[i](sp)))
        spo.append(sp)
    last = F.avg_pool2d(spx[-1], 3, block.convs[0].stride, 1) if stage else spx[-1]
    return torch.cat([*spo, last], 1)


def test_a_chain_computes_res2nets_bottleneck_stage_and_normal():
    net, model = built(tiny("r2", extra=CHAIN).replace("1 x r2(4)", "2 x r2(4)"))
    x = torch.randn(2, 4, 8, 8)
    for block, stage in ((model.layer1[0], True), (model.layer1[1], False),
                         (model.layer2[0], True)):
        assert hasattr(block, "pool") == stage
        with torch.no_grad():
            out = F.relu(block.bn1(block.conv1(x)))
            out = block.bn3(block.conv3(chain_by_hand(block, out, 4, stage)))
            down = getattr(block, "downsample", None)
            shortcut = down(x) if down is not None else x
            torch.testing.assert_close(block(x), F.relu(out + shortcut))
            x = block(x)
    assert [k for k in model.state_dict() if k.startswith("layer1.0.") and "bns" not in k][:6] \
        == ["layer1.0.conv1.weight", "layer1.0.bn1.weight", "layer1.0.bn1.bias",
            "layer1.0.bn1.running_mean", "layer1.0.bn1.running_var",
            "layer1.0.bn1.num_batches_tracked"]
    assert {"layer1.0.convs.2.weight", "layer1.1.bns.2.weight"} <= set(model.state_dict())


def test_a_chain_costs_its_additions_and_its_pool():
    """A normal chain adds S-2 maps of one group; a stage chain none, and pools a group."""
    net, _ = built(tiny("r2", extra=CHAIN).replace("1 x r2(4)", "2 x r2(4)"))
    rows = {r.name: r for s in analyze(net).stages for r in s.layers}
    group = 4 * 8 * 8
    assert rows["layer1.1.chain"].elementwise == 2 * group
    assert rows["layer1.0.chain"].elementwise == 0
    assert rows["layer1.0.pool"].elementwise == group * 9
    assert "layer1.1.pool" not in rows and rows["layer1.0.convs.0"].kind == "conv"


def test_a_chain_is_a_stage_where_asked_and_its_labels_name_its_lists():
    extra = CHAIN.replace("chain scale {", "chain scale, stage true {").replace(
        "conv 3x3, width, stride stride", "c: conv 3x3, width, stride stride")
    net, model = built(tiny("r2", extra=extra).replace("1 x r2(4)", "2 x r2(4)"))
    block = model.layer1[1]
    assert hasattr(block, "pool") and hasattr(block, "c") and not hasattr(block, "convs")
    kept = CHAIN.replace("chain scale {", "chain scale, stage false {")
    with pytest.raises(Exception, match="a chain that is no stage adds each step's output"):
        network_from_text(tiny("r2", extra=kept))


def test_a_point_named_like_the_chains_loop_variable_is_not_overwritten():
    """`conv: relu`, a point a gate reads after the chain, must not be replaced by the
    chain's loop variable for `convs` (the loop takes another name)."""
    extra = CHAIN.replace("           relu\n           chain", "    conv:  relu\n           chain"
                          ).replace("    bn3:   batchnorm\n",
                                    "    bn3:   batchnorm\n    g:     gate from conv { avgpool; conv 1x1, 4 * width; sigmoid }\n")
    net, model = built(tiny("r2", extra=extra).replace("1 x r2(4)", "2 x r2(4)"))
    block, x = model.layer1[1], torch.randn(2, 16, 8, 8)
    with torch.no_grad():
        point = F.relu(block.bn1(block.conv1(x)))
        out = block.bn3(block.conv3(chain_by_hand(block, point, 4, False)))
        torch.testing.assert_close(block(x), F.relu(out * block.g(point) + x))


@pytest.mark.parametrize("label", ["sp", "spx", "spo", "i"])
def test_the_chains_own_names_cannot_label_a_layer(label):
    with pytest.raises(Exception, match=f"'{label}' cannot label a layer"):
        network_from_text(tiny("r2", extra=CHAIN.replace("conv3:", f"{label}:")))


def test_a_chain_scripts_with_torchscript():
    """`resdsl export --to torchscript` scripts the network: the chain's lists are zipped
    in its loop, never indexed by a variable, which TorchScript refuses."""
    _, model = built(tiny("r2", extra=CHAIN).replace("1 x r2(4)", "2 x r2(4)"))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(model)(x), model(x))
