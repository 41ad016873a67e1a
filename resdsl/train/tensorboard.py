"""TensorBoard event files beside metrics.jsonl, when the `tensorboard` package is there.

The same scalars as metrics.jsonl, tagged by metric name, with the iteration as step, in
the run folder itself: `tensorboard --logdir runs/` lists each run by its folder name. A
resumed run purges the steps after its checkpoint, which it logs again. TensorBoard is
optional (`pip install 'resdsl[tensorboard]'`): without it a run says so once and goes
on, and so it does when the event files cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MISSING = ("tensorboard is not installed (pip install 'resdsl[tensorboard]'): no TensorBoard "
           "event files are written; metrics.jsonl and metrics.csv hold the same")


class TensorBoard:
    """A SummaryWriter, or nothing: `note` then says why."""

    def __init__(self, run_dir: Path, resumed_at: int | None):
        self.writer: Any = None
        self.note: str | None = None
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            self.note = MISSING
            return
        # purge_step: events at this step and after, from the run's earlier life, are hidden.
        purge = resumed_at + 1 if resumed_at is not None else None
        try:
            self.writer = SummaryWriter(log_dir=str(run_dir), purge_step=purge)
        except OSError as error:
            self._give_up(error)

    def log(self, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        try:
            for name, value in record.items():
                if name != "iteration":
                    self.writer.add_scalar(name, value, global_step=record["iteration"])
        except OSError as error:  # raised by the writer thread, seen at the next write
            self._give_up(error)

    def flush(self) -> None:
        self._call("flush")

    def close(self) -> None:
        self._call("close")
        self.writer = None

    def _call(self, method: str) -> None:
        if self.writer is not None:
            try:
                getattr(self.writer, method)()
            except OSError as error:
                self._give_up(error)

    def _give_up(self, error: OSError) -> None:
        self.writer = None
        self.note = (f"TensorBoard event files are no longer written ({error.strerror or error});"
                     " metrics.jsonl and metrics.csv still are")
