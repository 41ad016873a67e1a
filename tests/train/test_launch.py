"""`--nproc`: what every process would refuse is refused once, then torchrun runs in this
process, and failed ranks end in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from helpers import GUARD_SECONDS, SPECS
from resdsl.train.runfolder import list_checkpoints
from resdsl.train.errors import OptionsError
from resdsl.train.launch import check_launch, describe_failure, torchrun_args
from resdsl.train.options import TrainOptions
from resdsl.train.runfolder import read_metrics

from .train_helpers import environment, tiny_recipe


def test_torchrun_gets_the_command_line_without_nproc():
    argv = ["train", "s.res", "--nproc", "2", "--lr", "0.1", "--nproc=3", "--out", "x"]
    assert torchrun_args(argv, 2) == ["--standalone", "--nproc-per-node=2", "-m", "resdsl",
                                      "train", "s.res", "--lr", "0.1", "--out", "x"]


@pytest.mark.parametrize("processes, options, message", [
    (0, {}, "--nproc must be at least 1, got 0"),
    (3, {}, "batch size 16 does not split evenly over 3 processes"),
    (2, {"sync_bn": True}, "--sync-bn needs CUDA"),
    (2, {"device": "meta"}, "cannot run on device 'meta'"),
])
def test_what_every_rank_would_refuse_is_refused_once(processes, options, message):
    with pytest.raises(OptionsError, match=message):
        check_launch(TrainOptions(**{"device": "cpu", **options}),
                     tiny_recipe(batch_size=16), processes)


def test_nproc_launches_torchrun_from_the_cli(tmp_path):
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "resdsl", "train", str(SPECS / "resnet20.res"),
         "--nproc", "2", "--device", "cpu", "--data", "synthetic:32", "--iterations", "2",
         "--batch-size", "8", "--eval-every", "2", "--log-every", "1", "--out", str(run)],
        capture_output=True, text=True, timeout=GUARD_SECONDS, env=environment())
    assert done.returncode == 0, done.stderr
    assert "+ torchrun --standalone --nproc-per-node=2 -m resdsl train" in done.stderr
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    assert [r["iteration"] for r in read_metrics(run)] == [1, 2]
    assert [p.name for p in list_checkpoints(run)] == ["ckpt_000002.pt"]


def test_nproc_ranks_that_fail_end_in_one_line_not_a_traceback(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "resdsl", "train", str(SPECS / "resnet20.res"),
         "--nproc", "2", "--device", "cpu", "--data", "cifar10", "--data-dir", str(tmp_path),
         "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=GUARD_SECONDS,
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

    failures = {rank: SimpleNamespace(exitcode=code) for rank, code in codes.items()}
    assert describe_failure(failures, 2) == message
