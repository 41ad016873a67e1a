"""resdsl.diagnostics: `file:line:col: error: message`, the source line and a caret under
the span, as every command shows an error; errors collected and capped."""

import pytest

from resdsl.diagnostics import (MAX_ERRORS, MAX_SHOWN, Diagnostic, ErrorCollector, ResdslError,
                                ResdslValidationError, Span, register_source, render)


def test_the_source_line_and_a_caret_as_wide_as_the_span():
    register_source("t.res", "network n {\n    classes 0\n}\n")
    shown = render(Diagnostic("classes must be positive, got 0", Span("t.res", 2, 13, 2, 14),
                              notes=("write a number of classes",)))
    assert shown == ("t.res:2:13: error: classes must be positive, got 0\n"
                     "    2 |     classes 0\n"
                     "      |             ^\n"
                     "      = note: write a number of classes")
    wide = render(Diagnostic("x", Span("t.res", 2, 5, 2, 12)))
    assert wide.splitlines()[2] == "      |     ^^^^^^^"
    several_lines = render(Diagnostic("x", Span("t.res", 1, 1, 3, 2)))
    assert several_lines.splitlines()[2] == "      | ^"  # one caret where it starts


def test_tabs_and_control_characters_take_one_column_each():
    register_source("c.res", "network n {\n\tclasses  \x01 0\n}\n")
    lines = render(Diagnostic("bad", Span("c.res", 2, 13, 2, 14))).splitlines()
    assert lines[1] == "    2 |  classes  \ufffd 0"
    assert lines[2].index("^") - lines[2].index("|") - 2 == 12 == lines[1].index("0") - lines[1].index("|") - 2


def test_a_long_line_is_shown_as_a_window_around_the_column():
    register_source("l.res", "x" * 300 + "HERE" + "y" * 300)
    _, line, caret = render(Diagnostic("long", Span("l.res", 1, 301, 1, 305))).splitlines()
    shown = line.removeprefix("    1 | ")
    assert shown.startswith("...") and shown.endswith("...") and len(shown) == MAX_SHOWN + 6
    start = caret.index("^")
    assert caret.count("^") == 4 and line[start:start + 4] == "HERE"


def test_where_an_error_has_no_place_in_a_source():
    assert render(Diagnostic("nowhere")) == "resdsl: error: nowhere"
    assert render(Diagnostic("no such file", file="f.res")) == "f.res: error: no such file"
    # A span in a file whose text was never read: the location alone.
    assert render(Diagnostic("x", Span("unread.res", 1, 1, 1, 2))) == "unread.res:1:1: error: x"


def test_color_marks_the_word_error_and_the_caret():
    register_source("t.res", "network n {\n")
    shown = render(Diagnostic("bad", Span("t.res", 1, 1, 1, 8)), color=True)
    assert shown.startswith("\x1b[1mt.res:1:1: \x1b[31merror:\x1b[0m\x1b[1m bad\x1b[0m")
    assert shown.endswith("\x1b[31m^^^^^^^\x1b[0m")


def test_errors_are_collected_and_capped():
    collector = ErrorCollector()
    collector.raise_if_any()  # nothing recorded: nothing raised
    for i in range(MAX_ERRORS + 5):
        collector.record(ResdslError(f"error {i}", Span("t.res", i + 1, 1, i + 1, 2)))
    assert collector.full()
    with pytest.raises(ResdslValidationError) as caught:
        collector.raise_if_any()
    error = caught.value
    assert len(error.diagnostics) == MAX_ERRORS and error.message == "error 0"
    assert error.span.line == 1 and str(error).count(": error: ") == MAX_ERRORS
