"""Checkpoints: written atomically, the newest few kept, verified when loaded.

A checkpoint is `{"format", "run_id", "sha256", "state"}` saved with torch.save and
loaded with `weights_only=True`, so it may hold only tensors, numbers, strings, lists and
dicts (the RNG states are converted to tensors: nothing else is pickled, and a crafted
file cannot run code). `sha256` digests the state's contents; torch's zip reader notices
a truncated file but not a flipped byte in a tensor, the digest notices both. `run_id` is
the id of the run that wrote it (config.json holds the run's own): a checkpoint copied in
from another run is not taken for this run's.

A checkpoint that fails a check is set aside, renamed `*.corrupt` (or `*.foreign`), and
resuming falls back to the one before it.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from .errors import CheckpointError
from .files import first_line, reason, regular_size
# The files' names live with the run folder's (no torch there: `resdsl reproduce` reads them).
from .runfolder import CHECKPOINTS, checkpoint_iteration, checkpoint_path, list_checkpoints

FORMAT = 1  # bump when the layout of "state" changes
MAX_DEPTH = 32  # a state nests a few levels (optimizer state of a parameter: 4)
MAX_BYTES = 1 << 40  # no real bound: this only refuses what is not a regular file


class ForeignCheckpointError(CheckpointError):
    """A sound checkpoint, written by another run."""


class NoCheckpointError(CheckpointError):
    """A run folder with no checkpoint at all: the run stopped before its first one."""


def save_checkpoint(run_dir: str | os.PathLike, iteration: int, state: dict[str, Any],
                    keep: int, run_id: str | None = None) -> Path:
    """Write `ckpt_<iteration>.pt` atomically, then delete all but the newest `keep`.

    A failed write (a full disk) raises the OSError and leaves no partial file."""
    path = checkpoint_path(run_dir, iteration)
    payload = {"format": FORMAT, "run_id": run_id, "sha256": digest(state), "state": state}
    path.parent.mkdir(parents=True, exist_ok=True)  # checkpoints/ inside the run folder
    atomic_write(path, lambda file: _save(payload, file))
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def _save(payload: dict[str, Any], file: Any) -> None:
    try:
        torch.save(payload, file)
    except RuntimeError as error:
        # torch's zip writer reports a failed write as "unexpected pos": the OSError
        # behind it (a full disk) is the error to show.
        if isinstance(error.__context__, OSError):
            raise error.__context__ from None
        raise


def load_checkpoint(path: str | os.PathLike, run_id: str | None = None) -> dict[str, Any]:
    """The state saved in `path`, on the CPU; CheckpointError if unreadable or corrupt,
    ForeignCheckpointError if `run_id` is given and another run wrote it."""
    path = Path(path)
    regular_size(path, MAX_BYTES, CheckpointError, "checkpoint")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # weights_only refused an object: none is ever saved
        raise CheckpointError("cannot be read (it holds objects no checkpoint holds, and may "
                              "try to run code: they were not loaded)", file=str(path)) from None
    except Exception as error:  # noqa: BLE001 - truncated zip, bad pickle, not a checkpoint
        raise CheckpointError(f"cannot be read ({first_line(error)[:200]})",
                              file=str(path)) from None
    state = _checked_state(payload, path)
    named = checkpoint_iteration(path)
    if named is not None and state["iteration"] != named:
        raise CheckpointError("holds another iteration than its name says", file=str(path))
    if run_id is not None and payload.get("run_id") != run_id:
        raise ForeignCheckpointError(f"was written by another run (run id "
                                     f"{payload.get('run_id')}; this run's is {run_id})",
                                     file=str(path))
    return state


def _checked_state(payload: Any, path: Path) -> dict[str, Any]:
    if not isinstance(payload, dict) or payload.get("format") != FORMAT \
            or not isinstance(payload.get("state"), dict):
        raise CheckpointError(f"not a checkpoint of format {FORMAT}", file=str(path))
    state = payload["state"]
    iteration = state.get("iteration")
    if not isinstance(iteration, int) or isinstance(iteration, bool) or iteration < 0:
        raise CheckpointError("holds no iteration count: not a training checkpoint",
                              file=str(path))
    if digest(state, path) != payload.get("sha256"):
        raise CheckpointError("integrity check failed: its contents do not match the digest "
                              "written with them (the file is corrupt)", file=str(path))
    return state


def load_latest(run_dir: str | os.PathLike, report: Callable[[str], None],
                run_id: str | None = None) -> tuple[dict, Path]:
    """The newest checkpoint that loads, verifies and belongs to run `run_id` (any run
    when None); the others are set aside and reported. NoCheckpointError if there is none
    at all, CheckpointError if none is usable."""
    folder = Path(run_dir) / CHECKPOINTS
    for stale in folder.glob(".ckpt_*.tmp"):
        _remove_quietly(stale)  # a write the killed run never finished
    candidates = list_checkpoints(run_dir)
    set_aside = sorted(p.name for p in folder.glob("ckpt_*.pt.*"))
    if not candidates and not set_aside:
        raise NoCheckpointError("no checkpoints: the run stopped before its first one",
                                file=str(folder))
    for path in reversed(candidates):
        try:
            return load_checkpoint(path, run_id), path
        except CheckpointError as error:
            line, name = _set_aside(path, error)
            report(line)
            set_aside.append(name)
    raise CheckpointError(f"no usable checkpoint ({', '.join(set_aside)} set aside): start "
                          f"the run again with --out {run_dir}", file=str(folder))


def _set_aside(path: Path, error: CheckpointError) -> tuple[str, str]:
    """Rename a bad checkpoint out of the way: the line that says so, and its new name."""
    kind = "foreign" if isinstance(error, ForeignCheckpointError) else "corrupt"
    aside = path.with_name(f"{path.name}.{kind}")
    try:
        os.replace(path, aside)
        done, name = f"set aside as {aside.name}", aside.name
    except OSError as failure:  # a read-only folder (eval): skip it all the same
        done, name = f"skipped (it could not be renamed: {reason(failure)})", path.name
    return f"{path}: {error.message}; {done}, falling back to the previous checkpoint", name


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # read-only: a leftover temporary file harms nothing (it is never loaded)


def load_weights(model: torch.nn.Module, source: str | os.PathLike,
                 report: Callable[[str], None], run_id: str | None = None) -> Path:
    """Put a run's weights into `model`: `source` is a run folder (its newest good
    checkpoint of run `run_id`, any run's when None) or a checkpoint file. Returns the
    checkpoint used."""
    path = Path(source)
    state, path = load_latest(path, report, run_id) if path.is_dir() else \
        (load_checkpoint(path), path)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, AttributeError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"does not fit this model ({first_line(error)[:300]}): "
                              "compile the spec saved in the run's config.json",
                              file=str(path)) from None
    return path


def digest(value: Any, path: Path | None = None) -> str:
    """sha256 of a checkpoint state: tensors by dtype, shape and bytes; the rest by repr."""
    hasher = hashlib.sha256()
    _feed(hasher, value, MAX_DEPTH, path)
    return hasher.hexdigest()


def _feed(hasher: Any, value: Any, depth: int, path: Path | None) -> None:
    if depth < 0:
        raise CheckpointError(f"nested more than {MAX_DEPTH} levels deep: not a checkpoint",
                              file=str(path) if path else None)
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        hasher.update(f"tensor {value.dtype} {tuple(value.shape)}".encode())
        hasher.update(flat.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        hasher.update(b"{")
        for key, item in value.items():
            _feed(hasher, key, depth - 1, path)
            _feed(hasher, item, depth - 1, path)
        hasher.update(b"}")
    elif isinstance(value, (list, tuple)):
        hasher.update(b"[")
        for item in value:
            _feed(hasher, item, depth - 1, path)
        hasher.update(b"]")
    else:
        hasher.update(f"{type(value).__name__} {value!r};".encode())
