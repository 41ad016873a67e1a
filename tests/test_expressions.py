"""resdsl.expressions: the project's own evaluator (never `eval`), the checks that turn
a value into what a field needs, and the binding of a call's arguments to parameters."""

from fractions import Fraction

import pytest

from resdsl import syntax as syn
from resdsl.diagnostics import ResdslError
from resdsl.expressions import (MAX_MAGNITUDE, Symbol, as_bool, as_int, as_pair, bind_params,
                                describe, evaluate, to_ir_value)
from resdsl.parser import parse


def expression(text: str) -> syn.Expr:
    return parse(f"network n {{ classes {text} }}").decls[0].body[0].value


def value(text, env=None, bare_words=False):
    return evaluate(expression(text), env or {}, bare_words)


def error_of(function, *args) -> ResdslError:
    with pytest.raises(ResdslError) as caught:
        function(*args)
    return caught.value


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


def test_numbers_keep_the_kind_they_are_written_in():
    """An integer stays an int; a decimal or an exponent is an exact fraction, and a
    quotient that divides is an int again."""
    assert type(value("64")) is int and type(value("64 / 4")) is int
    assert value("1e3") == Fraction(1000) and type(value("1e3")) is Fraction
    assert value("0.5") == Fraction(1, 2)
    assert value("-(2 * 3)") == -6 and value("3x3") == (3, 3) and value("true") is True


def test_constants_and_bare_words():
    assert [value(word) for word in ("A", "none", "false")] == [Symbol("A"), Symbol("none"), False]
    assert value("pixel_mean", bare_words=True) == Symbol("pixel_mean")
    assert value("(3 if A == A else 4)") == 3  # symbols compare by name
    error = error_of(value, "widht", {"width": 64})
    assert error.message == "unknown name 'widht'"
    assert error.diagnostics[0].notes == ("did you mean 'width'?",)


@pytest.mark.parametrize("text, message", [
    ("1 / 0", "division by zero"), ("7 // 0", "division by zero"),
    ("A + 1", "'+' needs numbers, got 'A'"), ("-A", "'-' needs a number, got 'A'"),
    ("3x3 * 2", "'*' needs numbers, got 3x3"), ("true * 2", "'*' needs numbers, got true"),
    ("1e99999", "number out of range: 1e99999"), ("9" * 70, "number out of range: 999"),
    ("1000000 * 1000000 * 10000", "number too large: 1e+16"),
])
def test_errors_name_the_operator_and_point_at_the_expression(text, message):
    error = error_of(value, text)
    assert error.message.startswith(message)
    assert (error.span.line, error.span.col) == (1, 21)  # where the expression starts


def test_the_magnitude_limit_is_inclusive():
    assert value("1000000 * 1000000 * 1000") == MAX_MAGNITUDE


def test_as_int_says_what_the_field_needs():
    assert as_int(Fraction(8, 2), "width", None) == 4
    assert as_int(0, "padding", None, minimum=0) == 0
    for given, says in ((Fraction(1, 2), "width must be an integer, got 0.5"),
                        (True, "width must be an integer, got true"),
                        (Symbol("A"), "width must be an integer, got 'A'"),
                        (0, "width must be positive, got 0")):
        assert error_of(as_int, given, "width", None).message == says
    assert error_of(as_int, -1, "padding", None, 0).message == "padding must be at least 0, got -1"


def test_as_pair_takes_a_size_or_one_number():
    assert as_pair(3, "kernel", None) == (3, 3)
    assert as_pair((1, 7), "kernel", None) == (1, 7)
    assert "two sizes such as 3x3, got 3x3x3" in error_of(as_pair, (3, 3, 3), "kernel", None).message
    assert as_bool(True, "hflip", None) is True
    assert "hflip must be true or false, got 1" in error_of(as_bool, 1, "hflip", None).message


def _params(text: str) -> list[syn.Param]:
    return parse(f"block b({text}) {{ relu }}").decls[0].params


def _args(text: str) -> list[syn.Arg]:
    return parse(f"network n {{ stage s: 1 x b({text}) }}").decls[0].body[0].repeat.call.args


def bind(params: str, args: str, env=None, fixed=None):
    return bind_params(_params(params), _args(args), env or {}, "block 'b'", None, fixed)


def test_bind_params_fills_defaults_in_order_from_earlier_parameters():
    assert bind("width, stride = 1, out = 4 * width", "64") == {"width": 64, "stride": 1, "out": 256}
    assert bind("width, stride = 1", "stride = 2, width = w", {"w": 8}) == {"width": 8, "stride": 2}
    # A stage's stride is fixed: it wins over the written argument.
    assert bind("width, stride = 1", "64, 1", fixed={"stride": 2}) == {"width": 64, "stride": 2}


@pytest.mark.parametrize("params, args, message, note", [
    ("width", "1, 2", "block 'b' takes 1 argument(s) (width), got 2", None),
    ("width", "widht = 1", "block 'b' has no parameter 'widht'", "did you mean 'width'?"),
    ("width", "kernel = 1", "block 'b' has no parameter 'kernel'", "parameters: width"),
    ("width", "1, width = 2", "argument 'width' given twice", None),
    ("width, stride", "1", "block 'b' needs an argument for 'stride'", None),
])
def test_bind_params_errors(params, args, message, note):
    error = error_of(bind, params, args)
    assert error.message == message
    assert note is None or note in error.diagnostics[0].notes


def test_values_in_words_and_in_the_ir():
    assert [describe(v) for v in (True, Symbol("B"), (3, 3), Fraction(1, 4), 7)] == \
        ["true", "'B'", "3x3", "0.25", "7"]
    assert [to_ir_value(v) for v in (Symbol("B"), Fraction(1, 4), 7, (1, 7))] == ["B", 0.25, 7, (1, 7)]


# ---- functions, comparisons and computed sizes ------------------------------------------
@pytest.mark.parametrize("text, expected", [
    ("max(1, k, 3)", 5), ("min(k, 2)", 2), ("max(k / 2, 2)", Fraction(5, 2)),
    # round_to: the nearest multiple, halves up, at least the multiple (timm's make_divisible
    # with round_limit 0, as its SE modules use it)
    ("round_to(12, 8)", 16), ("round_to(11.9, 8)", 8), ("round_to(3, 8)", 8),
    ("round_to(k * 64 / 16, 8)", 24), ("max(32, round_to(k * 4, 8))", 32),
    ("(1 if k < 6 else 2)", 1), ("(1 if k <= 4 else 2)", 2), ("(1 if k > 4 else 2)", 1),
    ("(1 if k >= 6 else 2)", 2), ("(1 if 1x3 != 3x1 else 2)", 1),
    ("1x(k)", (1, 5)), ("(k)x(k - 2)x1", (5, 3, 1)), ("(k - 4)x1", (1, 1)),
])
def test_functions_comparisons_and_computed_sizes(text, expected):
    assert value(text, {"k": 5}) == expected


@pytest.mark.parametrize("text, message", [
    # a size compared with a number was silently false: `bottleneck(16, stride_on = 3)`
    # put its stride nowhere
    ("(1 if s == 3 else 2)", "cannot compare 1x1 (a size) with 3 (a number)"),
    ("(1 if s != 3 else 2)", "cannot compare 1x1 (a size) with 3 (a number)"),
    ("(1 if A == 1 else 2)", "cannot compare 'A' (a word) with 1 (a number)"),
    ("(1 if true == 1 else 2)", "cannot compare true (a truth value) with 1 (a number)"),
    ("(1 if s < 3x3 else 2)", "'<' orders numbers, got 1x1 and 3x3"),
    ("max(s, 2)", "'max' needs numbers, got 1x1"),
    ("max(2)", "'max' takes two or more numbers, got 1"),
    ("round_to(2, 8, 1)", "'round_to' takes two numbers (a value and the multiple), got 3"),
    ("round_to(20, 2.5)", "the multiple of 'round_to' must be an integer, got 2.5"),
    ("1x(s)", "a size must be an integer, got 1x1"), ("1x(5 / 2)", "a size must be an integer"),
])
def test_function_and_comparison_errors(text, message):
    error = error_of(value, text, {"s": (1, 1)})
    assert error.message.startswith(message)
    assert error.span is not None and error.span.line == 1


def test_a_comparison_error_points_at_the_comparison():
    error = error_of(value, "(1 if s == 3 else 2)", {"s": (1, 1)})
    assert (error.span.col, error.span.end_col) == (27, 33)  # `s == 3`


def test_function_names_are_keywords_only_where_called():
    """`maxpool` stays a layer, `stride (s)` an option with a parenthesised value."""
    body = parse("block b(s) { maxpool 3x3; conv 3x3, 8, stride (s) }").decls[0].body
    assert [item.layer for item in body] == ["maxpool", "conv"]
    assert body[1].args[-1].name == "stride" and isinstance(body[1].args[-1].value, syn.Name)
    assert isinstance(expression("(3)x3"), syn.Dims)  # numbers alone are a plain size
