"""The syntax tree: a .res file as written, before anything is evaluated or expanded.

`parse` builds these; `lower` turns them into the expanded IR (`ir.py`); `fmt` prints
them back as canonical text, comments included. Frozen pydantic models with spans,
like the IR, so `.res -> syntax -> fmt -> syntax` can be checked with `model_dump()`.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from .ir import Node


# ---- expressions ---------------------------------------------------------------
class Number(Node):
    kind: Literal["number"] = "number"
    text: str  # as written ("0.1", "1e-4", "64"), so fmt gives it back unchanged


class Dims(Node):
    kind: Literal["dims"] = "dims"
    values: tuple[int, ...]  # 3x3 -> (3, 3); 3x224x224 -> (3, 224, 224)


class Name(Node):
    kind: Literal["name"] = "name"
    id: str


class BinOp(Node):
    kind: Literal["binop"] = "binop"
    op: Literal["+", "-", "*", "/", "//"]
    left: Expr
    right: Expr


class Conditional(Node):
    """`then if left == right else otherwise` (or `!=`)."""

    kind: Literal["conditional"] = "conditional"
    then: Expr
    left: Expr
    compare: Literal["==", "!="]
    right: Expr
    otherwise: Expr


Expr = Annotated[Union[Number, Dims, Name, BinOp, Conditional], Field(discriminator="kind")]


# ---- calls, layers, bodies ---------------------------------------------------------
class Arg(Node):
    name: str | None = None  # keyword (call) or option name (layer); None if positional
    value: Expr


class Call(Node):
    name: str
    args: list[Arg] | None = None  # None: written without parentheses


class Statement(Node):
    comments: tuple[str, ...] = ()  # whole-line comments just above, without '#'
    trailing_comment: str | None = None  # a comment at the end of the statement's line


class LayerStmt(Statement):
    kind: Literal["layer"] = "layer"
    label: str | None = None
    layer: str
    args: list[Arg] = []


class RepeatStmt(Statement):
    kind: Literal["repeat"] = "repeat"
    count: Expr
    call: Call


BodyItem = Annotated[Union[LayerStmt, RepeatStmt], Field(discriminator="kind")]


class Param(Node):
    name: str
    default: Expr | None = None


# ---- network statements ------------------------------------------------------------
class InputStmt(Statement):
    kind: Literal["input"] = "input"
    dims: Dims


class ClassesStmt(Statement):
    kind: Literal["classes"] = "classes"
    value: Expr


class ShortcutStmt(Statement):
    kind: Literal["shortcut"] = "shortcut"
    value: Expr


class SectionStmt(Statement):
    """`stem [name] { ... }`, `stage name { ... }` and `head [name] { ... }`."""

    kind: Literal["section"] = "section"
    role: Literal["stem", "stage", "head"]
    name: str | None = None
    body: list[BodyItem]


class StageStmt(Statement):
    """`stage name: N x block(args), option value, ...`"""

    kind: Literal["stage"] = "stage"
    name: str
    repeat: RepeatStmt
    options: list[Arg] = []


class ExpectStmt(Statement):
    kind: Literal["expect"] = "expect"
    metric: str
    quantity: str  # "21.8M" as written
    within: str | None = None  # percent, as written


class RecipeField(Statement):
    name: str
    values: list[Expr]


class TrainStmt(Statement):
    kind: Literal["train"] = "train"
    recipe: str
    fields: list[RecipeField] | None = None


NetStmt = Annotated[
    Union[InputStmt, ClassesStmt, ShortcutStmt, SectionStmt, StageStmt, ExpectStmt, TrainStmt],
    Field(discriminator="kind"),
]


# ---- top-level declarations --------------------------------------------------------
class ImportDecl(Statement):
    kind: Literal["import"] = "import"
    path: str


class BlockDecl(Statement):
    kind: Literal["block"] = "block"
    name: str
    params: list[Param]
    body: list[BodyItem]


class FamilyDecl(Statement):
    kind: Literal["family"] = "family"
    name: str
    params: list[Param]
    body: list[NetStmt]


class NetworkDecl(Statement):
    kind: Literal["network"] = "network"
    name: str
    base: Call | None = None  # `network a = family(args)` or `network a = other_network`
    body: list[NetStmt] | None = None


class RecipeDecl(Statement):
    kind: Literal["recipe"] = "recipe"
    name: str
    base: str | None = None
    fields: list[RecipeField]


Decl = Annotated[
    Union[ImportDecl, BlockDecl, FamilyDecl, NetworkDecl, RecipeDecl],
    Field(discriminator="kind"),
]


class Module(Node):
    path: str = Field(default="<string>", exclude=True)
    decls: list[Decl]
    end_comments: tuple[str, ...] = ()  # comments after the last declaration


for _model in (BinOp, Conditional, Arg):
    _model.model_rebuild()
