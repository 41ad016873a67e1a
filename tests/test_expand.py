"""resdsl.expand: families and derived networks applied, a network's statements placed
once each (`NetworkPlan`), and the choice of the network a file means."""

import pytest

from resdsl.diagnostics import ResdslError
from resdsl.loader import program_from_text
from resdsl.lower import lower

from helpers import TINY

FAMILY = TINY.replace("network tiny {", "family fam(n, width = 16) {") \
             .replace("2 x basic(16)", "n x basic(width)")


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


def test_a_file_with_several_networks_needs_a_choice():
    program = program_from_text(TINY + TINY.replace("network tiny", "network other"))
    with pytest.raises(ResdslError, match="several networks"):
        lower(program)
    assert lower(program, "other").name == "other"
