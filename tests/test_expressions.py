"""resdsl.expressions: the project's own evaluator (never `eval`), the checks that turn
a value into what a field needs, and the binding of a call's arguments to parameters."""

from fractions import Fraction

import pytest

from resdsl import syntax as syn
from resdsl.diagnostics import ResdslError
from resdsl.expressions import Symbol, evaluate
from resdsl.parser import parse


def expression(text: str) -> syn.Expr:
    return parse(f"network n {{ classes {text} }}").decls[0].body[0].value


def value(text, env=None, bare_words=False):
    return evaluate(expression(text), env or {}, bare_words)


@pytest.mark.parametrize("text, expected", [
    ("2 * 3 + 1", 7), ("2 * (3 + 1)", 8), ("64 / 4", 16), ("7 // 2", 3), ("10 - 2 - 3", 5),
    ("4 * width", 256), ("(1 if width == 64 else 2)", 1), ("(1 if width != 64 else 2)", 2),
])
def test_evaluator_arithmetic(text, expected):
    assert value(text, {"width": 64}) == expected


def test_evaluator_is_exact_and_never_uses_eval():
    assert value("64 / 3") == Fraction(64, 3)
    assert value("0.1 + 0.2") == Fraction(3, 10)
    assert value("B") == Symbol("B")
    with pytest.raises(ResdslError, match="unknown name '__import__'"):
        value("__import__")
