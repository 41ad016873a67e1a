"""What a run in progress writes into its folder, on rank 0 only: config.json, the metrics
(metrics.jsonl, metrics.csv, TensorBoard), curves.png and the checkpoints.

The Recorder holds the folder's lock for the run's lifetime (`close` lets go). A write
that fails (a full disk, a read-only folder) ends the run with one line naming the file,
what to do, and the last good checkpoint, which a failed write never touches. Figures and
TensorBoard files are extras: when they cannot be drawn or written the run says so once
and goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..atomic import atomic_write
from .checkpoint import save_checkpoint
from .errors import PlotError, RunFolderError
from .files import write_failure
from .lock import RunLock
from .plot import plot_runs
from .runfolder import (CONFIG, CURVES, LOCK, METRICS, METRICS_CSV, TENSORBOARD,
                        checkpoint_path, csv_line, list_checkpoints,
                        metric_columns, metrics_line, new_run_dir, read_config, read_metrics,
                        write_config)
from .tensorboard import TensorBoard


def claim_new_folder(out: str | None, network: str, report: Callable[[str], None]
                     ) -> tuple[Path, RunLock]:
    """A folder for a new run, locked. A folder holding a run that never reached its first
    checkpoint (killed early) is taken over: that run is started again in place."""
    run_dir = new_run_dir(out, network)
    lock = RunLock.acquire(run_dir / LOCK)
    if (run_dir / CONFIG).exists():
        if list_checkpoints(run_dir):
            lock.release()
            raise RunFolderError(f"already holds a run: continue it with --resume {run_dir}, "
                                 "or choose another --out", file=str(run_dir))
        report(f"{run_dir} holds a run that stopped before its first checkpoint: starting "
               "it again in place")
        records = [METRICS, METRICS_CSV, CURVES, *(p.name for p in run_dir.glob(TENSORBOARD))]
        try:
            for name in records:
                (run_dir / name).unlink(missing_ok=True)
        except OSError as error:
            lock.release()
            raise write_failure(error, run_dir, "in the run folder", "nothing was trained") \
                from None
    return run_dir, lock


def claim_run_folder(run_dir: Path) -> RunLock:
    """The lock of an existing run's folder, to resume it."""
    if not (run_dir / CONFIG).is_file():
        read_config(run_dir)  # raises the error that says what is missing
    return RunLock.acquire(run_dir / LOCK)


class Recorder:
    """Writes the run's files when `main` (rank 0); on other ranks it only keeps count."""

    def __init__(self, run_dir: Path, eval_set: str, main: bool, lock: RunLock | None,
                 report: Callable[[str], None]):
        self.run_dir, self.main, self.lock, self.report = run_dir, main, lock, report
        self.columns = metric_columns(eval_set)
        self.checkpoint: Path | None = None  # the newest checkpoint written or resumed from
        self.saved_at: int | None = None  # its iteration
        self.tensorboard: TensorBoard | None = None
        self.plotting = main  # off once a figure could not be drawn: said once

    def start(self, config: dict[str, Any] | None, resumed_at: int | None) -> None:
        """Write config.json (when given); keep the metrics up to `resumed_at` (None: a
        new run), open the TensorBoard files."""
        if not self.main:
            return
        if config is not None:
            self._write(CONFIG, "config.json", lambda: write_config(self.run_dir, config))
        self._write(METRICS, "metrics.jsonl", lambda: self._trim(resumed_at or 0))
        self.tensorboard = TensorBoard(self.run_dir, resumed_at)
        if self.tensorboard.note:
            self.report(self.tensorboard.note)

    def _trim(self, iteration: int) -> None:
        """Forget records after `iteration`: a resumed run logs those iterations again."""
        kept = [r for r in read_metrics(self.run_dir) if r["iteration"] <= iteration]
        lines = "".join(metrics_line(r) for r in kept).encode()
        table = "".join(csv_line(r, self.columns) for r in [dict(zip(self.columns,
                                                                     self.columns)), *kept])
        atomic_write(self.run_dir / METRICS, lambda file: file.write(lines))
        atomic_write(self.run_dir / METRICS_CSV, lambda file: file.write(table.encode()))

    def update_config(self, change: Callable[[dict[str, Any]], None]) -> None:
        if self.main:
            config = read_config(self.run_dir)
            change(config)
            self._write(CONFIG, "config.json", lambda: write_config(self.run_dir, config))

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to metrics.jsonl, metrics.csv and TensorBoard."""
        if not self.main:
            return
        for name, text in ((METRICS, metrics_line(record)),
                           (METRICS_CSV, csv_line(record, self.columns))):
            self._write(name, name, lambda: _append(self.run_dir / name, text))
        self._tensorboard(lambda board: board.log(record))

    def plot(self) -> None:
        if not self.plotting:
            return
        try:
            plot_runs([self.run_dir], self.run_dir / CURVES)
        except PlotError as error:
            self.plotting = False
            self.report(f"{error.message}; {CURVES} is not drawn")

    def save(self, iteration: int, state: dict[str, Any] | None, keep: int,
             run_id: str | None) -> None:
        """Checkpoint `state` (rank 0's; None on the other ranks) as `iteration`."""
        if self.main:
            self._write(f"checkpoints/ckpt_{iteration:06d}.pt", "a checkpoint",
                        lambda: save_checkpoint(self.run_dir, iteration, state, keep, run_id))
            self._tensorboard(lambda board: board.flush())  # events as durable as the state
        self.checkpoint, self.saved_at = checkpoint_path(self.run_dir, iteration), iteration

    def close(self) -> None:
        self._tensorboard(lambda board: board.close())
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _tensorboard(self, act: Callable[[TensorBoard], None]) -> None:
        board = self.tensorboard
        if board is not None and board.writer is not None:
            act(board)
            if board.writer is None and board.note:  # it gave up: say so once
                self.report(board.note)

    def _write(self, name: str, what: str, write: Callable[[], Any]) -> None:
        try:
            write()
        except OSError as error:
            kept = f"the last good checkpoint, {self.checkpoint}, is intact" \
                if self.checkpoint else "no checkpoint had been written yet"
            raise write_failure(error, self.run_dir / name, what,
                                f"then continue with --resume {self.run_dir} ({kept})") from None


def _append(path: Path, text: str) -> None:
    # One write of a whole line: a kill leaves at most a partial last line, which readers skip.
    with open(path, "a", encoding="utf-8") as file:
        file.write(text)
