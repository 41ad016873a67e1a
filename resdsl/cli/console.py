"""Where the `resdsl` command prints, and how an error reaches the user.

Spec errors exit 1 with `file:line:col: error: ...`; command-line misuse exits 2
(Typer's usage errors); nothing a user types ends in a traceback. Every command goes
through `report_errors`, which also repairs the streams it is about to print to.
"""

from __future__ import annotations

import functools
import os
import sys

import typer
from rich.console import Console

from ..diagnostics import MAX_ERRORS, ResdslError, render


def _console(stderr: bool) -> Console:
    # No file given: rich writes to whatever sys.stdout or sys.stderr is when it prints.
    # Piped output (files, CI logs) has no terminal width to fit: give tables room.
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False,
                   width=None if stream.isatty() else 160)


def repair_streams() -> None:
    """A console that cannot encode a character (cp1252, ascii) gets a replacement for
    it, never a UnicodeEncodeError; tables then draw in ASCII (see `glyphs`). A closed
    stream (`resdsl check x.res >&-`: Python then has None) writes to the null device.
    Run at import, for help and usage errors, and again as each command starts: the
    streams may have been swapped since (a test runner's)."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):  # not a text stream of ours (tests, pipes)
            pass


repair_streams()
out = _console(stderr=False)
err = _console(stderr=True)


def say(text: str) -> None:
    """A line of plain text on stdout: no markup, no highlighting."""
    out.print(text, markup=False, highlight=False)


def note(text: str) -> None:
    """A line of plain text on stderr."""
    err.print(text, markup=False)


def glyphs():
    """The characters tables draw with, for what stdout can encode."""
    from ..tables import glyphs_for

    return glyphs_for(getattr(sys.stdout, "encoding", None))


class SpecFailed(Exception):
    """Raised after the diagnostics were printed, to exit with status 1."""


def report_errors(command):
    """Print ResdslErrors as diagnostics and exit 1, for every command."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        repair_streams()
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
