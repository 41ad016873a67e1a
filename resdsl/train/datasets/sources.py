"""Training data: pick the source, split it, and build the training and held-out batches.

Sources (TrainOptions.data): "cifar10" / "cifar100" (the official files, `cifar.py`),
"mnist" / "fashion-mnist" (the official IDX files, `idx.py`), "synthetic" or
"synthetic:N" (random images shaped like the network's input, `synthetic.py`), or a path
to an image-folder tree (`folder.py`). All but image folders take the fast path: every
image on the training device (`batches.py`).

A network meets its data only as declared: images of another size than the network's
input are refused with the flag that builds the network for them (`--input 1x28x28`),
never resized behind the user's back.

val_split=N holds out the LAST N training images (fixed, so every run of every network
holds out the same ones, as the paper's 45k/5k split) and reports the error on them
instead of the test set. The mean subtracted is always the training images' mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import torch
from torch import Tensor

from ... import ir
from ..errors import DataError
from ..files import reason
from ..options import TrainOptions
from ..shard import Shard
from .batches import Augmenter, TensorBatches, TensorEvalBatches, image_mean
from .cifar import FORMATS, read_cifar
from .idx import IDX_FORMATS, read_idx
from .names import data_title, is_synthetic, shape_text
from .folder import FolderBatches, FolderEvalBatches, ImageFiles, list_images, pixel_sum
from .synthetic import synthetic, synthetic_size

TrainBatches = Union[TensorBatches, FolderBatches]
EvalBatches = Union[TensorEvalBatches, FolderEvalBatches]


@dataclass
class Data:
    train: TrainBatches  # endless augmented (x, y) batches of this shard; has state_dict()
    eval: EvalBatches  # the held-out images, normalized, in order; iterate once per eval
    eval_set: str  # "test"; "val" for held-out training images or an image folder's val/
    train_size: int  # training images (after the hold-out)
    eval_size: int  # held-out images
    classes: list[str]  # class names, by label
    source: str  # what was read, for config.json
    title: str  # the data set as reports name it: "Fashion-MNIST"
    warnings: list[str] = field(default_factory=list)  # for the caller to report


@dataclass(frozen=True)
class _Target:
    """What the batches are made for: the network, its recipe, and where they go."""

    network: ir.Network
    recipe: ir.Recipe
    options: TrainOptions
    device: torch.device
    shard: Shard


def open_data(network: ir.Network, recipe: ir.Recipe, options: TrainOptions,
              device: torch.device | str, shard: Shard = Shard()) -> Data:
    """Load the data `options` names, checked against the network's input and classes."""
    shard.check_split(recipe.batch_size)
    target = _Target(network, recipe, options, torch.device(device), shard)
    try:
        return _open_data(target)
    except OSError as error:
        # A folder or file the system will not let us look at: the readers test paths
        # (exists, is_dir) everywhere, and each of those can be refused; name the path.
        if error.filename is None:
            raise
        raise DataError(f"cannot read this data path ({reason(error)})",
                        file=str(error.filename)) from None


def _open_data(target: _Target) -> Data:
    network, options = target.network, target.options
    name = options.data
    if name in FORMATS or name in IDX_FORMATS:
        read = (read_cifar, FORMATS) if name in FORMATS else (read_idx, IDX_FORMATS)
        found = read[0](read[1][name], options.data_dir, download=options.download,
                        skip_checksum=options.skip_checksum)
        images = (found.train_images, found.train_labels, found.test_images, found.test_labels)
        return _tensor_data(target, images, found.classes, found.source, found.warnings)
    if is_synthetic(name):
        images = synthetic(network, synthetic_size(name, network), options.seed)
        classes = [str(i) for i in range(network.classes)]
        return _tensor_data(target, images, classes, name, [])
    return _folder_data(target, Path(name))


def download_missing(data: str, data_dir: Path) -> None:
    """Fetch a named data set's official files into `data_dir` unless they are there."""
    from . import cifar, idx

    for formats, module in ((FORMATS, cifar), (IDX_FORMATS, idx)):
        if data in formats and module.locate(formats[data], data_dir) is None:
            module.fetch(formats[data], data_dir)


def _hold_out(size: int, val_split: int, batch_size: int) -> int:
    """How many training images stay for training once the last `val_split` are held out."""
    keep = size - val_split
    if keep < batch_size:
        raise DataError(f"{size} training images, {val_split} held out, leave {max(keep, 0)}: "
                        f"not enough for one batch of {batch_size}. Lower the batch size "
                        "or val_split")
    return keep


def _check_shape(network: ir.Network, shape: tuple[int, ...], classes: int, source: str,
                 title: str) -> None:
    if tuple(network.input) != tuple(shape):
        wanted, have = shape_text(network.input), shape_text(shape)
        raise DataError(f"network {network.name} takes {wanted} inputs but {title}'s images "
                        f"are {have}: pass --input {have} to build the network for them "
                        "(nothing is resized)")
    if network.classes != classes:
        raise DataError(f"network {network.name} has {network.classes} classes but the data "
                        f"has {classes}: set `classes {classes}` in the spec", file=source)


def _augmenter(target: _Target, mean: Tensor) -> Augmenter:
    recipe = target.recipe
    return Augmenter(mean, recipe.crop_padding, recipe.hflip, target.options.seed + 1,
                     target.shard)


def _tensor_data(target: _Target, images: tuple[Tensor, Tensor, Tensor, Tensor],
                 classes: list[str], source: str, warnings: list[str]) -> Data:
    x, y, x_test, y_test = images
    options, batch_size, device = target.options, target.recipe.batch_size, target.device
    title = data_title(options.data)
    _check_shape(target.network, tuple(x.shape[1:]), len(classes), source, title)
    keep = _hold_out(len(x), options.val_split, batch_size)
    if options.val_split:
        x_test, y_test = x[keep:], y[keep:]
    x, y = x[:keep].to(device), y[:keep].to(device)
    mean = image_mean(x.sum(0, dtype=torch.float64), len(x), target.recipe.normalize)
    train = TensorBatches(x, y, batch_size, _augmenter(target, mean), options.seed,
                          target.shard)
    held_out = TensorEvalBatches(x_test.to(device), y_test.to(device), mean, batch_size,
                                 target.shard)
    return Data(train, held_out, "val" if options.val_split else "test", keep, len(x_test),
                classes, source, title, warnings)


def _folder_data(target: _Target, root: Path) -> Data:
    network, options, batch_size = target.network, target.options, target.recipe.batch_size
    if not root.exists():
        raise DataError("no such data set: --data takes cifar10, cifar100, mnist, "
                        "fashion-mnist, synthetic[:N] or the path of an image folder "
                        "(PATH/train/<class>/*.png)", file=str(root))
    if len(network.input) != 3 or network.input[0] not in (1, 3):
        raise DataError(f"image folders give 1- or 3-channel images, but network "
                        f"{network.name} takes {network.input}", file=str(root))
    items, classes = list_images(root, "train")
    title = data_title(options.data)
    _check_shape(network, tuple(network.input), len(classes), str(root), title)
    keep = _hold_out(len(items), options.val_split, batch_size)
    held = items[keep:] if options.val_split else list_images(root, "val", classes)[0]
    train_files = ImageFiles(items[:keep], tuple(network.input))
    total = pixel_sum(train_files, batch_size, options.workers).to(target.device)
    mean = image_mean(total, keep, target.recipe.normalize)
    train = FolderBatches(train_files, batch_size, _augmenter(target, mean), options.seed,
                          options.workers, target.device, target.shard)
    held_out = FolderEvalBatches(ImageFiles(held, tuple(network.input)), mean, batch_size,
                                 options.workers, target.shard)
    return Data(train, held_out, "val", keep, len(held), classes, str(root), title)
