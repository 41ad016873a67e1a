"""resdsl.expand: families and derived networks applied, a network's statements placed
once each (`NetworkPlan`), and the choice of the network a file means."""

import pytest

from resdsl import syntax as syn
from resdsl.diagnostics import ResdslError
from resdsl.expand import expand, select_network
from resdsl.loader import program_from_text
from resdsl.lower import lower

from helpers import TINY

FAMILY = TINY.replace("network tiny {", "family fam(n, width = 16) {") \
             .replace("2 x basic(16)", "n x basic(width)")


def plan_of(text: str, name: str):
    program = program_from_text(text)
    return expand(select_network(program, name), program.namespace)


def test_families_derived_networks_and_overrides():
    text = FAMILY + """
network a = fam(n = 3)
network b = a { shortcut B; stage s2: 1 x basic(64), stride 2 }
"""
    program = program_from_text(text)
    a, b = lower(program, "a"), lower(program, "b")
    assert len(a.stages[1].blocks) == 3 and a.shortcut == "A"
    assert b.shortcut == "B" and len(b.stages[2].blocks) == 1
    assert b.stages[2].out_shape == (64, 16, 16)


def test_an_override_replaces_in_place_and_a_new_statement_is_added():
    """Statements are keyed (`stage s2`, `expect params`, `shortcut`): a derived network
    replaces its base's of the same key where they stand, and adds the others; the
    family's arguments stay visible to the derived network's own statements."""
    text = FAMILY + """
network a = fam(n = 3) { expect params 1M }
network b = a { stage s2: n x basic(64), stride 2; expect params 2M; expect flops 1G }
"""
    plan = plan_of(text, "b")
    assert plan.env == {"n": 3, "width": 16}
    assert [(role, getattr(stmt, "name", None)) for role, stmt in plan.sections()] == [
        ("stem", None), ("stage", "s1"), ("stage", "s2"), ("head", None)]
    assert plan.stages[1].repeat.call.args[0].value == syn.Number(text="64")  # b's own s2
    assert [(e.metric, e.quantity) for e in plan.expects] == [("params", "2M"), ("flops", "1G")]
    assert len(lower(program_from_text(text), "b").stages[2].blocks) == 3  # n = 3, from the family


@pytest.mark.parametrize("name, note", [
    ("basic", "'basic' is a block, not a network; networks: a, b"),
    ("fam", "'fam' is a family, not a network; networks: a, b"),
    ("cifar10_paper", "'cifar10_paper' is a recipe, not a network; networks: a, b"),
    ("bb", "did you mean 'b'?"),
])
def test_naming_a_network_the_file_lacks_says_what_the_name_is(name, note):
    program = program_from_text(FAMILY + "network a = fam(n = 1)\nnetwork b = a\n")
    with pytest.raises(ResdslError, match=f"no network '{name}' in this file") as caught:
        select_network(program, name)
    assert caught.value.diagnostics[0].notes == (note,)


def test_a_file_with_several_networks_needs_a_choice():
    program = program_from_text(TINY + TINY.replace("network tiny", "network other"))
    with pytest.raises(ResdslError, match="several networks"):
        lower(program)
    assert lower(program, "other").name == "other"


def test_a_second_stem_or_head_and_a_stage_name_used_twice_are_all_reported():
    text = TINY.replace("head {", "stem { relu }\n    stage s1 { relu }\n    head { relu }\n    head {")
    with pytest.raises(ResdslError) as caught:
        plan_of(text, None)
    assert [d.message for d in caught.value.diagnostics] == [
        "a network has one stem; this is a second", "duplicate stage name 's1'",
        "a network has one head; this is a second"]
    assert caught.value.diagnostics[1].notes == ("first used at <string>:7:5",)


CONTAINED = """
network base {
    input    3x32x32
    classes  10
    stem conv1 in stem { conv 3x3, 16; batchnorm; relu }
    stage s1 in stages.0: 1 x basic(16)
    stage s2 in stages.1: 1 x basic(32), stride 2
    stage s3 in stages.2: 1 x basic(32)
    head { avgpool; fc classes }
    expect params 0.1M within 50%
    expect flops  5M
}
"""


def test_an_override_keeps_what_it_does_not_mention():
    """`stage s1: ...` over `stage s1 in stages.0: ...` still goes in stages.0; `stem { }`
    over `stem conv1 in stem { }` keeps its name and its module."""
    text = CONTAINED + """
network derived = base {
    stem { conv 3x3, 8; batchnorm; relu }
    stage s1: 2 x basic(16)
    stage s3 in other: 1 x basic(32)
}
"""
    plan = plan_of(text, "derived")
    assert (plan.stem.name, plan.stem.module) == ("conv1", "stem")
    assert [s.module for s in plan.stages] == ["stages.0", "stages.1", "other"]
    net = lower(program_from_text(text), "derived")
    assert [st.module for st in net.stages[1:4]] == ["stages.0", "stages.1", "other"]
    assert len(net.stages[1].blocks) == 2


def test_a_derived_network_drops_an_inherited_expectation():
    text = CONTAINED + "network derived = base { expect flops none }\n"
    assert [e.metric for e in lower(program_from_text(text), "derived").expects] == ["params"]
    assert [e.metric for e in lower(program_from_text(text), "base").expects] == ["params", "flops"]
    both = CONTAINED + "network derived = base { expect params none; expect flops none }\n"
    assert lower(program_from_text(both), "derived").expects == []
    with pytest.raises(ResdslError, match="cannot expect 'parms'"):
        lower(program_from_text(CONTAINED + "network d = base { expect parms none }\n"), "d")


def test_an_error_in_an_inherited_statement_names_the_users_line(tmp_path):
    (tmp_path / "base.res").write_text(CONTAINED)
    (tmp_path / "mine.res").write_text(
        'import "base.res"\nnetwork mine = base {\n    stage s2 in elsewhere: 1 x basic(16)\n}\n')
    from resdsl.loader import load_program

    with pytest.raises(ResdslError) as caught:
        lower(load_program(tmp_path / "mine.res"))
    diag = caught.value.diagnostics[0]
    assert (diag.span.file, diag.span.line, diag.span.col) == (str(tmp_path / "mine.res"), 2, 16)
    assert diag.message.startswith("in stage 's3' of 'base': 's3' goes in 'stages'")
    assert any("base.res:8:5" in note for note in diag.notes)
    assert any("'mine' writes stage 's2' at" in note and "mine.res:3:5" in note
               for note in diag.notes)
    # in one file the error stays where the statement is, and a note names the network
    same = CONTAINED + "network mine = base { stage s2 in elsewhere: 1 x basic(16) }\n"
    with pytest.raises(ResdslError) as caught:
        lower(program_from_text(same, "same.res"), "mine")
    diag = caught.value.diagnostics[0]
    assert diag.span.line == 8 and "network 'mine' inherits it from 'base' at same.res:13:16" \
        in diag.notes


BLOCKS_FAMILY = """
family f(r, blk = basic, stem = imagenet_stem, shortcut = B) {
    input    3x64x64
    classes  10
    shortcut shortcut
    stem conv1: stem()
    stage s1: r x blk(16)
    stage s2: r x blk(32), stride 2
    head { avgpool; fc classes }
}
"""


def test_a_family_takes_blocks_and_stems_as_arguments():
    """timm's switches as arguments: the block (with arguments given in advance), the
    stem, the shortcut. `blk = se_bottleneck` was `unknown name 'se_bottleneck'`."""
    text = BLOCKS_FAMILY + """
network plain = f(1)
network se = f(1, blk = se_bottleneck, stem = deep_stem, shortcut = D)
network next = f(2, blk = bottleneck(stride_on = 3x3, groups = 4, expansion = 2))
"""
    program = program_from_text(text)
    plain, se, nxt = (lower(program, name) for name in ("plain", "se", "next"))
    assert [b.block for b in plain.stages[1].blocks] == ["basic"]
    assert [b.block for b in se.stages[1].blocks] == ["se_bottleneck"] and se.shortcut == "D"
    assert [i.name for i in plain.stages[0].items] == ["conv1", "bn1", "relu", "maxpool"]
    assert [i.name for i in se.stages[0].items] == ["conv1", "bn1", "relu", "maxpool"]
    assert se.stages[0].items[0].kind == "group" and len(se.stages[0].items[0].items) == 7
    assert nxt.stages[2].blocks[0].args == {"width": 32, "stride": 2, "expansion": 2,
                                            "stride_on": (3, 3), "groups": 4}


def test_a_stem_written_as_a_block_is_the_blocks_layers():
    text = """
network n {
    input    3x64x64
    classes  10
    stem conv1 in stem: deep_stem(width = 8)
    head { avgpool; fc classes }
}
"""
    net = lower(program_from_text(text))
    stem = net.stages[0]
    assert (stem.name, stem.module, stem.out_shape) == ("conv1", "stem", (16, 16, 16))
    # in a container of its own, numbered by position where the block leaves no label
    assert [i.name for i in stem.items] == ["conv1", "bn1", "2", "3"]
