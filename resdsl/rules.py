"""The static rules: what is wrong with a file before anything is evaluated or expanded.

Run once per file when the loader reads it (the prelude and every import included), and
collected over the whole file so that one run shows several errors. What depends on
arguments and shapes (a stride of 3, a gate whose channels do not match) is checked by
the lowering, at the place where the user can fix it.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from . import fmt
from . import syntax as syn
from .diagnostics import ErrorCollector, ResdslError, ResdslValidationError
from .expressions import CONSTANTS, did_you_mean
from .ir.layers import LAYERS, Signature, check_label

# The statements of a block's graph: their options, and whether they hold a branch.
MERGES = ("residual", "highway")
GRAPH = {"residual": Signature((), ("from",)), "gate": Signature((), ("from",)),
         "highway": Signature((), ("from",)), "chain": Signature(("scale",), ("stage",), 1)}
# Parts that hold parallel paths or an attention: modules of their own, so they may stand
# in any list of layers (a group's, a branch's), not only in a block's.
PARTS = {"sum": Signature((), ("split",)), "concat": Signature((), ("split",)),
         "select": Signature(("radix",), (), 1)}
BRANCHED = ("gate", "highway", "chain", *PARTS)
GRAPH_WORDS = {"residual": "adds a block's shortcut", "highway": "mixes a block's shortcut in",
               "gate": "scales a block's path",
               "chain": "splits a block's path into Res2Net's chain of groups"}
SIGNATURES: dict[str, Signature] = {**{k: v.signature for k, v in LAYERS.items()}, **GRAPH,
                                    **PARTS}
SHORTCUT_CASES = ("same", "changed")
SHORTCUT_PARAMS = ("channels", "stride", "in_channels")  # bound by each block that merges


def check_module(module: syn.Module, namespace) -> None:
    """Every static rule over one file; raises one error holding all that were found."""
    errors = ErrorCollector()
    for decl in module.decls:
        if isinstance(decl, syn.BlockDecl):
            _guarded(errors, check_params, decl.params, f"block '{decl.name}'")
            _check_block(decl, errors, namespace)
        elif isinstance(decl, syn.FamilyDecl):
            _guarded(errors, check_params, decl.params, f"family '{decl.name}'")
        elif isinstance(decl, syn.ShortcutDecl):
            _check_shortcut(decl, errors)
        if isinstance(decl, (syn.FamilyDecl, syn.NetworkDecl)):
            for stmt in decl.body or []:
                if isinstance(stmt, syn.SectionStmt):
                    _check_items(stmt.body, "section", errors, namespace)
    errors.raise_if_any()


def _guarded(errors: ErrorCollector, check, *args) -> None:
    try:
        check(*args)
    except ResdslError as error:
        errors.record(error)


def check_params(params: list[syn.Param], what: str) -> None:
    seen: set[str] = set()
    for param in params:
        if param.name in seen:
            raise ResdslValidationError(f"{what} has two parameters named '{param.name}'",
                                        param.span)
        seen.add(param.name)


# ---- bodies ------------------------------------------------------------------------
def _check_items(items: list, where: str, errors: ErrorCollector, namespace) -> None:
    """`where`: "block" (a block's own list), "section" (stem, stage, head) or "nested"
    (groups, branches, shortcut paths, repeated lists)."""
    for item in items:
        if isinstance(item, syn.GroupStmt):
            _guarded(errors, _check_label, item)
            _check_items(item.body, "nested", errors, namespace)
        elif isinstance(item, syn.RepeatStmt):
            _check_repeat(item, where, errors, namespace)
        else:
            _guarded(errors, check_layer, item, where, namespace)
            if item.body is not None:
                _check_items(item.body, "nested", errors, namespace)


def _check_repeat(item: syn.RepeatStmt, where: str, errors: ErrorCollector, namespace) -> None:
    if item.body is not None:
        _check_items(item.body, "nested", errors, namespace)
    elif where == "block":
        errors.record(ResdslValidationError(
            "a block cannot contain other blocks; list its layers instead", item.span))
    elif where == "nested":
        errors.record(ResdslValidationError(
            "blocks are repeated directly in a stem, stage or head, not inside a group or "
            "a branch", item.span))


def _check_label(stmt) -> None:
    if stmt.label is not None:
        check_label(stmt.label, stmt.span)


def check_layer(stmt: syn.LayerStmt, where: str = "block", namespace=None) -> Signature:
    """A layer's keyword, place, argument count and option names (nothing evaluated)."""
    if stmt.layer not in SIGNATURES:
        notes = did_you_mean(stmt.layer, SIGNATURES) or (f"layers: {', '.join(LAYERS)}",)
        if namespace is not None and stmt.layer in namespace.blocks:
            notes = (f"'{stmt.layer}' is a block: write `1 x {stmt.layer}(...)`",)
        raise ResdslValidationError(f"unknown layer '{stmt.layer}'", stmt.span, notes=notes)
    _check_label(stmt)
    reads_point = any(arg.name == "from" for arg in stmt.args)
    if stmt.layer == "gate" and where != "block" and reads_point:
        raise ResdslValidationError(
            "a gate reads a point of the block (`from`) only in the block's own list of "
            "layers; elsewhere it reads the path where it stands", stmt.span)
    if stmt.layer in GRAPH and where != "block" and stmt.layer != "gate":
        raise ResdslValidationError(
            f"'{stmt.layer}' {GRAPH_WORDS[stmt.layer]} and can only stand inside a block, in "
            "its own list of layers", stmt.span)
    if (stmt.body is not None) != (stmt.layer in BRANCHED):
        raise ResdslValidationError(
            f"'{stmt.layer}' needs its branch in braces: `{stmt.layer} {{ ... }}`"
            if stmt.layer in BRANCHED else f"'{stmt.layer}' takes no `{{ ... }}`", stmt.span)
    sig = SIGNATURES[stmt.layer]
    positional = [a for a in stmt.args if a.name is None]
    if len(positional) > len(sig.positional) or len(positional) < sig.required:
        raise ResdslValidationError(_count_message(stmt.layer, sig, len(positional)), stmt.span,
                                    notes=_negative_option_notes(positional, sig))
    _check_options(stmt, sig)
    return sig


def _check_options(stmt: syn.LayerStmt, sig: Signature) -> None:
    seen: set[str] = set()
    for arg in stmt.args:
        if arg.name is None:
            continue
        if arg.name not in sig.options:
            allowed = ", ".join(sig.options) or "none"
            raise ResdslValidationError(
                f"'{stmt.layer}' has no option '{arg.name}' (options: {allowed})", arg.span,
                notes=did_you_mean(arg.name, sig.options))
        if arg.name in seen:
            raise ResdslValidationError(f"option '{arg.name}' given twice", arg.span)
        if arg.name == "from" and not isinstance(arg.value, syn.Name):
            raise ResdslValidationError(
                "`from` names a point of the block: the label of a layer before it",
                arg.value.span)
        seen.add(arg.name)


def _negative_option_notes(positional: list[syn.Arg], sig: Signature) -> tuple[str, ...]:
    """`bias_init -3` parses as the expression `bias_init - 3`, an argument: say so."""
    for arg in positional:
        value = arg.value
        if isinstance(value, syn.BinOp) and value.op == "-" and \
                isinstance(value.left, syn.Name) and value.left.id in sig.options:
            right = fmt.expr(value.right)
            return (f"`{value.left.id} -{right}` reads as a subtraction; a negative option "
                    f"value goes in parentheses: `{value.left.id} (-{right})`",)
    return ()


def _count_message(kind: str, sig: Signature, given: int) -> str:
    if not sig.positional:
        return f"'{kind}' takes no arguments, got {given}"
    names = ", ".join(sig.positional)
    if sig.required == len(sig.positional):
        return f"'{kind}' takes {len(sig.positional)} argument(s) ({names}), got {given}"
    return f"'{kind}' takes at most {len(sig.positional)} argument(s) ({names}), got {given}"


# ---- blocks --------------------------------------------------------------------------
def _check_block(decl: syn.BlockDecl, errors: ErrorCollector, namespace) -> None:
    _check_items(decl.body, "block", errors, namespace)
    _check_graph(decl, errors)
    visible = list(CONSTANTS)
    for param in decl.params:
        if param.default is not None:
            _check_names(param.default, list(visible), errors)
        visible.append(param.name)
    for expr in _item_exprs(decl.body):
        _check_names(expr, visible, errors)


def _check_graph(decl: syn.BlockDecl, errors: ErrorCollector) -> None:
    """At most one merge; `from` names a labelled item written before it."""
    points: list[str] = []
    first_merge = None
    for item in decl.body:
        if isinstance(item, syn.LayerStmt) and item.layer in GRAPH:
            if item.layer in MERGES and first_merge is not None:
                twice = "twice" if item.layer == first_merge else f"after '{first_merge}'"
                errors.record(ResdslValidationError(
                    f"'{item.layer}' used {twice} in one block: a block joins its shortcut once",
                    item.span))
            elif item.layer in MERGES:
                first_merge = item.layer
            for arg in item.args:
                if arg.name == "from" and isinstance(arg.value, syn.Name) \
                        and arg.value.id not in points:
                    errors.record(ResdslValidationError(
                        f"no point '{arg.value.id}' before this {item.layer}: `from` names the "
                        "label of a layer written earlier in the block", arg.value.span,
                        notes=did_you_mean(arg.value.id, points)))
        label = getattr(item, "label", None)
        if label is not None:
            points.append(label)


def _item_exprs(items: list) -> Iterator[syn.Expr]:
    """Every expression of a list of items, nested lists included (`from` excepted)."""
    for item in items:
        if isinstance(item, syn.RepeatStmt):
            yield item.count
            if item.call is not None:
                yield from (arg.value for arg in item.call.args or [])
        else:
            if isinstance(item, syn.LayerStmt):
                yield from (arg.value for arg in item.args if arg.name != "from")
        yield from _item_exprs(getattr(item, "body", None) or [])


def _check_names(expr: syn.Expr, visible: Iterable[str], errors: ErrorCollector) -> None:
    """A block sees only its parameters (a default, the earlier ones) and the constants,
    so an unknown name is an error in the block itself, shown there, whatever the call."""
    visible = list(visible)
    for name in names_in(expr):
        if name.id not in visible:
            errors.record(ResdslValidationError(f"unknown name '{name.id}'", name.span,
                                                notes=did_you_mean(name.id, visible)))


def names_in(expr: syn.Expr) -> Iterator[syn.Name]:
    if isinstance(expr, syn.Name):
        yield expr
    for child in syn.children(expr):
        yield from names_in(child)


# ---- shortcut declarations ---------------------------------------------------------------
def _check_shortcut(decl: syn.ShortcutDecl, errors: ErrorCollector) -> None:
    _guarded(errors, check_params, decl.params, f"shortcut '{decl.name}'")
    if isinstance(CONSTANTS.get(decl.name), bool):  # `shortcut true` reads as the value
        errors.record(ResdslValidationError(
            f"a shortcut cannot be named '{decl.name}': `shortcut {decl.name}` would read as "
            f"a truth value", decl.span, notes=("choose another name",)))
    for param in decl.params:
        if param.default is not None:
            errors.record(ResdslValidationError(
                f"shortcut parameter '{param.name}' cannot have a default: the block it "
                f"serves binds it", param.default.span))
        if param.name not in SHORTCUT_PARAMS:
            errors.record(ResdslValidationError(
                f"a shortcut's parameters are bound by the block it serves: "
                f"{', '.join(SHORTCUT_PARAMS)}; got '{param.name}'", param.span,
                notes=did_you_mean(param.name, SHORTCUT_PARAMS)))
    seen: set[str] = set()
    visible = [*CONSTANTS, *(p.name for p in decl.params)]
    for case in decl.cases:
        if case.name not in SHORTCUT_CASES:
            errors.record(ResdslValidationError(
                f"a shortcut has the cases `same` (the block keeps its shape) and `changed`; "
                f"got '{case.name}'", case.span, notes=did_you_mean(case.name, SHORTCUT_CASES)))
        elif case.name in seen:
            errors.record(ResdslValidationError(f"case '{case.name}' given twice", case.span))
        seen.add(case.name)
        if case.word is not None and case.word != "off":
            errors.record(ResdslValidationError(
                f"a case is a list of layers in braces, or `off` (nothing is added); got "
                f"'{case.word}'", case.span))
        if case.body is not None:
            _check_items(case.body, "nested", errors, None)
            for expr in _item_exprs(case.body):
                _check_names(expr, visible, errors)
