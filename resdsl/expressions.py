"""The project's own evaluator for spec expressions. Nothing in a spec reaches `eval`.

Values: integers, exact fractions (from decimals such as 0.1 and from `/`), symbols
(A, B, C, none, and bare words where a field accepts words), booleans, and sizes such
as 3x3. Arithmetic is exact, so `64 / 4` is the integer 16 and `64 / 3` is refused
wherever an integer is needed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Union

from . import syntax as syn
from .diagnostics import ResdslValidationError, Span
from .limits import MAX_MAGNITUDE


@dataclass(frozen=True)
class Symbol:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class BlockValue:
    """A block named as a family's argument, with the arguments given in advance:
    `block = bottleneck(stride_on = 3x3)` (`args`: name, value and span of each)."""

    name: str
    args: tuple[tuple[str, "EvalValue", Span | None], ...] = ()

    def __str__(self) -> str:
        given = ", ".join(f"{name} = {describe(value)}" for name, value, _ in self.args)
        return f"{self.name}({given})"


EvalValue = Union[int, Fraction, bool, Symbol, tuple[int, ...], BlockValue]

# Names every spec can use without declaring them.
CONSTANTS: dict[str, EvalValue] = {
    "A": Symbol("A"), "B": Symbol("B"), "C": Symbol("C"), "none": Symbol("none"),
    "true": True, "false": False,
}



def evaluate(expr: syn.Expr, env: Mapping[str, EvalValue], bare_words: bool = False) -> EvalValue:
    """Evaluate `expr` with the names in `env`. With `bare_words`, an unknown name is a
    word (a symbol), as in `normalize pixel_mean`; otherwise it is an error."""
    if isinstance(expr, syn.Number):
        return _number(expr)
    if isinstance(expr, syn.Dims):
        return expr.values
    if isinstance(expr, syn.Name):
        return _lookup(expr, env, bare_words)
    if isinstance(expr, syn.BinOp):
        left = evaluate(expr.left, env, bare_words)
        right = evaluate(expr.right, env, bare_words)
        return _arithmetic(expr, left, right)
    if isinstance(expr, syn.Neg):
        operand = evaluate(expr.operand, env, bare_words)
        if not is_number(operand):
            raise ResdslValidationError(f"'-' needs a number, got {describe(operand)}", expr.span)
        return -operand
    if isinstance(expr, syn.Size):
        return tuple(as_int(evaluate(part, env, bare_words), "a size", part.span, minimum=0)
                     for part in expr.parts)
    if isinstance(expr, syn.Function):
        return _function(expr, [evaluate(arg, env, bare_words) for arg in expr.args])
    if isinstance(expr, syn.Call):
        return _block_value(expr, env)
    if isinstance(expr, syn.Conditional):
        left = evaluate(expr.left, env, bare_words)
        right = evaluate(expr.right, env, bare_words)
        holds = compare(expr, left, right)
        return evaluate(expr.then if holds else expr.otherwise, env, bare_words)
    raise TypeError(f"not an expression: {expr!r}")


def _block_value(call: syn.Call, env: Mapping[str, EvalValue]) -> BlockValue:
    args = []
    for arg in call.args or []:
        if arg.name is None:
            raise ResdslValidationError(
                f"name the arguments '{call.name}' is given in advance, as `{call.name}("
                f"groups = 32)`: the call in the family gives the positional ones", arg.span)
        args.append((arg.name, evaluate(arg.value, env), arg.span))
    return BlockValue(call.name, tuple(args))


def _kind(value: EvalValue) -> str:
    if isinstance(value, bool):
        return "a truth value"
    if isinstance(value, Symbol):
        return "a word"
    if isinstance(value, tuple):
        return "a size"
    if isinstance(value, BlockValue):
        return "a block"
    return "a number"


def compare(expr: syn.Conditional, left: EvalValue, right: EvalValue) -> bool:
    """`left OP right`. Values of different kinds never compare: `stride_on == 3`, with
    `stride_on` a size such as 1x1, would be false whatever the block meant, and the
    network built without a word; `<` and the others order numbers only."""
    span = _between(expr.left.span, expr.right.span) or expr.span
    if _kind(left) != _kind(right):
        raise ResdslValidationError(
            f"cannot compare {describe(left)} ({_kind(left)}) with {describe(right)} "
            f"({_kind(right)}): '{expr.compare}' needs two values of one kind", span)
    if expr.compare == "==":
        return left == right
    if expr.compare == "!=":
        return left != right
    if not is_number(left):
        raise ResdslValidationError(
            f"'{expr.compare}' orders numbers, got {describe(left)} and {describe(right)}", span)
    return {"<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[expr.compare]


def _between(first: Span | None, last: Span | None) -> Span | None:
    if first is None or last is None:
        return None
    return Span(first.file, first.line, first.col, last.end_line, last.end_col)


def _function(expr: syn.Function, args: list[EvalValue]) -> EvalValue:
    """max(a, b, ...), min(a, b, ...), and round_to(x, m): x to the nearest multiple of m
    (halves up), at least m; timm's `make_divisible(x, m, round_limit=0)`."""
    for arg, value in zip(expr.args, args):
        if not is_number(value):
            raise ResdslValidationError(
                f"'{expr.name}' needs numbers, got {describe(value)}", arg.span)
    if expr.name in ("max", "min"):
        if len(args) < 2:
            raise ResdslValidationError(
                f"'{expr.name}' takes two or more numbers, got {len(args)}", expr.span)
        return max(args) if expr.name == "max" else min(args)
    if len(args) != 2:
        raise ResdslValidationError(
            f"'round_to' takes two numbers (a value and the multiple), got {len(args)}",
            expr.span)
    value, multiple = args[0], as_int(args[1], "the multiple of 'round_to'", expr.args[1].span)
    return max(multiple, int((Fraction(value) + Fraction(multiple, 2)) // multiple) * multiple)


def _number(expr: syn.Number) -> int | Fraction:
    text = expr.text
    # Refuse before converting: Fraction("1e999999999") would build a billion-digit integer.
    exponent = text.lower().partition("e")[2].lstrip("+-")
    if len(text) > 64 or len(exponent) > 4:
        shown = text if len(text) <= 24 else text[:21] + "..."
        raise ResdslValidationError(f"number out of range: {shown}", expr.span)
    value = Fraction(text)
    if abs(value) > MAX_MAGNITUDE:
        raise ResdslValidationError(f"number too large: {_approx(value)}", expr.span)
    return int(value) if value.denominator == 1 and "." not in text and "e" not in text.lower() else value


def _lookup(expr: syn.Name, env: Mapping[str, EvalValue], bare_words: bool) -> EvalValue:
    if expr.id in env:
        return env[expr.id]
    if expr.id in CONSTANTS:
        return CONSTANTS[expr.id]
    if bare_words:
        return Symbol(expr.id)
    raise ResdslValidationError(f"unknown name '{expr.id}'", expr.span,
                                notes=did_you_mean(expr.id, [*env, *CONSTANTS]))


def _arithmetic(expr: syn.BinOp, left: EvalValue, right: EvalValue) -> EvalValue:
    for side in (left, right):
        if not is_number(side):
            raise ResdslValidationError(
                f"'{expr.op}' needs numbers, got {describe(side)}", expr.span)
    if expr.op in ("/", "//") and right == 0:
        raise ResdslValidationError("division by zero", expr.span)
    result = {
        "+": lambda: left + right, "-": lambda: left - right, "*": lambda: left * right,
        "/": lambda: Fraction(left) / Fraction(right), "//": lambda: left // right,
    }[expr.op]()
    if abs(result) > MAX_MAGNITUDE:
        raise ResdslValidationError(f"number too large: {_approx(result)}", expr.span)
    if isinstance(result, Fraction) and result.denominator == 1:
        return int(result)
    return result


def _approx(value: int | Fraction) -> str:
    try:
        return f"{float(value):.3g}"
    except OverflowError:  # past 1e308, as `1 / 1e-999` is
        return "more than 1e308"


def is_number(value: EvalValue) -> bool:
    return isinstance(value, (int, Fraction)) and not isinstance(value, bool)


def describe(value: EvalValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Symbol):
        return f"'{value.name}'"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    if isinstance(value, Fraction):
        return f"{float(value):g}"
    return str(value)  # an int, or a BlockValue as `bottleneck(stride_on = 3x3)`


def did_you_mean(name: str, choices) -> tuple[str, ...]:
    close = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return (f"did you mean '{close[0]}'?",) if close else ()


def as_int(value: EvalValue, what: str, span: Span | None, minimum: int = 1) -> int:
    """An integer of at least `minimum`, or a clear error naming `what`."""
    if not is_number(value) or (isinstance(value, Fraction) and value.denominator != 1):
        raise ResdslValidationError(f"{what} must be an integer, got {describe(value)}", span)
    if value < minimum:
        bound = "positive" if minimum == 1 else f"at least {minimum}"
        raise ResdslValidationError(f"{what} must be {bound}, got {describe(value)}", span)
    return int(value)


def as_float(value: EvalValue, what: str, span: Span | None) -> float:
    if not is_number(value):
        raise ResdslValidationError(f"{what} must be a number, got {describe(value)}", span)
    return float(value)


def as_bool(value: EvalValue, what: str, span: Span | None) -> bool:
    if not isinstance(value, bool):
        raise ResdslValidationError(f"{what} must be true or false, got {describe(value)}", span)
    return value


def as_pair(value: EvalValue, what: str, span: Span | None, minimum: int = 1) -> tuple[int, int]:
    """A kernel-like size: `3x3`, `1x7`, or a plain `3` meaning 3x3."""
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ResdslValidationError(f"{what} must be two sizes such as 3x3, got {describe(value)}", span)
        height, width = value
        return as_int(height, what, span, minimum), as_int(width, what, span, minimum)
    size = as_int(value, what, span, minimum)
    return size, size


def bind_params(params: list[syn.Param], args: list[syn.Arg], caller_env: Mapping[str, EvalValue],
                what: str, span: Span | None,
                fixed: Mapping[str, EvalValue] | None = None,
                preset: BlockValue | None = None,
                words: Mapping[str, EvalValue] | None = None) -> dict[str, EvalValue]:
    """The arguments of a call bound to the callee's parameters, defaults filled in order
    (a default may use earlier parameters, and `words`); `fixed` values win over the
    written ones; `preset`'s were given in advance (`block = bottleneck(groups = 32)`)."""
    names = [p.name for p in params]
    positional = [a for a in args if a.name is None]
    if len(positional) > len(params):
        raise ResdslValidationError(
            f"{what} takes {len(params)} argument(s) ({', '.join(names)}), got {len(positional)}",
            positional[len(params)].span or span)
    given = {param.name: evaluate(arg.value, caller_env) for param, arg in zip(params, positional)}
    for arg in args:
        if arg.name is None:
            continue
        if arg.name not in names:
            raise ResdslValidationError(f"{what} has no parameter '{arg.name}'", arg.span,
                                        notes=did_you_mean(arg.name, names) or
                                        (f"parameters: {', '.join(names) or 'none'}",))
        if arg.name in given:
            raise ResdslValidationError(f"argument '{arg.name}' given twice", arg.span)
        given[arg.name] = evaluate(arg.value, caller_env)
    _add_preset(given, preset, names, what)
    given.update(fixed or {})
    bound: dict[str, EvalValue] = {}
    for param in params:
        if param.name in given:
            bound[param.name] = given[param.name]
        elif param.default is not None:
            bound[param.name] = evaluate(param.default, {**(words or {}), **bound})
        else:
            raise ResdslValidationError(f"{what} needs an argument for '{param.name}'", span)
    return bound


def _add_preset(given: dict, preset: BlockValue | None, names: list[str], what: str) -> None:
    """The arguments a block was given in advance, each at most once, and its own."""
    for name, value, where in preset.args if preset else ():
        if name not in names:
            raise ResdslValidationError(f"{what} has no parameter '{name}'", where,
                                        notes=did_you_mean(name, names) or
                                        (f"parameters: {', '.join(names) or 'none'}",))
        if name in given:
            raise ResdslValidationError(
                f"argument '{name}' given twice: in advance, and where {what} is called", where)
        given[name] = value


def to_ir_value(value: EvalValue):
    """Evaluated values as the IR stores them (JSON-friendly)."""
    if isinstance(value, (Symbol, BlockValue)):
        return str(value)
    if isinstance(value, Fraction):
        return float(value)
    return value
