"""Syntax tree -> expanded IR: families applied, blocks instantiated, shapes checked.

The lowering is where every rule of the language is enforced, each with its message
at the span where the user can fix it. Errors in independent statements are collected
so one run shows several.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from pydantic import ValidationError

from . import ir
from . import layers
from . import syntax as syn
from .diagnostics import ErrorCollector, ResdslError, ResdslValidationError, Span
from .evaluate import (CONSTANTS, EvalValue, Symbol, as_int, describe, did_you_mean,
                       evaluate, to_ir_value)
from .loader import Namespace, Program

MAX_BLOCKS = 10_000  # ten times ResNet-1202; more would only hang the machine
MAX_PARAMS = 2**31
MAX_SPATIAL = 1 << 16
MAX_DERIVATION = 64  # `network b = a`, `recipe r = q` chains; deeper would overflow the stack
STAGE_OPTIONS = ("stride", "shortcut")
SHORTCUTS = ("A", "B", "C", "none")


# ---- choosing and resolving a network ------------------------------------------------
def lower(program: Program, network: str | None = None,
          input_override: tuple[int, ...] | None = None) -> ir.Network:
    """The expanded IR of one network of `program` (its only one, unless named)."""
    decl = select_network(program, network)
    static_check(program)
    statements, env = resolve(decl, program.namespace, seen=())
    return _NetworkLowering(decl, program.namespace, env).run(statements, input_override)


def select_network(program: Program, name: str | None) -> syn.NetworkDecl:
    own = program.networks
    if name is not None:
        found = [d for d in own if d.name == name] or (
            [program.namespace.networks[name]] if name in program.namespace.networks else [])
        if not found:
            raise ResdslValidationError(f"no network '{name}' in this file", file=program.module.path,
                                        notes=did_you_mean(name, [d.name for d in own]))
        return found[0]
    if len(own) == 1:
        return own[0]
    if not own:
        raise ResdslValidationError("no network declared in this file", file=program.module.path,
                                    notes=("declare one with `network NAME { ... }`",))
    names = ", ".join(d.name for d in own)
    raise ResdslValidationError(f"this file declares several networks ({names})",
                                file=program.module.path, notes=("choose one with --network NAME",))


def resolve(decl: syn.NetworkDecl, ns: Namespace, seen: tuple[str, ...]):
    """The statements of a network, its base's first, overridden by its own."""
    if decl.name in seen:
        chain = " -> ".join((*seen, decl.name))
        where = decl.base.span if decl.base and decl.base.span else decl.span
        raise ResdslValidationError(f"network '{decl.name}' derives from itself ({chain})", where)
    if len(seen) >= MAX_DERIVATION:
        raise ResdslValidationError(
            f"network '{decl.name}' derives through more than {MAX_DERIVATION} networks", decl.span)
    if decl.base is None:
        return list(decl.body or []), {}
    base = decl.base
    if base.name in ns.families:
        family = ns.families[base.name]
        env = bind_params(family.params, base.args or [], {}, f"family '{family.name}'", base.span)
        statements = list(family.body)
    elif base.name in ns.networks:
        if base.args:
            raise ResdslValidationError(f"'{base.name}' is a network and takes no arguments",
                                        base.span)
        statements, env = resolve(ns.networks[base.name], ns, (*seen, decl.name))
    else:
        raise ResdslValidationError(f"unknown family or network '{base.name}'", base.span,
                                    notes=did_you_mean(base.name, [*ns.families, *ns.networks]))
    return _override(statements, decl.body or []), env


def _statement_key(stmt) -> tuple:
    if isinstance(stmt, syn.SectionStmt) and stmt.role != "stage":
        return (stmt.role,)
    if isinstance(stmt, (syn.SectionStmt, syn.StageStmt)):
        return ("stage", stmt.name)
    if isinstance(stmt, syn.ExpectStmt):
        return ("expect", stmt.metric)
    return (stmt.kind,)


def _override(base: list, overrides: list) -> list:
    """A derived network replaces statements of its base with the same key."""
    result = list(base)
    keys = [_statement_key(s) for s in result]
    for stmt in overrides:
        key = _statement_key(stmt)
        if key in keys:
            result[keys.index(key)] = stmt
        elif key[0] == "stage":
            raise ResdslValidationError(
                f"no stage '{key[1]}' to replace", stmt.span,
                notes=(f"stages: {', '.join(k[1] for k in keys if k[0] == 'stage')}",))
        else:
            result.append(stmt)
            keys.append(key)
    return result


def bind_params(params: list[syn.Param], args: list[syn.Arg], caller_env: Mapping[str, EvalValue],
                what: str, span: Span | None,
                fixed: Mapping[str, EvalValue] | None = None) -> dict[str, EvalValue]:
    """Arguments of a call bound to the callee's parameters; defaults filled in order."""
    names = [p.name for p in params]
    given: dict[str, EvalValue] = {}
    positional = [a for a in args if a.name is None]
    if len(positional) > len(params):
        raise ResdslValidationError(
            f"{what} takes {len(params)} argument(s) ({', '.join(names)}), got {len(positional)}",
            positional[len(params)].span or span)
    for param, arg in zip(params, positional):
        given[param.name] = evaluate(arg.value, caller_env)
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
    given.update(fixed or {})
    bound: dict[str, EvalValue] = {}
    for param in params:
        if param.name in given:
            bound[param.name] = given[param.name]
        elif param.default is not None:
            bound[param.name] = evaluate(param.default, bound)  # defaults may use earlier params
        else:
            raise ResdslValidationError(f"{what} needs an argument for '{param.name}'", span)
    return bound


# ---- checks that need no evaluation --------------------------------------------------
def static_check(program: Program) -> None:
    """Errors visible without expanding anything, collected over the whole file."""
    errors = ErrorCollector()
    blocks = program.namespace.blocks
    for decl in program.module.decls:
        if isinstance(decl, syn.BlockDecl):
            _check_body(decl.body, errors, blocks, in_block=True)
            _check_block_names(decl, errors)
        elif isinstance(decl, (syn.FamilyDecl, syn.NetworkDecl)):
            for stmt in decl.body or []:
                if isinstance(stmt, syn.SectionStmt):
                    _check_body(stmt.body, errors, blocks, in_block=False)
    errors.raise_if_any()


def _check_body(items: list, errors: ErrorCollector, blocks: Mapping, in_block: bool) -> None:
    residuals = 0
    for item in items:
        if isinstance(item, syn.RepeatStmt):
            if in_block:
                errors.record(ResdslValidationError(
                    "a block cannot contain other blocks; list its layers instead", item.span))
            continue
        try:
            layers.check(item)
        except ResdslError as error:
            if item.layer in blocks and item.layer not in layers.SIGNATURES:
                error = ResdslValidationError(
                    error.message, item.span,
                    notes=(f"'{item.layer}' is a block: write `1 x {item.layer}(...)`",))
            errors.record(error)
            continue
        if item.layer == "residual":
            residuals += 1
            if not in_block:
                errors.record(ResdslValidationError(
                    "'residual' adds a block's shortcut and can only stand inside a block",
                    item.span))
            elif residuals == 2:
                errors.record(ResdslValidationError(
                    "'residual' used twice in one block", item.span))


def _check_block_names(decl: syn.BlockDecl, errors: ErrorCollector) -> None:
    """A block sees only its parameters (a default, the earlier ones) and the constants,
    so an unknown name is an error in the block itself, shown there, whatever the call."""
    known = list(CONSTANTS)
    exprs = []
    for param in decl.params:
        if param.default is not None:
            exprs.append((param.default, list(known)))
        known.append(param.name)
    exprs += [(arg.value, known) for item in decl.body if isinstance(item, syn.LayerStmt)
              for arg in item.args]
    for expr, visible in exprs:
        for name in _names(expr):
            if name.id not in visible:
                errors.record(ResdslValidationError(f"unknown name '{name.id}'", name.span,
                                                    notes=did_you_mean(name.id, visible)))


def _names(expr: syn.Expr):
    if isinstance(expr, syn.Name):
        yield expr
    elif isinstance(expr, syn.BinOp):
        yield from _names(expr.left)
        yield from _names(expr.right)
    elif isinstance(expr, syn.Conditional):
        for part in (expr.then, expr.left, expr.right, expr.otherwise):
            yield from _names(part)


# ---- one network -----------------------------------------------------------------------
@dataclass
class _Sections:
    stem: syn.SectionStmt | None = None
    stages: list = field(default_factory=list)
    head: syn.SectionStmt | None = None


class _NetworkLowering:
    def __init__(self, decl: syn.NetworkDecl, ns: Namespace, env: dict[str, EvalValue]):
        self.decl, self.ns, self.env = decl, ns, dict(env)
        self.errors = ErrorCollector()
        self.blocks_built = 0
        self.params = 0

    def run(self, statements: list, input_override) -> ir.Network:
        values = self._scalars(statements)
        if input_override is not None:
            values["input"] = tuple(input_override)
        sections = self._sections(statements)
        expects = [e for e in map(self._guard(self._expect), statements) if e is not None]
        recipe = next((r for r in map(self._guard(self._recipe), statements) if r is not None), None)
        stages = []
        if "input" in values and "classes" in values:
            stages = self._stages(sections, values["input"], values["shortcut"])
        self.errors.raise_if_any()
        network = ir.Network(name=self.decl.name, input=values["input"], classes=values["classes"],
                             shortcut=values["shortcut"], stages=stages, expects=expects,
                             recipe=recipe, span=self.decl.span)
        self._check_output(network)
        return network

    def _guard(self, method):
        def guarded(stmt):
            try:
                return method(stmt)
            except ResdslError as error:
                self.errors.record(error)
                return None
        return guarded

    def _scalars(self, statements: list) -> dict:
        values: dict = {"shortcut": "B"}
        for stmt in statements:
            try:
                if isinstance(stmt, syn.InputStmt):
                    values["input"] = _input_shape(stmt)
                elif isinstance(stmt, syn.ClassesStmt):
                    values["classes"] = as_int(evaluate(stmt.value, self.env), "classes",
                                               stmt.value.span)
                    self.env["classes"] = values["classes"]
                elif isinstance(stmt, syn.ShortcutStmt):
                    # Bare words, so `shortcut D` says what a shortcut may be.
                    value = evaluate(stmt.value, self.env, bare_words=True)
                    values["shortcut"] = _shortcut(value, stmt.value.span)
            except ResdslError as error:
                self.errors.record(error)
        for required in ("input", "classes"):
            if not any(stmt.kind == required for stmt in statements):
                self.errors.record(ResdslValidationError(
                    f"network '{self.decl.name}' has no `{required}` statement", self.decl.span))
        return values

    def _sections(self, statements: list) -> _Sections:
        sections = _Sections()
        names: dict[str, Span | None] = {}
        for stmt in statements:
            if isinstance(stmt, syn.SectionStmt) and stmt.role in ("stem", "head"):
                if getattr(sections, stmt.role) is not None:
                    self.errors.record(ResdslValidationError(
                        f"a network has one {stmt.role}; this is a second", stmt.span))
                setattr(sections, stmt.role, stmt)
            elif isinstance(stmt, (syn.SectionStmt, syn.StageStmt)):
                if stmt.name in names:
                    self.errors.record(ResdslValidationError(
                        f"duplicate stage name '{stmt.name}'", stmt.span,
                        notes=(f"first used at {names[stmt.name]}",)))
                names[stmt.name] = stmt.span
                sections.stages.append(stmt)
        return sections

    # -- stages -------------------------------------------------------------------------
    def _stages(self, sections: _Sections, shape: ir.Shape, option: str) -> list[ir.Stage]:
        stages: list[ir.Stage] = []
        top_names = self._top_level_names(sections)
        plan = ([("stem", sections.stem)] if sections.stem else []) + \
               [("stage", s) for s in sections.stages] + \
               ([("head", sections.head)] if sections.head else [])
        try:
            self._count_blocks([stmt for _, stmt in plan])
        except ResdslError as error:
            self.errors.record(error)
            return stages
        index = 0
        for role, stmt in plan:
            index += role == "stage"
            try:
                stage = self._stage(role, stmt, shape, option, index, top_names)
            except ResdslError as error:
                self.errors.record(error)
                break  # later stages depend on this one's output shape
            stages.append(stage)
            shape = stage.out_shape
        return stages

    def _count_blocks(self, plan: list) -> None:
        """Refuse too many blocks before building any: `6000 x` in two stages would
        otherwise build the first 6000 before the second could say so."""
        total = 0
        for stmt in plan:
            repeats = [stmt.repeat] if isinstance(stmt, syn.StageStmt) else \
                [item for item in stmt.body if isinstance(item, syn.RepeatStmt)]
            for repeat in repeats:
                try:
                    count = evaluate(repeat.count, self.env)
                except ResdslError:
                    continue  # reported when the stage is built
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    total += count
                if total > MAX_BLOCKS:
                    raise ResdslValidationError(
                        f"{total} blocks is too many to build (limit {MAX_BLOCKS})", repeat.count.span)

    def _top_level_names(self, sections: _Sections) -> dict[int, str]:
        # Stem and head layers share the network's top level (conv1, bn1, ..., fc).
        stmts = [item for section in (sections.stem, sections.head) if section
                 for item in section.body if isinstance(item, syn.LayerStmt)]
        names = layers.default_names(stmts)
        stage_modules = {f"layer{k + 1}" for k in range(len(sections.stages))}
        for stmt, name in zip(stmts, names):
            if name in stage_modules:
                raise ResdslValidationError(
                    f"'{name}' is the module of a stage; a stem or head layer cannot use it",
                    stmt.span)
        _check_unique(names, [s.span for s in stmts])
        return {id(s): n for s, n in zip(stmts, names)}

    def _stage(self, role, stmt, shape, option, index, top_names) -> ir.Stage:
        module = f"layer{index}" if role == "stage" else ""
        name = stmt.name or role
        if isinstance(stmt, syn.StageStmt):
            items = self._repeat_stage(stmt, shape, option)
        else:
            names = top_names if role != "stage" else None
            items = self._section_items(stmt.body, shape, option, names)
        out = items[-1].out_shape if items else shape
        return ir.Stage(name=name, role=role, module=module, items=items, in_shape=shape,
                        out_shape=out, span=stmt.span)

    def _repeat_stage(self, stmt: syn.StageStmt, shape, option) -> list[ir.Block]:
        fixed_first: dict[str, EvalValue] = {}
        for opt in stmt.options:
            if opt.name == "stride":
                stride = as_int(evaluate(opt.value, self.env), "stride", opt.value.span)
                if stride not in (1, 2):
                    raise ResdslValidationError(f"stride must be 1 or 2, got {stride}", opt.value.span)
                fixed_first["stride"] = stride
            elif opt.name == "shortcut":
                option = _shortcut(evaluate(opt.value, self.env, bare_words=True), opt.value.span)
            else:
                raise ResdslValidationError(
                    f"a stage has no option '{opt.name}' (options: {', '.join(STAGE_OPTIONS)})",
                    opt.span, notes=did_you_mean(opt.name, STAGE_OPTIONS))
        return self._repeat(stmt.repeat, shape, option, fixed_first, start=0)

    def _section_items(self, body: list, shape, option, names: dict | None) -> list:
        layer_stmts = [item for item in body if isinstance(item, syn.LayerStmt)]
        if names is None:
            names = {id(s): n for s, n in zip(layer_stmts, layers.default_names(layer_stmts))}
        items: list = []
        for item in body:
            if isinstance(item, syn.RepeatStmt):
                blocks = self._repeat(item, shape, option, {}, start=sum(
                    isinstance(i, ir.Block) for i in items))
                items.extend(blocks)
            else:
                items.append(layers.build(layers.bind(item, self.env), names[id(item)], shape))
                self._count_params(items[-1].params, item.span)
            shape = items[-1].out_shape if items else shape
        _check_unique([i.name for i in items], [i.span for i in items])
        return items

    def _repeat(self, repeat: syn.RepeatStmt, shape, option, fixed_first, start: int) -> list[ir.Block]:
        count = as_int(evaluate(repeat.count, self.env), "the repeat count", repeat.count.span)
        if self.blocks_built + count > MAX_BLOCKS:
            raise ResdslValidationError(
                f"{self.blocks_built + count} blocks is too many to build (limit {MAX_BLOCKS})",
                repeat.count.span)
        decl = self.ns.lookup("blocks", repeat.call.name, repeat.call.span, "block")
        if fixed_first and "stride" not in [p.name for p in decl.params]:
            raise ResdslValidationError(
                f"block '{decl.name}' has no 'stride' parameter for the stage's stride", repeat.span)
        blocks = []
        for i in range(count):
            fixed = fixed_first if i == 0 else {}
            args = bind_params(decl.params, repeat.call.args or [], self.env,
                               f"block '{decl.name}'", repeat.call.span, fixed)
            block = _BlockLowering(decl, args, repeat.call.span).run(str(start + i), shape, option)
            self.blocks_built += 1
            self._count_params(block.params, repeat.span)
            blocks.append(block)
            shape = block.out_shape
        return blocks

    def _count_params(self, params: int, span: Span | None) -> None:
        self.params += params
        if self.params > MAX_PARAMS:
            raise ResdslValidationError(
                f"the network has more than 2^31 parameters ({self.params:,} so far): too large to build",
                span)

    # -- expectations, recipe, output -----------------------------------------------------
    def _expect(self, stmt) -> ir.Expect | None:
        if not isinstance(stmt, syn.ExpectStmt):
            return None
        if stmt.metric not in ("params", "flops"):
            raise ResdslValidationError(f"cannot expect '{stmt.metric}' (params or flops)", stmt.span,
                                        notes=did_you_mean(stmt.metric, ("params", "flops")))
        value, tolerance = quantity(stmt.quantity)
        if stmt.within is not None:
            if not stmt.within[-1].isdigit():  # `within 5M %`: the grammar's quantity
                raise ResdslValidationError(
                    f"'within' takes a plain percentage such as 2%, got {stmt.within}%", stmt.span)
            tolerance = float(stmt.within) / 100
        return ir.Expect(metric=stmt.metric, value=value, text=stmt.quantity,
                         tolerance=tolerance, span=stmt.span)

    def _recipe(self, stmt) -> ir.Recipe | None:
        if not isinstance(stmt, syn.TrainStmt):
            return None
        return lower_recipe(stmt, self.ns)

    def _check_output(self, network: ir.Network) -> None:
        output = network.output
        if output != (network.classes,):
            where = network.stages[-1].span if network.stages else network.span
            shown = "x".join(map(str, output))
            raise ResdslValidationError(
                f"the network's output is {shown}, but it declares {network.classes} classes", where,
                notes=("end the head with `fc classes` (after `avgpool`)",))


class _BlockLowering:
    """One instance of a declared block, at one input shape."""

    def __init__(self, decl: syn.BlockDecl, args: dict[str, EvalValue], call_span: Span | None):
        self.decl, self.args, self.call_span = decl, args, call_span

    def run(self, name: str, in_shape: ir.Shape, option: str) -> ir.Block:
        try:
            built = self._layers(in_shape, option)
        except ResdslError as error:
            # Shape errors depend on the call, so show them where the block is used.
            inner = error.diagnostics[0]
            raise ResdslValidationError(
                f"in block '{self.decl.name}': {inner.message}", self.call_span,
                notes=(*inner.notes, f"the layer is at {inner.location()}")) from None
        out = built[-1].out_shape if built else in_shape
        args = {k: to_ir_value(v) for k, v in self.args.items()}
        return ir.Block(name=name, block=self.decl.name, args=args, layers=built,
                        in_shape=in_shape, out_shape=out, span=self.call_span)

    def _layers(self, in_shape: ir.Shape, option: str) -> list:
        stmts = self.decl.body
        names = layers.default_names(stmts)
        built, shape = [], in_shape
        for stmt, name in zip(stmts, names):
            written = layers.bind(stmt, self.args)
            if written.kind == "residual":
                layer = residual(name, shape, in_shape, option, stmt.span)
            else:
                layer = layers.build(written, name, shape)
            built.append(layer)
            shape = layer.out_shape
        _check_unique([layer.name for layer in built], [layer.span for layer in built])
        return built


def residual(name: str, shape: ir.Shape, block_in: ir.Shape, option: str,
             span: Span | None) -> ir.Residual:
    """Resolve the network's shortcut option for one block, as the paper defines it."""
    def make(kind: str, stride: int = 1) -> ir.Residual:
        return ir.Residual(name=name, in_shape=shape, out_shape=shape, option=option,
                           shortcut=kind, shortcut_in=block_in, stride=stride, span=span)

    if option == "none":
        return make("none")
    if shape == block_in and option != "C":
        return make("identity")
    if len(shape) != 3 or len(block_in) != 3:
        raise ResdslValidationError("a shortcut needs feature maps on both sides", span)
    stride = -(-block_in[1] // shape[1])
    if any((size - 1) // stride + 1 != out for size, out in zip(block_in[1:], shape[1:])):
        raise ResdslValidationError(
            f"no shortcut maps {layers.shape_text(block_in)} to {layers.shape_text(shape)}: the spatial sizes do not "
            "differ by a stride", span)
    if stride > 2 and option == "A":
        raise ResdslValidationError(f"the shortcut would need stride {stride}", span)
    if option == "A":
        if shape[0] < block_in[0]:
            raise ResdslValidationError(
                f"shortcut A cannot shrink channels ({block_in[0]} -> {shape[0]}): it only pads "
                "with zeros; use shortcut B or C", span)
        return make("zero_pad", stride)
    return make("projection", stride)


# ---- small helpers --------------------------------------------------------------------
def _check_unique(names: list[str], spans: list) -> None:
    seen: set[str] = set()
    for name, span in zip(names, spans):
        if name in seen:
            raise ResdslValidationError(f"two layers are named '{name}'", span)
        seen.add(name)


def _input_shape(stmt: syn.InputStmt) -> ir.Shape:
    dims = stmt.dims.values
    if len(dims) != 3:
        raise ResdslValidationError(f"input must be CxHxW, such as 3x224x224; got {len(dims)} sizes",
                                    stmt.dims.span)
    if min(dims) < 1:
        raise ResdslValidationError(f"input sizes must be positive, got {layers.shape_text(dims)}", stmt.dims.span)
    if max(dims[1:]) > MAX_SPATIAL or dims[0] > layers.MAX_CHANNELS:
        raise ResdslValidationError(
            f"input size {layers.shape_text(dims)} is too large (at most {layers.MAX_CHANNELS} channels "
            f"and {MAX_SPATIAL} pixels a side)", stmt.dims.span)
    return dims


def _shortcut(value: EvalValue, span: Span | None) -> str:
    if not isinstance(value, Symbol) or value.name not in SHORTCUTS:
        raise ResdslValidationError(f"shortcut must be A, B, C or none, got {describe(value)}", span)
    return value.name


_SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def quantity(text: str) -> tuple[float, float]:
    """'21.8M' -> (21.8e6, relative tolerance of half a unit in the last digit shown)."""
    scale = _SUFFIXES.get(text[-1], 1.0)
    digits = text[:-1] if text[-1] in _SUFFIXES else text
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits) * scale
    half_unit = 0.5 * 10**-decimals * scale
    return value, (half_unit / value if value else 0.0)


# ---- recipes -----------------------------------------------------------------------------
def lower_recipe(stmt: syn.TrainStmt, ns: Namespace) -> ir.Recipe:
    decl = ns.lookup("recipes", stmt.recipe, stmt.span, "recipe")
    fields, spans = _recipe_fields(decl, ns, seen=())
    for f in stmt.fields or []:
        fields[f.name], spans[f.name] = _field_value(f), f.span
    for key in ("name", "span"):  # set by the declaration, not by a field
        if key in fields:
            raise ResdslValidationError(f"recipe has no field '{key}'", spans[key])
    try:
        return ir.Recipe(name=decl.name, **fields, span=stmt.span)
    except ValidationError as error:
        first = error.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else ""
        if first["type"] == "extra_forbidden":
            message = f"recipe has no field '{key}'"
            notes = did_you_mean(key, ir.Recipe.model_fields)
        elif first["type"] == "missing":
            message, notes = f"recipe '{decl.name}' does not set '{key}'", ()
        else:
            message, notes = f"recipe field '{key}': {first['msg']}", ()
        raise ResdslValidationError(message, spans.get(key, stmt.span), notes=notes) from None


def _recipe_fields(decl: syn.RecipeDecl, ns: Namespace, seen: tuple[str, ...]):
    if decl.name in seen:
        raise ResdslValidationError(f"recipe '{decl.name}' derives from itself", decl.span)
    if len(seen) >= MAX_DERIVATION:
        raise ResdslValidationError(
            f"recipe '{decl.name}' derives through more than {MAX_DERIVATION} recipes", decl.span)
    fields: dict = {}
    spans: dict = {}
    if decl.base is not None:
        base = ns.lookup("recipes", decl.base, decl.span, "recipe")
        fields, spans = _recipe_fields(base, ns, (*seen, decl.name))
    for f in decl.fields:
        fields[f.name], spans[f.name] = _field_value(f), f.span
    return fields, spans


def _field_value(f: syn.RecipeField):
    values = [to_ir_value(evaluate(v, {}, bare_words=True)) for v in f.values]
    values = [None if v == "none" else v for v in values]
    if f.name == "lr_steps":
        return tuple(values)
    return values[0] if len(values) == 1 else tuple(values)
