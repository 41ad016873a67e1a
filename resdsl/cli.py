"""The `resdsl` command. The only module that prints.

Spec errors exit 1 with `file:line:col: error: ...`; command-line misuse exits 2
(Typer's usage errors); nothing a user types ends in a traceback. Each command parses
its arguments, calls the library and prints what it returns: tables come from
`tables.py`, everything else from the module that owns it.
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

from .diagnostics import MAX_ERRORS, ResdslArgumentError, ResdslError, render
from .limits import BUILD_LIMIT_TEXT
from .version import __version__

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,  # plain help: flags shown as flags, not `<bool>`
                  help="A declarative language and compiler for residual networks "
                       "(He et al. 2015).")


def _console(stderr: bool) -> Console:
    # No file given: rich writes to whatever sys.stdout or sys.stderr is when it prints.
    # Piped output (files, CI logs) has no terminal width to fit: give tables room.
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False,
                   width=None if stream.isatty() else 160)


def _safe_streams() -> None:
    """A console that cannot encode a character (cp1252, ascii) gets a replacement for
    it, never a UnicodeEncodeError; tables then draw in ASCII (see `glyphs`). A closed
    stream (`resdsl check x.res >&-`: Python then has None) writes to the null device."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):  # not a text stream of ours (tests, pipes)
            pass


_safe_streams()
out = _console(stderr=False)
err = _console(stderr=True)

SPECS = typer.Argument(..., help="spec files, or built-in spec names (resdsl list); "
                       "FILE:NETWORK for one network of a file",
                       show_default=False, metavar="SPEC...")
SPEC = typer.Argument(..., help="a spec file, or a built-in spec's name; FILE:NETWORK for "
                      "one network of a file", metavar="SPEC")
NETWORK = typer.Option(None, "--network", "-n", metavar="NAME",
                       help="which network, if a file declares several (FILE:NETWORK "
                            "chooses one per spec)")
INPUT = typer.Option(None, "--input", metavar="CxHxW", help="override the input size, e.g. 3x32x32")
JSON = typer.Option(False, "--json", help="print the result as JSON")
MAX_MEMORY = typer.Option(None, "--max-memory", metavar="SIZE",
                          help="what building may allocate, for the weights and for one "
                               f"image's activations, each (default {BUILD_LIMIT_TEXT})")


def _max_bytes(text: str | None) -> int:
    from .limits import MAX_BUILD_BYTES, parse_size

    return parse_size(text) if text else MAX_BUILD_BYTES


def glyphs():
    """The characters tables draw with, for what stdout can encode."""
    from .tables import glyphs_for

    return glyphs_for(getattr(sys.stdout, "encoding", None))


def _version(value: bool) -> None:
    if value:
        out.print(f"resdsl {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """A declarative language and compiler for residual networks (He et al. 2015)."""


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


def print_error(error: ResdslError, limit: int = MAX_ERRORS) -> int:
    """Print at most `limit` of the error's diagnostics; returns how many it printed."""
    color = sys.stderr.isatty() and "NO_COLOR" not in os.environ
    shown = error.diagnostics[:max(limit, 0)]
    for diagnostic in shown:
        sys.stderr.write(render(diagnostic, color=color) + "\n")
    return len(shown)


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    from .arguments import shape

    try:
        return shape(text)
    except ResdslArgumentError as error:
        raise typer.BadParameter(error.detail, param_hint="--input") from None


def spec_path(spec: str | Path) -> Path:
    """The file a spec argument names: a path, or a built-in spec (a file wins, said)."""
    return spec_and_network(spec)[0]


def spec_and_network(spec: str | Path, network: str | None = None) -> tuple[Path, str | None]:
    """The file a spec argument names, and its network: `FILE:NETWORK`, else `--network`."""
    from .catalog import reference

    try:
        found, network = reference(spec, network)
    except ResdslArgumentError as error:
        raise typer.BadParameter(error.detail, param_hint="--network") from None
    if found.note:
        err.print(f"note: {found.note}", markup=False)
    return found.path, network


def load_spec(path: Path):
    """The program of a spec file (as `spec_and_network` found it), its notes (a local
    import hiding a built-in spec) said."""
    from .loader import load_program

    program = load_program(path)
    for note in program.notes:
        err.print(f"note: {note}", markup=False)
    return program


def load_network(spec: str | Path, network: str | None = None, input: str | None = None):
    from .lower import lower

    path, network = spec_and_network(spec, network)
    return lower(load_spec(path), network, parse_input(input))


# ---- check ------------------------------------------------------------------------------
@app.command()
@report_errors
def check(specs: List[str] = SPECS, network: Optional[str] = NETWORK,
          max_memory: Optional[str] = MAX_MEMORY) -> None:
    """Validate specs and evaluate their `expect` lines; a network too large to build
    fails here as it would in `build`."""
    from .lower import lower

    failed, printed = False, 0
    for index, spec in enumerate(specs):
        if printed >= MAX_ERRORS:  # the cap is the run's, not each file's
            err.print(f"stopped after {MAX_ERRORS} errors; {len(specs) - index} more "
                      f"spec(s) not checked", markup=False)
            break
        try:
            path, name = spec_and_network(spec, network)
            program = load_spec(path)
            names = [name] if name else [d.name for d in program.networks]
            if not names:
                out.print(f"[green]ok[/]    {spec}  (no network: declarations only)")
            for name in names:
                failed |= not _check_one(spec, lower(program, name), _max_bytes(max_memory))
        except ResdslError as error:
            printed += print_error(error, MAX_ERRORS - printed)
            failed = True
    if failed:
        raise SpecFailed()


def _check_one(spec: str, net, max_bytes: int) -> bool:
    from .analyzer import analyze, check_size
    from .tables import human

    report = analyze(net)
    check_size(net, max_bytes, report)  # too large to build fails here as in `build`
    ok = all(e.passed for e in report.expects)
    status = "[green]ok[/]  " if ok else "[red]FAIL[/]"
    out.print(f"{status}  {spec}  {net.name}: {report.params:,} params, "
              f"{report.flops:,} multiply-adds")
    marks = glyphs()
    for e in report.expects:
        mark = f"[green]{marks.passed}[/]" if e.passed else f"[red]{marks.failed}[/]"
        out.print(f"        {mark} expect {e.metric} {e.expected} ({marks.plus_minus}{e.tolerance:.2%}): "
                  f"got {human(e.actual)} ({e.actual:,})")
    return ok


# ---- fmt ----------------------------------------------------------------------------------
@app.command()
@report_errors
def fmt(specs: List[Path] = typer.Argument(..., help=".res files", metavar="FILE..."),
        write: bool = typer.Option(False, "--write", "-w", help="rewrite the files in place"),
        check_only: bool = typer.Option(False, "--check",
                                        help="exit 1 if a file is not in canonical form")) -> None:
    """Print specs in canonical form (comments kept)."""
    from .atomic import write_file
    from .fmt import format_file
    from .loader import read_spec
    from .parser import parse

    changed = []
    for spec in specs:
        text = read_spec(spec)
        canonical = format_file(parse(text, str(spec)), str(spec))
        if write and canonical != text:
            write_file(spec, lambda file: file.write(canonical.encode("utf-8")))
        if canonical != text:
            changed.append(spec)
        if not write and not check_only:
            out.print(canonical, end="", markup=False)
    if check_only and changed:
        for spec in changed:
            err.print(f"{spec}: not in canonical form (run `resdsl fmt --write {spec}`)",
                      markup=False)
        raise SpecFailed()


# ---- build, export -------------------------------------------------------------------------
@app.command()
@report_errors
def build(spec: str = SPEC, network: Optional[str] = NETWORK, input: Optional[str] = INPUT,
          ir: bool = typer.Option(False, "--ir", help="print the expanded IR as JSON"),
          save: Optional[Path] = typer.Option(None, "--save", metavar="FILE.pt",
                                              help="write the weights with the spec"),
          max_memory: Optional[str] = MAX_MEMORY) -> None:
    """Compile a spec to a PyTorch module and print its structure."""
    net = load_network(spec, network, input)
    if ir:
        out.print(net.model_dump_json(indent=2), markup=False)
        return
    from .compiler import compile_network, describe_module
    from .modelfile import save_model
    from .tables import structure_table

    module = compile_network(net, max_bytes=_max_bytes(max_memory))
    out.print(structure_table(net, describe_module(net), glyphs()))
    if save is not None:
        out.print(f"saved {save_model(module, save)}", markup=False)


@app.command()
@report_errors
def export(spec: str = SPEC,
           to: str = typer.Option(..., "--to", metavar="FORMAT",
                                  help="pytorch (one standalone .py file), onnx, torchscript, "
                                       "or safetensors (the spec in its metadata)"),
           output: Optional[Path] = typer.Option(None, "--out", "-o", metavar="PATH",
                                                 help="the file (default NETWORK.py, .onnx, ...)"),
           weights: Optional[Path] = typer.Option(None, "--weights", metavar="FILE",
                                                  help="a model file (.pt, .safetensors) whose "
                                                       "weights to export"),
           network: Optional[str] = NETWORK, input: Optional[str] = INPUT,
           max_memory: Optional[str] = MAX_MEMORY) -> None:
    """Write a network as standalone PyTorch code, ONNX, TorchScript or safetensors."""
    from .export import FORMATS, default_path, export as write

    if to not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--to")
    net = load_network(spec, network, input)
    model = None
    if weights is not None:
        from .modelfile import check_same_network, load_saved

        model = load_saved(weights)
        check_same_network(model.network, net, str(weights))
        net = model.network  # its origin: the sources a safetensors file carries
    if model is None and to != "pytorch":
        from .compiler import compile_network

        model = compile_network(net, max_bytes=_max_bytes(max_memory))
    path = write(net, to, output or default_path(net, to), _block_docs(spec), model)
    out.print(f"wrote {path}", markup=False)


def _block_docs(spec: str) -> dict[str, str]:
    """The comments above each block of a spec and its imports, for docstrings."""
    from .export import block_docs

    return block_docs(load_spec(spec_path(spec)).namespace)


# ---- summary, diff, list ------------------------------------------------------------------
@app.command()
@report_errors
def summary(specs: List[str] = SPECS, network: Optional[str] = NETWORK,
            input: Optional[str] = INPUT,
            layers: bool = typer.Option(False, "--layers", help="add a row per layer"),
            features: bool = typer.Option(False, "--features", help="add the feature maps "
                                          "create_model(features_only=True) returns"),
            as_json: bool = JSON) -> None:
    """Parameters, multiply-adds and shapes per stage, as the paper's tables.

    Several specs print side by side, in the layout of the paper's Table 1."""
    from . import tables
    from .analyzer import analyze

    if features and as_json:
        raise typer.BadParameter("prints a table; not with --json", param_hint="--features")
    networks = [load_network(spec, network, input) for spec in specs]
    reports = [analyze(net) for net in networks]
    if as_json:
        text = reports[0].to_json() if len(reports) == 1 else \
            "[\n" + ",\n".join(r.to_json() for r in reports) + "\n]"
        out.print(text, markup=False, end="")
        return
    style = glyphs()
    if len(reports) == 1:
        out.print(tables.summary(reports[0], layers, style))
    else:
        out.print(tables.comparison_table(reports, style))
        for report in reports:
            if layers:
                out.print(tables.stage_table(report, layers=True, glyphs=style))
            if report.expects:
                out.print(tables.expect_table(report, style))
    if features:
        from .features import feature_points

        for net in networks:
            out.print(tables.features_table(net.name, feature_points(net), style))
    if any(not e.passed for r in reports for e in r.expects):
        raise SpecFailed()


@app.command()
@report_errors
def diff(first: str = typer.Argument(..., metavar="A", help="a spec file or built-in name"),
         second: str = typer.Argument(..., metavar="B", help="a spec file or built-in name"),
         network: Optional[str] = NETWORK, input: Optional[str] = INPUT,
         as_json: bool = JSON) -> None:
    """What changed between two networks, stage by stage, and what it costs."""
    from .diff import diff as compare
    from .tables import diff_table

    result = compare(load_network(first, network, input), load_network(second, network, input))
    if as_json:
        out.print(result.to_json(), markup=False, end="")
    else:
        out.print(diff_table(result, glyphs()))


@app.command(name="list")
@report_errors
def list_specs(pattern: Optional[str] = typer.Argument(None, metavar="[PATTERN]",
                                                      help="shell-style, e.g. 'resnet*', 'timm/*'"),
               as_json: bool = JSON) -> None:
    """The built-in specs: name, source, parameters and multiply-adds (computed)."""
    import json

    from .tables import list_table, listing

    rows = listing(pattern)
    if as_json:
        out.print(json.dumps(rows, indent=2), markup=False)
    elif rows:
        out.print(list_table(rows, glyphs()))
    else:
        err.print(f"no built-in spec matches {pattern!r}", markup=False)
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
                 "checkpoint_every", "log_every", "zero_init_residual", "sync_bn", "max_memory",
                 "input")


@app.command(context_settings={"allow_interspersed_args": True})
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
    _tolerant_output()
    from . import train as training
    from .cli_progress import make_reporter

    if spec is None and "resume" not in given:
        raise typer.BadParameter("give a spec, or --resume RUN", param_hint="SPEC")
    spec_file, network = spec_and_network(spec, network) if spec is not None else (None, network)
    plan = training.plan_training(spec_file, network, recipe, _sets(set_fields), given)
    for note in plan.notes:
        _note(note)
    if nproc is not None and "RANK" not in os.environ:
        # Checked here once, not in each process: one message, no processes started.
        training.check_launch(plan.options, plan.recipe, nproc)
        args = training.torchrun_args(sys.argv[1:], nproc)
        _note("+ torchrun " + " ".join(args))
        code, failure = training.run_torchrun(args, nproc)
        if failure:
            print_error(ResdslError(failure))
        raise typer.Exit(code)
    if training.train(plan, make_reporter()).interrupted:
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
def evaluate(paths: List[str] = typer.Argument(..., metavar="[SPEC] RUN_OR_CHECKPOINT",
                                                help="a run folder or a checkpoint file, after "
                                                "the spec it trained (optional for a run "
                                                "folder: it keeps the spec)", show_default=False),
             network: Optional[str] = NETWORK, given: dict = None) -> None:
    """Report the test error of a trained checkpoint (data and recipe from its run)."""
    _tolerant_output()
    from .train.held_out import evaluate_checkpoint

    if len(paths) > 2:
        raise typer.BadParameter("expected [SPEC] RUN_OR_CHECKPOINT", param_hint="PATHS")
    (spec, network), source = ((None, network), Path(paths[0])) if len(paths) == 1 else \
        (spec_and_network(paths[0], network), Path(paths[1]))
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


# ---- reproduce ----------------------------------------------------------------------------
# The training flags every run of a reproduction gets; --out, --resume and --seed are its own.
REPRODUCE_TRAIN_OPTIONS = tuple(name for name in TRAIN_OPTIONS
                                if name not in ("out", "resume", "seed", "sync_bn"))


# Long only for its options, one typer parameter each; the body parses, calls and prints.
@app.command(context_settings={"allow_interspersed_args": True})
@report_errors
@with_train_options(*REPRODUCE_TRAIN_OPTIONS)
def reproduce(experiment: Optional[str] = typer.Argument(None, metavar="EXPERIMENT",
                                                         help="which: resdsl reproduce --list",
                                                         show_default=False),
              output: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FOLDER",
                                                    help="the runs' folder (default "
                                                         "runs/EXPERIMENT)"),
              seeds: Optional[int] = typer.Option(None, help="runs per net (default: as the "
                                                  "experiment says)"),
              only: List[str] = typer.Option([], "--only", metavar="NAMES",
                                             help="these nets of the experiment only: "
                                                  "--only resnet20,plain20"),
              gpus: Optional[int] = typer.Option(None, help="run on N GPUs, one run per GPU "
                                                 "at a time (times --per-device)"),
              per_device: Optional[int] = typer.Option(None, "--per-device", metavar="K",
                                                       help="runs at once on each device "
                                                            "(default: as the experiment "
                                                            "says, else 1)"),
              report_now: bool = typer.Option(False, "--report", help="only write the report "
                                              "of the runs there are; train nothing"),
              list_all: bool = typer.Option(False, "--list", help="list the experiments"),
              set_fields: List[str] = typer.Option([], "--set", help="override a recipe "
                                                   "field in every run: --set iterations=400"),
              given: dict = None) -> None:
    """Reproduce an experiment of the paper: train its runs (skipping finished ones,
    resuming interrupted ones), then report the paper's numbers beside ours."""
    _tolerant_output()
    from .cli_reproduce import PrintedEvents, failure_lines, outcome_lines
    from .reproduce.options import ReproduceOptions

    if list_all:
        return _list_experiments()
    if experiment is None:
        raise typer.BadParameter("name an experiment (resdsl reproduce --list)",
                                 param_hint="EXPERIMENT")
    _sets(set_fields)  # a malformed --set is a usage error, as for train
    names = tuple(name.strip() for item in only for name in item.split(",") if name.strip())
    options = ReproduceOptions(experiment, out=output, seeds=seeds, only=names, gpus=gpus,
                               per_device=per_device, train=given, sets=tuple(set_fields))
    if report_now:
        from .reproduce.reproduction import report_only

        outcome = report_only(options)
    else:
        from .reproduce.reproduction import reproduce as run_reproduction

        outcome = run_reproduction(options, PrintedEvents(_say))
    _print_report(outcome)
    for line in outcome_lines(outcome):
        _say(line)
    for line in failure_lines(outcome):
        err.print(line, markup=False)
    if outcome.failures or outcome.interrupted:
        raise typer.Exit(130 if outcome.interrupted and not outcome.failures else 1)


def _say(text: str) -> None:
    out.print(text, markup=False, highlight=False)


def _list_experiments() -> None:
    from .reproduce.experiments import shipped_experiments
    from .tables import experiments_table

    rows = [(e.name, e.reproduces, e.runs()) for e in shipped_experiments()]
    out.print(experiments_table(rows, glyphs()))


def _print_report(outcome) -> None:
    from .reproduce.report import CONSOLE, table_cells
    from .tables import ASCII, cells_table

    style = glyphs()
    cells = [row[:len(CONSOLE)] for row in table_cells(outcome.report)]
    if style is ASCII:  # the cells' own characters, for a console that cannot encode them
        plain = str.maketrans({"±": "+-", "—": "-", "–": "-"})
        cells = [tuple(cell.translate(plain) for cell in row) for row in cells]
    out.print(cells_table(outcome.report.table, CONSOLE, cells, style))


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
