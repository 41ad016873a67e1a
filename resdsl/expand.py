"""Families and derived networks, applied: a network's statements as one typed body.

`network b = a { ... }` replaces statements of `a` with the ones of the same key
(`input`, `stem`, `stage conv3_x`, `expect params`, ...) and adds the others;
`network r = family(args)` binds the family's parameters. The result, a `NetworkPlan`,
says once what the network has: one input, one stem, its stages in order, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from . import syntax as syn
from .diagnostics import ErrorCollector, ResdslValidationError
from .expressions import EvalValue, Symbol, bind_params, did_you_mean
from .limits import MAX_DERIVATION
from .loader import Namespace, Program



@dataclass
class NetworkPlan:
    """What a network is made of, before anything is evaluated."""

    decl: syn.NetworkDecl
    env: dict[str, EvalValue]  # the family's arguments, visible to every statement
    input: syn.InputStmt | None = None
    classes: syn.ClassesStmt | None = None
    shortcut: syn.ShortcutStmt | None = None
    stem: syn.SectionStmt | None = None
    stages: list[syn.SectionStmt | syn.StageStmt] = field(default_factory=list)
    head: syn.SectionStmt | None = None
    expects: list[syn.ExpectStmt] = field(default_factory=list)
    train: syn.TrainStmt | None = None
    # The statements it takes from its family or base network as they are written there.
    inherited: list = field(default_factory=list)

    def sections(self) -> list[tuple[str, syn.SectionStmt | syn.StageStmt]]:
        """(role, statement) in the order they run: stem, stages, head."""
        return ([("stem", self.stem)] if self.stem else []) + \
               [("stage", s) for s in self.stages] + ([("head", self.head)] if self.head else [])


def select_network(program: Program, name: str | None) -> syn.NetworkDecl:
    own = program.networks
    if name is not None:
        found = program.own_networks.get(name) or program.namespace.networks.get(name)
        if found is None:
            raise ResdslValidationError(f"no network '{name}' in this file", file=program.module.path,
                                        notes=_not_a_network(name, program))
        return found
    if len(own) == 1:
        return own[0]
    if not own:
        raise ResdslValidationError("no network declared in this file", file=program.module.path,
                                    notes=("declare one with `network NAME { ... }`",))
    names = ", ".join(d.name for d in own)
    raise ResdslValidationError(f"this file declares several networks ({names})",
                                file=program.module.path, notes=("choose one with --network NAME",))


def _not_a_network(name: str, program: Program) -> tuple[str, ...]:
    """What `name` is instead, if it names something else the file can see."""
    ns = program.namespace
    for kind, table in (("block", ns.blocks), ("family", ns.families), ("recipe", ns.recipes),
                        ("shortcut", ns.shortcuts)):
        if name in table:
            return (f"'{name}' is a {kind}, not a network; networks: "
                    f"{', '.join(program.own_networks) or 'none'}",)
    return did_you_mean(name, program.own_networks)


def expand(decl: syn.NetworkDecl, namespace: Namespace) -> NetworkPlan:
    statements, env = _statements(decl, namespace, seen=())
    plan = NetworkPlan(decl, dict(env))
    own = {id(stmt) for stmt in decl.body or []}
    plan.inherited = [stmt for stmt in statements if id(stmt) not in own]
    errors = ErrorCollector()
    for stmt in statements:
        try:
            _place(plan, stmt)
        except ResdslValidationError as error:
            errors.record(error)
    errors.raise_if_any()
    return plan


def _place(plan: NetworkPlan, stmt) -> None:
    """Put one statement where it belongs in the plan; a second stem or head, or a
    stage name used twice, is an error."""
    if isinstance(stmt, syn.SectionStmt) and stmt.role in ("stem", "head"):
        if getattr(plan, stmt.role) is not None:
            raise ResdslValidationError(f"a network has one {stmt.role}; this is a second",
                                        stmt.span)
        setattr(plan, stmt.role, stmt)
    elif isinstance(stmt, (syn.SectionStmt, syn.StageStmt)):
        first = next((s for s in plan.stages if s.name == stmt.name), None)
        if first is not None:
            raise ResdslValidationError(f"duplicate stage name '{stmt.name}'", stmt.span,
                                        notes=(f"first used at {first.span}",))
        plan.stages.append(stmt)
    elif isinstance(stmt, syn.ExpectStmt):
        plan.expects.append(stmt)
    else:
        field_name = {"input": "input", "classes": "classes", "shortcut": "shortcut",
                      "train": "train"}[stmt.kind]
        setattr(plan, field_name, stmt)


def _statements(decl: syn.NetworkDecl, namespace: Namespace, seen: tuple[str, ...]):
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
    if base.name in namespace.families:
        family = namespace.families[base.name]
        # A family's arguments may name a declared shortcut or block: `fam(shortcut = D,
        # block = se_bottleneck)`, and so may its parameters' defaults.
        words = {name: Symbol(name) for name in (*namespace.shortcuts, *namespace.blocks)}
        env = bind_params(family.params, base.args or [], words, f"family '{family.name}'",
                          base.span, words=words)
        statements = list(family.body)
    elif base.name in namespace.networks:
        if base.args:
            raise ResdslValidationError(f"'{base.name}' is a network and takes no arguments",
                                        base.span)
        statements, env = _statements(namespace.networks[base.name], namespace,
                                      (*seen, decl.name))
    else:
        raise ResdslValidationError(
            f"unknown family or network '{base.name}'", base.span,
            notes=did_you_mean(base.name, [*namespace.families, *namespace.networks]))
    return _override(statements, decl.body or []), env


def _statement_key(stmt) -> tuple:
    if isinstance(stmt, syn.SectionStmt) and stmt.role != "stage":
        return (stmt.role,)
    if isinstance(stmt, (syn.SectionStmt, syn.StageStmt)):
        return ("stage", stmt.name)
    if isinstance(stmt, syn.ExpectStmt):
        return ("expect", stmt.metric)
    return (stmt.kind,)


def _keeping(old, new):
    """`new` in place of `old`, keeping what `new` does not say: a section's `in PATH`
    and a stem's or head's name (`stage conv4_x: ...` over `stage conv4_x in
    stages.2.blocks: ...` still goes in stages.2.blocks)."""
    if not isinstance(new, (syn.SectionStmt, syn.StageStmt)):
        return new
    update = {}
    if new.module is None and old.module is not None:
        update["module"] = old.module
    if new.name is None and getattr(old, "name", None) is not None:
        update["name"] = old.name
    return replace(new, **update) if update else new


def _override(base: list, overrides: list) -> list:
    """A derived network replaces statements of its base with the same key."""
    result = list(base)
    index = {_statement_key(s): i for i, s in enumerate(result)}
    for stmt in overrides:
        key = _statement_key(stmt)
        if key in index:
            result[index[key]] = _keeping(result[index[key]], stmt)
        elif key[0] == "stage":
            stages = [k[1] for k in index if k[0] == "stage"]
            raise ResdslValidationError(f"no stage '{key[1]}' to replace", stmt.span,
                                        notes=(f"stages: {', '.join(stages)}",))
        else:
            index[key] = len(result)
            result.append(stmt)
    return result
