"""A training run's plan, decided once: the network (its `origin` is the spec, every file's
text), the resolved recipe, the options, and, when resuming, the run folder's config.json
as read (once) with the changes the flags make to it. The loop only runs a plan.

    plan = plan_run(network, recipe, TrainOptions(out="runs/r20"))   # a new run
    plan = plan_resume(TrainOptions(resume="runs/r20"), {"iterations": 500})
    result = train(plan)                                              # loop.py

`resdsl train` and its `--resume` come through `plan_training`; a run folder alone is
enough to resume it. A resumed run keeps its settings, except what the flags given
(`changes`) may change safely: more or fewer iterations, the evaluation and checkpoint
intervals, and where it runs. Any other change is refused, never ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from torch import nn

from .. import ir
from .. import syntax as syn
from ..loader import Program, load_program, program_from_sources, program_from_text
from ..lower import lower
from ..recipes import FIELDS as RECIPE_FIELDS
from ..recipes import lower_recipe, resolve_recipe
from .errors import CheckpointError, OptionsError
from .options import RECIPE_OVERRIDES, TrainOptions, input_shape, option_types
from .rng import seed_everything
from .runfolder import CHECKPOINTS, CONFIG, SavedRun, check_same_spec, load_run

DEFAULT_RECIPE = "cifar10_paper"  # the prelude's, for specs without a `train` statement
# Where and how fast a resumed run runs: taken from the command line, not config.json.
RUNTIME = ("resume", "device", "workers", "compile", "download", "data_dir", "max_memory")
# What a resumed run may change without changing what it computes up to then.
ADJUSTABLE = ("iterations", "eval_every", "checkpoint_every", "keep_checkpoints")


@dataclass(frozen=True)
class Plan:
    """What a run trains and how: everything decided before the loop starts."""

    network: ir.Network  # what is built; network.origin (the spec) goes to config.json
    recipe: ir.Recipe  # resolved: every override applied, checked against the input
    options: TrainOptions  # on resume: the run's own, with what may change changed
    resumed: SavedRun | None = None  # the run folder's config.json, when resuming
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # on resume: old, new
    notes: tuple[str, ...] = ()  # for the user: a default recipe standing in, ...

    @property
    def run_dir(self) -> Path | None:
        """The folder resumed; a new run's folder is chosen when it starts."""
        return Path(self.options.resume) if self.resumed is not None else None


@dataclass(frozen=True)
class LoadedSpec:
    program: Program  # its namespace holds the recipes a `--recipe NAME` may name
    network: ir.Network


def load_spec(path: str | os.PathLike, network: str | None = None,
              input: tuple[int, int, int] | None = None) -> LoadedSpec:
    program = load_program(path)
    return LoadedSpec(program, lower(program, network, input))


def network_of_run(saved: SavedRun, run_dir: str | os.PathLike,
                   network: str | None = None) -> ir.Network:
    """The network a run trained, rebuilt from the spec its config.json keeps, as it was
    built (input and classes overrides included)."""
    origin = saved.origin
    if origin is None:
        raise CheckpointError("keeps no spec to rebuild its network from: give the spec too",
                              file=str(Path(run_dir) / CONFIG))
    if saved.legacy:  # older versions kept the spec's text alone: imports come from disk
        program = program_from_text(origin.sources[origin.path], origin.path,
                                    base_dir=Path(origin.base_dir))
    else:
        program = program_from_sources(origin.path, origin.base_dir, origin.sources)
    return lower(program, network or origin.network or None, origin.input,
                 classes=origin.classes)


def run_folder_of(path: str | os.PathLike) -> Path | None:
    """The run folder `path` is, or holds a checkpoint of; None for a lone checkpoint."""
    path = Path(path)
    for folder in (path, path.parent.parent if path.parent.name == CHECKPOINTS else None):
        if folder is not None and (folder / CONFIG).exists():
            return folder
    return None


def choose_recipe(spec: LoadedSpec, name: str | None) -> tuple[ir.Recipe, str | None]:
    """The recipe `name`, else the spec's own; and a note when the default had to serve."""
    if name is None and spec.network.recipe is not None:
        return spec.network.recipe, None
    chosen = name or DEFAULT_RECIPE
    note = None if name else (f"{spec.network.name} has no `train` statement: using the "
                              f"prelude's {chosen}")
    return lower_recipe(syn.TrainStmt(recipe=chosen), spec.program.namespace), note


def plan_run(network: ir.Network, recipe: ir.Recipe | None = None,
             options: TrainOptions | None = None, sets: Mapping[str, Any] | None = None,
             notes: tuple[str, ...] = ()) -> Plan:
    """A new run of `network` with `recipe` (else its own), the options' recipe flags
    (--iterations, --lr, ...) and `sets` (--set FIELD=VALUE) applied to it."""
    options = options or TrainOptions()
    if options.resume is not None:
        raise OptionsError("options.resume is set: plan the run with plan_resume")
    if recipe is None and network.recipe is None:
        raise OptionsError(f"{network.name} has no `train` statement: give a recipe")
    overrides = {**options.recipe_overrides(), **(sets or {})}
    recipe = resolve_recipe(recipe or network.recipe, overrides, network.input)
    return Plan(network, recipe, options, notes=notes)


def plan_resume(options: TrainOptions, changes: Mapping[str, Any] | None = None,
                network: ir.Network | None = None, saved: SavedRun | None = None) -> Plan:
    """Resume the run in options.resume: the network it trained (else `network`, which
    must be the same spec's), its recipe and options, with `changes` (the flags given,
    by field) made where that is safe. `saved`: its config.json, if already read."""
    folder = options.resume
    saved = saved or load_run(folder)
    network = network or network_of_run(saved, folder)
    check_same_spec(saved, network, folder)
    recipe, merged, changed = resumed_settings(saved, options, changes or {}, network.input)
    return Plan(network, recipe, merged, saved, changed)


def plan_training(spec: str | os.PathLike | None, network: str | None,
                  recipe_name: str | None, sets: Mapping[str, Any],
                  given: Mapping[str, Any]) -> Plan:
    """`resdsl train`: the spec (or the run's saved one), the options from the flags
    `given`, recipe fields from --set. On --resume the flags are the changes asked for."""
    options = TrainOptions(**given)
    if options.resume is not None:
        saved = load_run(options.resume)
        # A spec given again is built as the run built it: for the input it was trained on.
        chosen = load_spec(spec, network, saved.options.input).network if spec is not None \
            else network_of_run(saved, options.resume, network)
        changes = {**given, **sets, **({"recipe": recipe_name} if recipe_name else {})}
        return plan_resume(options, changes, chosen, saved)
    if spec is None:
        raise OptionsError("give a spec, or --resume RUN")
    loaded = load_spec(spec, network, input_shape(options.input) if options.input else None)
    recipe, note = choose_recipe(loaded, recipe_name)
    return plan_run(loaded.network, recipe, options, sets, (note,) if note else ())


def resumed_settings(saved: SavedRun, options: TrainOptions, changes: Mapping[str, Any],
                     input: tuple[int, ...] | None = None
                     ) -> tuple[ir.Recipe, TrainOptions, dict[str, tuple[Any, Any]]]:
    """The saved recipe and options with `changes` applied where that is safe; the
    changes made, as {field: (old, new)}. Refuses any other change."""
    config = str(Path(options.resume) / CONFIG)
    if "recipe" in changes and changes["recipe"] != saved.recipe.name:
        _refuse("recipe", changes["recipe"], saved.recipe.name, config)
    recipe = resolve_recipe(saved.recipe, {k: v for k, v in changes.items()
                                           if k in RECIPE_FIELDS}, input)
    changed = {name: (getattr(saved.recipe, name), getattr(recipe, name))
               for name in RECIPE_FIELDS if getattr(saved.recipe, name) != getattr(recipe, name)}
    for name, value in changes.items():
        if name not in option_types() or name in RUNTIME or name in RECIPE_FIELDS:
            continue  # a recipe field (compared above), or where the run runs
        if value != getattr(saved.options, name) and not _same_folder(name, value, options):
            changed[name] = (getattr(saved.options, name), value)
    for name, (old, new) in changed.items():
        if name not in ADJUSTABLE:
            _refuse(name, new, old, config)
    runtime = {name: getattr(options, name) for name in RUNTIME}
    # The data is where the run found it, unless the user says it has moved (--data-dir).
    runtime["data_dir"] = changes.get("data_dir", saved.options.data_dir)
    adjusted = {name: new for name, (_, new) in changed.items() if name in option_types()
                and name not in RECIPE_FIELDS}
    # The recipe carries the overrides now; the options must not apply them again.
    cleared = dict.fromkeys(RECIPE_OVERRIDES)
    return recipe, replace(saved.options, **runtime, **adjusted, **cleared), changed


def _same_folder(name: str, value: Any, options: TrainOptions) -> bool:
    return name == "out" and value is not None and \
        Path(value).resolve() == Path(options.resume).resolve()


def _refuse(name: str, new: Any, old: Any, config: str) -> None:
    flag = f"--set {name}={shown(new)}" if name not in option_types() and name != "recipe" \
        else f"--{name.replace('_', '-')} {shown(new)}"
    raise OptionsError(f"{flag} would change this run, which has {name} {shown(old)}: a "
                       "resumed run keeps its settings, except --iterations, --eval-every, "
                       "--checkpoint-every, --keep-checkpoints and where it runs (--device, "
                       "--workers, --compile, --data-dir, --download). Drop the flag, or start "
                       "a new run with another --out", file=config)


def shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def build_model(network: ir.Network, options: TrainOptions) -> nn.Module:
    """The model as a run starts it: seeded first, since the initialisation is part of the
    run (a restarted run must start from the same weights)."""
    from ..compiler import compile_network
    from ..limits import MAX_BUILD_BYTES, parse_size

    seed_everything(options.seed)
    limit = parse_size(options.max_memory) if options.max_memory else MAX_BUILD_BYTES
    return compile_network(network, zero_init_residual=options.zero_init_residual,
                           max_bytes=limit)
