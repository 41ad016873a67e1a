"""Checkpoints: atomic writes, pruning, integrity checks, fallback, RNG round trips."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from resdsl.atomic import atomic_write
from resdsl.train.checkpoint import (checkpoint_path, list_checkpoints,
                                     load_checkpoint, load_latest, restore_rng, rng_state,
                                     save_checkpoint)
from resdsl.train.errors import CheckpointError


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
    with pytest.raises(CheckpointError, match="no checkpoints"):
        load_latest(tmp_path, print)


def test_rng_states_survive_a_weights_only_round_trip(tmp_path):
    random.seed(1), torch.manual_seed(1), np.random.seed(1)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    path = save_checkpoint(tmp_path, 1, {"iteration": 1, "rng": rng_state()}, keep=1)
    expected = (random.random(), torch.rand(3), np.random.rand(3), random.gauss(0, 1))
    random.seed(2), torch.manual_seed(2), np.random.seed(2)
    restore_rng(load_checkpoint(path)["rng"])
    again = (random.random(), torch.rand(3), np.random.rand(3), random.gauss(0, 1))
    assert again[0] == expected[0] and torch.equal(again[1], expected[1])
    assert np.array_equal(again[2], expected[2]) and again[3] == expected[3]
