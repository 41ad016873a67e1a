"""The runs of a reproduction: one per (net, seed), each a normal run folder with a name
that stays the same from one invocation to the next (`resnet110-seed3`), so a rerun finds
what an earlier one left.

Planning reads the specs (no torch): each net's recipe, with the reproduction's
overrides applied and checked once here, so a bad `--set` is one error before anything
starts, not one per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import syntax as syn
from ..analyzer import analyze
from ..catalog import builtin_names
from ..loader import load_program
from ..lower import lower
from ..recipes import lower_recipe, parse_sets, resolve_recipe
from ..train.options import RECIPE_OVERRIDES, TrainOptions
from .errors import ReproduceError
from .experiments import Experiment, Net
from .options import ReproduceOptions


@dataclass(frozen=True)
class RunJob:
    """One run of a reproduction, as planned."""

    name: str  # the run folder's name under the reproduction's folder: "resnet110-seed3"
    spec: str  # the built-in spec's name
    network: str  # the network's name in the spec (config.json's "network")
    label: str  # as the figure labels it: "ResNet-110"
    seed: int
    run_dir: Path
    recipe: str  # the recipe it trains with
    own_recipe: bool  # it is the spec's own (`train` statement): no --recipe flag needed
    iterations: int  # the planned total, overrides applied
    params: int  # the network's parameters, as the analyser counts them

    @property
    def spec_path(self) -> Path:
        return builtin_names()[self.spec]


def run_name(spec: str, seed: int) -> str:
    # A name below specs/ may hold a folder ("timm/resnet50d"): one folder level per run.
    return f"{spec.replace('/', '--')}-seed{seed}"


def plan_runs(experiment: Experiment, nets: tuple[Net, ...],
              options: ReproduceOptions) -> list[RunJob]:
    """Every run of `nets`, net by net in the experiment's order, seeds 0, 1, ..."""
    TrainOptions(**options.train)  # a bad flag value: said once, here, not by every run
    overrides = _recipe_overrides(options)
    jobs = []
    for net in nets:
        network, recipe, own = _net_recipe(net, overrides)
        params = analyze(network).params
        seeds = options.seeds if options.seeds is not None else experiment.seeds_of(net)
        for seed in range(seeds):
            name = run_name(net.spec, seed)
            jobs.append(RunJob(name, net.spec, network.name, net.label, seed,
                               options.run_root / name, net.recipe, own, recipe.iterations,
                               params))
    return jobs


def _recipe_overrides(options: ReproduceOptions) -> dict[str, Any]:
    flags = {name: options.train[name] for name in RECIPE_OVERRIDES if name in options.train}
    return {**flags, **parse_sets(list(options.sets))}


def _net_recipe(net: Net, overrides: dict[str, Any]):
    """The net's network (IR), its recipe with the overrides applied, and whether the
    recipe is the spec's own."""
    path = builtin_names().get(net.spec)
    if path is None:
        raise ReproduceError(f"experiment net {net.spec!r} is not a built-in spec "
                             "(resdsl list shows them)")
    program = load_program(path)
    network = lower(program)
    own = network.recipe is not None and network.recipe.name == net.recipe
    recipe = network.recipe if own else \
        lower_recipe(syn.TrainStmt(recipe=net.recipe), program.namespace)
    return network, resolve_recipe(recipe, overrides, network.input), own
