"""Whatever text comes in, the only error that comes out is a ResdslError.

Hypothesis mutates the real specs and the prelude (characters, tokens and lines deleted,
inserted, duplicated and swapped; random unicode, NUL bytes, huge numbers, deep nesting,
truncation), builds specs from the grammar with rare faults, and feeds random text;
anything but a ResdslError (KeyError, RecursionError, pydantic's ValidationError,
ZeroDivisionError, a hang) is a bug. Explicit tests cover files no editor would save:
binary bytes, empty, a file of brackets, a directory, import and derivation chains.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resdsl import syntax as syn
from resdsl.diagnostics import ResdslError, render
from resdsl.loader import MAX_FILE_BYTES, PRELUDE_PATH, load_program, program_from_text
from resdsl.lower import lower
from resdsl.recipes import lower_recipe

from helpers import GUARD_SECONDS, PRELUDE as PRELUDE_FILE, SPECS, spec_files

PRELUDE = PRELUDE_FILE.read_text(encoding="utf-8")
# Libraries get a network that uses them, so that mutating them reaches the lowering.
USERS = {
    "cifar.res": "network user = cifar_resnet(n = 1)\n",
    "torchvision.res": "network user = tv_bottleneck_resnet(1, 1, 1, 1)\n",
    "prelude.res": "network user {\n    input 3x32x32\n    classes 10\n    stem { conv 3x3, 16 }\n"
                   "    stage s: 1 x bottleneck(16, stride_on = 3x3), stride 2\n"
                   "    head { avgpool; fc classes }\n    train cifar10_warmup { lr 0.05 }\n}\n",
}
SEEDS = [(p.read_text(encoding="utf-8") + USERS.get(p.name, ""), p.parent)
         for p in [*spec_files(), PRELUDE_FILE]]

_TOKEN = re.compile(r"\d+(?:x\d+)+|\d+(?:\.\d+)?[KMGT]?|\w+|\"[^\"\n]*\"|//|==|!=|\S")
VOCABULARY = sorted({t for text, _ in SEEDS for t in _TOKEN.findall(text)})
NASTY_NUMBERS = ["0", "00", "-1", "0.0", "1.5", "1e-999", "1e999999999", "1" + "0" * 30,
                 "9" * 5000, "3x0x0", "0x0", "1x" * 50 + "1", "99999999999999999999x3",
                 "4294967296", "1000000", "0.5M", "1e3"]
# Words that are keys somewhere inside the implementation (pydantic, torch, Python).
NASTY_WORDS = ["name", "span", "kind", "model_config", "__init__", "__class__", "training",
               "forward", "self", "None", "True", "classes", "residual", "downsample", "layer1",
               "stride", "padding", "groups", "bias", "A", "none", "true", "1x1", "3x3"]
NASTY_TEXT = ["\x00", "\x00" * 8, "\ufeff", "\u2028", "\r", "\r\n", "\x0c", "\t", "\x1b[31m",
              "é", "×", "😀", '"', "#", "{", "}", "(", ")", ";", ",", ":", "=", "x", "%",
              "residual", "network n = n", "import \"cifar.res\"", "import \"..\"",
              "stage s: 100000000 x basic(64)", "shortcut D", "input 3x1x1"]


# ---- the check itself ------------------------------------------------------------------
def only_resdsl_errors(text: str, base_dir: Path = SPECS) -> None:
    """Load and lower `text` (each of its networks); only ResdslError may escape."""
    try:
        program = program_from_text(text, "fuzz.res", base_dir=base_dir)
        for decl in program.module.decls:
            if isinstance(decl, syn.RecipeDecl):
                try:
                    lower_recipe(syn.TrainStmt(recipe=decl.name, span=decl.span), program.namespace)
                except ResdslError as error:
                    _check_error(error)
        for name in [d.name for d in program.networks][:3]:
            try:
                lower(program, name)
            except ResdslError as error:
                _check_error(error)
    except ResdslError as error:
        _check_error(error)


def _check_error(error: ResdslError) -> None:
    assert error.diagnostics, "a ResdslError without diagnostics"
    for diag in error.diagnostics:
        assert diag.message
        shown = render(diag)  # rendering must not fail either
        assert ": error: " in shown.splitlines()[0]
        if diag.span is not None:
            assert diag.span.line >= 1 and diag.span.col >= 1, diag


# ---- mutations -------------------------------------------------------------------------
def _at(text: str, where: float) -> int:
    return int(where * len(text))


def _replace_token(text: str, where: float, new: str) -> str:
    tokens = list(_TOKEN.finditer(text))
    if not tokens:
        return text + new
    m = tokens[min(int(where * len(tokens)), len(tokens) - 1)]
    return text[:m.start()] + new + text[m.end():]


def _lines_op(text: str, where: float, other: float, op: str) -> str:
    lines = text.split("\n")
    i, j = min(int(where * len(lines)), len(lines) - 1), min(int(other * len(lines)), len(lines) - 1)
    if op == "delete":
        del lines[i]
    elif op == "duplicate":
        lines.insert(i, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def _nest(depth: int, open_: str, close: str, inner: str) -> str:
    return open_ * depth + inner + close * depth


fraction = st.floats(min_value=0, max_value=1, allow_nan=False, exclude_max=True)
MUTATIONS = st.one_of(
    st.tuples(st.just("delete_char"), fraction, st.integers(1, 4)),
    st.tuples(st.just("insert_text"), fraction, st.sampled_from(NASTY_TEXT)),
    st.tuples(st.just("insert_text"), fraction, st.text(max_size=8)),
    st.tuples(st.just("duplicate_char"), fraction, st.integers(1, 4)),
    st.tuples(st.just("replace_token"), fraction, st.sampled_from(VOCABULARY)),
    st.tuples(st.just("replace_token"), fraction, st.sampled_from(NASTY_NUMBERS)),
    st.tuples(st.just("replace_token"), fraction, st.sampled_from(NASTY_WORDS)),
    st.tuples(st.just("replace_token"), fraction, st.just("")),
    st.tuples(st.just("duplicate_token"), fraction, st.integers(1, 3)),
    st.tuples(st.just("lines"), fraction, fraction, st.sampled_from(["delete", "duplicate", "swap"])),
    st.tuples(st.just("nest"), fraction, st.integers(1, 200), st.sampled_from(["()", "{}"])),
    st.tuples(st.just("chain"), fraction, st.integers(1, 300),
              st.sampled_from(["+", "*", "-", "/", "//"])),
    st.tuples(st.just("truncate"), fraction),
)


def mutate(text: str, mutation: tuple) -> str:
    kind, where = mutation[0], mutation[1]
    i = _at(text, where)
    if kind == "delete_char":
        return text[:i] + text[i + mutation[2]:]
    if kind == "insert_text":
        return text[:i] + mutation[2] + text[i:]
    if kind == "duplicate_char":
        return text[:i] + text[i:i + 1] * mutation[2] + text[i:]
    if kind == "replace_token":
        return _replace_token(text, where, mutation[2])
    if kind == "duplicate_token":
        tokens = _TOKEN.findall(text)
        token = tokens[min(int(where * len(tokens)), len(tokens) - 1)] if tokens else "x"
        return _replace_token(text, where, " ".join([token] * (mutation[2] + 1)))
    if kind == "lines":
        return _lines_op(text, where, mutation[2], mutation[3])
    if kind == "nest":
        open_, close = mutation[3]
        return _replace_token(text, where, _nest(mutation[2], open_, close, "64"))
    if kind == "chain":
        return _replace_token(text, where, f" {mutation[3]} ".join(["2"] * (mutation[2] + 1)))
    if kind == "truncate":
        return text[:i]
    raise AssertionError(kind)


@st.composite
def mutated_specs(draw):
    text, base_dir = draw(st.sampled_from(SEEDS))
    for mutation in draw(st.lists(MUTATIONS, min_size=1, max_size=6)):
        text = mutate(text, mutation)
    return text, base_dir


FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(mutated_specs())
def test_mutated_specs_raise_only_resdsl_errors(case):
    text, base_dir = case
    only_resdsl_errors(text, base_dir)


@settings(FUZZ, max_examples=150)
@given(st.lists(st.sampled_from(VOCABULARY + NASTY_NUMBERS + NASTY_WORDS + ["\n", ";", "{", "}"]),
                max_size=60))
def test_token_soup_raises_only_resdsl_errors(tokens):
    only_resdsl_errors(" ".join(tokens))


# ---- specs built from the grammar: mostly valid, with rare faults ---------------------------
# A spec is a valid skeleton in which each slot is, now and then, replaced by a bad value
# or a bad statement: most specs get through to the deep checks (shapes, shortcuts,
# recipes) instead of stopping at the first unknown word. Hypothesis favours small draws
# and the ends of lists, so a rare choice is a window in the middle of a range.
def rarely(draw, percent: int = 4) -> bool:
    return 40 <= draw(st.integers(0, 99)) < 40 + percent


def either(draw, common, rare, percent: int = 4):
    return draw(st.sampled_from(rare if rarely(draw, percent) else common))


BAD_VALUES = ["0", "00", "(0 - 1)", "1e-999", "1e999999999", "1" + "0" * 30, "3x0x0", "0x0",
              "4294967296", "1000000", "1e3", "A", "none", "true", "sgd", "span", "64 / 3",
              "(1 / 0)", "(2 if 1x1 == 1 else A)", "1x2x3"]


def value(draw, common: list[str]) -> str:
    text = either(draw, common, BAD_VALUES)
    if rarely(draw, 10):  # a little arithmetic that means the same
        text = draw(st.sampled_from([f"({text} * 1)", f"({text} + 0)", f"({text} // 1)",
                                     f"({text} if 1 == 1 else 0)"]))
    return text


def layer(draw, width: str, stride: str = "1") -> str:
    """A valid layer line, or now and then a broken one."""
    if rarely(draw, 3):
        return draw(st.sampled_from(["rleu", "basic(16)", "conv 3x3", "relu 1", "residual",
                                     "conv 3x3, 16, strid 2", "fc 10, bias true, bias false",
                                     "name: relu", "training: relu", "x: relu"]))
    kernel = value(draw, ["3x3", "1x1", "3", "1x7, padding 0x3", "2x2, padding 0"])
    choices = [f"conv {kernel}, {value(draw, [width])}, stride {value(draw, [stride])}",
               f"conv {kernel}, {value(draw, [width])}, groups {value(draw, ['1', '2'])}",
               "batchnorm", "relu", f"dropout {value(draw, ['0.5', '0', '0.1'])}",
               f"maxpool {value(draw, ['3x3', '2x2'])}, stride {value(draw, ['1', '2'])}",
               f"avgpool {value(draw, ['3x3', '2x2'])}, stride 1, padding 1"]
    return draw(st.sampled_from(choices))


def block_decl(draw, name: str) -> str:
    params = either(draw, ["width, stride = 1", "width, stride = 1, k = width"],
                    ["width", "k = width, width", "width, width"])
    body = [layer(draw, "width", "stride") for _ in range(draw(st.integers(1, 4)))]
    for _ in range(either(draw, [1], [0, 2], percent=8)):  # where the shortcut is added
        body.insert(draw(st.integers(0, len(body))), "residual")
    if rarely(draw):
        body.append("2 x basic(width)")
    return f"block {name}({params}) {{\n    " + "\n    ".join(body) + "\n}"


def recipe_fields(draw) -> list[str]:
    fields = {"momentum": ["0.9"], "batch_size": ["128", "1.5"], "lr": ["0.1", "1e-999"],
              "lr_steps": ["1000, 2000", "5"], "iterations": ["3000"], "hflip": ["true", "3"],
              "normalize": ["pixel_mean", "channel_mean", "none", "imagenet"],
              "warmup_lr": ["0.01", "none"], "eval_every": ["100"], "name": ["x"],
              "span": ["1"], "lr_stpes": ["1"], "optimizer": ["sgd", "adam"]}
    chosen = draw(st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=3))
    return [f"{f} {value(draw, fields[f])}" for f in chosen]


@st.composite
def generated_specs(draw):
    decls, blocks = [], ["basic", "bottleneck"]
    for i in range(draw(st.integers(0, 2))):
        decls.append(block_decl(draw, f"b{i}"))
        blocks.append(f"b{i}")
    family = draw(st.booleans())
    size = either(draw, ["3x32x32", "3x16x16", "3x64x64"],
                  ["3x1x1", "32x32", "3x0x4", "3x224x224", "3x70000x70000", "0x32x32"])
    body = [f"input {size}", f"classes {value(draw, ['10'])}",
            f"shortcut {either(draw, ['A', 'B', 'C', 'none'], ['D', '1', 'n'])}"]
    if not rarely(draw, 10):
        stem = [layer(draw, value(draw, ["16", "32"])) for _ in range(draw(st.integers(1, 3)))]
        body.append("stem { " + "; ".join(stem) + " }")
    width = draw(st.sampled_from(["16", "32"]))
    for i in range(draw(st.integers(0, 3))):
        count = value(draw, ["n" if family else "1", "1", "2"])
        args = value(draw, [width, f"{width} * 2"])
        if rarely(draw, 10):
            args += ", " + either(draw, ["stride = 1", "expansion = 2", "stride_on = 3x3"],
                                  ["widht = 1", "width = 16", "stride = 3", "1, 2, 3"])
        options = either(draw, ["", ", stride 2", ", shortcut B"],
                         [", stride 3", ", strde 2", ", shortcut D"])
        name = f"s{i}" if not rarely(draw) else "s0"
        body.append(f"stage {name}: {count} x {draw(st.sampled_from(blocks))}({args}){options}")
    if rarely(draw, 20):
        body.append(f"stage plain {{ {layer(draw, '64')}; 1 x basic({width}) }}")
    head = either(draw, ["avgpool; fc classes", "avgpool; dropout 0.5; fc classes",
                         "flatten; fc classes", "avgpool; flatten; fc 100; relu; fc classes"],
                  ["fc classes", "avgpool", "avgpool; fc 100", "avgpool; residual; fc classes",
                   "avgpool; conv 3x3, 8; fc classes", "avgpool; fc classes, bias 1"])
    body.append(f"head {{ {head} }}")
    if draw(st.booleans()):
        recipe = either(draw, ["cifar10_paper", "cifar10_warmup", "r"], ["r0", "cifar10"])
        body.append(f"train {recipe} {{ " + "; ".join(recipe_fields(draw)) + " }")
    body.append(either(draw, ["", "expect params 1M", "expect flops 2G within 5%"],
                       ["expect parms 1", "expect params 0 within 0.5M %", "expect params 1e999"]))
    decls.append(draw(st.sampled_from(["recipe r = cifar10_paper", "recipe r = r"])) + " {\n    "
                 + "\n    ".join(recipe_fields(draw)) + "\n}")
    if family:
        decls.append("family f(n, width = 16) {\n    " + "\n    ".join(body) + "\n}")
        decls.append(f"network t = f({value(draw, ['1', '2', 'n = 1'])})")
    else:
        decls.append("network t {\n    " + "\n    ".join(body) + "\n}")
    return "\n\n".join(decls) + "\n"


@settings(FUZZ, max_examples=300)
@given(generated_specs())
def test_generated_specs_raise_only_resdsl_errors(text):
    only_resdsl_errors(text)


@settings(FUZZ, max_examples=100)
@given(st.text(max_size=200))
def test_random_text_raises_only_resdsl_errors(text):
    only_resdsl_errors(text)


def test_every_seed_is_accepted_or_rejected_cleanly():
    for text, base_dir in SEEDS:
        only_resdsl_errors(text, base_dir)


# ---- files no editor would save ----------------------------------------------------------
def _load_error(path: Path) -> ResdslError:
    """load + lower `path`: a ResdslError, never a hang (a guard, not a timing)."""
    start = time.perf_counter()
    with pytest.raises(ResdslError) as caught:
        lower(load_program(path))
    elapsed = time.perf_counter() - start
    assert elapsed < GUARD_SECONDS, f"{path.name} took {elapsed:.2f}s"
    _check_error(caught.value)
    return caught.value


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_binary_garbage_is_not_utf8(tmp_path):
    garbage = b"network t {\n  input 3x32x32 \xff\xfe\x00\x80\n}\n"
    error = _load_error(_write(tmp_path, "garbage.res", garbage))
    assert "not UTF-8" in error.message
    assert (error.span.line, error.span.col) == (2, 17)
    assert render(error.diagnostics[0]).startswith(f"{tmp_path / 'garbage.res'}:2:17: error: ")


def test_random_bytes(tmp_path):
    error = _load_error(_write(tmp_path, "random.res", bytes(range(256)) * 64))
    assert "not UTF-8" in error.message and error.span is not None


def test_empty_file(tmp_path):
    error = _load_error(_write(tmp_path, "empty.res", b""))
    assert "no network declared" in error.message


def test_a_file_of_braces(tmp_path):  # 200 KB: under the size limit, so the nesting check speaks
    error = _load_error(_write(tmp_path, "braces.res", b"{" * 200_000))
    assert "nesting" in error.message and error.span.line == 1


def test_a_file_of_parentheses(tmp_path):
    error = _load_error(_write(tmp_path, "parens.res", b"network t { classes " + b"(" * 200_000))
    assert "nesting" in error.message and error.span.line == 1


def test_a_long_operator_chain(tmp_path):
    chain = b" + ".join([b"1"] * 5000)
    error = _load_error(_write(tmp_path, "chain.res", b"network t {\n classes " + chain + b"\n}\n"))
    assert error.message.startswith("nested too deeply: more than")
    assert (error.span.line, error.span.col) == (2, 10)


def test_deeply_nested_conditionals(tmp_path):
    text = b"network t {\n classes " + b"1 if 1 == 1 else " * 2000 + b"1\n}\n"
    error = _load_error(_write(tmp_path, "cond.res", text))
    assert error.message.startswith("nested too deeply: more than")


def test_nul_bytes(tmp_path):
    error = _load_error(_write(tmp_path, "nul.res", b"network t {\x00\x00}"))
    assert "unexpected character" in error.message and error.span.col == 12


def test_a_number_with_thousands_of_digits(tmp_path):
    for text in (b"network t { classes " + b"9" * 5000 + b" }",
                 b"network t { input 3x" + b"9" * 5000 + b"x32 }",
                 b"network t { classes 1e999999999 }",
                 b"network t { classes 1 / 1e-999 }"):
        error = _load_error(_write(tmp_path, "number.res", text))
        assert "number" in error.message, error.message


def test_a_huge_line_renders_short(tmp_path):
    error = _load_error(_write(tmp_path, "wide.res", b"network t { " + b" " * 100_000 + b"$ }"))
    shown = render(error.diagnostics[0])
    assert len(shown) < 1000 and "^" in shown


def test_missing_file(tmp_path):
    error = _load_error(tmp_path / "no_such.res")
    assert "no such file" in error.message
    assert render(error.diagnostics[0]).startswith(f"{tmp_path / 'no_such.res'}: error: ")


def test_directory(tmp_path):
    (tmp_path / "folder.res").mkdir()
    error = _load_error(tmp_path / "folder.res")
    assert "directory" in error.message


def test_file_too_large(tmp_path):
    error = _load_error(_write(tmp_path, "big.res", b"#" * (MAX_FILE_BYTES + 1)))
    assert "larger than" in error.message


def test_import_of_a_directory_and_of_garbage(tmp_path):
    (tmp_path / "lib").mkdir()
    _write(tmp_path, "bad.res", b"\xff\xff")
    for target, message in (("lib", "is a directory"), ("bad.res", "not UTF-8"),
                            ("nowhere.res", "no such file")):
        main = _write(tmp_path, "main.res", f'import "{target}"\n'.encode())
        error = _load_error(main)
        assert message in error.message and error.span.line == 1


def test_lines_are_counted_as_the_parser_counts_them(tmp_path):
    """Form feeds, lone CRs and U+2028 are not line breaks: the caret's line is right."""
    text = "# a comment with \u2028 and \x0c inside\nnetwork t {\n    input 3x32x32 $\n}\n"
    error = _load_error(_write(tmp_path, "lines.res", text.encode()))
    shown = render(error.diagnostics[0]).splitlines()
    assert error.span.line == 3 and shown[1].endswith("input 3x32x32 $")


def test_prelude_is_a_valid_library():
    program = program_from_text(PRELUDE, PRELUDE_PATH + "-copy")  # the static rules run here
    assert "basic" in program.namespace.blocks and "B" in program.namespace.shortcuts


# ---- structures deep or wide enough to overflow the stack or to explode -------------------
def test_imports_nested_too_deep(tmp_path):
    for i in range(100):
        _write(tmp_path, f"f{i}.res", f'import "f{i + 1}.res"\n'.encode())
    _write(tmp_path, "f100.res", b"block b(w) { relu }\n")
    error = _load_error(tmp_path / "f0.res")
    assert "imports nested more than" in error.message


def test_a_file_imported_many_times_is_read_once(tmp_path, monkeypatch):
    from resdsl import loader

    """Each file imports the next two: 2^40 reads, unless each file is read once."""
    for i in range(40):
        _write(tmp_path, f"f{i}.res", f'import "f{i + 1}.res"\nimport "f{i + 2}.res"\n'.encode())
    for i in (40, 41):
        _write(tmp_path, f"f{i}.res", f"block b{i}(w) {{ relu }}\n".encode())
    _write(tmp_path, "main.res", b'import "f0.res"\nnetwork t {\n input 3x8x8\n classes 2\n'
                                 b' stage s: 1 x b41(1)\n head { avgpool; fc classes }\n}\n')
    parsed = []
    real_parse = loader.parse
    monkeypatch.setattr(loader, "parse", lambda text, path: parsed.append(path) or
                        real_parse(text, path))
    network = lower(load_program(tmp_path / "main.res"))
    assert network.stages[0].blocks[0].block == "b41"
    assert len(parsed) == len(set(parsed)) == 43  # main.res and f0 .. f41, once each


def test_long_derivation_chains(tmp_path):
    networks = ["network n0 { input 3x8x8; classes 2; head { avgpool; fc classes } }"]
    networks += [f"network n{i} = n{i - 1}" for i in range(1, 2000)]
    program = program_from_text("\n".join(networks), "chain.res")
    with pytest.raises(ResdslError, match="derives through more than"):
        lower(program, "n1999")
    recipes = ["recipe r0 = cifar10_paper { lr 0.1 }"]
    recipes += [f"recipe r{i} = r{i - 1} {{ lr 0.1 }}" for i in range(1, 2000)]
    recipes.append("network t { input 3x8x8; classes 2; head { avgpool; fc classes }; train r1999 }")
    with pytest.raises(ResdslError, match="derives through more than"):
        lower(program_from_text("\n".join(recipes), "recipes.res"))


def test_import_paths_the_system_refuses(tmp_path):
    for path in ("a\x00b.res", "a" * 5000 + ".res", "a/" * 3000 + "b.res"):
        main = _write(tmp_path, "main.res", f'import "{path}"\n'.encode())
        error = _load_error(main)
        assert error.message.startswith("cannot import") and error.span.line == 1


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_a_device_is_not_read_forever(tmp_path):
    error = _load_error(Path("/dev/zero"))
    assert "not a regular file" in error.message
    main = _write(tmp_path, "main.res", b'import "/dev/zero"\n')
    assert "not a regular file" in _load_error(main).message
