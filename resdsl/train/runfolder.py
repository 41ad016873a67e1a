"""The run folder: config.json, metrics.jsonl, curves.png and checkpoints/.

    runs/resnet20-20250101-120000/
        config.json      recipe, options, spec text and its sha256, versions, device
        metrics.jsonl    one JSON object per logged iteration (errors are fractions)
        curves.png       training (thin, dashed) and held-out (bold) error vs iterations
        checkpoints/     ckpt_000100.pt ... the newest few
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import ir
from ..atomic import atomic_write
from .errors import CheckpointError, OptionsError
from .options import TrainOptions

CONFIG = "config.json"
METRICS = "metrics.jsonl"
CURVES = "curves.png"


def new_run_dir(out: str | None, network: str) -> Path:
    """`out`, or a fresh runs/<network>-<date>-<time>; never a folder holding a run."""
    if out is not None:
        path = Path(out)
        if (path / CONFIG).exists():
            raise OptionsError(f"already holds a run: continue it with --resume {path}, "
                               "or choose another --out", file=str(path))
    else:
        stem = Path("runs") / f"{network}-{datetime.now():%Y%m%d-%H%M%S}"
        path, n = stem, 1
        while path.exists():  # two runs started in the same second
            n += 1
            path = stem.with_name(f"{stem.name}-{n}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def versions() -> dict[str, str]:
    import platform

    import torch

    try:
        resdsl = metadata.version("resdsl")
    except metadata.PackageNotFoundError:  # running from a source tree
        resdsl = "unknown"
    return {"python": platform.python_version(), "torch": torch.__version__, "resdsl": resdsl}


def write_config(run_dir: Path, config: dict[str, Any]) -> None:
    text = json.dumps(config, indent=2) + "\n"
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(run_dir / CONFIG, lambda file: file.write(text.encode()))


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError("not a run folder (no config.json): pass the folder a "
                              "training run wrote", file=str(run_dir)) from None
    except (OSError, ValueError) as error:
        raise CheckpointError(f"cannot be read ({error}); the run cannot be resumed",
                              file=str(path)) from None


@dataclass
class SavedRun:
    """What a run folder's config.json says: enough to rebuild, resume or evaluate it."""

    config: dict[str, Any]  # the whole config.json
    recipe: ir.Recipe  # the resolved recipe the run trains with
    options: TrainOptions  # the options it was started with
    spec_text: str  # the spec it was started from (compile it to get the model back)


def load_run(run_dir: str | os.PathLike) -> SavedRun:
    config, path = read_config(run_dir), Path(run_dir) / CONFIG
    try:
        return SavedRun(config, ir.Recipe.model_validate(config["recipe"]),
                        TrainOptions.from_dict(config["options"]), config["spec"])
    except (KeyError, TypeError, ValidationError, OptionsError) as error:
        raise CheckpointError(f"has no usable recipe, options and spec ({error}); this run "
                              "cannot be resumed or evaluated from it", file=str(path)) from None


def append_metrics(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / METRICS, "a") as file:
        file.write(json.dumps(record) + "\n")


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record; a last line cut short by a crash is skipped."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def trim_metrics(run_dir: Path, iteration: int) -> None:
    """Forget records after `iteration`: a resumed run logs those iterations again."""
    kept = [r for r in read_metrics(run_dir) if r.get("iteration", 0) <= iteration]
    text = "".join(json.dumps(r) + "\n" for r in kept)
    atomic_write(run_dir / METRICS, lambda file: file.write(text.encode()))
