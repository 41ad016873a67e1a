"""The README tells the truth: its specs load, its commands run and print what it shows,
and its tables say what the code says.

The README keeps to a few conventions so that this can be checked:

- A ```res block is a whole file. A first line `# PATH.res ...` names it: when PATH is a
  file of the repository, each declaration of the block equals the one of that name in
  PATH, comments aside; otherwise the block is written as PATH into the folder the
  commands run in (`messy.res`, `wide.res`). Every ```res block loads (imports are read
  from the named file's folder, or from specs/), and every network it declares lowers and
  meets its `expect` lines. Fragments are written in plain ``` blocks.
- A ```console block whose first line is `$ resdsl ...` is run: each `$ resdsl ...` line
  runs in-process, in a scratch folder with specs/ and tests/invalid/ linked in, and
  exits 0 unless listed in EXIT. The lines after a command are what it printed, all of
  them, except where a line `...` stands for any number of lines. A command that writes
  `docs/NAME.png` must draw a picture of the size of the committed one. SKIP lists the
  commands that are not run, and why.
- Tables marked with an HTML comment (`<!-- primitives -->`, `<!-- limits -->`, ...) are
  compared with the code they describe.
- The ```python block after `<!-- excerpt of resnet34.py -->` is, chunk by chunk between
  `...` lines, verbatim in the file `resdsl export resnet34 --to pytorch` wrote.
- ```pycon blocks run as doctests.
"""

from __future__ import annotations

import dataclasses
import doctest
import itertools
import os
import re
import shlex
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from resdsl import limits, rules
from resdsl.analyzer import analyze
from resdsl.ir.layers import LAYERS
from resdsl.loader import program_from_text
from resdsl.lower import lower
from resdsl.parser import parse

from helpers import ROOT, SPECS

README = ROOT / "README.md"
TEXT = README.read_text(encoding="utf-8")

# Commands shown but not run here, each with the reason and the test that covers it.
SKIP = {
    "resdsl train": "trains for minutes on CPU and prints timings; tests/train/test_commands.py",
    "resdsl eval": "needs the run `resdsl train` made; tests/train/test_commands.py",
    "resdsl plot": "needs the run `resdsl train` made; tests/train/test_plot.py",
    "resdsl export resnet20 --to onnx": "about 20 s in torch.onnx; "
                                        "tests/test_export.py::test_onnx_export_runs_in_onnxruntime_with_equal_outputs",
}
# Commands shown failing on purpose, with the exit status they must have.
EXIT = {
    "resdsl check tests/invalid/stride_3_stage.res": 1,
    "resdsl check tests/invalid/shortcut_A_shrinks_channels.res": 1,
    "resdsl check tests/invalid/negative_option_unparenthesized.res": 1,
    "resdsl check wide.res": 1,
}
WIDTH = 160  # what the CLI gives a console that is not a terminal, as when the README's output was taken


# ---- reading the README ----------------------------------------------------------------
@dataclasses.dataclass
class Fence:
    lang: str
    lines: list[str]
    line: int  # where its first line is in README.md
    marker: str  # the last non-blank line before the fence ("" if none)

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def fences() -> list[Fence]:
    out, lines = [], TEXT.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^```(\S*)\s*$", lines[i])
        if match:
            marker = next((l for l in reversed(lines[:i]) if l.strip()), "")
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            out.append(Fence(match[1], lines[i + 1:end], i + 2, marker))
            i = end
        i += 1
    return out


FENCES = fences()


def fence_id(fence: Fence) -> str:
    return f"README.md:{fence.line}"


def table_after(marker: str) -> list[list[str]]:
    """The rows (cells, stripped) of the table right after `<!-- marker -->`."""
    lines = TEXT.split(f"<!-- {marker} -->\n", 1)[1].splitlines()
    rows = list(itertools.takewhile(lambda l: l.startswith("|"), lines))
    assert len(rows) > 2, f"no table after <!-- {marker} -->"
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def ticked(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


# ---- ```res blocks -------------------------------------------------------------------
RES = [f for f in FENCES if f.lang == "res"]


def header_path(fence: Fence) -> str | None:
    match = re.match(r"#\s+(\S+\.res)\b", fence.lines[0]) if fence.lines else None
    return match[1] if match else None


def without_comments(node):
    """A syntax node with every comment removed (spans are left out of equality already)."""
    if isinstance(node, (list, tuple)):
        return type(node)(without_comments(n) for n in node)
    if not dataclasses.is_dataclass(node):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if f.name in ("comments", "end_comments"):
            changes[f.name] = ()
        elif f.name == "trailing_comment":
            changes[f.name] = None
        else:
            changes[f.name] = without_comments(value)
    return dataclasses.replace(node, **changes)


@pytest.mark.parametrize("fence", RES, ids=fence_id)
def test_every_res_block_loads_and_its_networks_meet_their_expectations(fence):
    path = header_path(fence)
    repo_file = ROOT / path if path and (ROOT / path).is_file() else None
    base_dir = repo_file.parent if repo_file else SPECS
    program = program_from_text(fence.text, f"README.md:{fence.line}", base_dir=base_dir)
    for decl in program.networks:
        report = analyze(lower(program, decl.name))
        failed = [e for e in report.expects if not e.passed]
        assert not failed, f"{decl.name}: {failed}"


@pytest.mark.parametrize("fence", [f for f in RES if header_path(f) and (ROOT / header_path(f)).is_file()],
                         ids=fence_id)
def test_a_res_block_that_names_a_file_quotes_it(fence):
    path = header_path(fence)
    shown = without_comments(parse(fence.text, "README.md").decls)
    actual = {(type(d), getattr(d, "name", getattr(d, "path", None))): without_comments(d)
              for d in parse((ROOT / path).read_text(encoding="utf-8"), path).decls}
    for decl in shown:
        key = (type(decl), getattr(decl, "name", getattr(decl, "path", None)))
        assert key in actual, f"{path} has no {type(decl).__name__} {key[1]}"
        assert decl == actual[key], f"{key[1]} differs from {path}"


# ---- ```console blocks ------------------------------------------------------------------
@dataclasses.dataclass
class Shown:
    command: str
    output: list[str]
    fence: Fence


def shown_commands() -> list[Shown]:
    out = []
    for fence in FENCES:
        if fence.lang != "console" or not fence.lines[0].startswith("$ resdsl"):
            continue
        for line in fence.lines:
            if line.startswith("$ "):
                out.append(Shown(line[2:].split("  #")[0].strip(), [], fence))
            else:
                out[-1].output.append(line.rstrip())
    return out


SHOWN = shown_commands()
RUN = [s for s in SHOWN if not any(s.command.startswith(skip) for skip in SKIP)]


def skipped(command: str) -> bool:
    return any(command.startswith(skip) for skip in SKIP)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """Every ```res block that is not a repository file written out, then every shown
    command run in order, in one scratch folder: {command: (exit code, output lines)}."""
    from resdsl.cli import app, console

    folder = tmp_path_factory.mktemp("readme")
    (folder / "specs").symlink_to(SPECS, target_is_directory=True)
    (folder / "tests").mkdir()
    (folder / "tests" / "invalid").symlink_to(ROOT / "tests" / "invalid", target_is_directory=True)
    (folder / "docs").mkdir()
    for fence in RES:
        path = header_path(fence)
        if path and not (ROOT / path).is_file():
            (folder / path).write_text(fence.text, encoding="utf-8")
    results, runner, cwd = {}, CliRunner(), os.getcwd()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(console.out, "width", WIDTH)
        patch.setattr(console.err, "width", WIDTH)
        os.chdir(folder)
        try:
            for shown in RUN:
                result = runner.invoke(app, shlex.split(shown.command)[1:])
                assert result.exception is None or isinstance(result.exception, SystemExit), \
                    f"{shown.command}: {result.exception!r}"
                results[shown.command] = (result.exit_code, [l.rstrip() for l in result.output.splitlines()])
        finally:
            os.chdir(cwd)
    return folder, results


def test_the_skipped_commands_are_the_listed_ones():
    shown = {s.command for s in SHOWN}
    assert all(any(c.startswith(skip) for c in shown) for skip in SKIP), "SKIP lists a command the README no longer shows"
    assert set(EXIT) <= shown, "EXIT lists a command the README no longer shows"


def matches(shown: list[str], actual: list[str]) -> str | None:
    """None if `actual` is `shown` with each `...` line standing for any lines; else why not."""
    chunks = [list(group) for gap, group in itertools.groupby(shown, lambda l: l == "...") if not gap]
    open_start, open_end = shown[:1] == ["..."], shown[-1:] == ["..."]
    if not shown:
        return None if not actual else f"it printed {len(actual)} lines, none shown"
    pos = 0
    for i, chunk in enumerate(chunks):
        anchored = i == 0 and not open_start
        starts = [pos] if anchored else range(pos, len(actual) - len(chunk) + 1)
        found = next((s for s in starts if actual[s:s + len(chunk)] == chunk), None)
        if found is None:
            near = actual[pos:pos + len(chunk)]
            return f"not printed: {chunk[0]!r} ... (at line {pos + 1} it printed {near[:1]!r})"
        pos = found + len(chunk)
    if not open_end and pos != len(actual):
        return f"it printed more after the last line shown: {actual[pos]!r}"
    return None


@pytest.mark.parametrize("shown", RUN, ids=lambda s: s.command)
def test_a_shown_command_runs_and_prints_what_is_shown(shown, scratch):
    folder, results = scratch
    code, actual = results[shown.command]
    assert code == EXIT.get(shown.command, 0), "\n".join(actual)
    problem = matches(shown.output, actual)
    assert problem is None, f"README.md:{shown.fence.line}: {shown.command}: {problem}\n" + "\n".join(actual)
    for written in re.findall(r"^wrote (docs/\S+\.png)$", "\n".join(actual), re.M):
        assert png_size(folder / written) == png_size(ROOT / written), \
            f"{written} is out of date: run `{shown.command}` and commit it"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_export_excerpt_is_in_the_exported_file(scratch):
    folder, _ = scratch
    fence = next(f for f in FENCES if f.marker == "<!-- excerpt of resnet34.py -->")
    exported = (folder / "resnet34.py").read_text(encoding="utf-8")
    chunks = ["\n".join(group) + "\n" for gap, group in
              itertools.groupby(fence.lines, lambda l: l == "...") if not gap]
    for chunk in chunks:
        assert chunk in exported, f"not in the exported resnet34.py:\n{chunk}"


def test_what_gates_highways_and_points_become_is_in_their_exported_code():
    from resdsl import parse_network
    from resdsl.export import pytorch_source

    paragraph = TEXT.split("\nA gate becomes ", 1)[1].split("\n\n", 1)[0]
    snippets = [" ".join(s.split()) for s in ticked(paragraph)
                if "=" in s or "(" in s]  # code, not the spec's words (`residual from act1`)
    exported = "\n".join(pytorch_source(parse_network(name))
                         for name in ("timm/seresnet50", "highway20", "timm/resnetv2_50"))
    assert len(snippets) >= 4
    for snippet in snippets:
        assert snippet in exported, f"no `{snippet}` in the exported code"


@pytest.mark.parametrize("fence", [f for f in FENCES if f.lang == "pycon"], ids=fence_id)
def test_python_examples_run_as_shown(fence):
    test = doctest.DocTestParser().get_doctest(fence.text, {}, fence_id(fence), str(README), fence.line)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    assert runner.failures == 0, f"{fence_id(fence)}: a Python example gives other output (see above)"


# ---- tables and lists ------------------------------------------------------------------
def test_the_primitives_table_lists_every_layer_and_only_those():
    shown = [ticked(row[0])[0] for row in table_after("primitives")]
    assert sorted(shown) == sorted(LAYERS)
    assert len(shown) == len(set(shown))


def test_the_graph_table_lists_every_graph_statement():
    shown = [ticked(row[0])[0].split()[0] for row in table_after("graph statements")]
    assert sorted(shown) == sorted(rules.GRAPH)


def limit_value(text: str) -> float:
    """`256 KiB`, `4 GiB`, `2^31`, `10^15`, `10,000`, `1000%`, `64` -> a number."""
    match = re.fullmatch(r"([\d,.]+)(?:\^(\d+))?\s*(KiB|MiB|GiB|%)?", text)
    assert match, f"cannot read the limit {text!r}"
    base = float(match[1].replace(",", ""))
    value = base ** int(match[2]) if match[2] else base
    return value * {None: 1, "%": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[match[3]]


def test_the_limits_table_gives_the_constants_of_limits_py():
    rows = table_after("limits")
    shown = {}
    for row in rows:
        constant = ticked(row[2])[0]
        assert limit_value(row[1]) == getattr(limits, constant), f"{constant}: README says {row[1]}"
        shown[constant] = row[1]
    every = {name for name in dir(limits) if name.startswith("MAX_")}
    assert set(shown) == every, "the Limits table and resdsl/limits.py list different limits"


def expand_braces(pattern: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", pattern)
    if not match:
        return [pattern]
    return [p for choice in match[1].split(",")
            for p in expand_braces(pattern[:match.start()] + choice + pattern[match.end():])]


def test_the_specs_table_names_every_shipped_spec():
    shown = {path for row in table_after("specs") for cell in ticked(row[0])
             for path in expand_braces(cell)}
    shipped = {str(p.relative_to(ROOT)) for p in SPECS.glob("**/*.res")}
    assert shown == shipped, f"missing: {sorted(shipped - shown)}; not there: {sorted(shown - shipped)}"


def test_what_survives_what_names_tests_that_exist():
    for row in table_after("survives"):
        for ref in ticked(row[2]):
            file, name = ref.split("::")
            where = ROOT / "tests" / "train" / file
            if not where.exists():  # reproduce/...: beside train/, not in it
                where = ROOT / "tests" / file
            source = where.read_text(encoding="utf-8")
            assert re.search(rf"^def {name}\(", source, re.M), f"no test {ref}"


def test_the_extras_are_pyprojects():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    section = TEXT.split("Optional extras", 1)[1].split("\n## ", 1)[0]
    shown = [ticked(line.split(" | ")[0])[0] for line in section.splitlines()
             if line.startswith("| `")]
    assert sorted(shown) == sorted(extras)


def test_the_layout_names_every_module_and_nothing_else():
    block = next(f for f in FENCES if f.lang == "" and f.lines[0].startswith("grammars/"))
    text = block.text
    for line in block.lines:
        first = line.split()[0]
        assert (ROOT / first).exists(), f"Layout names {first}, which is not there"
    tracked = [p for top in ("grammars", "resdsl", "specs", "tests", "bench")
               for p in (ROOT / top).glob("**/*") if "__pycache__" not in p.parts]
    for name in re.findall(r"\b[\w/]+\.(?:py|res|lark)\b", text):
        assert any(str(p).endswith(f"/{name}") for p in tracked), \
            f"Layout names {name}, which is not there"
    package = ROOT / "resdsl"
    for path in sorted(package.iterdir()):
        if path.suffix in (".py", ".res") or (path.is_dir() and path.name != "__pycache__"):
            shown = f"resdsl/{path.name}/" if path.is_dir() else path.name
            assert shown in text, f"Layout does not mention {shown}"


def test_the_readme_shows_the_figures_it_links_and_ci_finds_its_test_command():
    for image in re.findall(r"(?:\]\(|src=\")(docs/[^)\"]+)", TEXT):
        assert (ROOT / image).is_file(), f"{image} is missing"
    after = TEXT.split("<!-- test command -->\n", 1)[1].splitlines()
    assert after[0] == "```bash" and "pytest" in after[1], ".ci/run reads the line two after the marker"


def test_every_link_within_the_page_has_its_heading():
    def slug(heading: str) -> str:  # GitHub's: lower case, punctuation dropped, spaces to -
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    prose = re.sub(r"^```.*?^```", "", TEXT, flags=re.M | re.S)  # a `# comment` is no heading
    headings = {slug(h) for h in re.findall(r"^#{2,4} (.+)$", prose, re.M)}
    for anchor in re.findall(r"\]\(#([^)]+)\)", TEXT):
        assert anchor in headings, f"no heading for #{anchor}"
