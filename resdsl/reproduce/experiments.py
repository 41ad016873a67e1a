"""Experiments as data: which nets to train, with which recipe and how many seeds, what
figure and table to draw, and the paper's number for every row.

The experiments ship inside the package as `resdsl/reproduce/experiments/NAME.json`;
`load_experiment("fig6")` reads one, `shipped_experiments()` all. A file is validated
(pydantic, unknown keys refused), so a typo in one is an error naming the file, not a
row that silently lacks its number. The paper's figures are copied into these files from
the team's reference data (`tests/reference/paper.json`, which the package never reads);
each says where it was copied from (`reference`), and a test holds them equal.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..expressions import did_you_mean
from .errors import ReproduceError

FOLDER = "experiments"  # inside this package
MAX_SEEDS = 100  # runs of one net: more is a typo, not an experiment


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PaperFigures(_Frozen):
    """What the paper reports for one row; all None where it reports nothing."""

    source: str | None = None  # where in the paper: "Table 6", "He et al. 2016, Table 3"
    reference: str | None = None  # the same figures' path in tests/reference/paper.json
    label: str | None = None  # the paper's net, where it is not ours ("Highway, 19 layers")
    note: str | None = None  # why there is no number, or what to know about it
    layers: int | None = None
    error: float | None = None  # test error in %, the best run's where there were several
    mean_std: tuple[float, float] | None = None  # mean and std of the test error, in %
    mean_std_runs: int | None = None  # how many runs mean_std is over, where the paper says
    params: float | None = None  # as the paper rounds them


class Net(_Frozen):
    spec: str  # a built-in spec's name (resdsl list)
    label: str  # how the paper names it in figures: "ResNet-110", "plain-20"
    recipe: str  # the recipe it trains with: the spec's own (a test holds them equal)
    seeds: int | None = None  # runs of this net; None: the experiment's `seeds`
    paper: PaperFigures = PaperFigures()


class Panel(_Frozen):
    title: str
    nets: tuple[str, ...]  # specs of the experiment, drawn in this order


class FigureLayout(_Frozen):
    title: str
    panels: tuple[Panel, ...]  # side by side, left to right, as the paper's Figure 6


class Claim(_Frozen):
    """An ordering the paper shows, checked on our runs' final training errors."""

    net: str  # the spec whose training error is compared: "plain56"
    than: str  # with this spec's: "plain20"
    relation: Literal["above", "at_or_below"]  # what the paper shows of `net` against `than`
    source: str  # where the paper shows it: "Figure 6, left"


class Experiment(_Frozen):
    name: str
    title: str  # "{data}" stands for the data set the runs trained on
    reproduces: str  # one sentence: which figure or table, and what it shows
    seeds: int = 1  # runs of each net unless the net says otherwise
    nets: tuple[Net, ...]
    figure: FigureLayout
    table: str  # the table's title ("{data}" as in `title`)
    data: str = "cifar10"  # what the runs train on unless --data says otherwise
    # "spec": every net takes its spec's input; "data": each is built for the images of
    # the data set it trains on (--input CxHxW on every run, said in the report).
    input: Literal["spec", "data"] = "spec"
    # `resdsl train` flags every run gets unless the command line gives them: how a
    # laptop experiment runs fast (bf16, channels_last), never what it computes.
    train: dict[str, bool | int | str] = {}
    per_device: int = 1  # runs at once on each device unless --per-device says otherwise
    claims: tuple[Claim, ...] = ()  # orderings the report checks and states

    @field_validator("seeds")
    @classmethod
    def _seed_count(cls, seeds: int) -> int:
        return check_seeds(seeds, "seeds")

    @model_validator(mode="after")
    def _panels_name_its_nets(self) -> Experiment:
        specs = [net.spec for net in self.nets]
        if len(set(specs)) != len(specs):
            raise ValueError("a net is listed twice")
        for panel in self.figure.panels:
            unknown = sorted(set(panel.nets) - set(specs))
            if unknown:
                raise ValueError(f"panel {panel.title!r} draws nets the experiment does not "
                                 f"train: {', '.join(unknown)}")
        for net in self.nets:
            if net.seeds is not None:
                check_seeds(net.seeds, f"seeds of {net.spec}")
        for claim in self.claims:
            unknown = sorted({claim.net, claim.than} - set(specs))
            if unknown:
                raise ValueError(f"a claim compares nets the experiment does not train: "
                                 f"{', '.join(unknown)}")
        return self

    def seeds_of(self, net: Net) -> int:
        return net.seeds if net.seeds is not None else self.seeds

    def runs(self) -> int:
        return sum(self.seeds_of(net) for net in self.nets)


def check_seeds(seeds: int, what: str) -> int:
    if not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"{what} must be between 1 and {MAX_SEEDS}, got {seeds}")
    return seeds


def _folder() -> Path:
    return Path(str(resources.files(__package__))) / FOLDER


@lru_cache(maxsize=None)
def shipped_names() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in _folder().glob("*.json")))


def load_experiment(name: str) -> Experiment:
    """The shipped experiment `name`; ReproduceError (with the names there are) if none."""
    if name not in shipped_names():
        raise ReproduceError(f"no experiment named {name!r}"
                             f"{_hint(name, shipped_names(), 'the experiments')}")
    return read_experiment(_folder() / f"{name}.json")


def read_experiment(path: Path) -> Experiment:
    try:
        experiment = Experiment.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as error:  # ValidationError is a ValueError
        detail = _first_error(error) if isinstance(error, ValidationError) else str(error)
        raise ReproduceError(f"not an experiment: {detail}", file=str(path)) from None
    if experiment.name != path.stem:
        raise ReproduceError(f"names itself {experiment.name!r}: an experiment's name is its "
                             "file's", file=str(path))
    return experiment


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(map(str, first["loc"]))
    return f"{where}: {first['msg']}" if where else first["msg"]


def shipped_experiments() -> list[Experiment]:
    return [load_experiment(name) for name in shipped_names()]


def select_nets(experiment: Experiment, only: list[str] | None) -> tuple[Net, ...]:
    """The experiment's nets, or those of them `only` names, in the experiment's order."""
    if not only:
        return experiment.nets
    specs = [net.spec for net in experiment.nets]
    for name in only:
        if name not in specs:
            raise ReproduceError(f"--only {name}: experiment {experiment.name} has no net "
                                 f"{name!r}{_hint(name, specs, 'its nets')}")
    return tuple(net for net in experiment.nets if net.spec in only)


def _hint(name: str, choices, what: str) -> str:
    """A close match, else every choice: on the error's own line (errors here are one line)."""
    close = did_you_mean(name, choices)
    return f" ({close[0]})" if close else f"; {what}: {', '.join(choices)}"
