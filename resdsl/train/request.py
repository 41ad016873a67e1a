"""What a training command is asked to train: the spec (a file, or the copy a run folder's
config.json holds), its network, the recipe, and the model built from them.

`resdsl train RUN --resume`, `resdsl eval RUN` and their forms with a spec all come
through here, so a run folder alone is enough to resume or evaluate it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from .. import ir
from .. import syntax as syn
from ..recipes import resolve_recipe
from ..loader import Program, load_program, program_from_text
from ..lower import lower, lower_recipe
from .errors import CheckpointError
from .options import TrainOptions, input_shape
from .rng import seed_everything
from .runfolder import CHECKPOINTS, CONFIG, SavedRun, load_run

DEFAULT_RECIPE = "cifar10_paper"  # the prelude's, for specs without a `train` statement


@dataclass(frozen=True)
class TrainSpec:
    path: str  # the spec file, or the run's config.json for the copy saved there
    text: str
    program: Program
    network: ir.Network


def load_spec(path: str | os.PathLike, network: str | None = None,
              input: tuple[int, int, int] | None = None) -> TrainSpec:
    program = load_program(path)
    return TrainSpec(str(path), program.text, program, lower(program, network, input))


def spec_of_run(saved: SavedRun, run_dir: str | os.PathLike,
                network: str | None = None) -> TrainSpec:
    """The spec a run was started from, as its config.json keeps it: every file's text
    (`origin`), or, in run folders of older versions, the spec's text alone, its imports
    found beside the spec file it was read from (spec_path), else from here."""
    origin = saved.config.get("origin")
    if isinstance(origin, dict):
        return _spec_of_origin(origin, saved, run_dir, network)
    spec_path = saved.config.get("spec_path")
    base = Path(spec_path).resolve().parent if isinstance(spec_path, str) else Path.cwd()
    label = f"{Path(run_dir) / CONFIG}[spec]"
    program = program_from_text(saved.spec_text, label, base_dir=base)
    name = network or saved.config.get("network")
    return TrainSpec(spec_path if isinstance(spec_path, str) else label, saved.spec_text,
                     program, lower(program, name if isinstance(name, str) else None))


def _spec_of_origin(origin: dict, saved: SavedRun, run_dir, network: str | None) -> TrainSpec:
    from pydantic import ValidationError

    from ..loader import program_from_sources

    try:
        kept = ir.Origin.model_validate(origin)
    except ValidationError:
        raise CheckpointError("its spec ('origin') is damaged", file=str(Path(run_dir) / CONFIG)) from None
    program = program_from_sources(kept.path, kept.base_dir, kept.sources)
    name = network or kept.network
    return TrainSpec(kept.path, saved.spec_text, program,
                     lower(program, name, kept.input, classes=kept.classes))


def run_folder_of(path: str | os.PathLike) -> Path | None:
    """The run folder `path` is, or holds a checkpoint of; None for a lone checkpoint."""
    path = Path(path)
    for folder in (path, path.parent.parent if path.parent.name == CHECKPOINTS else None):
        if folder is not None and (folder / CONFIG).exists():
            return folder
    return None


def require_spec(spec: str | os.PathLike | None, run: str | os.PathLike | None,
                 network: str | None = None, input: str | None = None) -> TrainSpec:
    """The spec given (built for `input` when given), or else the one saved in the run
    folder `run`, built as it was."""
    if spec is not None:
        return load_spec(spec, network, input_shape(input) if input else None)
    folder = run_folder_of(run) if run is not None else None
    if folder is None:
        what = "holds no config.json with the spec" if Path(run).exists() else \
            "no such run folder or checkpoint"
        raise CheckpointError(f"{what}: give the spec too, or a run folder", file=str(run))
    return spec_of_run(load_run(folder), folder, network)


def choose_recipe(spec: TrainSpec, name: str | None) -> tuple[ir.Recipe, str | None]:
    """The recipe `name`, else the spec's own; and a note when the default had to serve."""
    if name is None and spec.network.recipe is not None:
        return spec.network.recipe, None
    chosen = name or DEFAULT_RECIPE
    note = None if name else (f"{spec.network.name} has no `train` statement: using the "
                              f"prelude's {chosen}")
    return lower_recipe(syn.TrainStmt(recipe=chosen), spec.program.namespace), note


def build_model(network: ir.Network, options: TrainOptions) -> nn.Module:
    """The model as a run starts it: seeded first, since the initialisation is part of the
    run (a restarted run must start from the same weights)."""
    from ..compiler import compile_network
    from ..limits import MAX_BUILD_BYTES, parse_size

    seed_everything(options.seed)
    limit = parse_size(options.max_memory) if options.max_memory else MAX_BUILD_BYTES
    return compile_network(network, zero_init_residual=options.zero_init_residual,
                           max_bytes=limit)


@dataclass(frozen=True)
class TrainRequest:
    """`resdsl train`'s arguments, checked: what to build and how to train it."""

    spec: TrainSpec
    spec_path: str | None  # the spec file, for config.json (None: the run's saved copy)
    recipe: ir.Recipe  # resolved; on --resume the run's own, as saved
    options: TrainOptions
    model_options: TrainOptions  # the options the model is built with (a run's own on resume)
    changes: dict[str, Any] = field(default_factory=dict)  # on --resume: every flag given
    notes: list[str] = field(default_factory=list)


def request_training(spec: str | os.PathLike | None, network: str | None,
                     recipe_name: str | None, sets: Mapping[str, Any],
                     given: Mapping[str, Any]) -> TrainRequest:
    """From the command line: the spec (or the run's saved one), options from the flags
    `given`, recipe overrides from --set. On --resume the flags are the run's `changes`."""
    options = TrainOptions(**given)
    path = str(Path(spec).resolve()) if spec is not None else None
    if options.resume is not None:
        saved = load_run(options.resume)
        # A spec given again is built as the run built it: for the input it was trained on.
        chosen = require_spec(spec, options.resume, network, saved.options.input)
        changes = {**given, **sets, **({"recipe": recipe_name} if recipe_name else {})}
        return TrainRequest(chosen, path, saved.recipe, options, saved.options, changes)
    chosen = require_spec(spec, None, network, options.input)
    recipe, note = choose_recipe(chosen, recipe_name)
    overrides = {**options.recipe_overrides(), **sets}
    recipe = resolve_recipe(recipe, overrides, chosen.network.input)
    return TrainRequest(chosen, path, recipe, options, options, notes=[note] if note else [])
