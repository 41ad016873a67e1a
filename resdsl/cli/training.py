"""The training commands: train, eval, plot; and the training flags they and `reproduce`
share, made from TrainOptions' fields (resdsl/train/options.py).

Each field is a flag (`--batch-size` from `batch_size`), with the field's help: a new
field becomes a flag without a change here. A command receives the flags the user gave
as `given`; a flag not given is None, so a resumed run tells a flag from a default.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import List, Optional

import typer

from ..diagnostics import ResdslError
from .console import note, out, print_error, report_errors
from .spec_args import NETWORK, spec_and_network

# --help lists the flags in TrainOptions' order, except these: what a newcomer reaches
# for first (the data), and last the bookkeeping and how the model is built.
FIRST = ("data", "data_dir", "download", "skip_checksum")
LAST = ("keep_checkpoints", "checkpoint_every", "log_every", "zero_init_residual", "sync_bn",
        "max_memory", "input")


def train_option_names() -> tuple[str, ...]:
    """Every TrainOptions field, in the order --help shows them."""
    from ..train.options import TrainOptions

    def place(name: str) -> tuple[int, int]:
        if name in FIRST:
            return (0, FIRST.index(name))
        return (2, LAST.index(name)) if name in LAST else (1, 0)  # sorted() keeps the rest's order

    return tuple(sorted((f.name for f in fields(TrainOptions)), key=place))


def _train_option(name: str, default: str | None) -> inspect.Parameter:
    from ..train.options import TrainOptions, option_types

    field, (kind, _) = TrainOptions.__dataclass_fields__[name], option_types()[name]
    flag = "--" + name.replace("_", "-")
    if default is None:
        shown = field.default is not None and field.default is not False
        default = f" (default: {field.default})" if shown else ""
    # None when not given: a resumed run must tell a flag from a default.
    option = typer.Option(None, f"{flag}/--no-{flag[2:]}" if kind is bool else flag,
                          help=field.metadata["help"] + default, show_default=False)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=Optional[kind])


def with_train_options(*names: str, defaults: dict[str, str] | None = None):
    """Give a command the options of TrainOptions fields `names`, passed as `given`;
    `defaults` says what stands in for a flag not given, where not the field's default."""
    def decorate(command):
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name != "given"]

        @functools.wraps(command)
        def wrapper(**values):
            given = {name: values.pop(name) for name in names}
            return command(**values, given={k: v for k, v in given.items() if v is not None})

        wrapper.__signature__ = signature.replace(
            parameters=own + [_train_option(name, (defaults or {}).get(name))
                              for name in names])
        return wrapper
    return decorate


def recipe_sets(items: list[str]) -> dict:
    """`--set field=value` items as recipe fields; a malformed one is a usage error."""
    from ..recipes import parse_sets

    try:
        return parse_sets(items)
    except ResdslError as error:
        raise typer.BadParameter(error.message, param_hint="--set") from None


TRAIN_OPTIONS = train_option_names()


# ---- train, eval, plot -----------------------------------------------------------------
@report_errors
@with_train_options(*TRAIN_OPTIONS)
def train(spec: Optional[str] = typer.Argument(None, help="a .res spec or a built-in spec's "
                                               "name; with --resume, the run's saved copy "
                                               "serves without it", show_default=False),
          recipe: Optional[str] = typer.Option(None, help="a recipe by name instead of the spec's"),
          set_fields: List[str] = typer.Option([], "--set", help="override any recipe field: "
                                               "--set momentum=0.8 --set lr_steps=400,600"),
          nproc: Optional[int] = typer.Option(None, help="launch N processes with torchrun"),
          network: Optional[str] = NETWORK, given: dict = None) -> None:
    """Train a spec with its recipe (the paper's CIFAR-10 recipe for the CIFAR specs)."""
    from .. import train as training
    from .progress import make_reporter

    if spec is None and "resume" not in given:
        raise typer.BadParameter("give a spec, or --resume RUN", param_hint="SPEC")
    spec_file, network = spec_and_network(spec, network) if spec is not None else (None, network)
    plan = training.plan_training(spec_file, network, recipe, recipe_sets(set_fields), given)
    for text in plan.notes:
        note(text)
    if nproc is not None and "RANK" not in os.environ:
        # Checked here once, not in each process: one message, no processes started.
        training.check_launch(plan.options, plan.recipe, nproc)
        args = training.torchrun_args(sys.argv[1:], nproc)
        note("+ torchrun " + " ".join(args))
        code, failure = training.run_torchrun(args, nproc)
        if failure:
            print_error(ResdslError(failure))
        raise typer.Exit(code)
    if training.train(plan, make_reporter()).interrupted:
        raise typer.Exit(130)


@report_errors
@with_train_options("data", "data_dir", "skip_checksum", "device", defaults=dict.fromkeys(
    ("data", "data_dir", "skip_checksum"), " (default: the run's own, else as for train)"))
def evaluate(paths: List[str] = typer.Argument(..., metavar="[SPEC] RUN_OR_CHECKPOINT",
                                                help="a run folder or a checkpoint file, after "
                                                "the spec it trained (optional for a run "
                                                "folder: it keeps the spec)", show_default=False),
             network: Optional[str] = NETWORK, given: dict = None) -> None:
    """Report the test error of a trained checkpoint (data and recipe from its run)."""
    from ..train.held_out import evaluate_checkpoint

    if len(paths) > 2:
        raise typer.BadParameter("expected [SPEC] RUN_OR_CHECKPOINT", param_hint="PATHS")
    (spec, network), source = ((None, network), Path(paths[0])) if len(paths) == 1 else \
        (spec_and_network(paths[0], network), Path(paths[1]))
    result = evaluate_checkpoint(spec, source, network, given, note)
    for warning in result.warnings:
        note(f"warning: {warning}")
    out.print(f"{result.network}  {result.checkpoint}  {result.eval_set} error: "
              f"{100 * result.error:.2f}%", markup=False)


@report_errors
def plot(runs: List[Path] = typer.Argument(..., help="run folders"),
         output: Path = typer.Option(Path("curves.png"), "--out", "-o", help="the figure")) -> None:
    """Overlay training curves of several runs (as the paper's Figure 6)."""
    from ..train.plot import plot_runs

    out.print(f"wrote {plot_runs(runs, output)}", markup=False)
