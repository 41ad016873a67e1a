"""Running a queue of runs on slots: a slot is one process's place on a device, and a
device holds `per_device` of them at once (small CIFAR nets do not fill a big GPU).

Pure: the processes themselves are the `Launcher`'s (processes.py starts real ones; the
tests hand in a fake one), time is the `clock`'s. Runs go in queue order to the free slot
on the least busy device, so two GPUs with two slots each take their first two runs one
per GPU. A run that fails frees its slot like any other: the queue goes on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

Job = TypeVar("Job")


@dataclass(frozen=True, order=True)
class Slot:
    gpu: int | None  # the GPU index (of those visible); None: the device the options name
    index: int  # which of the device's slots

    @property
    def device(self) -> str:
        return f"gpu {self.gpu}" if self.gpu is not None else "the default device"


def make_slots(gpus: int | None, per_device: int) -> list[Slot]:
    devices: Sequence[int | None] = range(gpus) if gpus else [None]
    return [Slot(gpu, index) for gpu in devices for index in range(per_device)]


def pick_slot(free: Sequence[Slot], busy: Sequence[Slot]) -> Slot:
    """The free slot on the device with the fewest runs going; the first such in order."""
    def load(slot: Slot) -> tuple[int, Slot]:
        return sum(1 for other in busy if other.gpu == slot.gpu), slot

    return min(free, key=load)


@dataclass(frozen=True)
class Ended(Generic[Job]):
    job: Job
    slot: Slot
    exit_code: int | None  # None: never started (the queue was interrupted first)
    seconds: float  # wall time of its process

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Launcher(Protocol[Job]):
    def start(self, job: Job, slot: Slot) -> Any:
        """Start `job`'s process on `slot`; a handle for it."""

    def wait(self, handles: Sequence[Any]) -> tuple[Any, int]:
        """Block until one of `handles` ends; it and its exit code (negative: a signal)."""

    def interrupt(self, handles: Sequence[Any]) -> None:
        """Ask these to stop (each saves a checkpoint first); `wait` then reaps them."""


@dataclass
class QueueResult(Generic[Job]):
    ended: list[Ended[Job]]  # in the order they ended; never-started ones last
    interrupted: bool = False  # Ctrl-C: the running ones were asked to stop


def run_queue(jobs: Sequence[Job], slots: Sequence[Slot], launcher: Launcher[Job],
              on_start: Callable[[Job, Slot], None] = lambda job, slot: None,
              on_end: Callable[[Ended[Job]], None] = lambda ended: None,
              clock: Callable[[], float] = time.monotonic) -> QueueResult[Job]:
    """Run every job, at most one per slot at a time, until all have ended."""
    queue, free = deque(jobs), sorted(slots)
    running: dict[Any, tuple[Job, Slot, float]] = {}
    result: QueueResult[Job] = QueueResult([])
    while queue or running:
        try:
            while queue and free and not result.interrupted:
                slot = pick_slot(free, [busy for _, busy, _ in running.values()])
                free.remove(slot)
                job = queue.popleft()
                on_start(job, slot)
                running[launcher.start(job, slot)] = (job, slot, clock())
            if not running:
                break
            handle, code = launcher.wait(list(running))
        except KeyboardInterrupt:
            if result.interrupted:  # a second Ctrl-C while they save: stop waiting
                raise
            result.interrupted = True
            launcher.interrupt(list(running))
            continue
        job, slot, started = running.pop(handle)
        free.append(slot)
        result.ended.append(Ended(job, slot, code, clock() - started))
        on_end(result.ended[-1])
    result.ended += [Ended(job, Slot(None, -1), None, 0.0) for job in queue]
    return result
