"""The learning rate at each iteration: steps at fixed iterations, and the paper's warm-up.

Steps: the lr is multiplied by lr_gamma at each iteration in lr_steps (the paper: x0.1 at
32k and 48k of 64k). Warm-up (the paper's ResNet-110): while the training error is above
warmup_until_error, use warmup_lr instead of lr; once the error falls below it, switch
for good. The error is measured over each logging window, so the switch happens at a
logging iteration. Steps apply during warm-up too (warmup_lr x lr_gamma^k).
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

from .. import ir


class LRSchedule:
    def __init__(self, recipe: ir.Recipe):
        self.recipe = recipe
        self.warming_up = recipe.warmup_lr is not None  # saved in checkpoints

    def lr(self, iteration: int) -> float:
        """The lr of the step that starts after `iteration` steps are done."""
        base = self.recipe.warmup_lr if self.warming_up else self.recipe.lr
        return base * self.recipe.lr_gamma ** bisect_right(self.recipe.lr_steps, iteration)

    def observe(self, train_error: float) -> bool:
        """Feed the recent training error; True when this ends the warm-up."""
        threshold = self.recipe.warmup_until_error
        if self.warming_up and threshold is not None and train_error < threshold:
            self.warming_up = False
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"warming_up": self.warming_up}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.warming_up = bool(state["warming_up"])
