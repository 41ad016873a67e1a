"""The `resdsl` command: the only package that prints.

The Typer app and its entry point (`resdsl.cli:main`); the commands live by group:
`specs.py` (check, fmt, build, export, summary, diff, list, draw), `training.py` (train,
eval, plot), `reproduce.py`; `console.py` holds the consoles and the error handling they
all share. Registering them here, in this order, is what `resdsl --help` lists.
"""

from __future__ import annotations

import os
import sys

import typer

from ..version import __version__
from . import reproduce, specs, training
from .console import out

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None,  # plain help: flags shown as flags, not `<bool>`
                  help="A declarative language and compiler for residual networks "
                       "(He et al. 2015).")
INTERSPERSED = {"allow_interspersed_args": True}  # options after the spec, too

for command in (specs.check, specs.fmt, specs.build, specs.export, specs.summary, specs.diff):
    app.command()(command)
app.command(name="list")(specs.list_specs)
app.command(context_settings=INTERSPERSED)(training.train)
app.command(name="eval")(training.evaluate)
app.command()(training.plot)
app.command(context_settings=INTERSPERSED)(reproduce.reproduce)
app.command()(specs.draw)


def _version(value: bool) -> None:
    if value:
        out.print(f"resdsl {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="print the version and exit")) -> None:
    """A declarative language and compiler for residual networks (He et al. 2015)."""


def main() -> None:
    try:
        app()
    except Exception as error:  # a bug in resdsl, not in the user's spec
        if os.environ.get("RESDSL_DEBUG"):
            raise
        sys.stderr.write(f"resdsl: internal error: {type(error).__name__}: {error}\n"
                         "(set RESDSL_DEBUG=1 for the traceback, and please report it)\n")
        sys.exit(70)
