"""The corpus of invalid specs: one broken rule per file, each with its expected diagnostic.

Every `tests/invalid/*.res` starts with a header that says what must come out:

    # expect: LINE:COL: MESSAGE-SUBSTRING     the first diagnostic: where, and what it says
    # expect: FILE:LINE:COL: MESSAGE          ... when it lies in another file (an import)
    # note: SUBSTRING                         optional: a note the diagnostic must carry
    # network: NAME                           optional: the network to lower

Helper files that corpus entries import live in tests/invalid/imports/ and are not entries.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from resdsl.diagnostics import Diagnostic, ResdslError, render
from resdsl.loader import load_program
from resdsl.lower import lower
from resdsl.parser import _parser

from helpers import GUARD_SECONDS, INVALID

CORPUS = sorted(p for p in INVALID.glob("*.res") if not p.name.endswith(".inc.res"))

_EXPECT = re.compile(
    r"# expect: (?:(?P<file>[^:\s]+\.res):)?(?P<line>\d+):(?P<col>\d+): (?P<message>.+)")
_NOTE = re.compile(r"# note: (?P<note>.+)")
_NETWORK = re.compile(r"# network: (?P<network>\w+)")

# Huge and absurd networks included, each entry is refused before anything is built, in
# milliseconds; the guard only catches one that expands for hours instead.


def _header(path: Path) -> dict:
    lines = path.read_text(encoding="utf-8").splitlines()
    match = _EXPECT.fullmatch(lines[0]) if lines else None
    assert match, f"{path.name}: the first line must be '# expect: LINE:COL: MESSAGE'"
    header = match.groupdict()
    header["file"] = (INVALID / header["file"]).resolve() if header["file"] else path
    header["notes"] = [m["note"] for line in lines[1:4] if (m := _NOTE.fullmatch(line))]
    header["network"] = next((m["network"] for line in lines[1:4]
                              if (m := _NETWORK.fullmatch(line))), None)
    return header


def _first_diagnostic(path: Path, network: str | None) -> tuple[Diagnostic, float]:
    _parser()  # built once and cached; not part of what an entry costs
    start = time.perf_counter()
    with pytest.raises(ResdslError) as caught:
        lower(load_program(path), network)
    elapsed = time.perf_counter() - start
    assert caught.value.diagnostics, "a ResdslError without diagnostics"
    return caught.value.diagnostics[0], elapsed


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 40, f"only {len(CORPUS)} invalid specs in {INVALID}"
    for path in CORPUS:
        _header(path)  # every entry states its expectation


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_invalid_spec(path: Path):
    expected = _header(path)
    diag, elapsed = _first_diagnostic(path, expected["network"])

    assert diag.span is not None, f"no source position: {diag.message}"
    where = (Path(diag.span.file).resolve(), diag.span.line, diag.span.col)
    assert where == (expected["file"], int(expected["line"]), int(expected["col"])), diag.message
    assert expected["message"] in diag.message
    for note in expected["notes"]:
        assert any(note in n for n in diag.notes), f"no note {note!r} in {diag.notes}"
    assert elapsed < GUARD_SECONDS, f"took {elapsed:.2f}s"

    shown = render(diag)
    assert shown.startswith(f"{diag.span.file}:{expected['line']}:{expected['col']}: error: ")
    lines = shown.splitlines()
    assert re.fullmatch(rf"\s*{expected['line']} \| .*", lines[1]), "no source line"
    caret = re.fullmatch(r"\s*\| ( *)\^+", lines[2])
    assert caret and len(caret.group(1)) == int(expected["col"]) - 1, "the caret is not under the column"


def test_messages_use_words_not_token_names():
    """Syntax errors say what was expected in words, never Lark's terminal names."""
    for path in CORPUS:
        if not path.name.startswith("syntax_"):
            continue
        diag, _ = _first_diagnostic(path, None)
        assert not re.search(r"\b(?:[A-Z]+_[A-Z_]+|__ANON_\d+|RBRACE|LBRACE|RPAR|LPAR|NAME|INT|"
                             r"DIMS|SIZE|STRING|_NL|\$END)\b", diag.message), diag.message


def test_errors_are_collected():
    """Independent mistakes are reported together, not one per run."""
    path = INVALID / "block_used_as_layer.res"
    with pytest.raises(ResdslError) as caught:
        lower(load_program(path))
    assert [d.span.col for d in caught.value.diagnostics] == [16, 27]


def test_no_network_is_a_file_level_error(tmp_path):
    library = tmp_path / "library.res"
    library.write_text("block plain(width) { conv 3x3, width; relu }\n", encoding="utf-8")
    with pytest.raises(ResdslError, match="no network declared") as caught:
        lower(load_program(library))
    assert render(caught.value.diagnostics[0]).startswith(f"{library}: error: no network declared")
