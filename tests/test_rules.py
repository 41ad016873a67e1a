"""resdsl.rules: the static rules, run on every file the loader reads, before anything
is evaluated; every mistake of a file reported in one go. (tests/invalid/ holds one
file per rule with its first diagnostic; these check what a rule sees and collects.)"""

import pytest

from resdsl import syntax as syn
from resdsl.diagnostics import ResdslError
from resdsl.loader import program_from_text
from resdsl.parser import parse
from resdsl.rules import SIGNATURES, check_layer, names_in


def diagnostics(text: str) -> list[tuple[str, int, int]]:
    with pytest.raises(ResdslError) as caught:
        program_from_text(text)
    return [(d.message, d.span.line, d.span.col) for d in caught.value.diagnostics]


def test_every_mistake_of_a_file_is_reported_at_once():
    text = """block b(a = c, c = 1) { relu }
block g(w) { grp: { conv 3x3, w; residual } }
shortcut S(channels, bogus) { same { conv 1x1, width }; other off; changed up }
family f(n, n) { input 3x8x8 }
network x { stem { rleu; conv 3x3 } }
"""
    assert diagnostics(text) == [
        ("unknown name 'c'", 1, 13),
        ("'residual' adds a block's shortcut and can only stand inside a block, in its own "
         "list of layers", 2, 34),
        ("a shortcut's parameters are bound by the block it serves: channels, stride, "
         "in_channels; got 'bogus'", 3, 22),
        ("unknown name 'width'", 3, 48),
        ("a shortcut has the cases `same` (the block keeps its shape) and `changed`; got 'other'", 3, 57),
        ("a case is a list of layers in braces, or `off` (nothing is added); got 'up'", 3, 68),
        ("family 'f' has two parameters named 'n'", 4, 13),
        ("unknown layer 'rleu'", 5, 20),
        ("'conv' takes 2 argument(s) (kernel, channels), got 1", 5, 26),
    ]


def test_a_default_sees_the_parameters_before_it():
    program_from_text("block b(c = 1, a = c) { conv 3x3, a, stride c }")
    assert diagnostics("block b(a = c, c = 1) { conv 3x3, a, stride c }") == [("unknown name 'c'", 1, 13)]


def test_from_names_a_label_written_earlier_in_the_block():
    program_from_text("block b(w) { pre: relu; conv 3x3, w; residual from pre }")
    assert diagnostics("block b(w) { conv 3x3, w; residual from post; post: relu }") == [
        ("no point 'post' before this residual: `from` names the label of a layer written "
         "earlier in the block", 1, 41)]


def test_a_negative_option_value_without_parentheses_gets_a_note():
    with pytest.raises(ResdslError) as caught:
        program_from_text("block b(w) { conv 3x3, w, bias_init -3 }")
    first = caught.value.diagnostics[0]
    assert first.message == "'conv' takes 2 argument(s) (kernel, channels), got 3"
    assert first.notes == ("`bias_init -3` reads as a subtraction; a negative option value goes "
                           "in parentheses: `bias_init (-3)`",)


def test_check_layer_returns_the_signature_it_checked_against():
    conv = parse("block b(w) { conv 3x3, w, stride 2 }").decls[0].body[0]
    assert check_layer(conv) == SIGNATURES["conv"]
    assert SIGNATURES["conv"].positional == ("kernel", "channels") and SIGNATURES["conv"].required == 2
    branchless = syn.LayerStmt(layer="gate")
    with pytest.raises(ResdslError, match="'gate' needs its branch in braces"):
        check_layer(branchless)


def test_names_in_walks_every_operand():
    expr = parse("network n { classes (a if b == 1 else -c) * d + e }").decls[0].body[0].value
    assert sorted(n.id for n in names_in(expr)) == ["a", "b", "c", "d", "e"]
