"""Source spans, errors, and their rendering as `file:line:col: error: ...` with a caret.

Library code raises `ResdslError`; only the CLI renders and prints them.
"""

from __future__ import annotations

from dataclasses import dataclass

# Text of every source the loader has read, by path, so a diagnostic can show its
# line long after the parse that produced it. The CLI is one process; this is enough.
_SOURCES: dict[str, str] = {}

MAX_ERRORS = 20  # stop collecting after this many, like rustc's error cap
MAX_SHOWN = 120  # characters of a source line shown under a message; longer lines are cut


def register_source(path: str, text: str) -> None:
    _SOURCES[path] = text


@dataclass(frozen=True)
class Span:
    """A region of a source file; lines and columns are 1-based, end is exclusive."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    message: str
    span: Span | None = None
    file: str | None = None  # for errors about a whole file (missing, unreadable)
    notes: tuple[str, ...] = ()

    def location(self) -> str:
        if self.span is not None:
            return str(self.span)
        # Neither a place in a spec nor a file: a command-line option, named in the message.
        return self.file or "resdsl"


class ResdslError(Exception):
    """Every error a user can cause. Holds one or more diagnostics."""

    def __init__(self, message: str, span: Span | None = None, *, file: str | None = None,
                 notes: tuple[str, ...] = (), diagnostics: list[Diagnostic] | None = None):
        self.diagnostics = diagnostics or [Diagnostic(message, span, file, notes)]
        super().__init__(self.diagnostics[0].message)

    @property
    def span(self) -> Span | None:
        return self.diagnostics[0].span

    @property
    def message(self) -> str:
        return self.diagnostics[0].message

    def __str__(self) -> str:
        return "\n".join(render(d, color=False) for d in self.diagnostics)


class ResdslSyntaxError(ResdslError):
    pass


class ResdslValidationError(ResdslError):
    pass


class ResdslImportError(ResdslError):
    pass


class ResdslFileError(ResdslError):
    pass


class ResdslArgumentError(ResdslError):
    """A bad argument to a function or a command (`input="1x28"`): the message names the
    argument, and there is no spec line to point at."""

    def __init__(self, argument: str, message: str, notes: tuple[str, ...] = ()):
        self.argument = argument
        self.detail = message  # what is wrong with it, for a CLI that names its option itself
        super().__init__(f"argument '{argument}': {message}", notes=notes)


class ErrorCollector:
    """Gathers errors from independent checks so the user sees several at once."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def record(self, error: ResdslError) -> None:
        self.diagnostics.extend(error.diagnostics)

    def full(self) -> bool:
        return len(self.diagnostics) >= MAX_ERRORS

    def raise_if_any(self) -> None:
        if self.diagnostics:
            first = self.diagnostics[0]
            raise ResdslValidationError(first.message, diagnostics=self.diagnostics[:MAX_ERRORS])


def source_line(span: Span) -> str | None:
    text = _SOURCES.get(span.file)
    if text is None:
        return None
    # Lines end at "\n" only, as the parser counts them (splitlines() would also split
    # at form feeds, lone "\r" and U+2028, and show the wrong line).
    lines = text.split("\n")
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1].removesuffix("\r")
    return None


def _visible(line: str, col: int) -> tuple[str, int]:
    """The line as shown (one character per column, control characters replaced, a
    window around `col` if it is long) and the column's offset in it."""
    shown = "".join(c if c.isprintable() else "\ufffd" for c in line.expandtabs(1))
    if len(shown) <= MAX_SHOWN:
        return shown, col - 1
    start = max(0, min(col - 1 - MAX_SHOWN // 2, len(shown) - MAX_SHOWN))
    prefix = "..." if start else ""
    suffix = "..." if start + MAX_SHOWN < len(shown) else ""
    return prefix + shown[start:start + MAX_SHOWN] + suffix, col - 1 - start + len(prefix)


def render(diag: Diagnostic, color: bool = False) -> str:
    """`file:line:col: error: message`, the source line, and a caret under the span."""
    red, bold, reset = ("\x1b[31m", "\x1b[1m", "\x1b[0m") if color else ("", "", "")
    out = [f"{bold}{diag.location()}: {red}error:{reset}{bold} {diag.message}{reset}"]
    if diag.span is not None:
        line = source_line(diag.span)
        if line is not None:
            shown, offset = _visible(line, diag.span.col)
            gutter = f"{diag.span.line:>5} | "
            width = 1
            if diag.span.end_line == diag.span.line:
                width = max(1, diag.span.end_col - diag.span.col)
            width = max(1, min(width, len(shown) - offset))
            out.append(f"{gutter}{shown}")
            out.append(" " * (len(gutter) - 2) + "| " + " " * offset
                       + red + "^" * width + reset)
    for note in diag.notes:
        out.append(f"      = note: {note}")
    return "\n".join(out)
