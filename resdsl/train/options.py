"""What a training run may change from the command line, and how it meets the recipe.

The recipe (declared in the spec) says how the paper trains; `TrainOptions` says where
and how this run happens. The few recipe fields a user commonly overrides (iterations,
batch size, lr, eval interval) are also options; `resolve_recipe` folds them in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pydantic import ValidationError

from .. import ir
from .errors import OptionsError

DATA_SETS = ("cifar10", "cifar100", "synthetic")
PRECISIONS = ("fp32", "bf16")
# Options that override the recipe field of the same name when set (not None).
RECIPE_OVERRIDES = ("iterations", "batch_size", "lr", "eval_every")


@dataclass
class TrainOptions:
    # --- recipe overrides: None keeps the recipe's value ---
    iterations: int | None = None  # total SGD steps (the paper: 64000 on CIFAR-10)
    batch_size: int | None = None  # global batch, split across ranks when distributed
    lr: float | None = None  # base learning rate, before lr_steps and warm-up
    eval_every: int | None = None  # iterations between evaluations on the held-out set
    # --- data ---
    seed: int = 0  # seeds data order, augmentation and torch; same seed, same run
    val_split: int = 0  # 0: train on all training images, report the test set; N: hold
    #                     out the LAST N training images and report on them (paper: 5000)
    data: str = "cifar10"  # "cifar10" | "cifar100" | "synthetic[:N]" | an ImageFolder path
    data_dir: str = "data"  # where CIFAR's folder or .tar.gz is, or is downloaded to
    download: bool = False  # fetch the CIFAR archive if it is not in data_dir
    skip_checksum: bool = False  # accept CIFAR files whose md5 is not the official one
    # --- run folder ---
    out: str | None = None  # run folder; None: runs/<network>-<date>-<time>
    resume: str | None = None  # run folder to continue; its saved settings win
    keep_checkpoints: int = 3  # newest checkpoints kept; older ones are deleted
    checkpoint_every: int = 1000  # iterations between checkpoints (also at the end)
    log_every: int = 100  # iterations between metrics lines (the only host syncs)
    # --- execution ---
    device: str = "auto"  # "auto" (cuda if present), "cpu", "cuda", "cuda:1", ...
    precision: str | None = None  # "fp32" | "bf16" autocast; None: bf16 on cuda, else fp32
    channels_last: bool = False  # NHWC memory layout, faster convolutions on tensor cores
    compile: bool = False  # torch.compile the model (slow start, faster steps)
    sync_bn: bool = False  # BatchNorm statistics over all GPUs' batches (CUDA, NCCL only)
    workers: int = 4  # DataLoader processes, ImageFolder data only (the rest is on device)

    def __post_init__(self) -> None:
        for name in ("keep_checkpoints", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise OptionsError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.val_split < 0 or self.workers < 0:
            raise OptionsError("val_split and workers must not be negative")
        if self.precision not in (None, *PRECISIONS):
            raise OptionsError(f"precision must be one of {', '.join(PRECISIONS)}, "
                               f"got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainOptions:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def resolve_recipe(recipe: ir.Recipe, overrides: TrainOptions | Mapping[str, Any]) -> ir.Recipe:
    """The recipe with the overrides that are set applied, validated as the IR would."""
    if isinstance(overrides, TrainOptions):
        update = {name: getattr(overrides, name) for name in RECIPE_OVERRIDES}
    else:
        update = dict(overrides)
    update = {k: v for k, v in update.items() if v is not None}
    unknown = sorted(set(update) - (set(ir.Recipe.model_fields) - {"span"}))
    if unknown:
        raise OptionsError(f"not a recipe field: {', '.join(unknown)}")
    try:
        checked = ir.Recipe.model_validate({**recipe.model_dump(), **update})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise OptionsError(f"invalid recipe override: {problems}") from None
    check_recipe(checked)
    # model_copy keeps the recipe's span, so later errors still point into the spec.
    return recipe.model_copy(update={k: getattr(checked, k) for k in update})


def check_recipe(recipe: ir.Recipe) -> None:
    """What the trainer needs beyond the IR's types: positive sizes, a sane warm-up."""
    for name in ("iterations", "batch_size", "eval_every"):
        if getattr(recipe, name) < 1:
            raise OptionsError(f"recipe {name} must be at least 1, got {getattr(recipe, name)}",
                               recipe.span)
    if recipe.lr <= 0 or recipe.crop_padding < 0:
        raise OptionsError("recipe lr must be positive and crop_padding not negative", recipe.span)
    if list(recipe.lr_steps) != sorted(recipe.lr_steps):
        raise OptionsError(f"recipe lr_steps must increase, got {list(recipe.lr_steps)}",
                           recipe.span)
    if (recipe.warmup_lr is None) != (recipe.warmup_until_error is None):
        raise OptionsError("recipe warmup_lr and warmup_until_error go together: set both "
                           "or neither", recipe.span)
    if recipe.warmup_until_error is not None and not 0 < recipe.warmup_until_error <= 1:
        raise OptionsError("recipe warmup_until_error is a fraction in (0, 1], e.g. 0.8 for "
                           f"80%; got {recipe.warmup_until_error}", recipe.span)
