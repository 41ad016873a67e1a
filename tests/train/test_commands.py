"""`resdsl train`, `eval` and `plot` from the command line, on data the tests generate
in the official formats, with a real compiled spec (ResNet-20)."""

import json

import pytest
from typer.testing import CliRunner

from helpers import SPECS
from resdsl.cli import app

from .train_helpers import make_cifar10, make_idx, make_image_folder

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
    alone = run("eval", out)  # the run folder knows its spec, data and checksum choice
    assert alone.exit_code == 0, alone.output
    assert alone.output.splitlines()[-1] == evaluated.output.splitlines()[-1]

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


def make_unreadable(path, monkeypatch):
    """`path` as a user without the right to read it sees it; returns what restores it.
    Not root: chmod 0. Root reads any folder, so there the system's refusal is simulated:
    every look inside a folder (stat, listing, open) and every open of a file is refused,
    as for a mode-0 path."""
    import builtins
    import errno
    import os

    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0)
        return lambda: path.chmod(mode)  # so that pytest can delete it

    folder = path.is_dir()

    def refused(target) -> bool:
        target = os.path.abspath(os.fspath(target)) if isinstance(target, (str, os.PathLike)) \
            else ""
        return target.startswith(str(path) + os.sep) if folder else target == str(path)

    def deny(real):
        def call(target, *args, **kwargs):
            if refused(target):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(target))
            return real(target, *args, **kwargs)
        return call

    if folder:
        for name in ("stat", "lstat", "listdir", "scandir"):
            monkeypatch.setattr(os, name, deny(getattr(os, name)))
    monkeypatch.setattr(builtins, "open", deny(builtins.open))
    return monkeypatch.undo


@pytest.mark.parametrize("data, unreadable", [
    ("images", "images"),  # an image folder
    ("cifar10", "cifar-10-batches-py"),  # the CIFAR folder
    ("cifar10", "cifar-10-batches-py/data_batch_2"),  # one CIFAR file
    ("fashion-mnist", "fashion-mnist"),  # the IDX folder
    ("fashion-mnist", "fashion-mnist/t10k-labels-idx1-ubyte.gz"),  # one IDX file
])
def test_unreadable_data_is_one_line_naming_the_path(tmp_path, monkeypatch, data, unreadable):
    root = tmp_path / "data"
    make_cifar10(root)
    make_image_folder(root / "images", per_class=2, val_per_class=1)
    make_idx(root / "fashion-mnist")
    restore = make_unreadable(root / unreadable, monkeypatch)
    try:
        chosen = str(root / "images") if data == "images" else data
        result = run("train", SPECS / "resnet20.res", "--data", chosen, "--data-dir", root,
                     "--skip-checksum", "--iterations", 1, "--out", tmp_path / "run")
    finally:
        restore()
    assert result.exit_code == 1, result.output
    line, = result.output.strip().splitlines()
    assert line.startswith(str(root / unreadable)) and "Permission denied" in line, line
    assert not (tmp_path / "run").exists()


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
    (("--device", "tpu"), "resdsl: error: cannot run on device 'tpu'"),
    (("--device", "meta"), "resdsl: error: cannot run on device 'meta'"),
    (("--set", "momentum=-1"), "resdsl: error: recipe cifar10_paper: momentum must be between"),
    (("--set", "crop_padding=100000"), "resdsl: error: recipe cifar10_paper: crop_padding "
                                       "100000 is more than the 32-pixel side"),
    (("--set", "crop_padding=40"), "resdsl: error: recipe cifar10_paper: crop_padding 40 is "
                                   "more than the 32-pixel side"),
    (("--iterations", "0"), "resdsl: error: recipe cifar10_paper: iterations must be at least 1"),
    (("--data", "synthetic:²"), "resdsl: error: 'synthetic:²': write synthetic:N"),
    (("--data", "synthetic:4000000000"), "resdsl: error: 'synthetic:4000000000': "),
    (("--seed", "-3"), "resdsl: error: seed must be between 0 and 2**62"),
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


def test_resume_needs_no_spec_and_extends_the_run(tmp_path):
    out = tmp_path / "run"
    common = ("--data", "synthetic:64", "--batch-size", 16, "--log-every", 2,
              "--checkpoint-every", 2, "--eval-every", 2)
    first = run("train", SPECS / "resnet20.res", *common, "--iterations", 2, "--out", out)
    assert first.exit_code == 0, first.output
    longer = run("train", "--resume", out, "--iterations", 4)
    assert longer.exit_code == 0, longer.output
    assert "resumed with iterations 2 -> 4; recorded in config.json" in longer.output
    again = run("train", SPECS / "resnet20.res", *common, "--iterations", 4, "--resume", out)
    assert again.exit_code == 0, again.output  # the old form: the same flags, the same spec
    changed = run("train", "--resume", out, "--lr", 0.5)
    assert changed.exit_code == 1 and "--lr 0.5 would change this run" in changed.output
    other = run("train", SPECS / "resnet56.res", "--resume", out)
    assert other.exit_code == 1 and "this run trained resnet20, not resnet56" in other.output


def test_train_needs_a_spec_or_a_run(tmp_path):
    assert run("train", "--data", "synthetic:64").exit_code == 2


def test_eval_of_a_lone_checkpoint_needs_the_spec(tmp_path):
    (tmp_path / "lone.pt").write_bytes(b"")
    result = run("eval", tmp_path / "lone.pt")
    assert result.exit_code == 1 and "give the spec too" in result.output
    assert run("eval", "a", "b", "c").exit_code == 2


def test_plot_out_must_be_a_file(tmp_path):
    result = run("plot", tmp_path, "--out", tmp_path)
    assert result.exit_code == 1 and "is a folder: give --out a file name" in result.output


def test_the_command_line_starts_without_torch():
    """The training options are read from TrainOptions at start-up: that must not load
    torch, or `resdsl check` and `summary` would start slowly."""
    import subprocess
    import sys

    from helpers import ROOT

    code = ("import sys, resdsl.cli\n"
            "sys.exit(any(m.split('.')[0] == 'torch' for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def train_resnet20_by_name(tmp_path, monkeypatch):
    """`resdsl train resnet20` (the built-in spec, by name) for 2 iterations: the runner
    and the run folder."""
    monkeypatch.chdir(tmp_path)  # no local file named resnet20 or plain20
    run = tmp_path / "run"
    trained = runner.invoke(app, ["train", "resnet20", "--data", "synthetic:64",
                                  "--set", "iterations=2", "--set", "batch_size=16",
                                  "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    return run


def test_train_and_eval_take_a_built_in_spec_by_name(tmp_path, monkeypatch):
    run = train_resnet20_by_name(tmp_path, monkeypatch)
    evaluated = runner.invoke(app, ["eval", "resnet20", str(run), "--data", "synthetic:64"])
    assert evaluated.exit_code == 0 and "resnet20" in evaluated.output


def test_eval_and_resume_refuse_another_network_than_the_run_trained(tmp_path, monkeypatch):
    run = train_resnet20_by_name(tmp_path, monkeypatch)
    # plain20 has resnet20's parameter names: its weights would load without a word
    for args in (["eval", "plain20", str(run)], ["train", "plain20", "--resume", str(run)]):
        refused = runner.invoke(app, args)
        assert refused.exit_code == 1, refused.output
        assert refused.output.strip() == f"{run / 'config.json'}: error: this run trained " \
            "resnet20, not plain20: give no spec (the one saved here is used), or the spec " \
            "and network it trained"
