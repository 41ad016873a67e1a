"""Hostile input, round two: every class of file or flag that once ended in an internal
error, a hang, a blow-up or a wrong result accepted, each with a case of its own here
(the single-rule files are in tests/invalid/), and every command walked over the whole
invalid corpus: exit 0, 1 or 2, never 70, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resdsl import network_from_text
from resdsl.cli import app
from resdsl.compiler import compile_network
from resdsl.diagnostics import ResdslError, render
from resdsl.loader import load_program
from resdsl.lower import lower

from helpers import INVALID, SPECS

runner = CliRunner()
CORPUS = sorted(INVALID.glob("*.res"))
TINY = """network n {
    input    3x8x8
    classes  10
    stem { conv 3x3, 8 }
    head { avgpool; fc classes }
}
"""


def error_of(path: Path) -> ResdslError:
    with pytest.raises(ResdslError) as caught:
        lower(load_program(path))
    return caught.value


# ---- every command over the corpus --------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("command", [["check"], ["summary"], ["summary", "--json"], ["build"],
                                     ["build", "--ir"], ["diff", str(SPECS / "resnet20.res")],
                                     ["fmt"], ["export", "--to", "pytorch", "--out", "/dev/null"]])
def test_no_command_ends_in_an_internal_error_on_the_invalid_corpus(command, tmp_path):
    for path in CORPUS:
        args = [*command[:1], str(path), *command[1:]]
        if command[0] == "diff":
            args = ["diff", command[1], str(path)]
        result = runner.invoke(app, args, catch_exceptions=True)
        assert result.exit_code in (0, 1, 2), (path.name, result.exit_code, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            (path.name, repr(result.exception))
        assert "Traceback" not in result.output and "internal error" not in result.output


def test_the_main_entry_point_never_shows_a_traceback(tmp_path):
    """Through `python -m resdsl` itself (main() turns a bug into exit 70)."""
    for path in CORPUS[::10]:
        done = subprocess.run([sys.executable, "-m", "resdsl", "build", str(path)],
                              capture_output=True, text=True)
        assert done.returncode in (0, 1), (path.name, done.stderr)
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr


# ---- lexical ------------------------------------------------------------------------------------
@pytest.mark.parametrize("char, says", [
    ("\u0435", "U+0435 CYRILLIC SMALL LETTER IE: it looks like 'e'"),
    ("\u03bf", "U+03BF GREEK SMALL LETTER OMICRON: it looks like 'o'"),
    ("\u200b", "invisible character U+200B ZERO WIDTH SPACE"),
    ("\u00a0", "U+00A0 NO-BREAK SPACE: it looks like a space"),
])
def test_lookalike_characters_are_named(char, says, tmp_path):
    path = tmp_path / "look.res"
    path.write_text(TINY.replace("network", f"n{char}twork"), encoding="utf-8")
    error = error_of(path)
    assert says in error.message and error.span.line == 1 and error.span.col == 2


@pytest.mark.parametrize("digit, value", [("\uff11", "'1'"), ("\u0661", "this one is 1"),
                                          ("\u09e7", "this one is 1")])
def test_digits_of_other_scripts_are_not_numbers(digit, value, tmp_path):
    path = tmp_path / "digits.res"
    path.write_text(TINY.replace("classes  10", f"classes  {digit}0"), encoding="utf-8")
    assert value in error_of(path).message


def test_comments_and_file_names_may_hold_any_character(tmp_path):
    (tmp_path / "ünïcödé.res").write_text("# Ärger — «quotes»\n" + TINY)
    path = tmp_path / "main.res"
    path.write_text('import "ünïcödé.res"  # ✓\nnetwork m = n\n', encoding="utf-8")
    assert lower(load_program(path), "m").params > 0


def test_old_mac_and_windows_line_ends_are_line_ends(tmp_path):
    for ending in ("\r", "\r\n"):
        path = tmp_path / "ends.res"
        path.write_bytes(("# a comment" + ending + TINY.replace("\n", ending)).encode())
        assert lower(load_program(path)).classes == 10  # not one long comment
    bad = tmp_path / "bad.res"
    bad.write_bytes(b"# one\rnetwork n {\r  input 3x8x8\r  classes 0\r}\r")
    error = error_of(bad)
    assert (error.span.line, error.span.col) == (4, 11) and "classes must be positive" in error.message


def test_bytes_that_are_not_utf8_get_their_line_and_a_caret(tmp_path):
    path = tmp_path / "latin1.res"
    path.write_bytes(TINY.replace("classes  10", "classes  1\xe90").encode("latin-1"))
    error = error_of(path)
    shown = render(error.diagnostics[0])
    assert "file is not UTF-8 text (byte 0xe9)" in shown
    assert "    3 |     classes  1\ufffd0" in shown and shown.splitlines()[2].endswith("^")


# ---- imports and files -------------------------------------------------------------------------
def test_an_import_symlink_loop_and_a_fifo_are_errors(tmp_path):
    (tmp_path / "a.res").symlink_to(tmp_path / "b.res")
    (tmp_path / "b.res").symlink_to(tmp_path / "a.res")
    loop = tmp_path / "loop.res"
    loop.write_text('import "a.res"\n' + TINY)
    assert "cannot import" in error_of(loop).message
    os.mkfifo(tmp_path / "pipe.res")
    fifo = tmp_path / "fifo.res"
    fifo.write_text('import "pipe.res"\n' + TINY)
    # Opening a FIFO waits for a writer: reaching the next line at all is the test.
    assert "not a regular file" in error_of(fifo).message
    with pytest.raises(ResdslError, match="not a regular file"):
        load_program(tmp_path / "pipe.res")


def test_a_spec_larger_than_the_limit_is_refused_before_parsing(tmp_path, monkeypatch):
    from resdsl import loader
    from resdsl.limits import MAX_FILE_BYTES

    path = tmp_path / "big.res"
    path.write_text(TINY + "# " + "x" * MAX_FILE_BYTES + "\n")
    monkeypatch.setattr(loader, "parse", lambda *args: pytest.fail("it was parsed"))
    with pytest.raises(ResdslError, match="larger than 256 KiB"):
        load_program(path)


# ---- accepted, though documented ---------------------------------------------------------------
def test_normalize_none_is_a_recipe_value():
    text = TINY.rstrip().removesuffix("}") + "    train cifar10_paper { normalize none }\n}\n"
    net = network_from_text(text)
    assert net.recipe.normalize == "none"


def test_blocks_at_the_top_level_of_stem_and_head_get_distinct_names():
    net = network_from_text("""network n {
        input 3x8x8
        classes 8
        stem { 1 x basic(3) }
        head { 1 x basic(3); avgpool; flatten; fc classes }
    }""")
    model = compile_network(net)
    assert [name for name, _ in model.named_children()][:1] == ["0"] and hasattr(model, "1")


# ---- sizes ----------------------------------------------------------------------------------------
def test_a_build_too_large_for_the_machine_is_refused_before_allocating(monkeypatch):
    from resdsl import compiler

    # Under the parameter limit (2^31), so `check` passes; 6.7 GiB of weights to build.
    huge = network_from_text(TINY.replace("conv 3x3, 8", "conv 3x3, 10000; conv 3x3, 10000; conv 3x3, 10000"))
    monkeypatch.setattr(compiler, "network_source", lambda *a, **k: pytest.fail("it was built"))
    with pytest.raises(ResdslError, match=r"needs 6.7\d GiB for its weights and buffers") as caught:
        compile_network(huge)
    assert "--max-memory" in caught.value.diagnostics[0].notes[0]
    wide_input = network_from_text(TINY.replace("3x8x8", "3x3000x3000").replace("3x3, 8", "3x3, 512"))
    with pytest.raises(ResdslError, match="activations of one image"):
        compile_network(wide_input)


def test_max_memory_raises_the_limit_from_the_command_line(tmp_path):
    spec = tmp_path / "n.res"
    spec.write_text(TINY)
    for command in ("build", "check"):  # `check` refuses what `build` would
        small = runner.invoke(app, [command, str(spec), "--max-memory", "1K"])
        assert small.exit_code == 1 and "more than the 1.00 KiB a build may allocate" in small.output
        assert f"{spec}:1:1: error: network" in small.output
        assert runner.invoke(app, [command, str(spec), "--max-memory", "1G"]).exit_code == 0
    bad = runner.invoke(app, ["build", str(spec), "--max-memory", "lots"])
    assert bad.exit_code == 1 and "takes a size such as 16G" in bad.output


@pytest.mark.parametrize("size", ["3x200000x200000", "2000000x32x32"])
def test_an_input_override_obeys_the_input_statement_s_limits(size):
    # An error of the option, reported as one: not at the spec's `input` line.
    result = runner.invoke(app, ["summary", str(SPECS / "resnet20.res"), "--input", size])
    assert result.exit_code == 2 and "expected CxHxW of at most" in result.output
    assert "--input" in result.output and "cifar.res" not in result.output
    assert "Traceback" not in result.output


def test_closed_output_streams_are_not_an_internal_error(tmp_path):
    for closed in ("1", "2"):  # `resdsl check x.res >&-`, and `2>&-`
        done = subprocess.run(f"{sys.executable} -m resdsl check resnet20 {closed}>&-",
                              shell=True, capture_output=True, cwd=tmp_path)
        assert done.returncode == 0 and b"Traceback" not in done.stderr


@pytest.mark.parametrize("size", ["\uff13x32x32", "3x\u0663\u0662x32", "0x32x32", "3x32", "-3x32x32"])
def test_input_sizes_are_ascii_positive_and_three(size):
    result = runner.invoke(app, ["summary", str(SPECS / "resnet20.res"), "--input", size])
    assert result.exit_code == 2 and "expected CxHxW" in result.output


def test_the_default_build_limit_is_said_as_it_is():
    from resdsl.limits import MAX_BUILD_BYTES, BUILD_LIMIT_TEXT, parse_size

    assert parse_size(BUILD_LIMIT_TEXT) == MAX_BUILD_BYTES
    help_text = runner.invoke(app, ["build", "--help"]).output
    assert f"(default {BUILD_LIMIT_TEXT})" in " ".join(help_text.split())
