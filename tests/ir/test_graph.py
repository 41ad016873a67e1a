"""resdsl.ir.graph: the network, its stages and blocks as a graph; what the properties
the compiler, the analyser and the trainer read say, and the JSON that rebuilds it."""

from resdsl import ir, parse_network

from helpers import SPECS, TINY, lower_text


def test_ir_json_is_complete_enough_to_rebuild():
    net = parse_network(SPECS / "resnet50.res")
    assert ir.Network.model_validate_json(net.model_dump_json()) == net


def test_parameters_add_up_from_the_layers():
    net = lower_text(TINY)
    assert net.params == sum(stage.params for stage in net.stages)
    block = net.stages[2].blocks[0]
    merge = block.merge
    assert isinstance(merge, ir.Merge) and merge is block.items[-2]  # residual, then relu
    projection = lower_text(TINY.replace("shortcut A", "shortcut B")).stages[2].blocks[0]
    assert projection.params == sum(i.params for i in projection.items if not isinstance(i, ir.Merge)) \
        + projection.merge.shortcut.params
    assert projection.merge.shortcut.params == 16 * 32 + 2 * 32  # 1x1 conv and BN


def test_a_merge_adds_unless_its_shortcut_is_off():
    plain = lower_text(TINY.replace("shortcut A", "shortcut none")).stages[1].blocks[0]
    assert plain.merge.shortcut.kind == "off" and not plain.merge.adds
    residual = lower_text(TINY).stages[1].blocks[0]
    assert residual.merge.shortcut.kind == "identity" and residual.merge.adds


def test_stages_list_their_blocks_and_the_output_is_the_last_stage_s():
    net = lower_text(TINY)
    assert [len(stage.blocks) for stage in net.stages] == [0, 2, 2, 0]
    assert net.output == net.stages[-1].out_shape == (10,)
    bare = ir.Network(name="bare", input=(3, 8, 8), classes=10, shortcut="B", stages=[])
    assert bare.output == (3, 8, 8) and bare.params == 0
