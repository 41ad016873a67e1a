"""The learning rate: steps at fixed iterations, and the paper's warm-up."""

from __future__ import annotations

import pytest

from resdsl.train.schedule import LRSchedule

from .train_helpers import tiny_recipe


def test_lr_steps_and_warm_up():
    schedule = LRSchedule(tiny_recipe(lr=0.1, lr_steps=(10, 20), lr_gamma=0.1,
                                      warmup_lr=0.01, warmup_until_error=0.8))
    assert schedule.lr(0) == 0.01
    assert not schedule.observe(0.85) and schedule.lr(5) == 0.01
    assert schedule.observe(0.79) and schedule.lr(5) == 0.1
    assert not schedule.observe(0.1)  # switches once
    assert schedule.lr(9) == 0.1 and schedule.lr(10) == pytest.approx(0.01)
    assert schedule.lr(20) == pytest.approx(0.001)
    fresh = LRSchedule(schedule.recipe)
    fresh.load_state_dict(schedule.state_dict())
    assert fresh.lr(0) == 0.1


def test_no_warm_up_means_lr_from_the_start():
    schedule = LRSchedule(tiny_recipe(lr=0.1))
    assert schedule.lr(0) == 0.1 and not schedule.observe(0.0)
