"""Writing a file so that a reader never sees half of it: checkpoints, saved models,
run records, and specs rewritten by `resdsl fmt --write`. No torch here, so the CLI's
light commands can use it."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import IO, Callable


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write through a temporary file beside `path`, then rename it over `path`.

    The rename is atomic: `path` is the old complete file or the new complete one,
    whatever happens (a crash, a full disk, SIGKILL), and a failed write leaves nothing.
    A new file gets the user's usual permissions (open(..., "x"), not tempfile's 0600),
    a rewritten one keeps its own. A symlink is written through (its target is
    rewritten, the link stays); a device, a pipe or a read-only file is refused, as
    open(path, "w") would refuse or honour it, never replaced by a regular file.
    The folder must exist: whether to create one is the caller's decision.
    """
    path = _writable_target(Path(path))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the name points at them
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _writable_target(path: Path) -> Path:
    """The regular file a write to `path` should replace (through symlinks), or an
    OSError saying why there is none."""
    import errno
    import stat

    if path.is_symlink():
        path = path.resolve()
    if not path.exists():
        return path
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, "not a regular file (a device, a pipe or a folder): "
                      "refusing to replace it", str(path))
    if not mode & 0o222:  # root may rename over it, but nobody meant it to change
        raise OSError(errno.EACCES, "the file is read-only", str(path))
    return path


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable; not possible (nor needed) on every platform.
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_file(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """`atomic_write`, with an OS error (a full disk, a read-only folder, no such folder)
    told as the one-line error of the file it could not write."""
    from .diagnostics import ResdslFileError

    try:
        atomic_write(path, write)
    except OSError as error:
        raise ResdslFileError(f"cannot write: {error.strerror or error}", file=str(path)) from None
    return Path(path)
