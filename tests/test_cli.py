"""The command line: exit codes, the diagnostic format, and each command's output."""

import json
import re

import pytest
from typer.testing import CliRunner

from resdsl.cli import app

from helpers import SPECS

runner = CliRunner()
DIAGNOSTIC = re.compile(r"^(?P<path>[^\s:]+):(?P<line>\d+):(?P<col>\d+): error: (?P<msg>.+)$", re.M)


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_check_passes_on_every_shipped_spec():
    specs = sorted(SPECS.glob("**/*.res"))
    result = run("check", *specs)
    assert result.exit_code == 0, result.output
    assert "resnet34" in result.output and "✗" not in result.output


def test_spec_error_prints_file_line_col_source_and_caret(tmp_path):
    bad = tmp_path / "bad.res"
    bad.write_text("network n {\n    input 3x32x32\n    classes 10\n"
                   "    stage s: 2 x basic(16), stride 3\n    head { avgpool; fc classes }\n}\n")
    result = run("check", bad)
    assert result.exit_code == 1
    match = DIAGNOSTIC.search(result.output)
    assert match and match["path"] == str(bad)
    assert (match["line"], match["col"]) == ("4", "36")
    assert "stride must be 1 or 2, got 3" in match["msg"]
    assert "    4 |     stage s: 2 x basic(16), stride 3" in result.output
    assert re.search(r"\|\s{36}\^", result.output)
    assert "Traceback" not in result.output


def test_syntax_error_uses_words_not_token_names(tmp_path):
    bad = tmp_path / "bad.res"
    bad.write_text("network n {\n    stage s: 3 basic(64)\n}\n")
    result = run("build", bad, "--ir")
    assert result.exit_code == 1
    assert "bad.res:2:16: error: unexpected 'basic'; expected 'if', 'x' or an operator" in result.output
    assert not re.search(r"\b(RBRACE|LPAR|__ANON|_NL)\b", result.output)


@pytest.mark.parametrize("content", [b"\xff\xfe\x00garbage\x80", b"", b"{" * 1_000_000])
def test_hostile_files_give_a_diagnostic_never_a_traceback(tmp_path, content):
    spec = tmp_path / "hostile.res"
    spec.write_bytes(content)
    result = run("check", spec)
    assert result.exit_code == 1 if content else result.exit_code in (0, 1)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_missing_file_and_directory(tmp_path):
    assert run("check", tmp_path / "nope.res").exit_code == 1
    result = run("build", tmp_path)
    assert result.exit_code == 1 and "is a directory" in result.output


def test_command_line_misuse_exits_2():
    assert run("build").exit_code == 2
    assert run("summary", SPECS / "resnet18.res", "--no-such-flag").exit_code == 2
    assert run("build", SPECS / "resnet18.res", "--input", "banana").exit_code == 2
    assert run("frobnicate").exit_code == 2


def test_build_ir_is_the_models_json():
    result = run("build", SPECS / "resnet20.res", "--ir")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["name"] == "resnet20" and data["input"] == [3, 32, 32]
    assert [s["name"] for s in data["stages"]] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "head"]


def test_fmt_prints_writes_and_checks(tmp_path):
    spec = tmp_path / "messy.res"
    spec.write_text("# keep me\nnetwork n{input 3x32x32;classes 10  # ten\n"
                    "stem{conv 3x3,16;relu}\nhead{avgpool;fc classes}}\n")
    printed = run("fmt", spec)
    assert printed.exit_code == 0
    assert printed.output.startswith("# keep me\nnetwork n {\n    input    3x32x32\n")
    assert "classes  10  # ten" in printed.output
    assert run("fmt", "--check", spec).exit_code == 1
    assert run("fmt", "--write", spec).exit_code == 0
    assert spec.read_text() == printed.output
    assert run("fmt", "--check", spec).exit_code == 0


def test_fmt_refuses_a_canonical_form_larger_than_a_spec_may_be(tmp_path):
    """`{}` items written on one line take 3 bytes each and 12 in canonical form: a 69 KB
    file grows past the 256 KiB a spec may have. fmt says so instead of writing a file
    that `check` would then refuse."""
    from resdsl.limits import MAX_FILE_BYTES

    spec = tmp_path / "grows.res"
    text = "network t {\nstem { " + ";".join(["{}"] * (MAX_FILE_BYTES // 12 + 1000)) + " }\n}\n"
    spec.write_text(text)
    for flags in ((), ("--write",)):
        result = run("fmt", *flags, spec)
        assert result.exit_code == 1, result.output[:200]
        assert f"{spec}: error: its canonical form would be" in result.output
        assert "larger than the 256 KiB a spec may have" in result.output
    assert spec.read_text() == text


def test_check_keeps_the_error_cap_across_files(tmp_path):
    """At most MAX_ERRORS diagnostics a run, however many files: then one line says how
    many specs were left unchecked."""
    from resdsl.diagnostics import MAX_ERRORS

    bad = []
    for number in range(MAX_ERRORS + 5):
        bad.append(tmp_path / f"bad{number:02}.res")
        bad[-1].write_text("network n {\n    input 3x32x32\n    clases 10\n}\n")
    result = run("check", *bad)
    assert result.exit_code == 1
    assert len(DIAGNOSTIC.findall(result.output)) == MAX_ERRORS
    assert f"stopped after {MAX_ERRORS} errors; 5 more spec(s) not checked" in result.output
    assert str(bad[-1]) not in result.output


def test_check_reports_a_failed_expectation(tmp_path):
    spec = tmp_path / "wrong.res"
    spec.write_text('import "%s"\nnetwork r = resnet20 { expect params 0.5M }\n'
                    % (SPECS / "resnet20.res"))
    result = run("check", spec)
    assert result.exit_code == 1
    assert "✗" in result.output and "0.5M" in result.output


def test_fmt_write_is_atomic_and_keeps_the_usual_permissions(tmp_path):
    import os
    import stat

    spec = tmp_path / "messy.res"
    spec.write_text("network n{input 3x32x32;classes 10\nhead{avgpool;fc classes}}\n")
    assert run("fmt", "--write", spec).exit_code == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(spec.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["messy.res"]  # no temporary left behind


# ---- the command line as people expect it ---------------------------------------------------
def test_version_and_flags_shown_as_flags():
    from resdsl import __version__

    assert run("--version").output.strip() == f"resdsl {__version__}"
    help_text = run("summary", "--help").output
    assert "--layers " in help_text and "<bool>" not in help_text
    assert "--input CxHxW" in help_text
    assert "--install-completion" in run("--help").output


def test_built_in_names_where_a_path_goes(tmp_path, monkeypatch):
    result = run("summary", "resnet34", "timm/resnet50d")
    assert result.exit_code == 0 and "resnet50d" in result.output
    monkeypatch.chdir(tmp_path)
    (tmp_path / "resnet34.res").write_text((SPECS / "resnet20.res").read_text().replace(
        'import "cifar.res"', f'import "{SPECS / "cifar.res"}"'))
    shadowed = run("check", "resnet34")
    assert shadowed.exit_code == 0 and "resnet20" in shadowed.output  # the local file wins
    assert "using the local file resnet34.res, not the built-in spec 'resnet34'" in shadowed.output
    unknown = run("summary", "resnet35")
    assert unknown.exit_code == 1 and "no built-in spec of that name" in unknown.output
    assert "did you mean 'resnet" in unknown.output


def test_list_counts_every_built_in_network():
    result = run("list", "--json")
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["resnet34"]["params"] == 21797672 and rows["resnet34"]["source"].startswith("He")
    assert rows["timm/resnet50d"]["source"] == "timm"
    assert "cifar" not in rows  # a library, no network
    table = run("list", "timm/*").output
    names = [line.split()[1] for line in table.splitlines() if line.startswith("│")]
    assert "timm/seresnet50" in names and "resnet34" not in names  # timm/skresnet34 is timm's
    assert run("list", "nothing*").exit_code == 1


def test_diff_says_what_changed_and_what_it_costs():
    result = json.loads(run("diff", "resnet34", "plain34", "--json").output)
    assert result["totals"]["params"][2] == 21623848 - 21797672
    changes = [c for stage in result["stages"] for c in stage["changes"]]
    assert "shortcuts projection, 3 x identity -> 4 x none" in changes
    tv = json.loads(run("diff", "resnet50", "torchvision/resnet50", "--json").output)
    assert any("stride on conv1 (1x1) -> conv2 (3x3)" in c for s in tv["stages"] for c in s["changes"])
    assert tv["totals"]["params"][2] == 0 and tv["totals"]["flops"][2] > 0
    assert "zero_pad" in run("diff", "resnet34_A", "resnet34_C").output


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_a_console_that_cannot_encode_gets_ascii(encoding, tmp_path):
    import os
    import subprocess
    import sys

    bad = tmp_path / "bad.res"
    bad.write_text("network n {\n  input 3x32x32\n  classes 1\u04350\n}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    for args in (["summary", "resnet20"], ["check", "resnet34"], ["check", str(bad)],
                 ["diff", "resnet34", "plain34"], ["list", "timm/*"]):
        done = subprocess.run([sys.executable, "-m", "resdsl", *args], capture_output=True,
                              env=env)
        assert done.returncode in (0, 1), (args, done.stderr)
        assert b"internal error" not in done.stderr and b"Traceback" not in done.stderr
        done.stdout.decode(encoding)  # everything it wrote is in the console's encoding
    summary = subprocess.run([sys.executable, "-m", "resdsl", "summary", "resnet20"],
                             capture_output=True, env=env).stdout.decode(encoding)
    assert "+-----" in summary and "/3x3, 16\\ x 3" in summary


# ---- FILE:NETWORK ------------------------------------------------------------------------
TWO_NETWORKS = f'import "{SPECS / "cifar.res"}"\nnetwork a = cifar_resnet(n = 1)\nnetwork b = cifar_resnet(n = 2, shortcut = none)\n'


def test_each_spec_argument_may_name_its_network(tmp_path):
    two = tmp_path / "two.res"
    two.write_text(TWO_NETWORKS)
    result = run("summary", "resnet20", f"{two}:b", "--json")
    assert result.exit_code == 0, result.output
    assert [r["network"] for r in json.loads(result.output)] == ["resnet20", "b"]
    checked = run("check", f"{two}:a")
    assert checked.exit_code == 0 and " a: " in checked.output and " b: " not in checked.output
    assert run("build", f"{two}:b", "--ir").exit_code == 0
    assert run("diff", f"{two}:a", f"{two}:b").exit_code == 0
    assert run("summary", two, "--network", "b").exit_code == 0  # --network stays, for one spec


def test_a_network_named_twice_differently_is_a_usage_error(tmp_path):
    two = tmp_path / "two.res"
    two.write_text(TWO_NETWORKS)
    result = run("summary", f"{two}:a", "--network", "b")
    assert result.exit_code == 2 and "names network 'a'" in result.output
    assert run("summary", f"{two}:a", "--network", "a").exit_code == 0


def test_a_file_that_exists_as_given_wins_over_file_network(tmp_path, monkeypatch):
    from resdsl.catalog import split_reference

    monkeypatch.chdir(tmp_path)
    (tmp_path / "two.res").write_text(TWO_NETWORKS)
    (tmp_path / "two.res:a").write_text(TWO_NETWORKS.replace("network a", "network c"))
    assert split_reference("two.res:a") == ("two.res:a", None)
    assert split_reference("two.res:b") == ("two.res", "b")
    # Windows paths: after the drive's colon comes a path, not a network's name.
    assert split_reference(r"C:\specs\r50.res") == (r"C:\specs\r50.res", None)
    assert split_reference(r"C:\specs\r50.res:resnet50_C") == (r"C:\specs\r50.res", "resnet50_C")
    assert split_reference("resnet50") == ("resnet50", None)
    result = run("check", "two.res:a")
    assert result.exit_code == 0 and " c: " in result.output, result.output


def test_summary_shows_the_feature_maps():
    result = run("summary", "torchvision/resnet50", "--features")
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if re.match(r"^│\s+\d ", line)]
    assert [row.split("│")[2].strip() for row in rows] == ["relu", "layer1", "layer2", "layer3", "layer4"]
    assert run("summary", "resnet20", "--features", "--json").exit_code == 2


def test_train_eval_and_export_take_file_network_too(tmp_path):
    two = tmp_path / "two.res"
    two.write_text(TWO_NETWORKS)
    exported = run("export", f"{two}:b", "--to", "pytorch", "--out", tmp_path / "b.py")
    assert exported.exit_code == 0, exported.output
    assert "class B(" in (tmp_path / "b.py").read_text()
    for command in (["train", f"{two}:a"], ["eval", f"{two}:a", tmp_path / "run"]):
        result = run(*command, "--network", "b")  # refused before any training or reading
        assert result.exit_code == 2 and "names network 'a'" in result.output, result.output

def test_an_import_hiding_a_built_in_spec_is_said(tmp_path):
    (tmp_path / "cifar.res").write_text((SPECS / "cifar.res").read_text())
    (tmp_path / "mine.res").write_text('import "cifar.res"\nnetwork r = cifar_resnet(n = 1)\n')
    result = run("check", str(tmp_path / "mine.res"))
    assert result.exit_code == 0
    assert 'note: ' in result.output and 'import "cifar.res" reads the local file' in result.output


def test_draw_says_a_path_with_brackets_as_it_is(tmp_path):
    """rich would read `[red]` in a path as markup and drop it from the line."""
    target = tmp_path / "fig[red]" / "resnet20[b].svg"
    target.parent.mkdir()
    result = run("draw", "resnet20", "--out", target)
    assert result.exit_code == 0 and f"wrote {target}" in result.output
