"""Several processes (torchrun's environment, gloo on the CPU): two ranks train one run,
follow the single-process loss, resume exactly; and the device each process takes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from resdsl.train.checkpoint import load_checkpoint
from resdsl.train.runfolder import checkpoint_path, list_checkpoints
from resdsl.train.distributed import pick_device
from resdsl.train.errors import OptionsError
from resdsl.train.runfolder import read_metrics

from .train_helpers import assert_identical, environment, finish, script, strip_timing
from .train_script import run_tiny


@pytest.mark.parametrize("name, message", [
    ("meta", "cannot run on device 'meta'"), ("tpu", "cannot run on device 'tpu'"),
    ("cuda:x", "cannot run on device 'cuda:x'"), ("", "cannot run on device ''"),
])
def test_devices_the_trainer_cannot_use_are_refused(name, message):
    with pytest.raises(OptionsError, match=message):
        pick_device(name)


def test_cpu_and_auto():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks a machine without CUDA")
def test_cuda_without_a_gpu_says_what_to_use():
    with pytest.raises(OptionsError, match="sees no CUDA GPU: use --device cpu"):
        pick_device("cuda:0")


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
    files = sorted(p.name for p in run.iterdir() if not p.name.startswith("events.out."))
    assert files == [".lock", "checkpoints", "config.json", "curves.png", "metrics.csv",
                     "metrics.jsonl"]
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
