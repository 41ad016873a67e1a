"""Reading the files a user hands in, and naming the path when the system says no.

Every file the trainer reads from a user (CIFAR batches, config.json, metrics.jsonl,
checkpoints) is checked to be a regular file no larger than its kind can be before a byte
is read: a FIFO would hang the read, a 12 GB sparse file would exhaust the memory.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .errors import RunFolderError, TrainError

MiB = 1 << 20


def regular_size(path: Path, limit: int, error: type[TrainError], what: str) -> int:
    """The size of `path`, refused unless it is a regular file of at most `limit` bytes."""
    try:
        info = os.stat(path)
    except OSError as failure:
        raise error(f"cannot read this {what} ({reason(failure)})", file=str(path)) from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"is not a regular file, so not a {what}", file=str(path))
    if info.st_size > limit:
        raise error(f"is {info.st_size:,} bytes, more than a {what} can be (at most "
                    f"{limit:,}): it is not one", file=str(path))
    return info.st_size


def read_bounded(path: Path, limit: int, error: type[TrainError], what: str) -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes (see regular_size)."""
    regular_size(path, limit, error, what)
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)  # a file growing meanwhile is still bounded
    except OSError as failure:
        raise error(f"cannot read this {what} ({reason(failure)})", file=str(path)) from None
    if len(data) > limit:
        raise error(f"is more than {limit:,} bytes, more than a {what} can be", file=str(path))
    return data


def reason(error: OSError) -> str:
    """What the system said, without the path (the message names it already)."""
    return error.strerror or str(error) or type(error).__name__


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, or its type when it has none."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def write_failure(error: OSError, path: Path, what: str, then: str) -> RunFolderError:
    """A failed write as one line: what failed, why, what to do, and `then` (what is
    still safe, e.g. the last good checkpoint)."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = "the disk is full: free some space"
    elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        advice = "the folder is read-only here: copy the run somewhere writable (cp -r)"
    else:
        advice = "check the folder"
    return RunFolderError(f"cannot write {what} ({reason(error)}): {advice}; {then}",
                          file=str(path))
