"""The laptop benchmarks run and compare like with like: the independent trainer's
hand-written ResNet-20 is the spec's network (same weights, same logits), the CPU settings
table has a row per setting, and the independent comparison ends in a verdict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import resdsl
from helpers import BENCH, SPECS

sys.path.insert(0, str(BENCH))

import handwritten  # noqa: E402

DEBIAN = Path("/usr/share/datasets/fashion-mnist")
GUARD = 3600  # s: only a hung process reaches it, never a slow machine


def test_the_hand_written_grey_resnet20_is_the_specs_network():
    compiled = resdsl.compile(resdsl.parse_network(str(SPECS / "resnet20.res"), input=(1, 28, 28)))
    baseline = handwritten.CifarResNet(3, in_channels=1)
    for mine, theirs in zip(compiled.state_dict().values(), baseline.state_dict().values()):
        assert mine.shape == theirs.shape
        theirs.copy_(mine)
    images = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    for mode in (True, False):
        compiled.train(mode), baseline.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(compiled(images), baseline(images), rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # compiles the net for two settings: a minute or two
def test_cpu_settings_has_a_row_per_setting_against_the_hand_written_baseline():
    done = subprocess.run(
        [sys.executable, str(BENCH / "cpu_settings.py"), "--networks", "resnet20", "--sizes",
         "28", "--rounds", "1", "--steps", "1"], capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [row[2] for row in rows] == ["hand-written", "fp32", "cl", "compile", "cl-compile",
                                        "bf16-cl"]
    assert all(float(row[3]) > 0 and float(row[4]) > 0 for row in rows)


@pytest.mark.slow
@pytest.mark.skipif(not DEBIAN.is_dir(), reason="needs the real Fashion-MNIST "
                    "(apt-get install dataset-fashion-mnist)")
def test_the_independent_trainer_ends_in_a_verdict():
    done = subprocess.run(
        [sys.executable, str(BENCH / "independent_trainer.py"), "--seeds", "2",
         "--iterations", "3", "--steps", "2"], capture_output=True, text=True, timeout=GUARD)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith(("agree: the means differ by", "DISAGREE: the means differ by"))
