"""Reproducing the paper's experiments: `resdsl reproduce fig6 --data-dir data`.

    options = ReproduceOptions("fig6", train={"data_dir": "data"})
    outcome = reproduce(options, events)     # trains what is not finished, then reports
    outcome = report_only(options)           # the report of whatever runs exist

Modules, one per concern:

    experiments  the experiments, shipped as data (experiments/*.json): nets, recipes,
                 seeds, the figure's panels, the paper's numbers
    options      ReproduceOptions: what the command is asked, checked before anything starts
    plan         RunJob: a run per (net, seed), in a run folder with a stable name
    state        what a run folder holds, and what to do: start, restart, resume or skip
    scheduler    a queue of runs on slots (per_device processes on each device); pure
    command      each run's `python -m resdsl train` command line and environment
    processes    the launcher: run processes, their logs, dying with the reproduction
    report       the table (paper beside ours), report.md and report.json
    figure       report.png, drawn as the paper's Figure 6
    reproduction reproduce() and report_only(): the steps above in order
    errors       the errors a user can cause

Importing this package imports nothing else: each name below is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {  # public name: the module that defines it
    "reproduce": "reproduction", "report_only": "reproduction", "Outcome": "reproduction",
    "ReproduceOptions": "options", "ReproduceError": "errors",
    "load_experiment": "experiments", "shipped_experiments": "experiments",
}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
