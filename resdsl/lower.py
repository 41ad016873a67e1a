"""A network's plan -> the expanded IR: its scalars, expectations and recipe, and its
sections (stem, stages, head) lowered in order, each at the shape the last one ends with.

    lower(program, "resnet34")  ->  ir.Network

Lists of items are lowered by `scopes.py`, blocks by `blocks.py`. Errors in independent
statements are collected, so one run shows several.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import ir
from . import syntax as syn
from .blocks import lower_block
from .diagnostics import Diagnostic, ErrorCollector, ResdslError, ResdslValidationError, Span
from .expand import NetworkPlan, expand, select_network
from .expressions import EvalValue, Symbol, as_int, bind_params, describe, did_you_mean, evaluate
from .ir.layers import check_label
from .limits import MAX_CHANNELS, MAX_PATH_PARTS, MAX_SPATIAL, MAX_TOLERANCE, paused_gc
from .loader import Namespace, Program
from .recipes import check_recipe, lower_recipe
from .rules import GRAPH
from .scopes import Budget, Context, Scope, check_unique, expand_items, name_by_kind, \
    name_by_position, size_of

DEFAULT_SHORTCUT = "B"


def lower(program: Program, network: str | None = None,
          input_override: tuple[int, ...] | None = None, *, classes: int | None = None,
          channels: int | None = None) -> ir.Network:
    """The expanded IR of one network of `program` (its only one, unless named).

    The overrides replace what the spec says without editing it: the input (`--input`),
    its channels alone (`in_chans`), the classes (`num_classes`, which `fc classes` reads).
    """
    plan = expand(select_network(program, network), program.namespace)
    with paused_gc():
        try:
            net = lower_plan(plan, program.namespace, input_override, classes, channels)
        except ResdslError as error:
            raise type(error)(error.message, diagnostics=[
                inherited_at_user(d, plan) for d in error.diagnostics]) from None
    # The input as lowered when it was overridden: channels alone fix a whole shape.
    override = net.input if input_override or channels else None
    origin = ir.Origin(path=program.module.path, base_dir=str(program.base_dir),
                       sources=program.sources, network=net.name, input=override,
                       classes=classes)
    return net.model_copy(update={"origin": origin})


def lower_plan(plan: NetworkPlan, ns: Namespace, input_override=None,
               classes_override: int | None = None, channels: int | None = None) -> ir.Network:
    errors = ErrorCollector()
    env = dict(plan.env)
    shape = _guard(errors, input_shape, plan.input) if plan.input else None
    if input_override is not None:  # --input, or a model file's own: the same rules
        where = plan.input.dims.span if plan.input else plan.decl.span
        shape = _guard(errors, check_input, tuple(input_override), where, "the input override: ")
    if channels is not None and shape is not None:
        shape = (channels, *shape[1:])
    classes = _guard(errors, _classes, plan.classes, env) if plan.classes else None
    env["classes"] = classes = classes_override or classes
    for required in ("input", "classes"):
        if getattr(plan, required) is None:
            errors.record(ResdslValidationError(
                f"network '{plan.decl.name}' has no `{required}` statement", plan.decl.span))
    option = _guard(errors, shortcut_option, plan.shortcut, env, ns) or DEFAULT_SHORTCUT
    expects = [e for e in (_guard(errors, lower_expect, s) for s in plan.expects) if e]
    recipe = _guard(errors, lower_recipe, plan.train, ns) if plan.train else None
    if recipe is not None:  # what the trainer would refuse, `check` refuses too
        _guard(errors, check_recipe, recipe, shape)
    stages: list[ir.Stage] = []
    if shape is not None and classes is not None:
        context = Context(ns, Budget(), lower_block)
        stages = _Sections(plan, context, env, errors).lower(shape, option)
    errors.raise_if_any()
    network = ir.Network(name=plan.decl.name, input=shape, classes=classes, shortcut=option,
                         stages=stages, expects=expects, recipe=recipe, span=plan.decl.span)
    _check_output(network)
    return network


def inherited_at_user(diag: Diagnostic, plan: NetworkPlan) -> Diagnostic:
    """An error in a statement the network inherits names the user's line: where the
    statement sits in another file (a shipped spec), the error is shown at the network's
    `= base` and says where the statement is; in the same file, a note names that line."""
    stmt = next((s for s in plan.inherited if _within(diag.span, s.span)), None)
    where = plan.decl.base.span if plan.decl.base else None
    if stmt is None or where is None:
        return diag
    inherits = f"network '{plan.decl.name}' inherits it from '{plan.decl.base.name}'"
    if diag.span.file == where.file:
        return replace(diag, notes=(*diag.notes, f"{inherits} at {where}"))
    own = [f"{_statement_words(s)} at {s.span}" for s in plan.decl.body or [] if s.span]
    changes = (f"'{plan.decl.name}' writes {', '.join(own[:3])}",) if own else ()
    return Diagnostic(f"in {_statement_words(stmt)} of '{plan.decl.base.name}': "
                      f"{diag.message}", where,
                      notes=(*diag.notes, f"the statement is at {diag.span}", *changes))


def _statement_words(stmt) -> str:
    role = getattr(stmt, "role", "stage" if stmt.kind == "stage" else None)
    if role == "stage":
        return f"stage '{stmt.name}'"
    return f"the {role}" if role else f"the `{stmt.kind}` statement"


def _within(inner: Span | None, outer: Span | None) -> bool:
    return inner is not None and outer is not None and inner.file == outer.file and \
        (outer.line, outer.col) <= (inner.line, inner.col) <= (outer.end_line, outer.end_col)


def _guard(errors: ErrorCollector, function, *args):
    try:
        return function(*args)
    except ResdslError as error:
        errors.record(error)
        return None


# ---- the network's scalars ---------------------------------------------------------
def input_shape(stmt: syn.InputStmt) -> ir.Shape:
    return check_input(stmt.dims.values, stmt.dims.span)


def check_input(dims: tuple, span, what: str = "") -> ir.Shape:
    """`dims` if they make an input CxHxW within the limits; `what` names where they came
    from when it is not the `input` statement at `span`."""
    if len(dims) != 3 or not all(type(d) is int for d in dims):
        raise ResdslValidationError(
            f"{what}input must be CxHxW, such as 3x224x224; got {len(dims)} sizes", span)
    if min(dims) < 1:
        raise ResdslValidationError(
            f"{what}input sizes must be positive, got {ir.shape_text(dims)}", span)
    if max(dims[1:]) > MAX_SPATIAL or dims[0] > MAX_CHANNELS:
        raise ResdslValidationError(
            f"{what}input size {ir.shape_text(dims)} is too large (at most {MAX_CHANNELS} "
            f"channels and {MAX_SPATIAL} pixels a side)", span)
    return tuple(dims)


def _classes(stmt: syn.ClassesStmt, env) -> int:
    return as_int(evaluate(stmt.value, env), "classes", stmt.value.span)


def shortcut_option(stmt: syn.ShortcutStmt | None, env, ns: Namespace) -> str:
    if stmt is None:
        return DEFAULT_SHORTCUT
    return shortcut_name(evaluate(stmt.value, env, bare_words=True), stmt.value.span, ns)


def shortcut_name(value: EvalValue, span: Span | None, ns: Namespace) -> str:
    """The name of a declared shortcut (the prelude's A, B, C, none, D, preact, ...)."""
    if isinstance(value, Symbol) and value.name in ns.shortcuts:
        return value.name
    known = ", ".join(ns.shortcuts)
    raise ResdslValidationError(f"shortcut must be one of {known}; got {describe(value)}", span,
                                notes=did_you_mean(str(value), ns.shortcuts) or
                                ("declare a new one with `shortcut NAME(channels, stride) "
                                 "{ changed { ... } }`",))


_SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


def quantity(text: str) -> tuple[float, float]:
    """'21.8M' -> (21.8e6, relative tolerance of half a unit in the last digit shown)."""
    scale = _SUFFIXES.get(text[-1], 1.0)
    digits = text[:-1] if text[-1] in _SUFFIXES else text
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    value = float(digits) * scale
    half_unit = 0.5 * 10**-decimals * scale
    return value, (half_unit / value if value else 0.0)




def lower_expect(stmt: syn.ExpectStmt) -> ir.Expect | None:
    """The expectation, or None for `expect params none` (a derived network drops the
    one it inherits)."""
    if stmt.metric not in ("params", "flops"):
        raise ResdslValidationError(f"cannot expect '{stmt.metric}' (params or flops)", stmt.span,
                                    notes=did_you_mean(stmt.metric, ("params", "flops")))
    if stmt.quantity is None:
        return None
    value, tolerance = quantity(stmt.quantity)
    if stmt.within is not None:
        if not stmt.within[-1].isdigit():  # `within 5M %`: the grammar's quantity
            raise ResdslValidationError(
                f"'within' takes a plain percentage such as 2%, got {stmt.within}%", stmt.span)
        percent = float(stmt.within)
        if percent > MAX_TOLERANCE:
            raise ResdslValidationError(
                f"'within {stmt.within}%' is not a tolerance (at most {MAX_TOLERANCE:g}%)",
                stmt.span)
        tolerance = percent / 100
    if value > 1e18:
        raise ResdslValidationError(f"expected {stmt.metric} {stmt.quantity} is beyond any "
                                    "network", stmt.span)
    return ir.Expect(metric=stmt.metric, value=value, text=stmt.quantity, tolerance=tolerance,
                     span=stmt.span)


def _check_output(network: ir.Network) -> None:
    if network.output != (network.classes,):
        where = network.stages[-1].span if network.stages else network.span
        raise ResdslValidationError(
            f"the network's output is {ir.shape_text(network.output)}, but it declares "
            f"{network.classes} classes", where,
            notes=("end the head with `fc classes` (after `avgpool`)",))


# ---- sections ----------------------------------------------------------------------------
@dataclass
class _Sections:
    """Lowers a network's sections in order, each starting at the shape the last ended."""

    plan: NetworkPlan
    context: Context
    env: dict
    errors: ErrorCollector
    next_index: dict[str, int] = field(default_factory=dict)  # container -> next position
    container_names: dict[str, set] = field(default_factory=dict)  # container -> names in it
    envs: dict[int, dict] = field(default_factory=dict)  # a stem's block's arguments, by id
    stem_blocks: dict[int, str] = field(default_factory=dict)  # and the block's name

    def lower(self, shape: ir.Shape, option: str) -> list[ir.Stage]:
        try:
            sections = [self._spliced(role, stmt) for role, stmt in self.plan.sections()]
            self._reserve(sections)
            top = self._top_level_names(sections)
        except ResdslError as error:
            self.errors.record(error)
            return []
        stages, index, roots = [], 0, []
        for role, stmt in sections:
            index += role == "stage"
            try:
                roots = _check_contiguous(roots, module_of(role, stmt, index), stmt)
                stage = self._stage(role, stmt, index, shape, option, top)
            except ResdslError as error:
                self.errors.record(self._at_stem_call(error, stmt))
                break  # later stages depend on this one's output shape
            stages.append(stage)
            shape = stage.out_shape
        return stages

    def _spliced(self, role: str, stmt):
        """`stem conv1: deep_stem()`: the block's items as the stem's, evaluated with the
        block's arguments; a block that merges or gates has no place there."""
        if getattr(stmt, "call", None) is None:
            return role, stmt
        decl, preset = self.context.ns.block_called(stmt.call, self.env)
        graph = next((i for i in decl.body if getattr(i, "layer", None) in GRAPH), None)
        if graph is not None:
            raise ResdslValidationError(
                f"block '{decl.name}' has a '{graph.layer}': a stem is a list of layers, with "
                "no shortcut", stmt.call.span, notes=(f"the '{graph.layer}' is at {graph.span}",))
        args = bind_params(decl.params, stmt.call.args or [], self.env, f"block '{decl.name}'",
                           stmt.call.span, preset=preset)
        spliced = replace(stmt, body=decl.body)
        self.envs[id(spliced)] = args
        self.stem_blocks[id(spliced)] = decl.name
        return role, spliced

    def _at_stem_call(self, error: ResdslError, stmt) -> ResdslError:
        """An error in a stem's block depends on the call: shown there, as a block's is."""
        inner = error.diagnostics[0]
        if id(stmt) not in self.stem_blocks or _within(inner.span, stmt.span):
            return error
        return ResdslValidationError(
            f"in block '{self.stem_blocks[id(stmt)]}': {inner.message}", stmt.call.span,
            notes=(*inner.notes, f"the layer is at {inner.location()}"))

    def _env(self, stmt) -> dict:
        return self.envs.get(id(stmt), self.env)

    def _reserve(self, sections) -> None:
        """Refuse too many blocks or layers before building any, at the repeat that
        asks for them."""
        for _, stmt in sections:
            for item in [stmt.repeat] if isinstance(stmt, syn.StageStmt) else stmt.body:
                blocks, layers = size_of([item], self._env(stmt), self.context.ns)
                where = item.count.span if isinstance(item, syn.RepeatStmt) else item.span
                self.context.budget.reserve(blocks, layers, where)
        self.context.budget = Budget()  # counted again as they are built

    def _top_level_names(self, sections) -> dict[int, list[str]]:
        """Stem and head layers share the network's top level (conv1, bn1, ..., fc) with
        the containers of the stages (layer1, features, stages, ...): named together.
        Returns the names of each top-level section's items, by id of its statement."""
        top = [(stmt, expand_items(stmt.body, self._env(stmt))) for role, stmt in sections
               if role != "stage" and not stmt.module]
        planned = [p for _, items in top for p in items]
        name_by_kind(planned)
        containers = {module.split(".")[0] for module in
                      (module_of(role, stmt, i) for i, (role, stmt) in _numbered(sections))
                      if module}
        for p in planned:
            if p.name in containers:
                raise ResdslValidationError(
                    f"'{p.name}' is the module of a stage; a stem or head layer cannot use it",
                    p.stmt.span)
        check_unique(planned)
        return {id(stmt): [p.name for p in items] for stmt, items in top}

    def _stage(self, role, stmt, index, shape, option, top) -> ir.Stage:
        module = module_of(role, stmt, index)
        if isinstance(stmt, syn.StageStmt):
            option, fixed = self._stage_options(stmt, option)
            planned = expand_items([stmt.repeat], self.env)
        else:
            fixed = {}
            planned = expand_items(stmt.body, self._env(stmt))
        if module:
            _check_not_nested(module, self.next_index, stmt)
            # Sections sharing a container number on where the last one stopped, and
            # their labels may not repeat one another's (the second would replace the first).
            self.next_index[module] = name_by_position(planned, self.next_index.get(module, 0))
            self.container_names[module] = check_unique(planned, self.container_names.get(module))
        else:
            for p, name in zip(planned, top[id(stmt)]):
                p.name = name
        items = Scope(self.context, self._env(stmt), option, fixed).lower(planned, shape)
        out = items[-1].out_shape if items else shape
        return ir.Stage(name=stmt.name or role, role=role, module=module, items=items,
                        in_shape=shape, out_shape=out, span=stmt.span)

    def _stage_options(self, stmt: syn.StageStmt, option: str) -> tuple[str, dict]:
        fixed: dict[str, EvalValue] = {}
        seen: set[str] = set()
        for opt in stmt.options:
            if opt.name in seen:
                raise ResdslValidationError(f"option '{opt.name}' given twice", opt.span)
            seen.add(opt.name)
            if opt.name == "stride":
                stride = as_int(evaluate(opt.value, self.env), "stride", opt.value.span)
                if stride not in (1, 2):
                    raise ResdslValidationError(f"stride must be 1 or 2, got {stride}",
                                                opt.value.span)
                fixed["stride"] = stride
            elif opt.name == "shortcut":
                value = evaluate(opt.value, self.env, bare_words=True)
                option = shortcut_name(value, opt.value.span, self.context.ns)
            else:
                raise ResdslValidationError(
                    f"a stage has no option '{opt.name}' (options: stride, shortcut)", opt.span,
                    notes=did_you_mean(opt.name, ("stride", "shortcut")))
        return option, fixed


def _numbered(sections):
    """(stage number, (role, stmt)): the number a stage's default container takes."""
    index = 0
    for role, stmt in sections:
        index += role == "stage"
        yield index, (role, stmt)


def _check_not_nested(module: str, containers, stmt) -> None:
    """No container of sections inside another (`in a` and `in a.b`): calling the outer
    one would run the inner one's sections again."""
    for other in containers:
        if other != module and (f"{other}.".startswith(f"{module}.") or
                                f"{module}.".startswith(f"{other}.")):
            raise ResdslValidationError(
                f"module '{module}' and module '{other}' cannot both hold sections: one "
                "is inside the other", stmt.span)


def _check_contiguous(roots: list[str], module: str, stmt) -> list[str]:
    """The modules the sections use, in order (their paths checked): the sections one
    container holds follow each other, so that calling the container runs them in their
    order."""
    what = stmt.name or f"the {stmt.role}"
    if module:
        _check_path(module, stmt)
    root = module.split(".")[0]
    if root and root in roots and roots[-1] != root:
        raise ResdslValidationError(
            f"'{what}' goes in '{root}', but the section before it went elsewhere: the "
            "sections a module holds must follow each other", stmt.span)
    return roots + [root]


def _check_path(module: str, stmt) -> None:
    parts = module.split(".")
    if len(parts) > MAX_PATH_PARTS:
        raise ResdslValidationError(
            f"module path '{module[:60]}' has {len(parts)} parts (at most {MAX_PATH_PARTS})",
            stmt.span)
    if parts[0].isdigit():
        raise ResdslValidationError(f"module path '{module}' must start with a name, such "
                                    "as stages.0.blocks", stmt.span)
    for part in parts:
        if not part.isdigit():
            check_label(part, stmt.span, "name a module")  # the path's names become attributes


def module_of(role: str, stmt, index: int) -> str:
    """The container a section's items go in: `in PATH` if written, `layer{k}` for the
    k-th stage (torchvision's), the top level ("") for stem and head."""
    if stmt.module:
        return stmt.module
    return f"layer{index}" if role == "stage" else ""
