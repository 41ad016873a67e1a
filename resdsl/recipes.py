"""Training recipes: declared in the language (the prelude's `cifar10_paper`), lowered
here into a validated `ir.Recipe`. No torch: `resdsl check` validates recipes too."""

from __future__ import annotations

from pydantic import ValidationError

from . import ir
from . import syntax as syn
from .diagnostics import ResdslValidationError
from .expressions import did_you_mean, evaluate, to_ir_value
from .loader import Namespace

MAX_DERIVATION = 64  # `recipe r = q` chains; deeper would overflow the stack
# Fields that may be unset: `none` there means "not used" (no warm-up).
OPTIONAL_FIELDS = {name for name, f in ir.Recipe.model_fields.items()
                   if name != "span" and not f.is_required() and f.default is None}


def lower_recipe(stmt: syn.TrainStmt, ns: Namespace) -> ir.Recipe:
    """The recipe a `train NAME { overrides }` statement names, its fields resolved."""
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
    if f.name in OPTIONAL_FIELDS:  # `warmup_lr none`; `normalize none` is a word of its own
        values = [None if v == "none" else v for v in values]
    if f.name == "lr_steps":
        return tuple(values)
    return values[0] if len(values) == 1 else tuple(values)
