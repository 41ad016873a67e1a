"""The analyser against the paper's numbers, its own conventions, and torch.

Reference numbers come from tests/reference/paper.json (He et al. 2015, with exact
counts computed for each network); nothing here is a number typed to make a test pass.
"""

from __future__ import annotations

import json
from math import prod
from pathlib import Path

import pytest

from resdsl import network_from_text, parse_network
from resdsl.analyzer import analyze
from resdsl.loader import load_program

from helpers import REFERENCE, SPECS, run_python

PAPER = json.loads((REFERENCE / "paper.json").read_text())
EXACT = PAPER["exact_counts_multiply_adds_224"]
TABLE1 = PAPER["table1_imagenet"]
TABLE6 = PAPER["table6_cifar10"]


def network_specs() -> list[Path]:
    """Every spec file that declares a network (cifar.res and torchvision.res only
    declare families)."""
    return [p for p in sorted(SPECS.glob("**/*.res")) if load_program(p).networks]


def report_of(name: str, input=None):
    return analyze(parse_network(SPECS / f"{name}.res", input=input))


def derived(base: str, body: str):
    """A network derived in text from a spec, e.g. resnet18 with `shortcut A`."""
    text = f'import "{SPECS / base}.res"\nnetwork derived = {Path(base).name} {{ {body} }}\n'
    return analyze(network_from_text(text))


# ---- torch is never imported --------------------------------------------------------
def test_analyze_and_tables_never_import_torch():
    code = ("import sys\n"
            "from resdsl import parse_network\n"
            "from resdsl.analyzer import analyze\n"
            "from resdsl.tables import summary, comparison_table\n"
            f"r = analyze(parse_network({str(SPECS / 'resnet50.res')!r}))\n"
            "summary(r, layers=True); comparison_table([r])\n"
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'torch')\n"
            "print(bad)\n"
            "sys.exit(1 if bad else 0)\n")
    done = run_python(code)
    assert done.returncode == 0, done.stdout + done.stderr


# ---- the paper's exact counts (paper.json) ---------------------------------------------
IMAGENET_VARIANTS = [(name, key) for name, counts in EXACT.items() for key in counts
                     if key != "params"]


@pytest.mark.parametrize("name,key", IMAGENET_VARIANTS)
def test_exact_counts_224(name, key):
    """Every network and variant of `exact_counts_multiply_adds_224`: params and MACs."""
    if key == "macs_option_A":
        report = report_of(f"{name}_A") if (SPECS / f"{name}_A.res").exists() \
            else derived(name, "shortcut A")
        # Option A shortcuts have no parameters: the option-B count less the projections.
        projections = sum(l.params for s in report_of(name).stages for l in s.layers
                          if ".downsample." in l.name)
        assert report.params == EXACT[name]["params"] - projections
    else:
        spec = f"torchvision/{name}" if key == "macs_stride_on_3x3" else name
        report = report_of(spec)
        assert report.params == EXACT[name]["params"]
    assert report.flops == EXACT[name][key]


def test_resnet50_note_explains_the_odd_figure():
    """Table 1 prints 3.8e9 for ResNet-50; the note gives the exact count, which we hit."""
    exact = EXACT["resnet50"]["macs_stride_on_1x1"]
    assert f"{exact:,}" in TABLE1["note_resnet50"]
    assert report_of("resnet50").flops == exact
    assert f"{report_of('torchvision/resnet50').flops:,}" in TABLE1["note_resnet50"]


@pytest.mark.parametrize("name", TABLE6["exact_params_option_A"])
def test_table6_exact_params_and_macs(name):
    report = report_of(name)
    assert report.params == TABLE6["exact_params_option_A"][name]
    if name in TABLE6["exact_macs_option_A"]:
        assert report.flops == TABLE6["exact_macs_option_A"][name]


@pytest.mark.parametrize("name", TABLE6["networks"])
def test_table6_params_to_the_papers_rounding(name):
    """0.27M ... 19.4M: our count rounded to the digits the paper prints equals it."""
    paper_millions = TABLE6["networks"][name]["params"] / 1e6
    shown = f"{paper_millions:g}"
    digits = len(shown.split(".")[1]) if "." in shown else 0
    assert round(report_of(name).params / 1e6, digits) == pytest.approx(paper_millions)


TABLE1_FLOPS = {**TABLE1["other_flops"], **{k: v["flops"] for k, v in TABLE1["networks"].items()}}


# Every figure of Table 1 and Fig. 3 we have a spec for (VGG-16 has none: the paper only
# cites it).
@pytest.mark.parametrize("name", [n for n in TABLE1_FLOPS if (SPECS / f"{n}.res").exists()])
def test_table1_flops_within_2_percent(name):
    assert report_of(name).flops == pytest.approx(TABLE1_FLOPS[name], rel=0.02)


def test_table1_output_sizes():
    for name in TABLE1["networks"]:
        report = report_of(name)
        sizes = {s.name: s.output_shape[1:] for s in report.stages if len(s.output_shape) == 3}
        for stage, expected in TABLE1["stages"].items():
            # Our conv1 stem ends with the max pool, which Table 1 lists under conv2_x.
            if stage in sizes and stage != "conv1":
                assert sizes[stage] == expected["output"], (name, stage)


# ---- plain versus residual ----------------------------------------------------------------
CIFAR_PAIRS = [(f"plain{n}", f"resnet{n}") for n in (20, 32, 44, 56, 110)]


@pytest.mark.parametrize("plain,residual", CIFAR_PAIRS)
def test_cifar_plain_nets_cost_what_the_residual_nets_cost(plain, residual):
    """Table 6 / Fig. 6: "the same parameters"; Sec. 3.2: identity shortcuts add "neither
    extra parameter nor computation complexity" (but for the element-wise addition)."""
    assert "same parameters" in TABLE6["plain_nets"]
    p, r = report_of(plain), report_of(residual)
    assert (p.params, p.flops) == (r.params, r.flops)
    assert r.elementwise - p.elementwise == _added_elements(r)


def test_plain34_and_option_a_resnet34():
    """Table 1 gives the plain and the residual 34-layer nets the same 3.6 GFLOPs; with
    option A the residual net has no extra parameter (Sec. 4.1)."""
    assert TABLE1["other_flops"]["plain34"] == TABLE1["networks"]["resnet34"]["flops"]
    plain, option_a = report_of("plain34"), report_of("resnet34_A")
    assert plain.flops == option_a.flops == EXACT["resnet34"]["macs_option_A"]
    assert plain.params == option_a.params
    assert option_a.elementwise - plain.elementwise == _added_elements(option_a)


def test_plain18_and_option_a_resnet18():
    plain, option_a = report_of("plain18"), derived("resnet18", "shortcut A")
    assert (plain.params, plain.flops) == (option_a.params, option_a.flops)


def _added_elements(report) -> int:
    """The additions of the shortcuts: one per element where a merge adds one."""
    return sum(l.elementwise for s in report.stages for l in s.layers if l.kind == "residual")


# ---- conventions, layer by layer -----------------------------------------------------------
def _layers(report) -> dict:
    return {l.name: l for s in report.stages for l in s.layers}


def test_per_layer_conventions_resnet34():
    layers = _layers(report_of("resnet34"))
    conv1 = layers["conv1"]
    assert conv1.flops == 7 * 7 * 3 * prod(conv1.output_shape) and conv1.elementwise == 0
    bn = layers["layer1.0.bn1"]
    assert bn.elementwise == 2 * prod(bn.output_shape) and bn.params == 2 * bn.output_shape[0]
    relu = layers["layer1.0.relu1"]
    assert relu.elementwise == prod(relu.output_shape) and relu.flops == 0
    pool = layers["maxpool"]
    assert pool.elementwise == 3 * 3 * prod(pool.output_shape)
    identity = layers["layer1.0.residual"]
    assert (identity.flops, identity.elementwise) == (0, prod(identity.output_shape))
    assert identity.detail == "+ identity"
    avgpool, fc = layers["avgpool"], layers["fc"]
    assert avgpool.elementwise == 512 * 7 * 7  # H*W per output channel
    assert (fc.flops, fc.elementwise, fc.params) == (512 * 1000, 1000, 512 * 1000 + 1000)


def test_projection_shortcut_counts():
    """Option B's 1x1 conv, stride 2, counts as multiply-adds; its BN as element-wise;
    each in a row of its own, the addition in the merge's."""
    layers = _layers(report_of("resnet34"))
    conv, bn = layers["layer2.0.downsample.0"], layers["layer2.0.downsample.1"]
    merge = layers["layer2.0.residual"]
    c_in, (c_out, h, w) = 64, conv.output_shape
    assert (conv.kind, bn.kind) == ("conv", "batchnorm")
    assert conv.flops == c_in * c_out * h * w
    assert conv.params + bn.params == c_in * c_out + 2 * c_out
    assert (bn.elementwise, merge.elementwise) == (2 * c_out * h * w, c_out * h * w)
    assert merge.detail == "+ shortcut B: 1x1, 128, stride 2; BN"


def test_option_a_zero_padding_is_free():
    layers = _layers(report_of("resnet34_A"))
    pad, merge = layers["layer2.0.downsample"], layers["layer2.0.residual"]
    assert (pad.kind, pad.params, pad.flops, pad.elementwise) == ("zeropad", 0, 0, 0)
    assert merge.elementwise == prod(merge.output_shape)  # only the addition


def test_option_c_projects_every_shortcut():
    b, c = report_of("resnet34_B"), report_of("resnet34_C")
    merges = [l for s in c.stages for l in s.layers if l.kind == "residual"]
    assert merges and all(l.detail.startswith("+ shortcut C: 1x1") for l in merges)
    assert c.params > b.params and c.flops > b.flops


def test_vgg19_biases_and_dropout():
    layers = _layers(report_of("vgg19"))
    conv = layers["layer1.0.conv1"]
    assert conv.elementwise == prod(conv.output_shape)  # the bias: 1 per output element
    dropouts = [l for l in layers.values() if l.kind == "dropout"]
    assert dropouts and all(l.elementwise == prod(l.output_shape) for l in dropouts)


# ---- the report's structure ----------------------------------------------------------------
def test_report_sums_and_keys():
    report = report_of("resnet50")
    data = json.loads(report.to_json())
    assert data == report.as_dict()
    for key in ("network", "params", "flops", "elementwise", "activations", "activation_bytes",
                "input", "output", "stages", "expects", "conventions"):
        assert key in data
    assert data["input"] == [3, 224, 224] and data["output"] == [1000]
    assert report.activation_bytes == 4 * report.activations
    for stage in data["stages"]:
        assert {"name", "output_shape", "params", "flops", "elementwise", "blocks",
                "layers"} <= set(stage)
        for count in ("params", "flops", "elementwise", "activations"):
            assert stage[count] == sum(l[count] for l in stage["layers"])
            assert sum(b[count] for b in stage["block_rows"]) <= stage[count]
    for count in ("params", "flops", "elementwise", "activations"):
        assert data[count] == sum(s[count] for s in data["stages"])
    repeats = TABLE1["networks"]["resnet50"]["repeats"]
    assert [s["blocks"] for s in data["stages"]] == [0, *repeats, 0]  # stem, stages, head
    assert data["stages"][1]["layers"][0]["name"] == "layer1.0.conv1"


def test_stage_shapes_follow_the_ir():
    net = parse_network(SPECS / "resnet18.res", input=(3, 32, 32))
    report = analyze(net)
    assert [s.output_shape for s in report.stages] == [list(s.out_shape) for s in net.stages]
    assert report.params == net.params


def test_table1_notation():
    r34, r50 = report_of("resnet34"), report_of("resnet50")
    assert r34.stages[0].notation == "7x7, 64, stride 2; 3x3 max pool, stride 2"
    # Grouping ignores the first block's stride: conv3_x is one group of 4.
    assert [s.notation for s in r34.stages[1:3]] == ["[3x3, 64; 3x3, 64] x 3",
                                                     "[3x3, 128; 3x3, 128] x 4"]
    assert r50.stages[1].notation == "[1x1, 64; 3x3, 64; 1x1, 256] x 3"
    assert r50.stages[-1].notation == "average pool, 1000-d fc"


def test_expects_pass_and_fail():
    report = report_of("resnet34")
    assert [(e.metric, e.expected, e.passed) for e in report.expects] == [
        ("params", "21.8M", True), ("flops", "3.6G", True)]
    wrong = derived("resnet18", "expect params 12.5M\nexpect flops 1.9G within 1%")
    failed = {(e.expected, e.passed) for e in wrong.expects}
    assert ("12.5M", False) in failed and ("1.9G", False) in failed
    assert wrong.as_dict()["expects"][0].keys() >= {"metric", "expected", "actual",
                                                    "tolerance", "passed"}


# ---- the compiled module agrees with the analyser, exactly -------------------------------------
def _count(net, device: str) -> tuple[int, int, list[int]]:
    """(sum of numel, FlopCounterMode total, output shape) of the compiled net, batch 1."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from resdsl.compiler import compile_network

    with torch.device(device):
        model = compile_network(net).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(torch.zeros(1, *net.input, device=device))
    params = sum(p.numel() for p in model.parameters())
    return params, counter.get_total_flops(), list(out.shape[1:])


@pytest.mark.parametrize("spec", network_specs(), ids=lambda p: str(p.relative_to(SPECS)))
def test_compiled_module_matches_analysis(spec):
    """sum(numel) and FlopCounterMode / 2 equal the analyser's params and multiply-adds.

    On the meta device: torch dispatches the same aten ops with the same shapes, so the
    counts are those of a CPU run (the next test checks that), and all specs, ResNet-1202
    and VGG-19 included, take seconds instead of a minute. A data-dependent op in the
    compiler would fail here loudly, never count differently."""
    net = parse_network(spec)
    report = analyze(net)
    params, flops, output = _count(net, "meta")
    assert params == report.params
    assert flops == 2 * report.flops
    assert output == report.output


# Option A (zero padding), the plain net and option C (projections everywhere).
@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet34_C"])
def test_meta_counts_equal_a_real_cpu_run(name):
    net = parse_network(SPECS / f"{name}.res", input=(3, 32, 32))
    cpu = _count(net, "cpu")
    assert cpu == _count(net, "meta")
    assert cpu[:2] == (analyze(net).params, 2 * analyze(net).flops)


def test_branches_and_select_cost_what_the_compiled_module_costs():
    """Paths merged by a sum or a concatenation (their input split or not), and a softmax
    selection across groups: the analyser's counts are the module's, and the sum adds."""
    import torch

    from resdsl.compiler import compile_network

    net = network_from_text("""network t {
        input 3x16x16; classes 10
        stem {
            conv 3x3, 8
            both: sum { conv 3x3, 8; { conv 1x1, 8; batchnorm } }
            concat split true { conv 3x3, 4; conv 3x3, 4, dilation 2 }
            select 2 { avgpool; conv 1x1, 8 }
        }
        head { avgpool; fc classes }
    }""")
    report = analyze(net)
    params, flops, output = _count(net, "cpu")
    assert (params, flops, output) == (report.params, 2 * report.flops, report.output)
    assert [s.out_shape for s in net.stages[0].items[1:]] == [(8, 16, 16), (8, 16, 16), (4, 16, 16)]
    both = compile_network(net).eval().both
    x = torch.randn(2, 8, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(both(x), getattr(both, "0")(x) + getattr(both, "1")(x))


def test_table1_shows_what_paths_selections_and_chains_hold():
    """Parallel paths, a selection's attention and Res2Net's chain each get a line of the
    bracket; before, skresnet34 read as a plain `[3x3, 64] x 3` and resnest26d had no 3x3."""
    def layer1(name: str) -> list[str]:
        return report_of(name).stages[1].notation_parts[0].lines

    assert layer1("timm/skresnet34") == [
        "concat split [3x3, 64 | 3x3, 64, dilation 2]", "attn: select 2, [16, 128]", "3x3, 64"]
    assert layer1("timm/resnest26d") == [
        "1x1, 64", "3x3, 128, groups 2", "conv2: select 2, [32, 128]", "1x1, 256"]
    assert layer1("timm/res2next50") == ["1x1, 128", "chain of 4: 3x3, 32, groups 8", "1x1, 256"]
