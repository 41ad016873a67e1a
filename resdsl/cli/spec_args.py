"""The arguments the spec commands share, and how a spec argument becomes a network:
`resnet20`, `path/to/file.res`, `FILE:NETWORK`, with `--network` and `--input`.

A mistake in one of them is a usage error (exit 2) naming the flag; a mistake in the
spec it names is a spec error (exit 1), printed by `console.report_errors`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from ..diagnostics import ResdslArgumentError
from ..limits import BUILD_LIMIT_TEXT
from .console import note

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


def max_bytes(text: str | None) -> int:
    from ..limits import MAX_BUILD_BYTES, parse_size

    return parse_size(text) if text else MAX_BUILD_BYTES


def parse_input(text: str | None) -> tuple[int, int, int] | None:
    from ..arguments import shape

    try:
        return shape(text)
    except ResdslArgumentError as error:
        raise typer.BadParameter(error.detail, param_hint="--input") from None


def spec_and_network(spec: str | Path, network: str | None = None) -> tuple[Path, str | None]:
    """The file a spec argument names, and its network: `FILE:NETWORK`, else `--network`.
    A path or a built-in spec's name; a local file wins over a built-in one, said."""
    from ..catalog import reference

    try:
        found, network = reference(spec, network)
    except ResdslArgumentError as error:
        raise typer.BadParameter(error.detail, param_hint="--network") from None
    if found.note:
        note(f"note: {found.note}")
    return found.path, network


def load_spec(path: Path):
    """The program of a spec file (as `spec_and_network` found it), its notes (a local
    import hiding a built-in spec) said."""
    from ..loader import load_program

    program = load_program(path)
    for text in program.notes:
        note(f"note: {text}")
    return program


def load_network(spec: str | Path, network: str | None = None, input: str | None = None):
    from ..lower import lower

    path, network = spec_and_network(spec, network)
    return lower(load_spec(path), network, parse_input(input))
