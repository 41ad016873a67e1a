"""The benchmark scripts in bench/ run, and compare like with like: each hand-written
baseline is the same network as its spec, so the same weights give the same logits."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from helpers import BENCH, GUARD_SECONDS

sys.path.insert(0, str(BENCH))

import train_throughput  # noqa: E402


@pytest.mark.parametrize("name", ["resnet20", "resnet56", "resnet50"])
def test_the_baseline_is_the_same_network_as_the_spec(name):
    torch.manual_seed(0)
    compiled, baseline = train_throughput.make_pair(name)
    shapes = [tuple(t.shape) for t in compiled.state_dict().values()]
    assert shapes == [tuple(t.shape) for t in baseline.state_dict().values()]
    _, size, _ = train_throughput.NETWORKS[name]
    images = torch.randn(2, 3, size, size)
    for mode in (True, False):  # batch statistics, then running statistics
        compiled.train(mode), baseline.train(mode)
        with torch.no_grad():
            torch.testing.assert_close(compiled(images), baseline(images), rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # about 15 s: two models, a few steps each, then the trainer
def test_train_throughput_runs_and_reports_a_ratio():
    done = subprocess.run(
        [sys.executable, str(BENCH / "train_throughput.py"), "--device", "cpu",
         "--networks", "resnet20", "--modes", "fp32", "--steps", "1", "--rounds", "2"],
        capture_output=True, text=True, timeout=GUARD_SECONDS)
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()[1:3]
    assert header.split()[:3] == ["network", "mode", "batch"]
    values = dict(zip(["network", "mode", "batch", "resdsl", "hand", "ratio", "spread",
                       "trainer", "trainer_ratio"], row.split()))
    assert values["network"] == "resnet20" and values["batch"] == "128"
    assert float(values["resdsl"]) > 0 and float(values["trainer"]) > 0
    low, high = map(float, values["spread"].split("-"))
    assert 0 < low <= float(values["ratio"]) <= high  # the median of the rounds' ratios


def test_the_gpu_table_layout_renders_every_column():
    """The GPU-only columns cannot run here; their formatting can, so a GPU run cannot
    fail on a misnamed key after minutes of measuring."""
    row = {"network": "resnet110", "mode": "bf16-cl-compile", "batch": 128, "resdsl": 30000.0,
           "hand-written": 29500.0, "ratio": 1.017, "spread": (0.99, 1.03), "peak_gib": 1.5,
           "trainer": 28000.0, "trainer_peak_gib": 1.7, "schedule": "4.9 m"}
    for trainer in (True, False):
        columns = train_throughput.columns(trainer, cpu=False)
        cells = [show(row) for _, _, show in columns]
        assert cells[-2:] == ["1.70" if trainer else "1.50", "4.9 m"]
        assert [title for title, _, _ in columns][-2:] == ["peak GiB", "64k iters"]


@pytest.mark.slow  # two short trainings and three reproductions of one net: about 20 s
def test_reproduce_overhead_runs_and_reports_its_ratios():
    done = subprocess.run(
        [sys.executable, str(BENCH / "reproduce_overhead.py"), "--only", "resnet20",
         "--iterations", "1", "--rounds", "1"], capture_output=True, text=True, timeout=GUARD_SECONDS)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[1].split()[:2] == ["round", "order"] and lines[2].split()[0] == "0"
    assert lines[3].startswith("median paired overhead (reproduce - direct) / direct: ")
    assert lines[4].startswith("median own overhead (reproduce - its runs) / its runs: ")
