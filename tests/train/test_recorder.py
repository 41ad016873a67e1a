"""What a run writes when the disk fills up or the folder is read-only: one line naming the
file and what to do, the last good checkpoint intact and usable, no temporary files."""

from __future__ import annotations

import builtins
import errno
import os
from pathlib import Path

import pytest

from resdsl import atomic
from resdsl.train import recorder as recorder_module
from resdsl.train.checkpoint import load_checkpoint
from resdsl.train.runfolder import checkpoint_path, list_checkpoints
from resdsl.train.errors import RunFolderError
from resdsl.train.held_out import evaluate_checkpoint
from resdsl.train.progress import RecordingReporter

from .train_helpers import (FullDisk, same_weights, tiny_model, tiny_recipe,
                            train_resnet20, train_tiny as run)

pytestmark = pytest.mark.usefixtures("one_thread")
SYNTHETIC = dict(data="synthetic:64")


class FillDiskAt(RecordingReporter):
    """From the log of iteration `at` on, every atomic write finds the disk full."""

    def __init__(self, monkeypatch, at: int):
        super().__init__()
        self.monkeypatch, self.at = monkeypatch, at

    def log(self, metrics):
        super().log(metrics)
        if metrics["iteration"] == self.at:
            real = builtins.open
            self.monkeypatch.setattr(atomic, "open", lambda *a, **k: FullDisk(real(*a, **k)),
                                     raising=False)


def test_a_full_disk_at_a_checkpoint_stops_the_run_and_the_last_one_resumes(tmp_path, monkeypatch):
    whole, whole_model, _ = run(tmp_path, tmp_path, "whole", **SYNTHETIC)
    with pytest.raises(RunFolderError) as error:
        run(tmp_path, tmp_path, **SYNTHETIC, reporter=FillDiskAt(monkeypatch, 15))
    folder = tmp_path / "run"
    message = str(error.value)
    assert message == (f"{folder}/checkpoints/ckpt_000020.pt: error: cannot write a checkpoint "
                       "(No space left on device): the disk is full: free some space; then "
                       f"continue with --resume {folder} (the last good checkpoint, "
                       f"{checkpoint_path(folder, 10)}, is intact)")
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["ckpt_000010.pt"]
    assert not [p for p in folder.rglob("*.tmp")]
    monkeypatch.undo()  # space freed
    again, model, _ = run(tmp_path, tmp_path, **SYNTHETIC, model=tiny_model(seed=2),
                          resume=str(folder))
    assert again.final_error == whole.final_error
    assert same_weights(model.state_dict(), whole_model.state_dict())


def test_a_full_disk_while_logging_names_the_metrics_file(tmp_path, monkeypatch):
    def full(path, text):
        with open(path, "a") as file:
            file.write(text[:7])  # a partial line, as a real full disk leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recorder_module, "_append", full)
    with pytest.raises(RunFolderError, match="metrics.jsonl: error: cannot write metrics.jsonl "
                                             "\\(No space left on device\\)") as error:
        run(tmp_path, tmp_path, **SYNTHETIC)
    assert "no checkpoint had been written yet" in str(error.value)
    monkeypatch.undo()
    again, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, resume=str(tmp_path / "run"))
    assert again.iteration == 30  # the partial line was dropped, the run started again


@pytest.fixture
def read_only(monkeypatch):
    """Make writes under a folder fail as on a read-only file system (tests run as root:
    chmod would not stop them)."""
    def under(folder: Path):
        def refuse(path) -> None:
            if str(Path(path).resolve()).startswith(str(folder.resolve())):
                raise OSError(errno.EROFS, "Read-only file system", str(path))

        real_open, real_os_open = builtins.open, os.open

        def guarded_open(file, mode="r", *args, **kwargs):
            if any(flag in mode for flag in "wax+"):
                refuse(file)
            return real_open(file, mode, *args, **kwargs)

        def guarded_os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                refuse(path)
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", guarded_open)
        monkeypatch.setattr(atomic, "open", guarded_open, raising=False)
        monkeypatch.setattr(os, "open", guarded_os_open)
        for name in ("replace", "rename", "unlink", "remove", "mkdir"):
            real = getattr(os, name)
            monkeypatch.setattr(os, name, lambda p, *a, _real=real, **k: (refuse(p), _real(p, *a, **k))[1])
    return under


def test_a_read_only_run_folder_cannot_be_resumed_and_says_so(tmp_path, read_only):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    read_only(first.run_dir)
    with pytest.raises(RunFolderError) as error:
        run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir),
            changes={"iterations": 20})
    assert str(error.value) == (f"{first.run_dir}/.lock: error: cannot write the run's lock file "
                                "(Read-only file system): the folder is read-only here: copy the "
                                "run somewhere writable (cp -r); nothing was changed")


def test_a_read_only_run_folder_can_be_evaluated(tmp_path, read_only):
    result = train_resnet20(tmp_path)
    result.checkpoint.write_bytes(b"")  # the newest is corrupt: it cannot be set aside
    stale = result.run_dir / "checkpoints" / ".ckpt_000006.pt.1.ab.tmp"
    stale.write_bytes(b"half")  # nor can this be cleaned up
    read_only(result.run_dir)
    notes: list[str] = []
    evaluation = evaluate_checkpoint(None, result.run_dir, None, {}, notes.append)
    assert evaluation.checkpoint == checkpoint_path(result.run_dir, 2)
    assert any("could not be renamed: Read-only file system" in n for n in notes)
    assert stale.exists() and list_checkpoints(result.run_dir)[-1] == result.checkpoint


def test_tensorboard_files_hold_the_metrics_and_a_resume_does_not_repeat_steps(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package is not installed "
                                              "(pip install 'resdsl[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC)
    checkpoint_path(first.run_dir, 30).unlink()  # killed before its last checkpoint
    run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir))
    events = EventAccumulator(str(first.run_dir))
    events.Reload()
    assert {"lr", "train_loss", "train_error", "images_per_s", "test_error"} <= \
        set(events.Tags()["scalars"])
    steps = [event.step for event in events.Scalars("train_loss")]
    assert steps == [5, 10, 15, 20, 25, 30]  # 25 and 30 logged twice, shown once
    assert [e.step for e in events.Scalars("test_error")] == [10, 20, 30]


def test_without_tensorboard_a_run_says_so_once(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    result, _, reporter = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=5))
    notes = [m for m in reporter.messages if "tensorboard" in m.lower()]
    assert len(notes) == 1 and "tensorboard is not installed" in notes[0]
    assert not list(result.run_dir.glob("events.out.tfevents.*"))


def test_metrics_csv_is_trimmed_on_resume_like_metrics_jsonl(tmp_path):
    from resdsl.train.runfolder import read_metrics, read_metrics_csv

    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC)
    checkpoint_path(first.run_dir, 30).unlink()
    with open(first.run_dir / "metrics.csv", "a") as file:
        file.write("31,0.1,2.3")  # a partial last row, as a kill leaves
    assert [r["iteration"] for r in read_metrics_csv(first.run_dir)][-1] == "30"
    run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir))
    rows = read_metrics_csv(first.run_dir)
    assert [int(r["iteration"]) for r in rows] == [r["iteration"] for r in
                                                   read_metrics(first.run_dir)]
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15, 20, 25, 30]
    assert load_checkpoint(checkpoint_path(first.run_dir, 30))["iteration"] == 30
