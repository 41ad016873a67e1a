"""One process trains in a run folder at a time: the folder's `.lock`, held while it runs.

`fcntl.flock` on the lock file: the kernel releases it when the holder exits, however it
exits (SIGKILL included), so a crashed run never leaves a stale lock behind. The file
says who holds it, for the message a second process gets. Where flock is missing
(Windows) runs are not locked.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime
from pathlib import Path

from .errors import RunFolderError
from .files import write_failure

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Linux or macOS
    fcntl = None  # type: ignore[assignment]


class RunLock:
    """An exclusive hold on a run folder; `release()` (or the process's end) lets go."""

    def __init__(self, path: Path, handle: int | None):
        self.path, self._handle = path, handle

    @classmethod
    def acquire(cls, path: Path) -> RunLock:
        """Hold `path` (created if missing), or RunFolderError naming its holder."""
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise write_failure(error, path, "the run's lock file", "nothing was changed") \
                from None
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(handle)
                os.close(handle)
                raise RunFolderError(f"is in use: {holder} trains in this folder. Wait for it "
                                     "to end, or stop it; a second run needs another --out",
                                     file=str(path.parent)) from None
        holder = (f"process {os.getpid()} on {socket.gethostname()}, since "
                  f"{datetime.now().isoformat(timespec='seconds')}\n")
        try:
            os.ftruncate(handle, 0)
            os.write(handle, holder.encode())
        except OSError as error:
            os.close(handle)
            raise write_failure(error, path, "the run's lock file", "nothing was changed") \
                from None
        return cls(path, handle)

    def release(self) -> None:
        if self._handle is not None:
            os.close(self._handle)  # closing the file releases the flock
            self._handle = None


def _holder(handle: int) -> str:
    try:
        text = os.pread(handle, 200, 0).decode("utf-8", errors="replace").strip()
    except OSError:
        text = ""
    return text or "another process"
