"""Training in separate processes: SIGKILL then resume is bit-exact; two-rank DDP on gloo."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from train_helpers import make_cifar10
from train_script import run_tiny

from resdsl.train.checkpoint import checkpoint_path, list_checkpoints, load_checkpoint
from resdsl.train.runfolder import read_metrics

SCRIPT = Path(__file__).with_name("train_script.py")
ROOT = Path(__file__).resolve().parents[2]


def environment(**extra: str) -> dict[str, str]:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p),
            "OMP_NUM_THREADS": "1", **extra}


def script(*args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def strip_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in records]


def test_sigkill_then_resume_is_bitwise_identical(tmp_path, one_thread):
    make_cifar10(tmp_path / "data")
    data, whole, cut = str(tmp_path / "data"), tmp_path / "whole", tmp_path / "cut"
    killed = script(str(cut), data, "--slow", "0.3", env=environment())
    expected, expected_model = run_tiny(str(whole), data)  # meanwhile, uninterrupted
    # Wait for the checkpoint of iteration 18 (inside the window logged at 20), then kill
    # once the next line is logged: the resumed run must redo iterations 19 and 20.
    deadline = time.monotonic() + 60
    while not checkpoint_path(cut, 18).exists() or read_metrics(cut)[-1]["iteration"] < 20:
        assert killed.poll() is None and time.monotonic() < deadline, killed.stderr.read()
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    assert not checkpoint_path(cut, 24).exists()  # it really was stopped before then
    resumed, resumed_model = run_tiny(str(cut), data, resume=True)
    assert resumed.final_error == expected.final_error and resumed.iteration == 40
    assert_identical(resumed_model.state_dict(), expected_model.state_dict())
    a, b = load_checkpoint(checkpoint_path(whole, 40)), load_checkpoint(checkpoint_path(cut, 40))
    for part in ("model", "optimizer", "schedule", "data", "window"):
        assert_identical(a[part], b[part])
    assert strip_timing(read_metrics(cut)) == strip_timing(read_metrics(whole))


def assert_identical(a: object, b: object) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    else:
        assert a == b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_ranks(run: Path, data_dir: Path, *args: str, weights: Path | None = None) -> list[dict]:
    """Run train_script.py as ranks 0 and 1 of a gloo group; their results. With
    `weights`, rank r saves its final state_dict to weights.with_suffix(f".{r}.pt")."""
    port = str(free_port())
    ranks = [script(str(run), str(data_dir), *args,
                    *(("--weights", str(rank_weights(weights, rank))) if weights else ()),
                    env=environment(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2",
                                    MASTER_ADDR="127.0.0.1", MASTER_PORT=port))
             for rank in range(2)]
    return [finish(process) for process in ranks]


def rank_weights(weights: Path, rank: int) -> Path:
    return weights.with_suffix(f".{rank}.pt")


def final_weights(weights: Path, rank: int = 0) -> dict:
    return torch.load(rank_weights(weights, rank), weights_only=True)


def test_two_ranks_on_gloo_train_one_run(tmp_path):
    run = tmp_path / "run"
    results = two_ranks(run, tmp_path, "--data", "synthetic:96", "--iterations", "8",
                        weights=tmp_path / "final")
    assert results[0] == results[1] and results[0]["iteration"] == 8
    weights = [final_weights(tmp_path / "final", rank) for rank in range(2)]
    assert_identical(weights[0], weights[1])  # parameters and (synced) BatchNorm statistics
    assert [p.name for p in list_checkpoints(run)] == ["ckpt_000006.pt", "ckpt_000008.pt"]
    assert_identical(load_checkpoint(checkpoint_path(run, 8))["model"], weights[0])
    records = read_metrics(run)
    assert [r["iteration"] for r in records] == [4, 8]  # one writer: no duplicates
    assert sorted(p.name for p in run.iterdir()) == \
        ["checkpoints", "config.json", "curves.png", "metrics.jsonl"]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2


def test_two_ranks_follow_the_single_process_loss(tmp_path):
    """Two gloo ranks splitting the global batch train as one process with that batch:
    the gradients are averaged, so the losses agree up to BatchNorm's per-rank batch
    statistics, and the loss falls in both."""
    two_ranks(tmp_path / "ddp", tmp_path, "--data", "synthetic:96", "--iterations", "24")
    run_tiny(str(tmp_path / "single"), str(tmp_path), data="synthetic:96", iterations=24)
    losses = {name: [r["train_loss"] for r in read_metrics(tmp_path / name) if "train_loss" in r]
              for name in ("ddp", "single")}
    assert len(losses["ddp"]) == len(losses["single"]) == 6
    assert losses["ddp"][-1] < losses["ddp"][0] and losses["single"][-1] < losses["single"][0]
    for ddp, single in zip(losses["ddp"], losses["single"]):
        assert abs(ddp - single) < 0.01 * single


@pytest.mark.slow  # each process compiles the model: about 20 s
def test_two_ranks_train_a_compiled_model_as_an_eager_one(tmp_path):
    """torch.compile around DDP (graphs split at gradient buckets): the ranks stay in
    step, and the losses follow the eager run's up to rounding."""
    common = ("--data", "synthetic:96", "--iterations", "8")
    two_ranks(tmp_path / "eager", tmp_path, *common)
    two_ranks(tmp_path / "compiled", tmp_path, *common, "--compile", weights=tmp_path / "final")
    assert_identical(final_weights(tmp_path / "final", 0), final_weights(tmp_path / "final", 1))
    losses = {name: [r["train_loss"] for r in read_metrics(tmp_path / name)]
              for name in ("eager", "compiled")}
    assert len(losses["compiled"]) == 2
    for compiled, eager in zip(losses["compiled"], losses["eager"]):
        assert abs(compiled - eager) < 1e-3 * eager


def test_two_ranks_resume_exactly(tmp_path):
    """A distributed run that lost its last checkpoint resumes from the one before, and
    ends bit for bit where it ended the first time, with the same metrics."""
    run = tmp_path / "run"
    common = ("--data", "synthetic:96", "--iterations", "12")
    first = two_ranks(run, tmp_path, *common, weights=tmp_path / "first")
    metrics = read_metrics(run)
    checkpoint_path(run, 12).unlink()  # as if killed just before saving iteration 12
    resumed = two_ranks(run, tmp_path, *common, "--resume", weights=tmp_path / "resumed")
    assert first == resumed and resumed[0]["iteration"] == 12
    assert_identical(final_weights(tmp_path / "first"), final_weights(tmp_path / "resumed"))
    assert strip_timing(read_metrics(run)) == strip_timing(metrics)
    assert [p.name for p in list_checkpoints(run)] == ["ckpt_000006.pt", "ckpt_000012.pt"]


def test_nproc_launches_torchrun_from_the_cli(tmp_path):
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "resdsl", "train", str(ROOT / "specs" / "resnet20.res"),
         "--nproc", "2", "--device", "cpu", "--data", "synthetic:32", "--iterations", "2",
         "--batch-size", "8", "--eval-every", "2", "--log-every", "1", "--out", str(run)],
        capture_output=True, text=True, timeout=300, env=environment())
    assert done.returncode == 0, done.stderr
    assert "+ torchrun --standalone --nproc-per-node=2 -m resdsl train" in done.stderr
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2]
    assert [p.name for p in list_checkpoints(run)] == ["ckpt_000002.pt"]


def test_nproc_ranks_that_fail_end_in_one_line_not_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "resdsl", "train", str(ROOT / "specs" / "resnet20.res"),
         "--nproc", "2", "--device", "cpu", "--data", "cifar10", "--data-dir", str(tmp_path),
         "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300,
        env=environment())
    assert done.returncode == 1 and "Traceback" not in done.stderr
    # Each rank that got that far says why; torchrun may stop the other one first.
    assert f"{tmp_path}: error: no CIFAR-10 data here" in done.stderr
    last = done.stderr.rstrip().splitlines()[-1]
    assert re.fullmatch(r"resdsl: error: [12] of 2 training processes failed \(rank [01]: exit 1"
                        r"(, rank 1: exit 1)?\); their messages are above"
                        r"(, then 1 of 2 were stopped \(rank [01]: signal 15\))?", last), last
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("codes, message", [
    ({0: 1, 1: 1}, "2 of 2 training processes failed (rank 0: exit 1, rank 1: exit 1); "
                   "their messages are above"),
    ({0: -15, 1: 1}, "1 of 2 training processes failed (rank 1: exit 1); their messages are "
                     "above, then 1 of 2 were stopped (rank 0: signal 15)"),
    ({0: -9, 1: -9}, "2 of 2 training processes were stopped (rank 0: signal 9, rank 1: "
                     "signal 9)"),
])
def test_launch_failures_are_summed_up_in_one_line(codes, message):
    from types import SimpleNamespace

    from resdsl.cli import _launch_failure

    failures = {rank: SimpleNamespace(exitcode=code) for rank, code in codes.items()}
    assert _launch_failure(failures, 2) == message
