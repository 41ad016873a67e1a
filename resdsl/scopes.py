"""Lowering one list of items (a section, a block, a group, a branch, a shortcut's path):
repeats written out, every item named, built at the shape the one before it gives.

Naming follows torchvision where a spec has its shape and nn.Sequential elsewhere: the
top level, a block and a shortcut's path name their layers by kind (conv1, bn1, relu,
fc; a kind met once keeps its bare name); containers (a stage's `layer1`, a group, a
gate's branch) number their items 0, 1, 2, ... A label always wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from . import ir
from . import syntax as syn
from .diagnostics import ResdslValidationError, Span
from .expressions import EvalValue, as_int, bind_params, evaluate, to_ir_value
from .ir.layers import LAYERS, LayerArgs, always_numbered, short_name
from .limits import MAX_BLOCKS, MAX_LAYERS, MAX_PARAMS
from .loader import Namespace
from .rules import SIGNATURES



# ---- what a network may build ------------------------------------------------------------
@dataclass
class Budget:
    """Blocks, layers and parameters so far, refused past their limits."""

    blocks: int = 0
    layers: int = 0
    params: int = 0

    def reserve(self, blocks: int, layers: int, span: Span | None) -> None:
        self.blocks += blocks
        self.layers += layers
        if self.blocks > MAX_BLOCKS:
            raise ResdslValidationError(
                f"{self.blocks} blocks is too many to build (limit {MAX_BLOCKS})", span)
        if self.layers > MAX_LAYERS:
            raise ResdslValidationError(
                f"the network would have more than {MAX_LAYERS:,} layers once its repeats are "
                f"written out ({self.layers:,} so far): too large to build", span)

    def add_params(self, params: int, span: Span | None) -> None:
        self.params += params
        if self.params > MAX_PARAMS:
            raise ResdslValidationError(
                f"the network has more than 2^31 parameters ({self.params:,} so far): too "
                "large to build", span)


def count(expr: syn.Expr, env) -> int:
    return as_int(evaluate(expr, env), "the repeat count", expr.span)


def size_of(items: list, env, ns: Namespace) -> tuple[int, int]:
    """(blocks, layers) that `items` expand to, counted without building anything, so
    that `10000 x huge_block` is refused at once. Stops counting once past the limit."""
    blocks = layers = 0
    for item in items:
        if isinstance(item, syn.RepeatStmt):
            n = count(item.count, env)
            body, inner_env = item.body, env
            if item.call is not None:
                decl, preset = _block_or_none(item.call, env, ns)
                body = decl.body if decl else []
                inner_env = bind_params(decl.params, item.call.args or [], env,
                                        f"block '{decl.name}'", item.call.span,
                                        preset=preset) if decl else {}
                blocks += n
            layers += n * (size_of(body, inner_env, ns)[1] + (item.call is not None))
        else:
            layers += 1 + size_of(getattr(item, "body", None) or [], env, ns)[1]
        if blocks > MAX_BLOCKS or layers > MAX_LAYERS:
            break
    return blocks, layers


def _block_or_none(call: syn.Call, env, ns: Namespace):
    """For counting only: an unknown block is reported where it is built."""
    try:
        return ns.block_called(call, env)
    except ResdslValidationError:
        return None, None


@dataclass
class Context:
    """What every list of a network's items is lowered with."""

    ns: Namespace
    budget: Budget
    # Lowers one `N x block(...)` copy: blocks.lower_block, passed in so that this module
    # does not depend on the block graph that depends on it.
    lower_block: Callable[..., ir.Block]
    in_block: bool = False  # a block's parameters are counted once it is built, at its call


# ---- naming --------------------------------------------------------------------------------
@dataclass
class Planned:
    """One item of a list once its repeats are written out: its statement, which copy
    of a repeated block it is, and the module name it gets."""

    stmt: syn.LayerStmt | syn.GroupStmt | syn.RepeatStmt
    copy: int = 0
    name: str = ""

    @property
    def label(self) -> str | None:
        return getattr(self.stmt, "label", None)


def expand_items(items: list, env) -> list[Planned]:
    """The items with every `N x { ... }` written out and every `N x block` as N items."""
    out: list[Planned] = []
    for item in items:
        if isinstance(item, syn.RepeatStmt) and item.body is not None:
            body, times = expand_items(item.body, env), count(item.count, env)
            if not body:  # `10**15 x { }` is nothing, and must not count to 10**15 first
                continue
            if times * len(body) > MAX_LAYERS:  # size_of refused it for sections
                raise ResdslValidationError(
                    f"{times:,} x {len(body)} layers is too many to build (limit "
                    f"{MAX_LAYERS:,})", item.count.span)
            out.extend(Planned(p.stmt, p.copy) for _ in range(times) for p in body)
        elif isinstance(item, syn.RepeatStmt):
            times = count(item.count, env)
            if times > MAX_BLOCKS:
                raise ResdslValidationError(
                    f"{times:,} blocks is too many to build (limit {MAX_BLOCKS})", item.count.span)
            out.extend(Planned(item, i) for i in range(times))
        else:
            out.append(Planned(item))
    return out


def _kind_of(planned: Planned) -> str:
    stmt = planned.stmt
    return {syn.GroupStmt: "group", syn.RepeatStmt: "block"}.get(type(stmt)) or stmt.layer


def name_by_kind(planned: list[Planned]) -> None:
    """torchvision's names: conv1, bn1, conv2, ...; a kind met once keeps its bare name
    (relu, maxpool, fc); blocks are numbered 0, 1, ...; labels win, and a default name
    steps past one a label took (`bn1: groupnorm 2` leaves a batchnorm `bn2`)."""
    totals: dict[str, int] = {}
    for p in planned:
        totals[_kind_of(p)] = totals.get(_kind_of(p), 0) + 1
    labels = {p.label for p in planned if p.label}
    seen: dict[str, int] = {}
    for p in planned:
        if p.label:
            p.name = p.label
            continue
        kind = _kind_of(p)
        short = short_name(kind)
        numbered = always_numbered(kind) or totals[kind] > 1 or short in labels
        while True:
            seen[kind] = seen.get(kind, 0) + 1
            if kind == "block":
                p.name = str(seen[kind] - 1)
            else:
                p.name = f"{short}{seen[kind]}" if numbered else short
            if p.name not in labels:
                break


def name_by_position(planned: list[Planned], start: int = 0) -> int:
    """nn.Sequential's names: the position in the container; returns the next one."""
    for offset, p in enumerate(planned):
        p.name = p.label or str(start + offset)
    return start + len(planned)


def check_unique(planned: list[Planned], taken: set[str] | None = None) -> set[str]:
    """The names of one module's children are distinct (with `taken`, the ones its other
    children already have)."""
    seen = set(taken or ())
    for p in planned:
        if p.name in seen:
            raise ResdslValidationError(f"two layers are named '{p.name}'", p.stmt.span)
        seen.add(p.name)
    return seen


# ---- building --------------------------------------------------------------------------------
def layer_args(stmt: syn.LayerStmt, env) -> LayerArgs:
    """The layer's arguments evaluated and named by its signature (`from` names a point,
    not a value, and stays out)."""
    sig = SIGNATURES[stmt.layer]
    values: dict[str, EvalValue] = {}
    spans: dict[str, Span | None] = {}
    positional = [a for a in stmt.args if a.name is None]
    for name, arg in zip(sig.positional, positional):
        values[name], spans[name] = evaluate(arg.value, env), arg.value.span
    for arg in stmt.args:
        if arg.name not in (None, "from"):
            values[arg.name], spans[arg.name] = evaluate(arg.value, env), arg.value.span
    return LayerArgs(stmt.layer, values, spans, stmt.span)


def point_of(stmt: syn.LayerStmt) -> str | None:
    return next((a.value.id for a in stmt.args if a.name == "from"), None)


@dataclass
class Scope:
    """Lowers the planned items of one list, each at the shape the one before it gives."""

    context: Context
    env: dict
    option: str = "B"  # the shortcut declaration this list's blocks use
    block_stride: dict = field(default_factory=dict)  # a stage's stride, for its first block

    def lower(self, planned: list[Planned], shape: ir.Shape) -> list:
        items = []
        for p in planned:
            item = self.item(p, shape)
            items.append(item)
            shape = item.out_shape
        return items

    def item(self, p: Planned, shape: ir.Shape):
        stmt = p.stmt
        if isinstance(stmt, syn.RepeatStmt):
            return self.block(stmt, p, shape)
        if isinstance(stmt, syn.GroupStmt):
            items = lower_nested(stmt.body, shape, self.env, self.context)
            out = items[-1].out_shape if items else shape
            return ir.Group(name=p.name, items=items, in_shape=shape, out_shape=out,
                            span=stmt.span)
        if stmt.layer in ("sum", "concat"):
            return lower_branches(stmt, p.name, shape, self.env, self.context)
        if stmt.layer == "select":
            return lower_select(stmt, p.name, shape, self.env, self.context)
        if stmt.layer == "gate":  # in a group: it scales the path where it stands
            return lower_gate(stmt, p.name, shape, self.env, self.context)
        self.context.budget.reserve(0, 1, stmt.span)
        built = LAYERS[stmt.layer].build(layer_args(stmt, self.env), p.name, shape)
        if not self.context.in_block:
            self.context.budget.add_params(built.params, stmt.span)
        return built

    def block(self, stmt: syn.RepeatStmt, p: Planned, shape: ir.Shape) -> ir.Block:
        decl, preset = self.context.ns.block_called(stmt.call, self.env)
        fixed = self.block_stride if p.copy == 0 else {}
        if fixed and "stride" not in [param.name for param in decl.params]:
            raise ResdslValidationError(
                f"block '{decl.name}' has no 'stride' parameter for the stage's stride", stmt.span)
        args = bind_params(decl.params, stmt.call.args or [], self.env, f"block '{decl.name}'",
                           stmt.call.span, fixed, preset)
        self.context.budget.reserve(1, 0, stmt.count.span)
        self.context.in_block = True
        try:
            block = self.context.lower_block(decl, args, stmt.call.span, p.name, shape,
                                             self.option, self.context)
        finally:
            self.context.in_block = False
        self.context.budget.add_params(block.params, stmt.count.span)
        return block


def lower_nested(body: list, shape: ir.Shape, env, context: Context) -> list:
    """A group's or a branch's items, numbered by position in their own module."""
    planned = expand_items(body, env)
    name_by_position(planned)
    check_unique(planned)
    return Scope(context, env).lower(planned, shape)


def broadcasts(gate: ir.Shape, target: ir.Shape) -> bool:
    """A gate scales per channel (C x 1 x 1) or per element (the same shape)."""
    return gate == target or (len(gate) == 3 and len(target) == 3
                              and gate == (target[0], 1, 1))


_BRANCH_NOTE = "the branch computes the gate, e.g. `{ avgpool; conv 1x1, width; sigmoid }`"


def lower_gate(stmt: syn.LayerStmt, name: str, shape: ir.Shape, env, context: Context,
               source: str | None = None, source_shape: ir.Shape | None = None) -> ir.Gate:
    """`gate [from P] { branch }` scaling a path of `shape`; its branch reads point P
    (a block's: `source_shape`) or the path itself."""
    source_shape = source_shape or shape
    branch = lower_branch(stmt, source_shape, env, context, f"gate '{name}'",
                          "multiply the path by " + (f"'{source}'" if source else "itself"))
    out = branch[-1].out_shape
    if not broadcasts(out, shape):
        raise ResdslValidationError(
            f"gate '{name}' gives {ir.shape_text(out)}, which cannot scale the "
            f"{ir.shape_text(shape)} it gates: it needs {shape[0]} channels, on a 1x1 map "
            "or one of the same size", stmt.span)
    return ir.Gate(name=name, source=source, source_shape=source_shape, branch=branch,
                   in_shape=shape, out_shape=shape, span=stmt.span)


def lower_branch(stmt: syn.LayerStmt, start: ir.Shape, env, context: Context, what: str,
                 would: str) -> list:
    """A gate's branch, lowered; an empty one (`gate { }`, or a repeat of none) is
    refused, since it would pass its input through as the gate."""
    items = lower_nested(stmt.body, start, env, context)
    if not items:
        raise ResdslValidationError(f"{what} has an empty branch: it would {would}",
                                    stmt.span, notes=(_BRANCH_NOTE,))
    return items


def lower_branches(stmt: syn.LayerStmt, name: str, shape: ir.Shape, env,
                   context: Context) -> ir.Branches:
    """`sum { paths }` or `concat { paths }`: each item of the body is one path, named by
    position (or its label), lowered at the part's input (or its slice, with `split`)."""
    args = layer_args(stmt, env)
    planned = expand_items(stmt.body, env)
    name_by_position(planned)
    check_unique(planned)
    if len(planned) < 2:
        args.fail(f"'{stmt.layer}' needs two paths or more, one per item of its body; "
                  f"it has {len(planned)}")
    split = args.flag("split", False)
    start = shape
    if split:
        if len(shape) != 3 or shape[0] % len(planned):
            args.fail(f"split: {ir.shape_text(shape)} cannot be split into {len(planned)} "
                      f"paths of equal channels", "split")
        start = (shape[0] // len(planned), *shape[1:])
    scope = Scope(context, env)
    paths = [scope.item(p, start) for p in planned]
    out = merged_shape(stmt.layer, paths, planned)
    return ir.Branches(kind=stmt.layer, name=name, split=split, paths=paths, in_shape=shape,
                       out_shape=out, span=stmt.span)


def merged_shape(kind: str, paths: list, planned: list[Planned]) -> ir.Shape:
    """A sum needs one shape; a concatenation one spatial size, and adds the channels."""
    first = paths[0].out_shape
    for path, p in zip(paths[1:], planned[1:]):
        shape = path.out_shape
        if kind == "sum" and shape != first:
            raise ResdslValidationError(
                f"path '{p.name}' gives {ir.shape_text(shape)}, but path '{planned[0].name}' "
                f"gives {ir.shape_text(first)}: a sum needs one shape", p.stmt.span)
        if kind == "concat" and (len(shape) != 3 or len(first) != 3 or shape[1:] != first[1:]):
            raise ResdslValidationError(
                f"path '{p.name}' gives {ir.shape_text(shape)}, but path '{planned[0].name}' "
                f"gives {ir.shape_text(first)}: a concatenation needs maps of one size",
                p.stmt.span)
    if kind == "sum":
        return first
    return (sum(path.out_shape[0] for path in paths), *first[1:])


def lower_select(stmt: syn.LayerStmt, name: str, shape: ir.Shape, env,
                 context: Context) -> ir.Select:
    """`select R { [groups] avgpool; attention }`: the items before the first global
    avgpool make R groups of C channels; from it on, the attention reads their sum."""
    args = layer_args(stmt, env)
    radix = args.int("radix")
    planned = expand_items(stmt.body, env)
    name_by_position(planned)
    check_unique(planned)
    pool = next((i for i, p in enumerate(planned) if getattr(p.stmt, "layer", None) == "avgpool"
                 and not p.stmt.args), None)
    if pool is None:
        args.fail("select's attention starts at a global `avgpool` (it reads the groups' "
                  "sum, pooled), but its body has none")
    scope = Scope(context, env)
    groups = scope.lower(planned[:pool], shape)
    made = groups[-1].out_shape if groups else shape
    if len(made) != 3 or made[0] % radix:
        args.fail(f"select {radix}: {ir.shape_text(made)} is not {radix} groups of equal "
                  "channels", "radix")
    out = (made[0] // radix, *made[1:])
    branch = scope.lower(planned[pool:], out)
    if branch[-1].out_shape != (made[0], 1, 1):
        raise ResdslValidationError(
            f"select's attention gives {ir.shape_text(branch[-1].out_shape)}, but it must give "
            f"one weight per channel of its {radix} groups: {made[0]}x1x1", stmt.span)
    return ir.Select(name=name, radix=radix, groups=groups, branch=branch, in_shape=shape,
                     out_shape=out, span=stmt.span)


def to_ir_args(args: dict[str, EvalValue]) -> dict:
    return {k: to_ir_value(v) for k, v in args.items()}
