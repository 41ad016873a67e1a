"""resdsl.ir.layers: each primitive's shape rule, cost and torch code, checked on the
layer itself; the output sizes of every sliding window against torch's own modules."""

import itertools

import pytest
import torch
from torch import nn

from resdsl.diagnostics import ResdslError
from resdsl.ir.layers import LAYERS, RESERVED_LABELS, LayerArgs, call, check_label


def build(kind: str, shape: tuple, **values):
    return LAYERS[kind].build(LayerArgs(kind, values, {}, None), "x", shape)


def test_one_vocabulary_the_registry_key_is_the_kind():
    assert {key: cls.model_fields["kind"].default for key, cls in LAYERS.items()} == \
        {key: key for key in LAYERS}


def test_conv_shape_parameters_and_cost():
    conv = build("conv", (8, 16, 16), kernel=(3, 3), channels=16, groups=4, bias=True, stride=2)
    assert conv.out_shape == (16, 8, 8) and conv.padding == (1, 1)  # 'same' padding, halved
    assert conv.params == 3 * 3 * (8 // 4) * 16 + 16
    assert conv.work() == (16 * 8 * 8 * 3 * 3 * 2, 16 * 8 * 8, 16 * 8 * 8)  # MACs, bias adds, outputs
    assert conv.torch() == "nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=4, bias=True)"
    dilated = build("conv", (8, 16, 16), kernel=(3, 3), channels=16, dilation=2)
    assert dilated.out_shape == (16, 16, 16) and dilated.padding == (2, 2)
    assert dilated.torch() == "nn.Conv2d(8, 16, 3, padding=2, dilation=2, bias=False)"
    assert build("conv", (3, 8, 8), kernel=(1, 7), channels=4).padding == (0, 3)


def test_fc_reads_a_1x1_map_or_a_flat_input():
    on_map = build("fc", (512, 1, 1), features=10)
    assert (on_map.params, on_map.work().flops) == (512 * 10 + 10, 512 * 10)
    assert on_map.torch() == "FlatLinear(512, 10)" and "class FlatLinear" in on_map.helper()
    flat = build("fc", (512,), features=10, bias=False)
    assert (flat.params, flat.torch(), flat.helper()) == (5120, "nn.Linear(512, 10, bias=False)", "")
    with pytest.raises(ResdslError, match="fc needs a 1x1 map or a flat input, but its input is 512x7x7"):
        build("fc", (512, 7, 7), features=10)


def test_norms_and_activations():
    assert build("batchnorm", (12, 4, 4)).torch() == "nn.BatchNorm2d(12)"
    assert build("batchnorm", (12,)).torch() == "nn.BatchNorm1d(12)"  # after flatten or fc
    assert build("batchnorm", (12, 4, 4)).params == build("groupnorm", (12, 4, 4), groups=3).params == 24
    with pytest.raises(ResdslError, match="groupnorm's 5 groups must divide its 12 channels"):
        build("groupnorm", (12, 4, 4), groups=5)
    relu = build("relu", (4, 2, 2))
    assert (relu.torch(), relu.torch(after_fresh=True)) == ("nn.ReLU()", "nn.ReLU(inplace=True)")
    with pytest.raises(ResdslError, match=r"dropout probability must be in \[0, 1\), got 1"):
        build("dropout", (10,), p=1)


def test_zero_padding_subsamples_and_adds_free_channels():
    pad = build("zeropad", (16, 7, 7), channels=32, stride=2)
    assert pad.out_shape == (32, 4, 4) == (32, *torch.zeros(7, 7)[::2, ::2].shape)
    assert (pad.params, pad.work().flops, pad.torch()) == (0, 0, "ZeroPadShortcut(2, 16)")
    with pytest.raises(ResdslError, match="zero padding cannot shrink channels"):
        build("zeropad", (16, 7, 7), channels=8)


def test_the_global_average_pool_takes_no_options():
    assert build("avgpool", (64, 7, 7)).out_shape == (64, 1, 1)
    assert build("avgpool", (64, 7, 7)).torch() == "nn.AdaptiveAvgPool2d(1)"
    with pytest.raises(ResdslError, match="a global avgpool .no window. takes no options"):
        build("avgpool", (64, 7, 7), stride=2)


WINDOWS = [(size, kernel, stride, pad, ceil)
           for size, kernel, stride, pad, ceil in itertools.product(
               (3, 4, 5, 7, 8), (1, 2, 3), (1, 2, 3), (0, 1), (False, True))
           if kernel <= size + 2 * pad and 2 * pad <= kernel]


@pytest.mark.parametrize("kind, module", [("maxpool", nn.MaxPool2d), ("avgpool", nn.AvgPool2d)])
def test_pool_output_sizes_are_torch_s(kind, module):
    """ceil_mode included: torch drops a last window that would start in the padding."""
    for size, kernel, stride, pad, ceil in WINDOWS:
        layer = build(kind, (1, size, size), kernel=(kernel, kernel), stride=stride, padding=pad,
                      ceil_mode=ceil)
        torch_layer = module(kernel, stride=stride, padding=pad, ceil_mode=ceil)
        shape = tuple(torch_layer(torch.zeros(1, 1, size, size)).shape[1:])
        assert layer.out_shape == shape, (kind, size, kernel, stride, pad, ceil)


def test_conv_output_sizes_are_torch_s():
    for size, kernel, stride, pad, dilation in itertools.product((3, 5, 8), (1, 3, 5), (1, 2),
                                                                 (0, 1, 2), (1, 2)):
        if dilation * (kernel - 1) + 1 > size + 2 * pad:
            continue
        layer = build("conv", (1, size, size), kernel=(kernel, kernel), channels=1, stride=stride,
                      padding=pad, dilation=dilation)
        conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=pad, dilation=dilation)
        shape = tuple(conv(torch.zeros(1, 1, size, size)).shape[1:])
        assert layer.out_shape == shape, (size, kernel, stride, pad, dilation)


def test_a_window_larger_than_its_padded_input_is_refused():
    with pytest.raises(ResdslError, match=r"maxpool window 5 is larger than its padded input \(height = 2 \+ 2x1\)"):
        build("maxpool", (1, 2, 2), kernel=(5, 5), padding=1)
    with pytest.raises(ResdslError, match=r"conv window 5 is larger than its input \(height = 3\)"):
        build("conv", (1, 3, 3), kernel=(3, 3), channels=1, dilation=2, padding=0)


def test_call_writes_source_as_a_person_would():
    assert call("nn.Conv2d", 3, 64, 7, stride=2, padding=None, bias=False) == \
        "nn.Conv2d(3, 64, 7, stride=2, bias=False)"
    assert call("nn.Flatten") == "nn.Flatten()"


@pytest.mark.parametrize("label", ["forward", "training", "_hidden", "class", "x", "shortcut"])
def test_labels_that_the_compiled_module_uses_are_refused(label):
    """Module attributes, names in the generated code, Python keywords, private names."""
    with pytest.raises(ResdslError, match=f"'{label}' cannot label a layer"):
        check_label(label, None)


def test_ordinary_labels_pass():
    for label in ("conv1", "proj", "se", "downsample", "layer1"):
        assert label not in RESERVED_LABELS
        check_label(label, None)


def test_every_registry_of_a_layer_kind_is_derived_from_its_class():
    """One owner per layer kind: the IR's item union, module names, figure words,
    initialisation and the generated code's reserved names all come from LAYERS."""
    import typing

    from resdsl import codegen, ir
    from resdsl.ir.layers import always_numbered, short_name

    members = set(typing.get_args(typing.get_args(ir.Item)[0]))
    assert set(LAYERS.values()) <= members
    assert (short_name("batchnorm"), short_name("conv"), short_name("relu")) == ("bn", "conv", "relu")
    assert always_numbered("conv") and not always_numbered("relu") and not always_numbered("block")
    for layer in LAYERS.values():
        assert not layer.helper_class or layer.helper_class in codegen.TAKEN
        for name in layer.torch_classes:
            assert name in codegen.init_classes(layer.init)
    conv = build("conv", (8, 16, 16), kernel=(3, 3), channels=16, stride=2, groups=2)
    assert conv.figure_words() == "3x3 conv, 16, /2, groups 2"  # its options, as tables show them
    assert build("batchnorm", (8, 4, 4)).minor_words() == "BN" and not LAYERS["batchnorm"].boxed
    assert build("batchnorm", (8, 4, 4)).buffer_bytes() == 2 * 4 * 8 + 8


def test_channel_conv_runs_one_kernel_along_the_channels_of_a_pooled_vector():
    eca = build("channel_conv", (256, 1, 1), kernel=5)
    assert (eca.out_shape, eca.params, eca.work()) == ((256, 1, 1), 5, (256 * 5, 0, 256))
    namespace: dict = {"torch": torch, "nn": nn}
    exec(eca.helper(), namespace)  # the generated code's helper, run as codegen runs it
    module = namespace["ChannelConv"](5)
    x = torch.randn(2, 256, 1, 1)
    expected = torch.nn.functional.conv1d(x.view(2, 1, 256), module.weight, padding=2)
    assert torch.equal(module(x), expected.view(2, 256, 1, 1))
    assert [k for k in module.state_dict()] == ["weight"]
    with pytest.raises(ResdslError, match="pooled vector"):
        build("channel_conv", (256, 2, 2), kernel=5)
