"""Errors a user can cause while training: bad data, bad checkpoints, bad options, divergence.

All are `ResdslError`s, so the CLI renders them as `file: error: message` and exits
without a traceback. Pass `file=` whenever one file is to blame: the rendering names it.
"""

from __future__ import annotations

from ..diagnostics import ResdslError


class TrainError(ResdslError):
    """Base class of the training subsystem's errors."""


class OptionsError(TrainError):
    """A training option or recipe value that cannot work (negative batch size, ...)."""


class DataError(TrainError):
    """Training data missing, truncated, corrupt, not the official files, or unreachable."""


class CheckpointError(TrainError):
    """No usable checkpoint to resume from, or a run folder that does not fit the spec."""


class DivergedError(TrainError):
    """The loss became NaN or infinite; the last good checkpoint is left in place."""


class PlotError(TrainError):
    """A figure that cannot be drawn: matplotlib missing, or a run with no metrics."""
