"""The commands that read specs and never train: check, fmt, build, export, summary, diff,
list, draw. Each parses its arguments, calls the library and prints what it returns:
tables come from `tables.py`, figures from `draw/`, everything else from the module
that owns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..diagnostics import MAX_ERRORS, ResdslError
from .console import SpecFailed, err, glyphs, out, print_error, report_errors
from .spec_args import (INPUT, JSON, MAX_MEMORY, NETWORK, SPEC, SPECS, load_network, load_spec,
                        max_bytes, parse_input, spec_and_network)


# ---- check ------------------------------------------------------------------------------
@report_errors
def check(specs: List[str] = SPECS, network: Optional[str] = NETWORK,
          max_memory: Optional[str] = MAX_MEMORY) -> None:
    """Validate specs and evaluate their `expect` lines; a network too large to build
    fails here as it would in `build`."""
    from ..lower import lower

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
                failed |= not _check_one(spec, lower(program, name), max_bytes(max_memory))
        except ResdslError as error:
            printed += print_error(error, MAX_ERRORS - printed)
            failed = True
    if failed:
        raise SpecFailed()


def _check_one(spec: str, net, limit: int) -> bool:
    from ..analyzer import analyze, check_size
    from ..tables import human

    report = analyze(net)
    check_size(net, limit, report)  # too large to build fails here as in `build`
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
@report_errors
def fmt(specs: List[Path] = typer.Argument(..., help=".res files", metavar="FILE..."),
        write: bool = typer.Option(False, "--write", "-w", help="rewrite the files in place"),
        check_only: bool = typer.Option(False, "--check",
                                        help="exit 1 if a file is not in canonical form")) -> None:
    """Print specs in canonical form (comments kept)."""
    from ..atomic import write_file
    from ..fmt import format_file
    from ..loader import read_spec
    from ..parser import parse

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
    from ..compiler import compile_network, describe_module
    from ..modelfile import save_model
    from ..tables import structure_table

    module = compile_network(net, max_bytes=max_bytes(max_memory))
    out.print(structure_table(net, describe_module(net), glyphs()))
    if save is not None:
        out.print(f"saved {save_model(module, save)}", markup=False)


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
    from ..export import FORMATS, export_program

    if to not in FORMATS:
        raise typer.BadParameter(f"choose one of {', '.join(FORMATS)}", param_hint="--to")
    path, network = spec_and_network(spec, network)
    program, shape = load_spec(path), parse_input(input)
    written = export_program(program, network, to, output, input=shape, weights=weights,
                             max_bytes=max_bytes(max_memory))
    out.print(f"wrote {written}", markup=False)


# ---- summary, diff, list, draw ---------------------------------------------------------
@report_errors
def summary(specs: List[str] = SPECS, network: Optional[str] = NETWORK,
            input: Optional[str] = INPUT,
            layers: bool = typer.Option(False, "--layers", help="add a row per layer"),
            features: bool = typer.Option(False, "--features", help="add the feature maps "
                                          "create_model(features_only=True) returns"),
            as_json: bool = JSON) -> None:
    """Parameters, multiply-adds and shapes per stage, as the paper's tables.

    Several specs print side by side, in the layout of the paper's Table 1."""
    from ..analyzer import analyze

    if features and as_json:
        raise typer.BadParameter("prints a table; not with --json", param_hint="--features")
    networks = [load_network(spec, network, input) for spec in specs]
    reports = [analyze(net) for net in networks]
    if as_json:
        text = reports[0].to_json() if len(reports) == 1 else \
            "[\n" + ",\n".join(r.to_json() for r in reports) + "\n]"
        out.print(text, markup=False, end="")
        return
    _print_summary(reports, layers)
    if features:
        _print_features(networks)
    if any(not e.passed for r in reports for e in r.expects):
        raise SpecFailed()


def _print_summary(reports: list, layers: bool) -> None:
    from .. import tables

    style = glyphs()
    if len(reports) == 1:
        out.print(tables.summary(reports[0], layers, style))
        return
    out.print(tables.comparison_table(reports, style))
    for report in reports:
        if layers:
            out.print(tables.stage_table(report, layers=True, glyphs=style))
        if report.expects:
            out.print(tables.expect_table(report, style))


def _print_features(networks: list) -> None:
    from ..features import feature_points
    from ..tables import features_table

    for net in networks:
        out.print(features_table(net.name, feature_points(net), glyphs()))


@report_errors
def diff(first: str = typer.Argument(..., metavar="A", help="a spec file or built-in name"),
         second: str = typer.Argument(..., metavar="B", help="a spec file or built-in name"),
         network: Optional[str] = NETWORK, input: Optional[str] = INPUT,
         as_json: bool = JSON) -> None:
    """What changed between two networks, stage by stage, and what it costs."""
    from ..diff import diff as compare
    from ..tables import diff_table

    result = compare(load_network(first, network, input), load_network(second, network, input))
    if as_json:
        out.print(result.to_json(), markup=False, end="")
    else:
        out.print(diff_table(result, glyphs()))


@report_errors
def list_specs(pattern: Optional[str] = typer.Argument(None, metavar="[PATTERN]",
                                                      help="shell-style, e.g. 'resnet*', 'timm/*'"),
               as_json: bool = JSON) -> None:
    """The built-in specs: name, source, parameters and multiply-adds (computed)."""
    import json

    from ..tables import list_table, listing

    rows = listing(pattern)
    if as_json:
        out.print(json.dumps(rows, indent=2), markup=False)
    elif rows:
        out.print(list_table(rows, glyphs()))
    else:
        err.print(f"no built-in spec matches {pattern!r}", markup=False)
        raise SpecFailed()


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
    from ..draw import draw_figure

    networks = [load_network(spec, network, input) for spec in specs]
    out.print(f"wrote {draw_figure(networks, output, block=block, collapse=collapse)}",
              markup=False)  # a path may hold [brackets]
