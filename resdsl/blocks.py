"""One block instantiated as a small graph: its main path, its gates, and the merge
where its shortcut joins the path.

The shortcut comes from a `shortcut` declaration (the network's or the stage's: the
paper's A, B, C and none are declared in the prelude like any other): its `same` case
where the block keeps its shape, its `changed` case where it does not. A case is the
identity (omitted, or an empty list), a path of layers, or `off`; a path reads the
block input, or the point its merge names with `from` (a pre-activation), and is
bound `channels`, `stride` and `in_channels` from the shapes it joins.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ir
from . import syntax as syn
from .chain import finish_chain, lower_chain
from .diagnostics import ResdslError, ResdslValidationError, Span
from .scopes import (Context, Planned, Scope, broadcasts, check_unique, expand_items,
                     lower_branch, lower_gate, name_by_kind, point_of, to_ir_args)


def lower_block(decl: syn.BlockDecl, args: dict, call_span: Span | None, name: str,
                in_shape: ir.Shape, option: str, context: Context) -> ir.Block:
    """The block `decl` called with `args` on a map of `in_shape`."""
    try:
        items = _BlockGraph(decl, args, in_shape, option, context).lower()
    except ResdslError as error:
        # Shape errors depend on the call, so they are shown where the block is used.
        inner = error.diagnostics[0]
        raise ResdslValidationError(
            f"in block '{decl.name}': {inner.message}", call_span,
            notes=(*inner.notes, f"the layer is at {inner.location()}")) from None
    out = items[-1].out_shape if items else in_shape
    return ir.Block(name=name, block=decl.name, args=to_ir_args(args), items=items,
                    in_shape=in_shape, out_shape=out, span=call_span)


@dataclass
class _BlockGraph:
    decl: syn.BlockDecl
    args: dict
    in_shape: ir.Shape
    option: str
    context: Context

    def lower(self) -> list:
        planned = expand_items(self.decl.body, self.args)
        name_by_kind(planned)
        self.taken = check_unique(planned)
        self.points: dict[str, ir.Shape] = {}
        scope = Scope(self.context, self.args, self.option)
        items, shape = [], self.in_shape
        chains: dict[str, bool | None] = {}  # each chain's `stage`, as its statement asks
        for p in planned:
            kind = getattr(p.stmt, "layer", None)
            if kind == "gate":
                item = self.gate(p.stmt, p.name, shape)
            elif kind == "chain":
                item, chains[p.name] = lower_chain(p.stmt, p.name, shape, self.args,
                                                   self.context)
                self.taken = check_unique(chain_lists(item, p.stmt), self.taken)
            elif kind in ("residual", "highway"):
                item = self.merge(p.stmt, p.name, shape)
            else:
                item = scope.item(p, shape)
            items.append(item)
            shape = item.out_shape
            if p.label:
                self.points[p.label] = shape
        changes = self.in_shape != shape
        return [finish_chain(item, chains[item.name], changes) if isinstance(item, ir.Chain)
                else item for item in items]

    def gate(self, stmt: syn.LayerStmt, name: str, shape: ir.Shape) -> ir.Gate:
        source = point_of(stmt)
        return lower_gate(stmt, name, shape, self.args, self.context, source,
                          self.points[source] if source else shape)

    def branch(self, stmt: syn.LayerStmt, start: ir.Shape, what: str, would: str) -> list:
        return lower_branch(stmt, start, self.args, self.context, what, would)

    def merge(self, stmt: syn.LayerStmt, name: str, shape: ir.Shape) -> ir.Merge:
        source = point_of(stmt)
        start = self.points[source] if source else self.in_shape
        shortcut = self.shortcut(source, start, shape, stmt.span)
        gate, gate_input = [], None
        if stmt.layer == "highway":
            if shortcut.kind == "off":
                raise ResdslValidationError(
                    f"a highway mixes the path with its shortcut, but shortcut "
                    f"'{self.option}' adds none", stmt.span)
            gate_input = start
            gate = self.branch(stmt, start, "the highway's gate",
                               "take the block input itself as its mixing weight")
            out = gate[-1].out_shape
            if not broadcasts(out, shape):
                raise ResdslValidationError(
                    f"the highway's gate gives {ir.shape_text(out)}, but the path it mixes is "
                    f"{ir.shape_text(shape)}", stmt.span)
        return ir.Merge(kind=stmt.layer, name=name, shortcut=shortcut, source=source,
                        source_shape=gate_input, gate=gate, in_shape=shape, out_shape=shape,
                        span=stmt.span)

    def shortcut(self, source: str | None, start: ir.Shape, merged: ir.Shape,
                 span: Span | None) -> ir.Shortcut:
        decl = self.context.ns.lookup("shortcuts", self.option, span, "shortcut")
        case = "same" if self.in_shape == merged else "changed"
        written = next((c for c in decl.cases if c.name == case), None)
        common = dict(decl=decl.name, case=case, out_shape=merged, span=span)
        if written is not None and written.word == "off":
            return ir.Shortcut(kind="off", in_shape=self.in_shape, **common)
        if written is None or not written.body:
            if case == "changed":
                raise ResdslValidationError(
                    f"the block changes the shape ({ir.shape_text(self.in_shape)} -> "
                    f"{ir.shape_text(merged)}) but shortcut '{decl.name}' has no path for that "
                    "(its `changed` case)", span)
            return ir.Shortcut(kind="identity", in_shape=self.in_shape, **common)
        items = self.path(decl, written, start, merged, span)
        return ir.Shortcut(kind="path", start=source, items=items, in_shape=start, **common)

    def path(self, decl: syn.ShortcutDecl, case: syn.ShortcutCase, start: ir.Shape,
             merged: ir.Shape, span: Span | None) -> list:
        env = shortcut_args(decl, start, merged, span)
        planned = expand_items(case.body, env)
        name_by_kind(planned)
        for p in planned:  # in the block's namespace, beside its own conv1, bn1, ...
            p.name = p.label or f"shortcut_{p.name}"
        self.taken = check_unique(planned, self.taken)
        try:
            items = Scope(self.context, env).lower(planned, start)
        except ResdslError as error:
            inner = error.diagnostics[0]
            raise ResdslValidationError(f"shortcut '{decl.name}': {inner.message}", inner.span,
                                        notes=inner.notes) from None
        out = items[-1].out_shape if items else start
        if out != merged:
            raise ResdslValidationError(
                f"shortcut '{decl.name}' gives {ir.shape_text(out)}, but the path it joins "
                f"gives {ir.shape_text(merged)}", span)
        return items


def chain_lists(chain: ir.Chain, stmt: syn.LayerStmt) -> list[Planned]:
    """The chain's lists and pool as the block's modules, beside its own conv1, bn1, ..."""
    return [Planned(stmt, 0, name) for name in [*chain.lists, *(p.name for p in chain.pool)]]


def shortcut_args(decl: syn.ShortcutDecl, start: ir.Shape, merged: ir.Shape,
                  span: Span | None) -> dict:
    """What a shortcut's parameters are bound to: the channels where it joins, the
    channels it reads, and the stride between the two maps."""
    values = {"channels": merged[0], "in_channels": start[0]}
    names = {p.name for p in decl.params}
    if "stride" in names:
        values["stride"] = _stride(start, merged, span)
    return {name: value for name, value in values.items() if name in names}


def _stride(start: ir.Shape, merged: ir.Shape, span: Span | None) -> int:
    if len(start) != 3 or len(merged) != 3:
        raise ResdslValidationError("a shortcut needs feature maps on both sides", span)
    stride = -(-start[1] // merged[1])
    if any((size - 1) // stride + 1 != out for size, out in zip(start[1:], merged[1:])):
        raise ResdslValidationError(
            f"no shortcut maps {ir.shape_text(start)} to {ir.shape_text(merged)}: the spatial "
            "sizes do not differ by a stride", span)
    return stride
