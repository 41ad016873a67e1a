"""Checkpoints: written atomically, the newest few kept, verified when loaded.

A checkpoint is `{"format", "sha256", "state"}` saved with torch.save and loaded with
`weights_only=True`, so it may hold only tensors, numbers, strings, lists and dicts:
the RNG states are converted to tensors, nothing else is pickled. `sha256` digests the
state's contents; torch's zip reader notices a truncated file but not a flipped byte in
a tensor, the digest notices both. A checkpoint that fails either check is renamed
`*.corrupt` and resuming falls back to the one before it.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from .errors import CheckpointError

FORMAT = 1  # bump when the layout of "state" changes
FOLDER = "checkpoints"  # inside the run folder
NAME = re.compile(r"ckpt_(\d+)\.pt")


def checkpoint_path(run_dir: str | os.PathLike, iteration: int) -> Path:
    return Path(run_dir) / FOLDER / f"ckpt_{iteration:06d}.pt"


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoints, oldest first (by iteration, not by file time)."""
    folder = Path(run_dir) / FOLDER
    found = [(int(m.group(1)), path) for path in folder.glob("ckpt_*.pt")
             if (m := NAME.fullmatch(path.name))]
    return [path for _, path in sorted(found)]


def save_checkpoint(run_dir: str | os.PathLike, iteration: int, state: dict[str, Any],
                    keep: int) -> Path:
    """Write `ckpt_<iteration>.pt` atomically, then delete all but the newest `keep`."""
    path = checkpoint_path(run_dir, iteration)
    payload = {"format": FORMAT, "sha256": digest(state), "state": state}
    path.parent.mkdir(parents=True, exist_ok=True)  # checkpoints/ inside the run folder
    atomic_write(path, lambda file: torch.save(payload, file))
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The state saved in `path`, on the CPU; CheckpointError if unreadable or corrupt."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated zip, bad pickle, not a checkpoint at all
        raise CheckpointError(f"cannot be read ({str(error).splitlines()[0]})",
                              file=str(path)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "state" not in payload:
        raise CheckpointError(f"not a checkpoint of format {FORMAT}", file=str(path))
    if digest(payload["state"]) != payload.get("sha256"):
        raise CheckpointError("integrity check failed: its contents do not match the digest "
                              "written with them (the file is corrupt)", file=str(path))
    match = NAME.fullmatch(Path(path).name)
    if match and payload["state"].get("iteration") != int(match.group(1)):
        raise CheckpointError("holds another iteration than its name says", file=str(path))
    return payload["state"]


def load_latest(run_dir: str | os.PathLike, report: Callable[[str], None]) -> tuple[dict, Path]:
    """The newest checkpoint that loads and verifies; bad ones are set aside and reported."""
    for stale in (Path(run_dir) / FOLDER).glob(".ckpt_*.tmp"):
        stale.unlink(missing_ok=True)  # a write the killed run never finished
    candidates = list_checkpoints(run_dir)
    if not candidates:
        raise CheckpointError("no checkpoints to resume from: the run stopped before its "
                              "first one. Start it again", file=str(Path(run_dir) / FOLDER))
    for path in reversed(candidates):
        try:
            return load_checkpoint(path), path
        except CheckpointError as error:
            aside = path.with_name(path.name + ".corrupt")
            os.replace(path, aside)
            report(f"{path}: {error.message}; set aside as {aside.name}, "
                   "falling back to the previous checkpoint")
    raise CheckpointError("no checkpoint of this run can be read; start it again",
                          file=str(Path(run_dir) / FOLDER))


def load_weights(model: torch.nn.Module, source: str | os.PathLike,
                 report: Callable[[str], None]) -> Path:
    """Put a run's weights into `model`: `source` is a run folder (its newest good
    checkpoint) or a checkpoint file. Returns the checkpoint used."""
    path = Path(source)
    state, path = load_latest(path, report) if path.is_dir() else (load_checkpoint(path), path)
    try:
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError) as error:
        raise CheckpointError(f"does not fit this model ({str(error).splitlines()[0]}): "
                              "compile the spec saved in the run's config.json",
                              file=str(path)) from None
    return path


def digest(value: Any) -> str:
    """sha256 of a checkpoint state: tensors by dtype, shape and bytes; the rest by repr."""
    hasher = hashlib.sha256()
    _feed(hasher, value)
    return hasher.hexdigest()


def _feed(hasher: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        flat = value.detach().cpu().contiguous().reshape(-1)
        hasher.update(f"tensor {value.dtype} {tuple(value.shape)}".encode())
        hasher.update(flat.view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        hasher.update(b"{")
        for key, item in value.items():
            _feed(hasher, key)
            _feed(hasher, item)
        hasher.update(b"}")
    elif isinstance(value, (list, tuple)):
        hasher.update(b"[")
        for item in value:
            _feed(hasher, item)
        hasher.update(b"]")
    else:
        hasher.update(f"{type(value).__name__} {value!r};".encode())


def rng_state() -> dict[str, Any]:
    """Every global RNG the run draws from, as tensors and numbers (weights_only-safe).

    The data order and augmentation generators are saved with the data's state.
    """
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "python": {"version": version, "internal": torch.tensor(internal, dtype=torch.int64),
                   "gauss": gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # This process's GPU only: asking for every GPU's state would open a CUDA context
        # on each of them from each torchrun process.
        state["cuda"] = torch.cuda.get_rng_state()
    try:
        import numpy as np
    except ImportError:
        return state
    _, keys, position, has_gauss, cached = np.random.get_state()
    state["numpy"] = {"keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                      "has_gauss": int(has_gauss), "cached": float(cached)}
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"].tolist()), python["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    if "numpy" in state:
        import numpy as np

        saved = state["numpy"]
        np.random.set_state(("MT19937", saved["keys"].numpy().astype(np.uint32),
                             saved["position"], saved["has_gauss"], saved["cached"]))
