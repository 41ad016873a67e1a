"""Each run's command line and environment, and what its log says when it fails."""

from __future__ import annotations

import sys

from resdsl.reproduce.command import flags, run_environment, train_command
from resdsl.reproduce.options import ReproduceOptions
from resdsl.reproduce.processes import last_error
from resdsl.reproduce.reproduction import download_once
from resdsl.reproduce.scheduler import Slot
from resdsl.reproduce.state import Action
from resdsl.train.datasets import cifar
from train.train_helpers import make_cifar10, make_tar

from .reproduce_helpers import planned

OPTIONS = ReproduceOptions("fig6", train={"data_dir": "d", "skip_checksum": True,
                                          "compile": False, "iterations": 6},
                           sets=("lr_steps=3,5",))


def test_a_new_run_is_trained_from_its_spec_into_its_folder_with_its_seed(tmp_path):
    job, = planned(tmp_path, only=("resnet20",))
    argv = train_command(job, Action.START, Slot(None, 0), OPTIONS)
    assert argv[:3] == [sys.executable, "-m", "resdsl"]
    assert argv[3:] == ["train", str(job.spec_path), "--out", str(job.run_dir), "--seed", "0",
                        "--data-dir", "d", "--skip-checksum", "--no-compile",
                        "--iterations", "6", "--data", "cifar10", "--set", "lr_steps=3,5"]
    assert train_command(job, Action.RESTART, Slot(None, 0), OPTIONS) == argv


def test_a_laptop_run_trains_on_its_experiments_data_built_for_its_images(tmp_path):
    job = planned(tmp_path, "fig6-cpu", only=("resnet20",))[0]
    argv = train_command(job, Action.START, Slot(None, 0), OPTIONS)
    assert argv[argv.index("--data") + 1] == "fashion-mnist"
    assert argv[argv.index("--input") + 1] == "1x28x28"
    assert job.params == 269_722 - 2 * 16 * 9  # resnet20 with a grey first conv: 1, not 3


def test_an_interrupted_run_is_resumed_with_its_own_settings_to_the_planned_total(tmp_path):
    job, = planned(tmp_path, only=("resnet20",), iterations=9)
    argv = train_command(job, Action.RESUME, Slot(None, 0), OPTIONS)
    assert argv[3:6] == ["train", "--resume", str(job.run_dir)]
    assert "--seed" not in argv and "--out" not in argv
    assert argv[argv.index("--iterations") + 1] == "9"  # the plan's, not the option's 6


def test_a_gpu_slot_sees_its_gpu_alone_and_calls_it_cuda(tmp_path):
    job, = planned(tmp_path, only=("resnet20",))
    argv = train_command(job, Action.START, Slot(1, 0), OPTIONS)
    assert argv[argv.index("--device") + 1] == "cuda"
    assert run_environment(Slot(1, 0), 1, {})["CUDA_VISIBLE_DEVICES"] == "1"
    # The user's own selection holds: our GPU 1 is the second of those they made visible.
    assert run_environment(Slot(1, 0), 1, {"CUDA_VISIBLE_DEVICES": "4,6"})[
        "CUDA_VISIBLE_DEVICES"] == "6"


def test_runs_sharing_the_cpu_share_its_threads_unless_the_user_chose():
    assert "OMP_NUM_THREADS" not in run_environment(Slot(None, 0), 1, {})
    shared = run_environment(Slot(None, 0), 2, {})["OMP_NUM_THREADS"]
    assert int(shared) >= 1
    assert run_environment(Slot(None, 0), 2, {"OMP_NUM_THREADS": "7"})["OMP_NUM_THREADS"] == "7"


def test_flags_are_written_as_train_takes_them():
    assert flags({"batch_size": 8, "channels_last": True, "download": False}) == [
        "--batch-size", "8", "--channels-last", "--no-download"]


def test_a_failed_runs_reason_is_the_last_error_line_of_its_latest_attempt(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("=== first attempt\nresdsl: error: old trouble\n"
                   "=== second attempt\ntraining resnet20 ...\n"
                   "data/cifar-10-batches-py: error: no such folder\n[done]\n")
    assert last_error(log) == "data/cifar-10-batches-py: error: no such folder"
    log.write_text("=== attempt\nTraceback...\nRuntimeError: boom\n")
    assert last_error(log) == "RuntimeError: boom"
    assert last_error(tmp_path / "missing.log") == ""


def test_download_happens_once_here_before_the_runs_start(tmp_path, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    make_tar(make_cifar10(tmp_path / "made")[0], server / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar, "BASE_URL", server.as_uri() + "/")
    archive = tmp_path / "data" / "cifar-10-python.tar.gz"
    download_once("cifar10", str(tmp_path / "data"))
    fetched = archive.stat().st_mtime_ns
    download_once("cifar10", str(tmp_path / "data"))  # there already: not fetched again
    assert archive.stat().st_mtime_ns == fetched
    download_once("synthetic:64", str(tmp_path / "none"))  # nothing to download
    assert not (tmp_path / "none").exists()
