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
