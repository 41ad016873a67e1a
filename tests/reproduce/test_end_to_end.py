"""A real reproduction on tiny CIFAR-10 data in the official format: killed while a run
is in progress, then run again. Finished runs are skipped, the interrupted one resumes
from its last checkpoint (not from the start), and the report has every row. A run that
crashes does not stop the others; it is reported at the end, and the exit status is 1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from resdsl.cli import app
from resdsl.train.runfolder import checkpoint_path, list_checkpoints, read_metrics

from helpers import GUARD_SECONDS
from train.train_helpers import environment, make_cifar10
from .reproduce_helpers import fake_run, planned

ITERATIONS, EVERY = 40, 4


def reproduce_args(data, out, *extra):
    return ["reproduce", "fig6", "--only", "plain20,resnet20", "--data-dir", str(data),
            "--skip-checksum", "--iterations", str(ITERATIONS), "--batch-size", "10",
            "--checkpoint-every", str(EVERY), "--log-every", str(EVERY),
            "--eval-every", str(ITERATIONS), "--out", str(out), *extra]


def wait_for(condition, process, seconds=GUARD_SECONDS):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def holder_pid(run_dir) -> int:
    """The process training in the folder, as its lock file names it."""
    return int((run_dir / ".lock").read_text().split()[1])


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow  # three training processes and two reproductions: about 30 s
def test_a_killed_reproduction_skips_finished_runs_and_resumes_the_interrupted_one(tmp_path):
    make_cifar10(tmp_path / "data")
    out = tmp_path / "runs"
    plain, resnet = out / "plain20-seed0", out / "resnet20-seed0"
    command = [sys.executable, "-m", "resdsl", *reproduce_args(tmp_path / "data", out)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=environment())
    # plain20 has finished once resnet20, next in the queue, has saved its first checkpoint.
    wait_for(lambda: checkpoint_path(resnet, EVERY).exists(), first)
    first.send_signal(signal.SIGKILL)
    first.communicate()
    trainer = holder_pid(resnet)
    deadline = time.monotonic() + GUARD_SECONDS  # a backstop: see `reached` below
    while not gone(trainer):  # the run dies with the reproduction: nothing trains on unseen
        assert time.monotonic() < deadline, f"run process {trainer} outlived the reproduction"
        time.sleep(0.02)
    reached = int(list_checkpoints(resnet)[-1].stem.split("_")[1])
    assert EVERY <= reached < ITERATIONS, "killed too late: the run had finished"
    run_id = json.loads((resnet / "config.json").read_text())["run_id"]
    finished = checkpoint_path(plain, ITERATIONS).stat().st_mtime_ns

    again = subprocess.run(command, capture_output=True, text=True, env=environment(),
                           timeout=GUARD_SECONDS)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"skip    plain20-seed0: finished ({ITERATIONS}/{ITERATIONS})" in again.stdout
    assert f"resume  resnet20-seed0: from iteration {reached};" in again.stdout
    assert checkpoint_path(plain, ITERATIONS).stat().st_mtime_ns == finished  # not retrained
    # Resumed in place: the same run (a restart would have a new id), from its checkpoint.
    assert json.loads((resnet / "config.json").read_text())["run_id"] == run_id
    log = (out / "logs" / "resnet20-seed0.log").read_text()
    assert f"resuming from {checkpoint_path(resnet, reached)} at iteration {reached}" in log
    iterations = [r["iteration"] for r in read_metrics(resnet)]
    assert iterations == sorted(set(iterations)) and iterations[-1] == ITERATIONS
    assert iterations[0] == EVERY  # what it logged before the kill is kept
    report = (out / "report.md").read_text()
    for label in ("plain-20", "ResNet-20"):
        row = next(line for line in report.splitlines() if line.startswith(f"| {label} |"))
        assert f"| 1/1 | {ITERATIONS}/{ITERATIONS} |" in row
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [(h["run"], h["action"], h["from"], h["exit"]) for h in history] == [
        ("plain20-seed0", "start", 0, 0), ("resnet20-seed0", "resume", reached, 0)]
    assert (out / "report.png").stat().st_size > 0


@pytest.mark.slow  # two training processes at once: about 15 s
def test_a_crashing_run_does_not_stop_the_others_and_is_reported_at_the_end(tmp_path,
                                                                            monkeypatch):
    make_cifar10(tmp_path / "data")
    out = tmp_path / "runs"
    _, broken = planned(out, only=("plain20", "resnet20"), iterations=ITERATIONS)
    fake_run(broken, checkpoints=[EVERY])  # a run folder whose config.json holds no spec
    for name, value in environment().items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, reproduce_args(tmp_path / "data", out,
                                                    "--per-device", "2"))
    assert result.exit_code == 1, result.output
    assert "done    plain20-seed0" in result.output
    assert "FAILED  resnet20-seed0" in result.output
    assert "error: 1 of 2 runs failed:" in result.output
    assert "has no usable recipe, options and spec" in result.output
    assert "(log " in result.output and "Traceback" not in result.output
    assert checkpoint_path(out / "plain20-seed0", ITERATIONS).exists()
    assert "| plain-20 |" in (out / "report.md").read_text()
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert sorted(h["slot"][1] for h in history) == [0, 1]  # --per-device 2: both at once


@pytest.mark.slow  # one training process: about 10 s
def test_ctrl_c_stops_the_runs_where_they_stand_and_saves_them(tmp_path):
    make_cifar10(tmp_path / "data")
    out = tmp_path / "runs"
    run = out / "resnet20-seed0"
    command = [sys.executable, "-m", "resdsl", "reproduce", "fig6", "--only", "resnet20",
               "--data-dir", str(tmp_path / "data"), "--skip-checksum", "--iterations", "5000",
               "--batch-size", "10", "--log-every", "2", "--out", str(out)]
    parent = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=environment())
    wait_for(lambda: read_metrics(run) and read_metrics(run)[-1]["iteration"] >= 4, parent)
    parent.send_signal(signal.SIGINT)  # as a Ctrl-C at the terminal: to the reproduction
    stdout, stderr = parent.communicate(timeout=GUARD_SECONDS)
    assert parent.returncode == 130, stdout + stderr
    assert "stopped resnet20-seed0: after" in stdout and "it saved where it stood" in stdout
    assert "the same command resumes them" in stdout and "FAILED" not in stdout + stderr
    saved = list_checkpoints(run)
    assert saved and int(saved[-1].stem.split("_")[1]) >= 4  # a checkpoint where it stood
