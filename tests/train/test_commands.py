"""`resdsl train`, `eval` and `plot` from the command line, on data the tests generate
in the official formats, with a real compiled spec (ResNet-20)."""

import json
from pathlib import Path

import pytest
from train_helpers import make_cifar10, make_image_folder
from typer.testing import CliRunner

from resdsl.cli import app

SPECS = Path(__file__).resolve().parents[2] / "specs"
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_train_eval_and_plot_on_official_format_cifar(tmp_path):
    make_cifar10(tmp_path / "data")
    out = tmp_path / "run"
    trained = run("train", SPECS / "resnet20.res", "--data", "cifar10", "--data-dir",
                  tmp_path / "data", "--skip-checksum", "--iterations", 4, "--batch-size", 20,
                  "--log-every", 2, "--checkpoint-every", 2, "--out", out, "--set", "lr_steps=2,3")
    assert trained.exit_code == 0, trained.output
    assert "checksum" in trained.output  # the warning for non-official files
    assert "recipe cifar10_paper:" in trained.output and "lr_steps 2,3" in trained.output
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["iterations"] == 4 and config["recipe"]["lr_steps"] == [2, 3]
    assert (out / "curves.png").stat().st_size > 0
    lines = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert lines[-1]["iteration"] == 4 and "test_error" in lines[-1]

    evaluated = run("eval", SPECS / "resnet20.res", out, "--data-dir", tmp_path / "data",
                    "--skip-checksum")
    assert evaluated.exit_code == 0, evaluated.output
    assert f"{100 * lines[-1]['test_error']:.2f}%" in evaluated.output

    figure = tmp_path / "fig6.png"
    plotted = run("plot", out, out, "--out", figure)
    assert plotted.exit_code == 0 and figure.stat().st_size > 0


def test_official_checksums_are_enforced_by_default(tmp_path):
    make_cifar10(tmp_path / "data")
    result = run("train", SPECS / "resnet20.res", "--data-dir", tmp_path / "data",
                 "--iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "data_batch_1" in result.output and "--skip-checksum" in result.output


def test_missing_data_says_where_it_looked_and_what_to_do(tmp_path):
    result = run("train", SPECS / "resnet20.res", "--data-dir", tmp_path / "nothing",
                 "--iterations", 1, "--out", tmp_path / "run")
    assert result.exit_code == 1
    assert "--download" in result.output
    assert "Traceback" not in result.output


def test_image_folder_through_the_cli(tmp_path):
    make_image_folder(tmp_path / "images", per_class=4, val_per_class=2)
    spec = tmp_path / "three.res"
    spec.write_text(f'import "{SPECS / "resnet20.res"}"\nnetwork three = resnet20 {{ classes 3 }}\n')
    result = run("train", spec, "--data", tmp_path / "images", "--iterations", 2,
                 "--batch-size", 6, "--workers", 0, "--out", tmp_path / "run", "--log-every", 1)
    assert result.exit_code == 0, result.output
    assert "val err" in result.output


def test_recipe_overrides_are_validated(tmp_path):
    result = run("train", SPECS / "resnet20.res", "--data", "synthetic:64", "--set",
                 "momentun=0.5", "--out", tmp_path / "run")
    assert result.exit_code == 1 and "momentun" in result.output
    assert run("train", SPECS / "resnet20.res", "--set", "nonsense").exit_code == 2


@pytest.mark.parametrize("flags, message", [
    (("--sync-bn", "--device", "cpu"), "resdsl: error: --sync-bn needs CUDA GPUs"),
    (("--precision", "fp16"), "resdsl: error: precision must be one of fp32, bf16"),
    (("--device", "tpu"), "resdsl: error: unknown device 'tpu'"),
    # --nproc: what every process would refuse is refused once, before any starts
    (("--nproc", "3", "--device", "cpu"), "resdsl: error: batch size 128 does not split"),
    (("--nproc", "2", "--sync-bn", "--device", "cpu"), "resdsl: error: --sync-bn needs CUDA"),
    (("--nproc", "0", "--device", "cpu"), "resdsl: error: --nproc must be at least 1"),
])
def test_option_errors_are_one_line_and_leave_nothing_behind(tmp_path, flags, message):
    result = run("train", SPECS / "resnet20.res", "--data", "synthetic:64", *flags,
                 "--out", tmp_path / "run")
    assert result.exit_code == 1 and result.output.startswith(message)
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
