"""The run folder: what a run writes, the names of the metrics it logs, and reading it back.

    runs/resnet20-20250101-120000/
        config.json      run id, recipe, options, the spec (every file's text), versions, device
        metrics.jsonl    one JSON object per logged iteration (errors are fractions)
        metrics.csv      the same records as a table, a column per metric
        events.out.tfevents.*   the same scalars for TensorBoard (when it is installed)
        curves.png       training (thin, dashed) and held-out (bold) error vs iterations
        checkpoints/     ckpt_000100.pt ... the newest few
        .lock            held by the process training in the folder

Every reader here takes the files as a user may have left them: a partial last line
(a killed run), lines that are not records, a file far too large or not a file at all.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .. import ir
from ..atomic import atomic_write
from .errors import CheckpointError, OptionsError, RunFolderError
from .files import MiB, read_bounded, reason
from .options import TrainOptions

CONFIG = "config.json"
METRICS = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
CURVES = "curves.png"
LOCK = ".lock"
TENSORBOARD = "events.out.tfevents.*"  # TensorBoard's own names, in the folder itself
CHECKPOINTS = "checkpoints"  # the folder of checkpoint files (checkpoint.py writes them)
CHECKPOINT_NAME = re.compile(r"ckpt_(\d+)\.pt")

# The metrics a logging iteration records, and the error an evaluation records.
TRAIN_METRICS = ("lr", "train_loss", "train_error", "images_per_s")
HELD_OUT = ("test_error", "val_error")  # by eval set: "test" or "val"

MAX_CONFIG = 16 * MiB  # a spec of a few KB, the recipe, the options
MAX_METRICS = 256 * MiB  # a line per logged iteration: 64k iterations, each logged, ~10 MB


def held_out_metric(eval_set: str) -> str:
    return f"{eval_set}_error"


def metric_columns(eval_set: str) -> tuple[str, ...]:
    """The columns of metrics.csv: every metric a run on `eval_set` logs, in this order."""
    return ("iteration", *TRAIN_METRICS, held_out_metric(eval_set))


@dataclass
class RunResult:
    run_dir: Path  # the run folder
    iteration: int  # iterations completed
    eval_set: str  # "test", or "val" when val_split held out training images
    final_error: float | None  # error on eval_set after the last iteration (a fraction);
    #                            None when interrupted. The final error, not the best one.
    interrupted: bool = False  # stopped by Ctrl-C; continue with TrainOptions(resume=run_dir)
    checkpoint: Path | None = None  # the newest checkpoint of the run
    data: str = ""  # the data set it was evaluated on, as reports name it ("Fashion-MNIST")


def checkpoint_path(run_dir: str | os.PathLike, iteration: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"ckpt_{iteration:06d}.pt"


def checkpoint_iteration(path: Path) -> int | None:
    """The iteration a checkpoint's file name says (`ckpt_000120.pt`: 120), or None."""
    match = CHECKPOINT_NAME.fullmatch(path.name)
    return int(match.group(1)) if match else None


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The run's checkpoints, oldest first (by iteration, not by file time)."""
    folder = Path(run_dir) / CHECKPOINTS
    found = [(checkpoint_iteration(path), path) for path in folder.glob("ckpt_*.pt")]
    return [path for iteration, path in sorted(p for p in found if p[0] is not None)]


def new_run_dir(out: str | None, network: str) -> Path:
    """The folder `out`, or a fresh runs/<network>-<date>-<time>, made if it is not there."""
    if out is not None:
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise OptionsError("is not a folder: give --out a folder for the run",
                               file=str(path))
    else:
        stem = Path("runs") / f"{network}-{datetime.now():%Y%m%d-%H%M%S}"
        path, n = stem, 1
        while path.exists():  # two runs started in the same second
            n += 1
            path = stem.with_name(f"{stem.name}-{n}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OptionsError(f"cannot make the run folder ({reason(error)}): choose another "
                           "--out", file=str(path)) from None
    return path


def new_run_id() -> str:
    return uuid.uuid4().hex


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
    atomic_write(run_dir / CONFIG, lambda file: file.write(text.encode()))


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / CONFIG
    if not path.exists():
        raise CheckpointError("not a run folder (no config.json): pass the folder a "
                              "training run wrote", file=str(run_dir))
    raw = read_bounded(path, MAX_CONFIG, CheckpointError, "run's config.json")
    try:
        config = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # bad UTF-8 or JSON, or nested too deep
        raise CheckpointError(f"cannot be read ({type(error).__name__}); the run cannot be "
                              "resumed or evaluated from it", file=str(path)) from None
    if not isinstance(config, dict):
        raise CheckpointError("holds no JSON object: not a run's config.json", file=str(path))
    return config


@dataclass
class SavedRun:
    """What a run folder's config.json says: enough to rebuild, resume or evaluate it."""

    config: dict[str, Any]  # the whole config.json
    recipe: ir.Recipe  # the resolved recipe the run trains with
    options: TrainOptions  # the options it was started with
    origin: ir.Origin | None  # the spec it was started from (None: a network made in Python)
    run_id: str | None  # None for runs written before runs had ids
    legacy: bool = False  # an older version's: the spec's own text, its imports left on disk
    stamp: tuple[int, int] | None = None  # config.json's (mtime_ns, size) when it was read


def spec_text(origin: ir.Origin | None) -> str | None:
    """The text of the spec file itself (imports aside)."""
    return origin.sources.get(origin.path) if origin is not None else None


def check_same_spec(saved: SavedRun, network: ir.Network, run_dir: str | os.PathLike) -> None:
    """Refuse to put a run's weights into another network, or another spec's: resuming or
    evaluating a run takes the spec and network it trained."""
    config = str(Path(run_dir) / CONFIG)
    trained = saved.config.get("network")
    if isinstance(trained, str) and trained != network.name:
        raise CheckpointError(f"this run trained {trained}, not {network.name}: give no spec "
                              f"(the one saved here is used), or the spec and network it "
                              f"trained", file=config)
    kept, given = spec_text(saved.origin), spec_text(network.origin)
    if kept is not None and given is not None and kept != given:
        raise CheckpointError("this run was trained from another spec (its text differs): "
                              "give no spec (the one saved here is used), or the spec saved "
                              "under 'origin' in this file", file=config)


def check_unchanged(saved: SavedRun, run_dir: str | os.PathLike) -> None:
    """config.json is read before its folder is locked: refuse to go on if another process
    rewrote it in between (a run resumed at the same moment, then finished)."""
    if saved.stamp is not None and _stamp(Path(run_dir) / CONFIG) != saved.stamp:
        raise RunFolderError("changed while this run was being prepared (another process "
                             "resumed it): try again", file=str(Path(run_dir) / CONFIG))


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def load_run(run_dir: str | os.PathLike) -> SavedRun:
    path = Path(run_dir) / CONFIG
    stamp, config = _stamp(path), read_config(run_dir)
    try:
        origin, legacy = _origin(config, run_dir)
        saved = SavedRun(config, ir.Recipe.model_validate(config["recipe"]),
                         TrainOptions.from_dict(config["options"]), origin,
                         config.get("run_id"), legacy, stamp)
    except (KeyError, TypeError, ValidationError, OptionsError) as error:
        detail = error.message if isinstance(error, OptionsError) else type(error).__name__
        raise CheckpointError(f"has no usable recipe, options and spec ({detail}); this run "
                              "cannot be resumed or evaluated from it", file=str(path)) from None
    if not isinstance(saved.run_id, (str, type(None))):
        raise CheckpointError("its run id is not text", file=str(path))
    return saved


def _origin(config: dict[str, Any], run_dir: str | os.PathLike) -> tuple[ir.Origin | None, bool]:
    """The spec as config.json keeps it: `origin`, every file's text; or, in run folders
    of older versions, `spec` (the file's text alone) and `spec_path` (where it was read,
    for its imports)."""
    if config.get("origin") is not None:
        return ir.Origin.model_validate(config["origin"]), False
    text, path = config.get("spec"), config.get("spec_path")
    if not isinstance(text, str):
        return None, False
    label = path if isinstance(path, str) else f"{Path(run_dir) / CONFIG}[spec]"
    base = Path(path).resolve().parent if isinstance(path, str) else Path.cwd()
    network = config.get("network")
    return ir.Origin(path=label, base_dir=str(base), sources={label: text},
                     network=network if isinstance(network, str) else ""), True


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every record: a JSON object with an integer iteration, keeping its numeric values.
    Lines that are not such records (a last line cut short by a kill) are skipped."""
    path = Path(run_dir) / METRICS
    if not path.exists():
        return []
    raw = read_bounded(path, MAX_METRICS, RunFolderError, "metrics.jsonl")
    records = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and _is_int(record.get("iteration")):
            records.append({k: v for k, v in record.items() if _is_number(v)})
    return records


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def metrics_line(record: dict[str, Any]) -> str:
    return json.dumps(record) + "\n"


def csv_line(record: dict[str, Any], columns: tuple[str, ...]) -> str:
    """One row of metrics.csv; a metric the record lacks is an empty cell."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([record.get(c, "") for c in columns])
    return buffer.getvalue()


def read_metrics_csv(run_dir: str | os.PathLike) -> list[dict[str, str]]:
    """metrics.csv's rows by column; a last row cut short by a kill is skipped."""
    path = Path(run_dir) / METRICS_CSV
    text = read_bounded(path, MAX_METRICS, RunFolderError, "metrics.csv").decode("utf-8")
    complete = text if text.endswith("\n") else text.rpartition("\n")[0]
    rows = list(csv.reader(io.StringIO(complete)))
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:] if len(row) == len(header)]
