"""The `resdsl` command. The only module that prints.

Spec errors exit 1 with `file:line:col: error: ...`; command-line misuse exits 2
(Typer's usage errors); nothing a user types ends in a traceback.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

from .diagnostics import ResdslError, render

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="A declarative language and compiler for residual networks "
                       "(He et al. 2015).")
# Piped output (files, CI logs) has no terminal width to fit: give tables room.
out = Console(highlight=False, soft_wrap=True, emoji=False,
              width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

SPECS = typer.Argument(..., help=".res spec files", show_default=False)
NETWORK = typer.Option(None, "--network", "-n", help="which network, if a file declares several")
INPUT = typer.Option(None, "--input", help="override the input size, e.g. 3x32x32")


class SpecFailed(Exception):
    """Raised after the diagnostics were printed, to exit with status 1."""


def report_errors(command):
    """Print ResdslErrors as diagnostics and exit 1, for every command."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ResdslError as error:
            print_error(error)
            raise typer.Exit(1)
        except SpecFailed:
            raise typer.Exit(1)
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130)
    return wrapper


def print_error(error: ResdslError) -> None:
    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    for diagnostic in error.diagnostics:
        sys.stderr.write(render(diagnostic, color=color) + "\n")


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    if text is None:
        return None
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise typer.BadParameter(f"expected CxHxW such as 3x32x32, got {text!r}",
                                 param_hint="--input")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def load_network(spec: Path, network: str | None = None, input: str | None = None):
    from .loader import load_program
    from .lower import lower

    return lower(load_program(spec), network, parse_input(input))


# ---- check ------------------------------------------------------------------------------
@app.command()
@report_errors
def check(specs: List[Path] = SPECS, network: Optional[str] = NETWORK) -> None:
    """Validate specs and evaluate their `expect` lines."""
    from .loader import load_program
    from .lower import lower, static_check

    failed = False
    for spec in specs:
        try:
            program = load_program(spec)
            static_check(program)
            names = [network] if network else [d.name for d in program.networks]
            if not names:
                out.print(f"[green]ok[/]    {spec}  (no network: declarations only)")
            for name in names:
                failed |= not _check_one(spec, lower(program, name))
        except ResdslError as error:
            print_error(error)
            failed = True
    if failed:
        raise SpecFailed()


def _check_one(spec: Path, net) -> bool:
    from .analyzer import analyze
    from .tables import human

    report = analyze(net)
    ok = all(e.passed for e in report.expects)
    status = "[green]ok[/]  " if ok else "[red]FAIL[/]"
    out.print(f"{status}  {spec}  {net.name}: {report.params:,} params, "
              f"{report.flops:,} multiply-adds")
    for e in report.expects:
        mark = "[green]✓[/]" if e.passed else "[red]✗[/]"
        out.print(f"        {mark} expect {e.metric} {e.expected} (±{e.tolerance:.2%}): "
                  f"got {human(e.actual)} ({e.actual:,})")
    return ok


# ---- fmt ----------------------------------------------------------------------------------
@app.command()
@report_errors
def fmt(specs: List[Path] = SPECS,
        write: bool = typer.Option(False, "--write", "-w", help="rewrite the files in place"),
        check_only: bool = typer.Option(False, "--check",
                                        help="exit 1 if a file is not in canonical form")) -> None:
    """Print specs in canonical form (comments kept)."""
    from .fmt import format_module
    from .loader import read_spec
    from .parser import parse

    changed = []
    for spec in specs:
        text = read_spec(spec)
        canonical = format_module(parse(text, str(spec)))
        if write and canonical != text:
            _write_atomically(spec, canonical)
        if canonical != text:
            changed.append(spec)
        if not write and not check_only:
            out.print(canonical, end="", markup=False)
    if check_only and changed:
        for spec in changed:
            err.print(f"{spec}: not in canonical form (run `resdsl fmt --write {spec}`)")
        raise SpecFailed()


def _write_atomically(path: Path, text: str) -> None:
    from .atomic import atomic_write
    from .diagnostics import ResdslFileError

    try:
        atomic_write(path, lambda file: file.write(text.encode("utf-8")))
    except OSError as error:
        raise ResdslFileError(f"cannot write: {error.strerror or error}", file=str(path)) from None


# ---- build ---------------------------------------------------------------------------------
@app.command()
@report_errors
def build(spec: Path = typer.Argument(..., help="a .res spec"),
          network: Optional[str] = NETWORK, input: Optional[str] = INPUT,
          ir: bool = typer.Option(False, "--ir", help="print the expanded IR as JSON"),
          save: Optional[Path] = typer.Option(None, "--save",
                                              help="write the state_dict and the spec to this file")
          ) -> None:
    """Compile a spec to a PyTorch module and print its structure."""
    net = load_network(spec, network, input)
    if ir:
        out.print(net.model_dump_json(indent=2), markup=False)
        return
    from .compiler import compile_network, describe_module, save_model

    module = compile_network(net)
    _print_structure(net, describe_module(net))
    if save is not None:
        save_model(module, spec.read_text(encoding="utf-8"), save, spec_path=str(spec),
                   network_name=net.name)
        out.print(f"saved {save}")


def _print_structure(net, rows) -> None:
    from rich.table import Table

    table = Table(title=f"{net.name}: compiled module", title_justify="left")
    for column in ("module", "stage", "block", "shortcut", "output", "params"):
        table.add_column(column, justify="right" if column == "params" else "left")
    for row in rows:
        table.add_row(row["module"], row["stage"], row["block"], row["shortcut"],
                      "x".join(map(str, row["output_shape"])), f"{row['params']:,}")
    out.print(table)
    out.print(f"total: {net.params:,} parameters; input {'x'.join(map(str, net.input))}, "
              f"output {'x'.join(map(str, net.output))}")


# ---- summary ---------------------------------------------------------------------------
@app.command()
@report_errors
def summary(specs: List[Path] = SPECS, network: Optional[str] = NETWORK,
            input: Optional[str] = INPUT,
            layers: bool = typer.Option(False, "--layers", help="add a row per layer"),
            as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
    """Parameters, multiply-adds and shapes per stage, as the paper's tables.

    Several specs print side by side, in the layout of the paper's Table 1."""
    from .analyzer import analyze
    from . import tables

    reports = [analyze(load_network(spec, network, input)) for spec in specs]
    if as_json:
        text = reports[0].to_json() if len(reports) == 1 else \
            "[\n" + ",\n".join(r.to_json() for r in reports) + "\n]"
        out.print(text, markup=False)
        return
    if len(reports) == 1:
        out.print(tables.summary(reports[0], layers))
    else:
        out.print(tables.comparison_table(reports))
        if layers:
            for report in reports:
                out.print(tables.stage_table(report, layers=True))
        for report in reports:
            if report.expects:
                out.print(tables.expect_table(report))
    if any(not e.passed for r in reports for e in r.expects):
        raise SpecFailed()


# ---- train, eval, plot -----------------------------------------------------------------
# Their options are TrainOptions' fields (resdsl/train/options.py), declared once there with
# their help; a command receives those the user gave as `given`.

def _train_option(name: str, default: str | None) -> inspect.Parameter:
    from .train.options import TrainOptions, option_types

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


def _tolerant_output() -> None:
    """Training prints paths and notes in any script: a console that cannot encode a
    character (PYTHONIOENCODING=ascii, cp1252) shows a replacement instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def _note(text: str) -> None:
    err.print(text, markup=False)


TRAIN_OPTIONS = ("data", "data_dir", "download", "skip_checksum", "iterations", "batch_size",
                 "lr", "eval_every", "seed", "val_split", "out", "resume", "device",
                 "precision", "channels_last", "compile", "workers", "keep_checkpoints",
                 "checkpoint_every", "log_every", "zero_init_residual", "sync_bn")


@app.command(context_settings={"allow_interspersed_args": True})
@report_errors
@with_train_options(*TRAIN_OPTIONS)
def train(spec: Optional[Path] = typer.Argument(None, help="a .res spec; with --resume, "
                                                "the run's saved copy serves without it",
                                                show_default=False),
          recipe: Optional[str] = typer.Option(None, help="a recipe by name instead of the spec's"),
          set_fields: List[str] = typer.Option([], "--set", help="override any recipe field: "
                                               "--set momentum=0.8 --set lr_steps=400,600"),
          nproc: Optional[int] = typer.Option(None, help="launch N processes with torchrun"),
          network: Optional[str] = NETWORK, given: dict = None) -> None:
    """Train a spec with its recipe (the paper's CIFAR-10 recipe for the CIFAR specs)."""
    _tolerant_output()
    from . import train as training
    from .cli_progress import make_reporter

    if spec is None and "resume" not in given:
        raise typer.BadParameter("give a spec, or --resume RUN", param_hint="SPEC")
    request = training.request_training(spec, network, recipe, _sets(set_fields), given)
    for note in request.notes:
        _note(note)
    if nproc is not None and "RANK" not in os.environ:
        # Checked here once, not in each process: one message, no processes started.
        training.check_launch(request.options, request.recipe, nproc)
        args = training.torchrun_args(sys.argv[1:], nproc)
        _note("+ torchrun " + " ".join(args))
        code, failure = training.run_torchrun(args, nproc)
        if failure:
            print_error(ResdslError(failure))
        raise typer.Exit(code)
    model = training.build_model(request.spec.network, request.model_options)
    result = training.train(model, request.recipe, request.options, request.spec.text,
                            make_reporter(), changes=request.changes,
                            spec_path=request.spec_path)
    if result.interrupted:
        raise typer.Exit(130)


def _sets(items: list[str]) -> dict:
    from .recipes import parse_sets

    try:
        return parse_sets(items)
    except ResdslError as error:
        raise typer.BadParameter(error.message, param_hint="--set") from None


@app.command(name="eval")
@report_errors
@with_train_options("data", "data_dir", "skip_checksum", "device", defaults=dict.fromkeys(
    ("data", "data_dir", "skip_checksum"), " (default: the run's own, else as for train)"))
def evaluate(paths: List[Path] = typer.Argument(..., metavar="[SPEC] RUN_OR_CHECKPOINT",
                                                help="a run folder or a checkpoint file, after "
                                                "the spec it trained (optional for a run "
                                                "folder: it keeps the spec)", show_default=False),
             network: Optional[str] = NETWORK, given: dict = None) -> None:
    """Report the test error of a trained checkpoint (data and recipe from its run)."""
    _tolerant_output()
    from .train.held_out import evaluate_checkpoint

    if len(paths) > 2:
        raise typer.BadParameter("expected [SPEC] RUN_OR_CHECKPOINT", param_hint="PATHS")
    spec, source = (None, paths[0]) if len(paths) == 1 else paths
    result = evaluate_checkpoint(spec, source, network, given, _note)
    for warning in result.warnings:
        _note(f"warning: {warning}")
    out.print(f"{result.network}  {result.checkpoint}  {result.eval_set} error: "
              f"{100 * result.error:.2f}%", markup=False)


@app.command()
@report_errors
def plot(runs: List[Path] = typer.Argument(..., help="run folders"),
         output: Path = typer.Option(Path("curves.png"), "--out", "-o", help="the figure")) -> None:
    """Overlay training curves of several runs (as the paper's Figure 6)."""
    _tolerant_output()
    from .train.plot import plot_runs

    out.print(f"wrote {plot_runs(runs, output)}", markup=False)


def main() -> None:
    try:
        app()
    except Exception as error:  # a bug in resdsl, not in the user's spec
        if os.environ.get("RESDSL_DEBUG"):
            raise
        sys.stderr.write(f"resdsl: internal error: {type(error).__name__}: {error}\n"
                         "(set RESDSL_DEBUG=1 for the traceback, and please report it)\n")
        sys.exit(70)


if __name__ == "__main__":
    main()
