"""Checkpoints: atomic writes, pruning, integrity checks, fallback, and files made to hurt:
empty, the wrong shape, nested too deep, from another run, holding a payload."""

from __future__ import annotations

import errno
import os

import pytest
import torch

from resdsl import atomic
from resdsl.atomic import atomic_write
from resdsl.train.checkpoint import (FORMAT, ForeignCheckpointError, NoCheckpointError,
                                     digest, load_checkpoint, load_latest, save_checkpoint)
from resdsl.train.runfolder import checkpoint_path, list_checkpoints
from resdsl.train.errors import CheckpointError

from .train_helpers import FullDisk


def state(iteration: int) -> dict:
    torch.manual_seed(iteration)
    return {"iteration": iteration, "model": {"w": torch.randn(64, 64), "n": torch.tensor(3)},
            "schedule": {"warming_up": True}, "steps": [1, 2.5, None, "x"]}


def test_round_trip_with_weights_only(tmp_path):
    path = save_checkpoint(tmp_path, 100, state(100), keep=3)
    assert path == tmp_path / "checkpoints" / "ckpt_000100.pt"
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], state(100)["model"]["w"])
    assert loaded["steps"] == [1, 2.5, None, "x"] and loaded["schedule"] == {"warming_up": True}


def test_keeps_the_newest_few_by_iteration(tmp_path):
    for iteration in (5, 10, 100, 1000, 20):
        save_checkpoint(tmp_path, iteration, state(iteration), keep=3)
    assert [p.name for p in list_checkpoints(tmp_path)] == \
        ["ckpt_000020.pt", "ckpt_000100.pt", "ckpt_001000.pt"]


def test_failed_write_leaves_no_partial_file_and_the_old_one_intact(tmp_path):
    good = save_checkpoint(tmp_path, 10, state(10), keep=3)
    before = good.read_bytes()
    broken = {**state(20), "thing": lambda: None}  # cannot be pickled: fails mid-write
    with pytest.raises(Exception):
        save_checkpoint(tmp_path, 20, broken, keep=3)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["ckpt_000010.pt"]
    assert good.read_bytes() == before


def test_atomic_write_replaces_only_when_complete(tmp_path):
    target = tmp_path / "file.txt"
    atomic_write(target, lambda f: f.write(b"first"))

    def half(file):
        file.write(b"sec")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, half)
    assert target.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_truncated_checkpoint_is_detected(tmp_path):
    path = save_checkpoint(tmp_path, 10, state(10), keep=3)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cannot be read") as error:
        load_checkpoint(path)
    assert "ckpt_000010.pt" in str(error.value)


def test_a_flipped_byte_in_a_tensor_is_detected(tmp_path):
    path = save_checkpoint(tmp_path, 10, state(10), keep=3)
    data = bytearray(path.read_bytes())
    # torch's zip reader does not check tensor data; the checkpoint's digest does.
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="integrity check failed"):
        load_checkpoint(path)


def test_a_renamed_checkpoint_is_not_trusted(tmp_path):
    path = save_checkpoint(tmp_path, 10, state(10), keep=3)
    path.rename(checkpoint_path(tmp_path, 30))
    with pytest.raises(CheckpointError, match="another iteration"):
        load_checkpoint(checkpoint_path(tmp_path, 30))


def test_corrupt_newest_falls_back_to_the_previous_and_says_so(tmp_path):
    for iteration in (10, 20, 30):
        save_checkpoint(tmp_path, iteration, state(iteration), keep=3)
    newest = checkpoint_path(tmp_path, 30)
    newest.write_bytes(newest.read_bytes()[:100])
    messages: list[str] = []
    loaded, path = load_latest(tmp_path, messages.append)
    assert path == checkpoint_path(tmp_path, 20) and loaded["iteration"] == 20
    assert len(messages) == 1 and "ckpt_000030.pt" in messages[0] and "previous" in messages[0]
    assert (tmp_path / "checkpoints" / "ckpt_000030.pt.corrupt").exists()
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_000010.pt", "ckpt_000020.pt"]


def test_no_checkpoint_at_all(tmp_path):
    with pytest.raises(NoCheckpointError, match="no checkpoints"):
        load_latest(tmp_path, print)


def raw_payload(path, payload, deep: int = 0) -> None:
    """torch.save(payload), with the string "DEEP" in it replaced by lists nested `deep`
    levels (torch.save itself recurses, so it cannot write those)."""
    import zipfile

    torch.save(payload, path)
    with zipfile.ZipFile(path) as source:
        members = {name: source.read(name) for name in source.namelist()}
    nested = b"]" * deep + b"a" * (deep - 1)  # pickle opcodes: EMPTY_LIST..., APPEND...
    with zipfile.ZipFile(path, "w") as out:
        for name, data in members.items():
            out.writestr(name, data.replace(b"X\x04\x00\x00\x00DEEP", nested))


@pytest.mark.parametrize("damage, message", [
    (lambda path: path.write_bytes(b""), "cannot be read \\(EOFError\\)"),
    (lambda path: raw_payload(path, [1, 2, 3]), "not a checkpoint of format"),
    (lambda path: raw_payload(path, {"format": FORMAT, "state": [1, 2]}), "not a checkpoint"),
    (lambda path: raw_payload(path, {"format": FORMAT, "state": {"iteration": "10"}}),
     "holds no iteration count"),
    (lambda path: raw_payload(path, {"format": FORMAT, "state": {"iteration": 10, "x": "DEEP"}},
                              deep=5000), "nested more than 32 levels deep"),
    (lambda path: raw_payload(path, "DEEP", deep=5000), "not a checkpoint of format"),
])
def test_broken_checkpoints_are_set_aside_and_the_previous_one_used(tmp_path, damage, message):
    for iteration in (10, 20):
        save_checkpoint(tmp_path, iteration, state(iteration), keep=3)
    newest = checkpoint_path(tmp_path, 20)
    damage(newest)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(newest)
    messages: list[str] = []
    loaded, path = load_latest(tmp_path, messages.append)
    assert path == checkpoint_path(tmp_path, 10) and loaded["iteration"] == 10
    assert (tmp_path / "checkpoints" / "ckpt_000020.pt.corrupt").exists()
    assert len(messages) == 1 and "falling back" in messages[0]


def test_a_checkpoint_never_runs_a_payload(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    path = checkpoint_path(tmp_path, 10)
    path.parent.mkdir()
    torch.save({"format": FORMAT, "state": {"iteration": 10, "evil": Payload()}}, path)
    with pytest.raises(CheckpointError, match="cannot be read") as error:
        load_checkpoint(path)
    assert not marker.exists() and len(str(error.value).splitlines()) == 1


def test_a_fifo_is_not_a_checkpoint(tmp_path):
    path = checkpoint_path(tmp_path, 10)
    path.parent.mkdir()
    os.mkfifo(path)  # torch.load would wait for a writer forever
    with pytest.raises(CheckpointError, match="is not a regular file"):
        load_checkpoint(path)


def test_a_checkpoint_of_another_run_is_set_aside(tmp_path):
    save_checkpoint(tmp_path, 10, state(10), keep=3, run_id="mine")
    save_checkpoint(tmp_path, 20, state(20), keep=3, run_id="theirs")
    with pytest.raises(ForeignCheckpointError, match="another run \\(run id theirs; this "
                                                     "run's is mine\\)"):
        load_checkpoint(checkpoint_path(tmp_path, 20), run_id="mine")
    messages: list[str] = []
    _, path = load_latest(tmp_path, messages.append, run_id="mine")
    assert path == checkpoint_path(tmp_path, 10)
    assert (tmp_path / "checkpoints" / "ckpt_000020.pt.foreign").exists()
    assert "set aside as ckpt_000020.pt.foreign" in messages[0]
    assert load_checkpoint(checkpoint_path(tmp_path, 10))["iteration"] == 10  # any run: fine


def test_when_nothing_usable_is_left_the_error_says_how_to_start_again(tmp_path):
    path = save_checkpoint(tmp_path, 10, state(10), keep=3)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="ckpt_000010.pt.corrupt set aside\\): start the "
                                              "run again with --out"):
        load_latest(tmp_path, print)
    with pytest.raises(CheckpointError, match="no usable checkpoint"):  # not "none at all"
        load_latest(tmp_path, print)


def test_a_read_only_folder_skips_what_it_cannot_set_aside(tmp_path, monkeypatch):
    for iteration in (10, 20):
        save_checkpoint(tmp_path, iteration, state(iteration), keep=3)
    checkpoint_path(tmp_path, 20).write_bytes(b"")
    (tmp_path / "checkpoints" / ".ckpt_000030.pt.1.ab.tmp").write_bytes(b"partial")

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(os, "replace", read_only)
    monkeypatch.setattr(type(tmp_path), "unlink", read_only)
    messages: list[str] = []
    _, path = load_latest(tmp_path, messages.append)
    assert path == checkpoint_path(tmp_path, 10)
    assert "skipped (it could not be renamed: Read-only file system)" in messages[0]


def test_a_full_disk_fails_the_write_with_the_os_error_and_leaves_nothing(tmp_path, monkeypatch):
    good = save_checkpoint(tmp_path, 10, state(10), keep=3)

    real_open = open
    monkeypatch.setattr(atomic, "open", lambda *a, **k: FullDisk(real_open(*a, **k)),
                        raising=False)
    with pytest.raises(OSError) as error:
        save_checkpoint(tmp_path, 20, state(20), keep=3)
    assert error.value.errno == errno.ENOSPC  # not torch's "unexpected pos"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["ckpt_000010.pt"]
    assert load_checkpoint(good)["iteration"] == 10


def test_the_digest_sees_every_value():
    assert digest({"a": [1, 2]}) != digest({"a": [1, 3]}) != digest({"a": (1, 2.0)})
