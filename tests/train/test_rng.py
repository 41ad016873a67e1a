"""Every global RNG a run draws from survives a weights_only checkpoint round trip."""

from __future__ import annotations

import random

import numpy as np
import torch

from resdsl.train.checkpoint import load_checkpoint, save_checkpoint
from resdsl.train.rng import restore_rng, rng_state, seed_everything


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


def test_seed_everything_seeds_all_three():
    seed_everything(7)
    first = (random.random(), torch.rand(2), np.random.rand(2))
    seed_everything(7)
    again = (random.random(), torch.rand(2), np.random.rand(2))
    assert first[0] == again[0] and torch.equal(first[1], again[1])
    assert np.array_equal(first[2], again[2])
