"""Grey 28x28 images meet the CIFAR specs: only through --input, which the user types and
every record shows; never a silent resize. On generated IDX files everywhere, and on the
real Fashion-MNIST where Debian's package has installed it (`.ci/run` installs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import SPECS
from resdsl.cli import app
from resdsl.train.datasets import idx

from .train_helpers import make_idx

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    monkeypatch.setattr(idx, "SYSTEM_DIRS", {})  # this machine's own copy stays out of it
    make_idx(tmp_path / "data" / "fashion-mnist")
    return tmp_path / "data"


def test_a_cifar_spec_on_grey_28x28_images_is_refused_with_what_to_type(tiny_fashion):
    result = run("train", SPECS / "resnet20.res", "--data", "fashion-mnist", "--data-dir",
                 tiny_fashion, "--skip-checksum", "--out", tiny_fashion.parent / "run")
    assert result.exit_code == 1
    assert ("network resnet20 takes 3x32x32 inputs but Fashion-MNIST's images are 1x28x28: "
            "pass --input 1x28x28 to build the network for them") in result.output
    assert not (tiny_fashion.parent / "run").exists()  # nothing made, nothing trained


def test_input_builds_the_network_for_the_images_and_every_record_says_so(tiny_fashion):
    out = tiny_fashion.parent / "run"
    result = run("train", "resnet20", "--data", "fashion-mnist", "--data-dir", tiny_fashion,
                 "--skip-checksum", "--input", "1x28x28", "--iterations", 2, "--batch-size", 8,
                 "--out", out)
    assert result.exit_code == 0, result.output
    assert "training resnet20 (1x28x28 inputs)" in result.output
    assert "on Fashion-MNIST (" in result.output and ": 40 training images" in result.output
    assert "done: final Fashion-MNIST test error" in result.output
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["title"] == "Fashion-MNIST" and config["data"]["input"] == [1, 28, 28]
    assert config["origin"]["input"] == [1, 28, 28] and config["options"]["input"] == "1x28x28"
    resumed = run("train", "--resume", out, "--iterations", 3)  # rebuilt as it was trained
    assert resumed.exit_code == 0, resumed.output
    changed = run("train", "--resume", out, "--iterations", 4, "--input", "1x32x32")
    assert changed.exit_code == 1 and "--input 1x32x32 would change this run" in changed.output


@pytest.mark.parametrize("bad", ["28x28", "1x28x28x1", "1x0x28", "1x28xten"])
def test_a_malformed_input_is_one_line(tiny_fashion, bad):
    result = run("train", "resnet20", "--data", "fashion-mnist", "--input", bad)
    assert result.exit_code == 1
    assert f"--input: expected CxHxW such as 1x28x28, got {bad!r}" in result.output


requires_debian = pytest.mark.skipif(
    not DEBIAN.is_dir(), reason="the real Fashion-MNIST is not installed here "
    "(apt-get install dataset-fashion-mnist)")


@requires_debian
@pytest.mark.slow
def test_resnet20_learns_the_real_fashion_mnist(tmp_path):
    """Real images no one here made: 100 steps of the laptop recipe (warmed up, as the
    paper warms up ResNet-110) take the test error far below chance (90%); seeds 0 and 1
    reached 36.8% and 35.6% here."""
    out = tmp_path / "run"
    result = run("train", "resnet20", "--data", "fashion-mnist", "--data-dir", tmp_path,
                 "--input", "1x28x28", "--recipe", "laptop_fig6", "--iterations", 100,
                 "--set", "lr_steps=80", "--batch-size", 64, "--eval-every", 100,
                 "--log-every", 50, "--out", out)
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["source"] == f"{DEBIAN}: a recompressed copy with the official content"
    assert config["data"]["train_images"] == 60000 and config["data"]["eval_images"] == 10000
    final = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    assert final["test_error"] < 0.6  # chance: 0.9
