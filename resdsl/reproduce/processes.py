"""The scheduler's launcher for real: each run a `python -m resdsl train` process, its
output appended to `logs/RUN.log` in the reproduction's folder.

A run's process dies with the reproduction (Linux: PR_SET_PDEATHSIG). A killed
reproduction so leaves no run training on unseen, holding its folder's lock; the run loses
what it did since its last checkpoint, and the rerun resumes it from there. Ctrl-C
is passed on to the runs: each saves a checkpoint where it stands and stops, and the
reproduction waits for them.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO

from .plan import RunJob
from .scheduler import Slot

POLL_SECONDS = 0.05  # how often the running processes are looked at: no busy waiting
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
LOGS = "logs"  # in the reproduction's folder: a log per run, appended at every attempt


def log_path(root: Path, job: RunJob) -> Path:
    return root / LOGS / f"{job.name}.log"


class ProcessLauncher:
    """Starts runs as processes: `command(job, slot)` is the argv, `environment(slot)` the
    environment."""

    def __init__(self, root: Path, command: Callable[[RunJob, Slot], list[str]],
                 environment: Callable[[Slot], dict[str, str]]):
        self.root, self.command, self.environment = root, command, environment
        self.logs: dict[subprocess.Popen, IO[bytes]] = {}

    def start(self, job: RunJob, slot: Slot) -> subprocess.Popen:
        argv = self.command(job, slot)
        path = log_path(self.root, job)
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "ab")
        stamp = datetime.now().isoformat(timespec="seconds")
        log.write(f"=== {stamp} on {slot.device}: {' '.join(argv[1:])}\n".encode())
        log.flush()
        # A session of its own: a Ctrl-C at the terminal reaches the reproduction alone,
        # which passes it on once (a second one would stop a run before it saves).
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, env=self.environment(slot),
                                   preexec_fn=_die_with_parent(), start_new_session=True)
        self.logs[process] = log
        return process

    def wait(self, handles: Sequence[subprocess.Popen]) -> tuple[subprocess.Popen, int]:
        while True:
            for process in handles:
                if process.poll() is not None:
                    self.logs.pop(process).close()
                    return process, process.returncode
            time.sleep(POLL_SECONDS)

    def interrupt(self, handles: Sequence[subprocess.Popen]) -> None:
        for process in handles:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # the run saves where it stands, then ends


def _die_with_parent() -> Callable[[], None] | None:
    """A function for the child to run before it execs: be killed when this process dies.
    None where the system has no such thing (then a killed reproduction's runs go on
    until they end; their folders stay locked meanwhile)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above: go too
            os._exit(1)

    return in_child


def last_error(path: Path, limit: int = 8192) -> str:
    """The line of a run's log that says why its latest attempt failed: its last `error:`
    line, else its last line (a crash prints its traceback's last line last)."""
    try:
        with open(path, "rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - limit))
            lines = file.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    starts = [i for i, line in enumerate(lines) if line.startswith("=== ")]
    latest = lines[starts[-1] + 1:] if starts else lines
    lines = [line.strip() for line in latest if line.strip()]
    errors = [line for line in lines if "error:" in line]
    return (errors or lines or [""])[-1]
