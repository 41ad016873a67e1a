"""The syntax tree: a .res file as written, before anything is evaluated or expanded.

`parse` builds these; `lower` turns them into the expanded IR (`ir.py`); `fmt` prints
them back as canonical text, comments included. Frozen dataclasses rather than
pydantic models: the parser's output needs no validation, and `resdsl summary` starts
faster without building their schemas. Spans are left out of equality, so
`.res -> syntax -> fmt -> syntax` can be checked with `==`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from .diagnostics import Span


@dataclass(frozen=True, kw_only=True)
class Node:
    span: Span | None = field(default=None, compare=False, repr=False)


# ---- expressions ---------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Number(Node):
    kind: Literal["number"] = "number"
    text: str  # as written ("0.1", "1e-4", "64"), so fmt gives it back unchanged


@dataclass(frozen=True, kw_only=True)
class Dims(Node):
    kind: Literal["dims"] = "dims"
    values: tuple[int, ...]  # 3x3 -> (3, 3); 3x224x224 -> (3, 224, 224)


@dataclass(frozen=True, kw_only=True)
class Name(Node):
    kind: Literal["name"] = "name"
    id: str


@dataclass(frozen=True, kw_only=True)
class BinOp(Node):
    kind: Literal["binop"] = "binop"
    op: Literal["+", "-", "*", "/", "//"]
    left: Expr
    right: Expr


@dataclass(frozen=True, kw_only=True)
class Neg(Node):
    """`-x`: where an expression may begin with a minus (defaults, arguments, `(-3)`)."""

    kind: Literal["neg"] = "neg"
    operand: Expr


@dataclass(frozen=True, kw_only=True)
class Size(Node):
    """A size with a computed part: `1x(k)`; `parts` holds a Number or an expression each."""

    kind: Literal["size"] = "size"
    parts: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True)
class Function(Node):
    """`max(a, b, ...)`, `min(a, b, ...)`, `round_to(x, m)`: the built-in functions."""

    kind: Literal["function"] = "function"
    name: Literal["max", "min", "round_to"]
    args: tuple[Expr, ...]


@dataclass(frozen=True, kw_only=True)
class Conditional(Node):
    """`then if left == right else otherwise` (or `!=`, `<`, `<=`, `>`, `>=`)."""

    kind: Literal["conditional"] = "conditional"
    then: Expr
    left: Expr
    compare: Literal["==", "!=", "<", "<=", ">", ">="]
    right: Expr
    otherwise: Expr


Expr = Union[Number, Dims, Name, BinOp, Neg, Size, Function, Conditional]


def children(expr: Expr) -> tuple[Expr, ...]:
    """The expressions directly inside `expr`, left to right."""
    if isinstance(expr, BinOp):
        return (expr.left, expr.right)
    if isinstance(expr, Neg):
        return (expr.operand,)
    if isinstance(expr, Size):
        return expr.parts
    if isinstance(expr, Function):
        return expr.args
    if isinstance(expr, Conditional):
        return (expr.then, expr.left, expr.right, expr.otherwise)
    return ()


# ---- calls, layers, bodies ---------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Call(Node):
    name: str
    args: list[Arg] | None = None  # None: written without parentheses


@dataclass(frozen=True, kw_only=True)
class Arg(Node):
    name: str | None = None  # keyword (call) or option name (layer); None if positional
    # A Call only as a family's argument: a block with arguments given in advance.
    value: Expr | Call


@dataclass(frozen=True, kw_only=True)
class Statement(Node):
    comments: tuple[str, ...] = ()  # whole-line comments just above, without '#'
    trailing_comment: str | None = None  # a comment at the end of the statement's line


@dataclass(frozen=True, kw_only=True)
class LayerStmt(Statement):
    """`label: kind args`, and for `gate` and `highway` the `{ ... }` of their branch."""

    kind: Literal["layer"] = "layer"
    label: str | None = None
    layer: str
    args: list[Arg] = field(default_factory=list)
    body: list[BodyItem] | None = None


@dataclass(frozen=True, kw_only=True)
class RepeatStmt(Statement):
    """`N x block(args)` (blocks), or `N x { items }` (the items written N times in place)."""

    kind: Literal["repeat"] = "repeat"
    count: Expr
    call: Call | None = None
    body: list[BodyItem] | None = None


@dataclass(frozen=True, kw_only=True)
class GroupStmt(Statement):
    """`label: { items }`: a nested module whose children are numbered 0, 1, ..."""

    kind: Literal["group"] = "group"
    label: str | None = None
    body: list[BodyItem]


BodyItem = Union[LayerStmt, RepeatStmt, GroupStmt]


@dataclass(frozen=True, kw_only=True)
class Param(Node):
    name: str
    default: Expr | None = None


# ---- network statements ------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class InputStmt(Statement):
    kind: Literal["input"] = "input"
    dims: Dims


@dataclass(frozen=True, kw_only=True)
class ClassesStmt(Statement):
    kind: Literal["classes"] = "classes"
    value: Expr


@dataclass(frozen=True, kw_only=True)
class ShortcutStmt(Statement):
    kind: Literal["shortcut"] = "shortcut"
    value: Expr


@dataclass(frozen=True, kw_only=True)
class SectionStmt(Statement):
    """`stem [name] { ... }`, `stage name { ... }` and `head [name] { ... }`; also
    `stem [name]: block(args)`, a block's layers as the stem."""

    kind: Literal["section"] = "section"
    role: Literal["stem", "stage", "head"]
    name: str | None = None
    module: str | None = None  # `in stages.0.blocks`: the module holding its items
    body: list[BodyItem]
    call: Call | None = None  # `stem conv1: deep_stem()`: its items are the block's


@dataclass(frozen=True, kw_only=True)
class StageStmt(Statement):
    """`stage name: N x block(args), option value, ...`"""

    kind: Literal["stage"] = "stage"
    name: str
    module: str | None = None  # `in stages.0.blocks`: the module holding its blocks
    repeat: RepeatStmt
    options: list[Arg] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ExpectStmt(Statement):
    kind: Literal["expect"] = "expect"
    metric: str
    quantity: str | None  # "21.8M" as written; None: `expect params none`, no expectation
    within: str | None = None  # percent, as written


@dataclass(frozen=True, kw_only=True)
class RecipeField(Statement):
    name: str
    values: list[Expr]


@dataclass(frozen=True, kw_only=True)
class TrainStmt(Statement):
    kind: Literal["train"] = "train"
    recipe: str
    fields: list[RecipeField] | None = None


NetStmt = Union[InputStmt, ClassesStmt, ShortcutStmt, SectionStmt, StageStmt, ExpectStmt, TrainStmt]


# ---- top-level declarations --------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ImportDecl(Statement):
    kind: Literal["import"] = "import"
    path: str


@dataclass(frozen=True, kw_only=True)
class BlockDecl(Statement):
    kind: Literal["block"] = "block"
    name: str
    params: list[Param]
    body: list[BodyItem]


@dataclass(frozen=True, kw_only=True)
class FamilyDecl(Statement):
    kind: Literal["family"] = "family"
    name: str
    params: list[Param]
    body: list[NetStmt]


@dataclass(frozen=True, kw_only=True)
class NetworkDecl(Statement):
    kind: Literal["network"] = "network"
    name: str
    base: Call | None = None  # `network a = family(args)` or `network a = other_network`
    body: list[NetStmt] | None = None


@dataclass(frozen=True, kw_only=True)
class RecipeDecl(Statement):
    kind: Literal["recipe"] = "recipe"
    name: str
    base: str | None = None
    fields: list[RecipeField]


@dataclass(frozen=True, kw_only=True)
class ShortcutCase(Statement):
    """`same { items }`, `changed { items }`, or `same off` (nothing is added)."""

    name: str  # "same" or "changed" (checked by the lowering)
    body: list[BodyItem] | None = None
    word: str | None = None  # the word written instead of a body: "off"


@dataclass(frozen=True, kw_only=True)
class ShortcutDecl(Statement):
    kind: Literal["shortcut"] = "shortcut"
    name: str
    params: list[Param]
    cases: list[ShortcutCase]


Decl = Union[ImportDecl, BlockDecl, FamilyDecl, NetworkDecl, RecipeDecl, ShortcutDecl]


@dataclass(frozen=True, kw_only=True)
class Module(Node):
    path: str = field(default="<string>", compare=False)
    decls: list[Decl]
    end_comments: tuple[str, ...] = ()  # comments after the last declaration

