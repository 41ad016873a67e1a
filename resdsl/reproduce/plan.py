"""The runs of a reproduction: one per (net, seed), each a normal run folder with a name
that stays the same from one invocation to the next (`resnet110-seed3`), so a rerun finds
what an earlier one left.

Planning reads the specs (no torch): each net's recipe, with the reproduction's
overrides applied and checked once here, so a bad `--set` is one error before anything
starts, not one per run. It also decides what the runs train on (the experiment's data
unless --data says otherwise), the input each net is built for, and every way the runs
depart from the paper (its data, its input sizes, each net's own recipe), for the report.
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
from ..recipes import FIELDS as RECIPE_FIELDS
from ..recipes import lower_recipe, parse_sets, resolve_recipe
from ..train.datasets.names import NAMED, data_title, shape_text
from ..train.options import RECIPE_OVERRIDES, TrainOptions, input_shape
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
    data: str = "cifar10"  # what it trains on (--data)
    input: tuple[int, int, int] | None = None  # built for these inputs (--input), or the spec's

    @property
    def spec_path(self) -> Path:
        return builtin_names()[self.spec]


def run_name(spec: str, seed: int) -> str:
    # A name below specs/ may hold a folder ("timm/resnet50d"): one folder level per run.
    return f"{spec.replace('/', '--')}-seed{seed}"


@dataclass(frozen=True)
class Plan:
    jobs: list[RunJob]
    data: str  # what every run trains on
    departures: list[str]  # each way the runs depart from the paper, one line each


def plan_runs(experiment: Experiment, nets: tuple[Net, ...], options: ReproduceOptions) -> Plan:
    """Every run of `nets`, net by net in the experiment's order, seeds 0, 1, ..."""
    TrainOptions(**options.train)  # a bad flag value: said once, here, not by every run
    overrides = _recipe_overrides(options)
    data = options.train.get("data", experiment.data)
    jobs, recipes, built = [], [], {}
    for net in nets:
        network, recipe, paper, spec_input = _net_recipe(experiment, net, data, options,
                                                         overrides)
        recipes += [line for line in _recipe_departures(recipe, paper) if line not in recipes]
        if network.origin.input is not None:
            key = (shape_text(network.input), shape_text(spec_input))
            built.setdefault(key, []).append(net.spec)
        params = analyze(network).params
        seeds = options.seeds if options.seeds is not None else experiment.seeds_of(net)
        for seed in range(seeds):
            name = run_name(net.spec, seed)
            jobs.append(RunJob(name, net.spec, network.name, net.label, seed,
                               options.run_root / name, net.recipe, paper.name == net.recipe,
                               recipe.iterations, params, data, network.origin.input))
    inputs = [f"input: {', '.join(specs)} built for {shape} images, not their specs' {own}"
              for (shape, own), specs in built.items()]
    precision = ["precision: bf16 autocast, where the paper trained in fp32"] \
        if options.train.get("precision") == "bf16" else []
    return Plan(jobs, data, _data_departures(data) + inputs + recipes + precision)


def _input(experiment: Experiment, net: Net, spec_input: tuple[int, ...], data: str,
           options: ReproduceOptions) -> tuple[int, int, int] | None:
    """The input the net is built for: --input as given; the data's images where the
    experiment builds its nets for them; else the spec's own (None)."""
    if "input" in options.train:
        return input_shape(options.train["input"])
    named = NAMED.get(data)
    if named is None or named.shape == spec_input:
        return None
    if experiment.input == "data":
        return named.shape
    raise ReproduceError(f"{net.spec} takes {shape_text(spec_input)} images, as in the paper, "
                         f"but {named.title}'s are {shape_text(named.shape)}: pass --input "
                         f"{shape_text(named.shape)} to build every net of {experiment.name} "
                         "for them (nothing is resized)")


def _data_departures(data: str) -> list[str]:
    if data == "cifar10":
        return []
    return [f"data: {data_title(data)}, not CIFAR-10 — the paper's numbers beside ours are "
            "CIFAR-10's, for reference only"]


def _recipe_departures(recipe, paper) -> list[str]:
    """How a net's recipe differs from its spec's own (the paper's), field by field."""
    lines = []
    changed = [f"{name} {_shown(getattr(paper, name))} → {_shown(getattr(recipe, name))}"
               for name in RECIPE_FIELDS if getattr(paper, name) != getattr(recipe, name)]
    if changed:
        lines.append(f"recipe: {recipe.name} instead of the paper's {paper.name}: "
                     + "; ".join(changed))
    return lines


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _recipe_overrides(options: ReproduceOptions) -> dict[str, Any]:
    flags = {name: options.train[name] for name in RECIPE_OVERRIDES if name in options.train}
    return {**flags, **parse_sets(list(options.sets))}


def _spec_path(net: Net) -> Path:
    path = builtin_names().get(net.spec)
    if path is None:
        raise ReproduceError(f"experiment net {net.spec!r} is not a built-in spec "
                             "(resdsl list shows them)")
    return path


def _net_recipe(experiment: Experiment, net: Net, data: str, options: ReproduceOptions,
                overrides: dict[str, Any]):
    """The net's network (IR, built for the input its runs get), its recipe with the
    overrides applied, the spec's own recipe (the paper's, for the CIFAR specs), and the
    spec's own input."""
    program = load_program(_spec_path(net))
    network = lower(program)
    spec_input = tuple(network.input)
    input = _input(experiment, net, spec_input, data, options)
    if input is not None:
        network = lower(program, None, input)
    paper = network.recipe or lower_recipe(syn.TrainStmt(recipe="cifar10_paper"),
                                           program.namespace)
    recipe = paper if paper.name == net.recipe else \
        lower_recipe(syn.TrainStmt(recipe=net.recipe), program.namespace)
    return network, resolve_recipe(recipe, overrides, network.input), paper, spec_input
