"""Training recipes: declared in the language (the prelude's `cifar10_paper`), lowered
here into an `ir.Recipe`, checked for what makes sense, overridden, and set by
`--set FIELD=VALUE`.

The IR (`ir.Recipe`) says what type each field has; `check_recipe` says what a trainer
can work with: positive sizes and rates, a momentum in [0, 1], steps that increase, a
warm-up given whole, a crop padding no larger than the image. No torch here: the lowering
calls `check_recipe`, so `resdsl check` refuses what `resdsl train` would.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from . import ir
from . import syntax as syn
from .diagnostics import ResdslError, ResdslValidationError
from .expressions import did_you_mean, evaluate, to_ir_value
from .limits import MAX_DERIVATION

# A bound for crop_padding when the input is not known: above it, one padded batch of
# even small images needs gigabytes. With the input known, the bound is its side.
MAX_CROP_PADDING = 512
FIELDS = tuple(name for name in ir.Recipe.model_fields if name not in ("name", "span"))


class RecipeError(ResdslError):
    """A recipe, or an override of one, that cannot train."""


def check_recipe(recipe: ir.Recipe, input: Sequence[int] | None = None) -> None:
    """Refuse a recipe the trainer cannot work with; errors point at `recipe.span`.

    `input` (C x H x W), when given, bounds crop_padding by the image's side."""
    problem = _first_problem(recipe, input)
    if problem:
        raise RecipeError(f"recipe {recipe.name}: {problem}", recipe.span)


def _first_problem(recipe: ir.Recipe, input: Sequence[int] | None) -> str | None:
    for name in ("iterations", "batch_size", "eval_every"):
        if getattr(recipe, name) < 1:
            return f"{name} must be at least 1, got {getattr(recipe, name)}"
    for name in ("lr", "lr_gamma", "warmup_lr"):
        value = getattr(recipe, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            return f"{name} must be a positive number, got {value}"
    if not (math.isfinite(recipe.momentum) and 0 <= recipe.momentum <= 1):
        return f"momentum must be between 0 and 1 (the paper: 0.9), got {recipe.momentum}"
    if not (math.isfinite(recipe.weight_decay) and recipe.weight_decay >= 0):
        return f"weight_decay must not be negative, got {recipe.weight_decay}"
    return _schedule_problem(recipe) or _crop_problem(recipe, input)


def _schedule_problem(recipe: ir.Recipe) -> str | None:
    steps = list(recipe.lr_steps)
    if any(step < 1 for step in steps) or any(a >= b for a, b in zip(steps, steps[1:])):
        return f"lr_steps must be positive iterations that increase, got {steps}"
    if (recipe.warmup_lr is None) != (recipe.warmup_until_error is None):
        return "warmup_lr and warmup_until_error go together: set both or neither"
    error = recipe.warmup_until_error
    if error is not None and not 0 < error <= 1:
        return f"warmup_until_error is a fraction in (0, 1], e.g. 0.8 for 80%; got {error}"
    return None


def _crop_problem(recipe: ir.Recipe, input: Sequence[int] | None) -> str | None:
    padding = recipe.crop_padding
    if padding < 0:
        return f"crop_padding must not be negative, got {padding}"
    if input is not None and len(input) == 3 and padding > min(input[1:]):
        side = min(input[1:])
        return (f"crop_padding {padding} is more than the {side}-pixel side of the "
                f"{'x'.join(map(str, input))} input: crops would hold no image")
    if padding > MAX_CROP_PADDING:
        return f"crop_padding must be at most {MAX_CROP_PADDING}, got {padding}"
    return None


def resolve_recipe(recipe: ir.Recipe, overrides: Mapping[str, Any],
                   input: Sequence[int] | None = None) -> ir.Recipe:
    """`recipe` with `overrides` applied, validated and checked (with `input`, C x H x W,
    as check_recipe). None is a value (no warm-up: warmup_lr None); leave a field out to
    keep it. A problem the recipe has without the overrides points at its span; one the
    overrides make names no place in the spec.

    The result keeps the recipe's span, so later errors still point into the spec."""
    update = dict(overrides)
    unknown = sorted(set(update) - set(FIELDS))
    if unknown:
        close = difflib.get_close_matches(unknown[0], FIELDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else f"; the fields: {', '.join(FIELDS)}"
        raise RecipeError(f"not a recipe field: {', '.join(unknown)}{hint}")
    try:
        checked = ir.Recipe.model_validate({**recipe.model_dump(), **update})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise RecipeError(f"invalid recipe override: {problems}") from None
    problem = _first_problem(checked, input)
    if problem:
        own = problem == _first_problem(recipe, input)
        raise RecipeError(f"recipe {recipe.name}: {problem}", recipe.span if own else None)
    return recipe.model_copy(update={k: getattr(checked, k) for k in update})


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """`--set FIELD=VALUE` items as overrides: `none` is None, `a,b` a tuple (lr_steps is
    always one: `lr_steps=none` has no steps); values stay text, for resolve_recipe to
    validate against the IR."""
    fields: dict[str, Any] = {}
    for item in items:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key:
            raise RecipeError(f"expected FIELD=VALUE, got {item!r}")
        parts = [p.strip() for p in value.split(",")] if value != "none" else []
        if key == "lr_steps" or len(parts) > 1:
            fields[key] = tuple(p for p in parts if p)
        else:
            fields[key] = parts[0] if parts else None
    return fields


# ---- recipes in the language ----------------------------------------------------------
# Fields that may be unset: `none` there means "not used" (no warm-up).
OPTIONAL_FIELDS = {name for name, f in ir.Recipe.model_fields.items()
                   if name != "span" and not f.is_required() and f.default is None}


def lower_recipe(stmt: syn.TrainStmt, ns) -> ir.Recipe:
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


def _recipe_fields(decl: syn.RecipeDecl, ns, seen: tuple[str, ...]):
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
