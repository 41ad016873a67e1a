"""What a training run may change from the command line: one field per `resdsl train` flag.

The recipe (declared in the spec) says how the paper trains; `TrainOptions` says where
and how this run happens. Each field's `help` is the flag's help text: the CLI makes its
options from these fields (`--batch-size` from `batch_size`), so they are declared once.
The few recipe fields a user commonly overrides (iterations, batch size, lr, evaluation
interval) are options too; `recipe_overrides()` hands the ones set to the recipe.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ..limits import BUILD_LIMIT_TEXT
from .errors import OptionsError

PRECISIONS = ("fp32", "bf16")
# Options that override the recipe field of the same name when set (not None).
RECIPE_OVERRIDES = ("iterations", "batch_size", "lr", "eval_every")
MAX_WORKERS = 256  # DataLoader processes: more is a typo, not a machine
MAX_SEED = 2**62  # torch seeds are 64-bit, and the augmentation uses seed + 1


def _option(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass
class TrainOptions:
    # --- recipe overrides: None keeps the recipe's value ---
    iterations: int | None = _option(None, "total SGD steps; overrides the recipe (the "
                                     "paper: 64000 on CIFAR-10). On --resume, more extend "
                                     "the run")
    batch_size: int | None = _option(None, "global batch, split across processes; overrides "
                                     "the recipe")
    lr: float | None = _option(None, "base learning rate, before lr_steps and warm-up; "
                               "overrides the recipe")
    eval_every: int | None = _option(None, "iterations between evaluations on the held-out "
                                     "images; overrides the recipe")
    # --- data ---
    seed: int = _option(0, "seeds init, data order and augmentation: same seed, same run")
    val_split: int = _option(0, "hold out the LAST N training images and report the error on "
                             "them, not on the test set (the paper used 5000)")
    data: str = _option("cifar10", "cifar10, cifar100, mnist, fashion-mnist, synthetic[:N], "
                        "or an image-folder path with train/ and val/")
    data_dir: str = _option("data", "folder holding the data set's official files (e.g. "
                            "cifar-10-batches-py/ or the .tar.gz; the four IDX .gz files)")
    download: bool = _option(False, "fetch the official files if they are missing")
    skip_checksum: bool = _option(False, "accept data files that are not the official ones "
                                  "(a subset, a re-export)")
    # --- run folder ---
    out: str | None = _option(None, "run folder (default runs/NETWORK-DATE-TIME)")
    resume: str | None = _option(None, "continue this run folder exactly; its saved settings "
                                 "win (the spec is then optional)")
    keep_checkpoints: int = _option(3, "newest checkpoints kept; older ones are deleted")
    checkpoint_every: int = _option(1000, "iterations between checkpoints (also at the end)")
    log_every: int = _option(100, "iterations between log lines (the only device syncs)")
    # --- execution ---
    device: str = _option("auto", "auto (CUDA if present), cpu, cuda, cuda:1")
    precision: str | None = _option(None, "fp32 or bf16 autocast (default: bf16 on CUDA, "
                                    "fp32 on CPU)")
    channels_last: bool | None = _option(None, "NHWC memory layout (default: on for a CPU, "
                                         "where it trains 1.4x faster, bench/cpu_settings.py; "
                                         "off elsewhere)")
    compile: bool = _option(False, "torch.compile the model (slow start, faster steps)")
    sync_bn: bool = _option(False, "BatchNorm statistics over all GPUs (CUDA only)")
    workers: int = _option(4, "DataLoader worker processes (image folders only)")
    # --- the model: used where it is built (`request.build_model`), saved to rebuild it ---
    input: str | None = _option(None, "build the network for CxHxW images instead of its "
                                "spec's input, e.g. 1x28x28 for MNIST (the data is never "
                                "resized)")
    zero_init_residual: bool = _option(False, "zero the last BatchNorm of each block")
    max_memory: str | None = _option(None, "what building the model may allocate, for its "
                                     "weights and for one image's activations, each "
                                     f"(default {BUILD_LIMIT_TEXT}; e.g. 32G)")

    def __post_init__(self) -> None:
        _check_types(self)
        for name in ("keep_checkpoints", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise OptionsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.val_split < 0:
            raise OptionsError(f"val_split must not be negative, got {self.val_split}")
        if not 0 <= self.workers <= MAX_WORKERS:
            raise OptionsError(f"workers must be between 0 and {MAX_WORKERS}, got {self.workers}")
        if not 0 <= self.seed < MAX_SEED:
            raise OptionsError(f"seed must be between 0 and 2**62, got {self.seed}")
        if self.input is not None:
            input_shape(self.input)
        if self.precision not in (None, *PRECISIONS):
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, "
                               f"got {self.precision!r}")

    def recipe_overrides(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RECIPE_OVERRIDES
                if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def input_shape(text: str) -> tuple[int, int, int]:
    """`--input CxHxW` as three sizes; the spec's own rules for inputs apply when the
    network is built with it."""
    parts = text.lower().split("x")
    # ASCII digits only: str.isdigit() also takes "３" and "٣", which int() then reads.
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and int(p) > 0 for p in parts):
        raise OptionsError(f"--input: expected CxHxW such as 1x28x28, got {text!r}")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


@functools.cache
def option_types() -> dict[str, tuple[type, bool]]:
    """Each field's type, and whether None is allowed: `int | None` is (int, True)."""
    types = {}
    for name, hint in typing.get_type_hints(TrainOptions).items():
        args = typing.get_args(hint)
        base = next((a for a in args if a is not type(None)), hint)
        types[name] = (base, type(None) in args)
    return types


def _check_types(options: TrainOptions) -> None:
    # config.json is a file a user may edit: its options are checked like flags.
    for name, (kind, optional) in option_types().items():
        value = getattr(options, name)
        if value is None and optional:
            continue
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise OptionsError(f"{name} must be {kind.__name__}, got {value!r:.60}")
