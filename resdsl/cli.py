"""The `resdsl` command. The only module that prints.

Spec errors exit 1 with `file:line:col: error: ...`; command-line misuse exits 2
(Typer's usage errors); nothing a user types ends in a traceback.
"""

from __future__ import annotations

import functools
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
    from .lower import lower

    failed = False
    for spec in specs:
        try:
            program = load_program(spec)
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
    from .compiler import compile_network, describe_module
    from .modelfile import save_model

    module = compile_network(net)
    _print_structure(net, describe_module(net))
    if save is not None:
        save_model(module, save)
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
DATA = typer.Option("cifar10", "--data", help="cifar10, cifar100, synthetic[:N], or an "
                    "image-folder path with train/ and val/")
DATA_DIR = typer.Option("data", "--data-dir", help="folder holding cifar-10-batches-py/ "
                        "or the .tar.gz")
DEVICE = typer.Option("auto", "--device", help="auto (CUDA if present), cpu, cuda, cuda:1")


@app.command(context_settings={"allow_interspersed_args": True})
@report_errors
def train(spec: Path = typer.Argument(..., help="a .res spec"),
          data: str = DATA, data_dir: str = DATA_DIR,
          download: bool = typer.Option(False, help="fetch the official archive if missing"),
          skip_checksum: bool = typer.Option(False, help="accept CIFAR files that are not the "
                                             "official ones (a subset, a re-export)"),
          recipe: Optional[str] = typer.Option(None, help="a recipe by name instead of the spec's"),
          iterations: Optional[int] = typer.Option(None, help="override the recipe"),
          batch_size: Optional[int] = typer.Option(None, help="global batch; overrides the recipe"),
          lr: Optional[float] = typer.Option(None, help="override the recipe"),
          eval_every: Optional[int] = typer.Option(None, help="override the recipe"),
          set_fields: List[str] = typer.Option([], "--set", help="override any recipe field: "
                                               "--set momentum=0.8 --set lr_steps=400,600"),
          seed: int = typer.Option(0, help="seeds init, data order and augmentation"),
          val_split: int = typer.Option(0, help="hold out the last N training images and "
                                        "report on them (the paper used 5000)"),
          out: Optional[str] = typer.Option(None, help="run folder (default runs/NAME-DATE)"),
          resume: Optional[str] = typer.Option(None, help="continue this run folder exactly"),
          device: str = DEVICE,
          precision: Optional[str] = typer.Option(None, help="fp32 or bf16 (default: bf16 on "
                                                  "CUDA, fp32 on CPU)"),
          channels_last: bool = typer.Option(False, help="NHWC memory layout"),
          compile: bool = typer.Option(False, "--compile", help="torch.compile the model"),
          workers: int = typer.Option(4, help="DataLoader workers (image folders only)"),
          keep_checkpoints: int = typer.Option(3, help="newest checkpoints kept"),
          checkpoint_every: int = typer.Option(1000, help="iterations between checkpoints"),
          log_every: int = typer.Option(100, help="iterations between log lines"),
          zero_init_residual: bool = typer.Option(False, help="zero the last BN of each block"),
          nproc: Optional[int] = typer.Option(None, help="launch N processes with torchrun"),
          sync_bn: bool = typer.Option(False, help="BatchNorm statistics over all GPUs "
                                       "(CUDA only)"),
          network: Optional[str] = NETWORK) -> None:
    """Train a spec with its recipe (the paper's CIFAR-10 recipe for the CIFAR specs)."""
    from . import train as training
    from .compiler import compile_network
    from .loader import load_program
    from .lower import lower

    program = load_program(spec)
    net = lower(program, network)
    options = training.TrainOptions(
        iterations=iterations, batch_size=batch_size, lr=lr, eval_every=eval_every, seed=seed,
        val_split=val_split, data=data, data_dir=data_dir, download=download,
        skip_checksum=skip_checksum, out=out, resume=resume, device=device, precision=precision,
        channels_last=channels_last, compile=compile, sync_bn=sync_bn, workers=workers,
        keep_checkpoints=keep_checkpoints, checkpoint_every=checkpoint_every, log_every=log_every)
    chosen = training.resolve_recipe(_recipe_for(program, net, recipe), _parse_sets(set_fields))
    if nproc is not None and "RANK" not in os.environ:
        # Checked here once, not in each process: one message, no processes started.
        training.check_launch(options, chosen, nproc)
        raise typer.Exit(_launch_torchrun(nproc))
    training.seed_everything(seed)  # before building: the He init is part of the run
    model = compile_network(net, zero_init_residual=zero_init_residual)
    reporter = training.make_reporter()
    result = training.train(model, net, chosen, options, program.text, reporter)
    if result.interrupted:
        raise typer.Exit(130)


def _recipe_for(program, net, name: str | None):
    from . import syntax as syn
    from .lower import lower_recipe

    if name is None and net.recipe is not None:
        return net.recipe
    chosen = name or "cifar10_paper"
    if name is None:
        err.print(f"{net.name} has no `train` statement: using the prelude's {chosen}")
    return lower_recipe(syn.TrainStmt(recipe=chosen), program.namespace)


def _parse_sets(items: list[str]) -> dict:
    fields = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected FIELD=VALUE, got {item!r}", param_hint="--set")
        parts = [p.strip() for p in value.split(",")]
        fields[key.strip()] = None if value.strip() == "none" else \
            tuple(parts) if key.strip() == "lr_steps" or len(parts) > 1 else parts[0]
    return fields


def _launch_torchrun(nproc: int) -> int:
    """`resdsl train --nproc N ...` is `torchrun --standalone --nproc-per-node=N -m resdsl
    train ...`, run in this process so that a failed rank ends in one line, not in
    torchrun's traceback. Each rank prints its own diagnostics."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    launch = ["--standalone", f"--nproc-per-node={nproc}", "-m", "resdsl", *args]
    err.print("+ torchrun " + " ".join(launch), markup=False)
    try:
        run(get_args_parser().parse_args(launch))
    except ChildFailedError as error:
        print_error(ResdslError(_launch_failure(error.failures, nproc)))
        _, first = error.get_first_failure()
        return first.exitcode if first.exitcode > 0 else 1
    return 0


def _launch_failure(failures: dict, nproc: int) -> str:
    """One line on what became of torchrun's processes: ranks that failed by themselves
    (exit status > 0) and ranks killed by a signal (torchrun stops the rest of a group
    once one fails, so those often only show that)."""
    failed = sorted((rank, f.exitcode) for rank, f in failures.items() if f.exitcode > 0)
    killed = sorted((rank, -f.exitcode) for rank, f in failures.items() if f.exitcode <= 0)
    codes = ", ".join(f"rank {rank}: exit {code}" for rank, code in failed)
    signals = ", ".join(f"rank {rank}: signal {number}" for rank, number in killed)
    if not failed:
        return f"{len(killed)} of {nproc} training processes were stopped ({signals})"
    line = (f"{len(failed)} of {nproc} training processes failed ({codes}); their messages "
            "are above")
    return line + (f", then {len(killed)} of {nproc} were stopped ({signals})" if killed else "")


@app.command(name="eval")
@report_errors
def evaluate(spec: Path = typer.Argument(..., help="the spec the run trained"),
             checkpoint: Path = typer.Argument(..., help="a run folder or a checkpoint file"),
             data: str = DATA, data_dir: str = DATA_DIR,
             skip_checksum: bool = typer.Option(False, help="accept non-official CIFAR files"),
             device: str = DEVICE, network: Optional[str] = NETWORK) -> None:
    """Report the test error of a trained checkpoint."""
    from . import train as training
    from .compiler import compile_network
    from .loader import load_program
    from .lower import lower

    program = load_program(spec)
    net = lower(program, network)
    options = training.TrainOptions(data=data, data_dir=data_dir, skip_checksum=skip_checksum,
                                    device=device)
    where = training.pick_device(device)
    model = compile_network(net).to(where)
    used = training.load_weights(model, checkpoint, err.print)
    # A run folder knows how it was trained (normalisation, batch): use its recipe.
    saved = checkpoint.is_dir() and (checkpoint / "config.json").is_file()
    recipe = training.load_run(checkpoint).recipe if saved else _recipe_for(program, net, None)
    source = training.open_data(net, recipe, options, where)
    for warning in source.warnings:
        err.print(f"warning: {warning}")
    error = training.evaluate(model, source, where)
    out.print(f"{net.name}  {used}  {source.eval_set} error: {100 * error:.2f}%")


@app.command()
@report_errors
def plot(runs: List[Path] = typer.Argument(..., help="run folders"),
         output: Path = typer.Option(Path("curves.png"), "--out", "-o", help="the figure")) -> None:
    """Overlay training curves of several runs (as the paper's Figure 6)."""
    from .train import plot_runs

    out.print(f"wrote {plot_runs([str(r) for r in runs], str(output))}")


@app.command()
@report_errors
def draw(specs: List[Path] = SPECS,
         output: Path = typer.Option(..., "--out", "-o", help="the figure: FILE.svg or FILE.png"),
         block: Optional[str] = typer.Option(None, "--block", help="draw the first block of "
                                             "this name alone, as the paper's Figure 5"),
         network: Optional[str] = NETWORK, input: Optional[str] = INPUT,
         collapse: Optional[bool] = typer.Option(None, "--collapse/--expand", help="draw each "
                                                 "run of alike blocks once, with its count, or "
                                                 "every block (default: collapse long columns)")
         ) -> None:
    """Draw networks side by side as the paper's Figure 3, or one block as Figure 5."""
    from .draw import draw_figure

    networks = [load_network(spec, network, input) for spec in specs]
    out.print(f"wrote {draw_figure(networks, output, block=block, collapse=collapse)}")


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
