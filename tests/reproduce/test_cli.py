"""`resdsl reproduce` on the command line: --list, --report, and bad input as one line."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from resdsl.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["reproduce", *map(str, args)])


def test_list_names_each_experiment_what_it_reproduces_and_its_runs():
    result = run("--list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for name, runs in (("fig6", 10), ("table6", 10), ("highway", 12)):
        row = next(line for line in lines if f" {name} " in line)
        assert f" {runs} " in row
    assert "Figure 6" in result.output and "Table 6" in result.output


@pytest.mark.parametrize("args, message", [
    (("fig7",), "resdsl: error: no experiment named 'fig7' (did you mean 'fig6'?)"),
    (("fig6", "--only", "resnet20,resnet21"),
     "resdsl: error: --only resnet21: experiment fig6 has no net 'resnet21'"),
    (("fig6", "--seeds", "0"), "resdsl: error: --seeds must be between 1 and 100, got 0"),
    (("fig6", "--per-device", "0"), "resdsl: error: --per-device must be between 1 and 64"),
    (("fig6", "--gpus", "64"), "resdsl: error: --gpus 64 asks for 64 GPUs, but this machine "
                               "has"),
    (("fig6", "--set", "momentun=0.5"), "resdsl: error: not a recipe field: momentun"),
    (("fig6", "--precision", "fp16"), "resdsl: error: precision must be one of fp32, bf16"),
])
def test_bad_input_is_one_line_and_exit_1_with_nothing_started(tmp_path, args, message):
    result = run(*args, "--out", tmp_path / "runs")
    assert result.exit_code == 1, result.output
    assert result.output.startswith(message) and len(result.output.splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_no_experiment_is_a_usage_error():
    result = run()
    assert result.exit_code == 2 and "name an experiment" in result.output


def test_report_from_nothing_has_every_row_not_started(tmp_path):
    result = run("table6", "--report", "--out", tmp_path, "--iterations", 10)
    assert result.exit_code == 0, result.output
    for label in ("ResNet-20", "ResNet-32", "ResNet-44", "ResNet-56", "ResNet-110",
                  "ResNet-1202"):
        assert f"| {label} |" in (tmp_path / "report.md").read_text()
    assert "0/5" in result.output and "0/10" in result.output  # ResNet-110: 5 seeds
    assert "wrote report.png, report.md, report.json" in result.output


def test_an_out_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("")
    result = run("fig6", "--only", "resnet20", "--iterations", 2, "--out", tmp_path / "taken")
    assert result.exit_code == 1
    assert result.output.startswith(f"{tmp_path / 'taken'}: error: cannot make the "
                                    "reproduction's folder")
    assert len(result.output.splitlines()) == 1
