"""Errors a user can cause in `resdsl reproduce`: an unknown experiment or network, a
count that cannot work, more GPUs than the machine has, an experiment file that does not
hold an experiment.

They are `ResdslError`s, so the command line prints them as one line, `resdsl: error: ...`
(or `FILE: error: ...` when one file is to blame), and exits 1.
"""

from __future__ import annotations

from ..diagnostics import ResdslError


class ReproduceError(ResdslError):
    """A reproduction that cannot start as asked."""
