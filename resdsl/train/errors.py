"""Errors a user can cause while training: bad data, bad checkpoints, bad options, a run
folder that cannot be written, divergence.

All are `ResdslError`s, so the CLI renders them as `file: error: message` and exits
without a traceback. Pass `file=` whenever one file is to blame: the rendering names it.
Recipe errors (`resdsl.recipes.RecipeError`) are spec errors: they live with the recipes.
"""

from __future__ import annotations

from ..diagnostics import ResdslError


class TrainError(ResdslError):
    """Base class of the training subsystem's errors."""


class OptionsError(TrainError):
    """A training option that cannot work (an unknown device, --sync-bn on a CPU, ...)."""


class DataError(TrainError):
    """Training data missing, truncated, corrupt, not the official files, or unreachable."""


class CheckpointError(TrainError):
    """No usable checkpoint or run record, or a run folder that does not fit the spec."""


class RunFolderError(TrainError):
    """A run folder that cannot be used: not writable, full, or in use by another process."""


class DivergedError(TrainError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


class PlotError(TrainError):
    """A figure that cannot be drawn: matplotlib missing, or a run with no metrics."""
