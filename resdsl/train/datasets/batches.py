"""Batches on the training device: epoch order, mean subtraction, crop and flip.

The fast path keeps the whole data set as one uint8 tensor N x C x H x W on the device
(CIFAR-10's 50k images are 150 MB) and augments each batch there in a handful of
batched ops: no DataLoader, no worker processes, no per-image Python. ImageFolder data
(`folder.py`) arrives through a DataLoader but shares the order and the augmentation.

Pixel scale: images are divided by 255 (to [0, 1]) and then the training mean is
subtracted, so a network sees values of about -0.5..0.5. The random crop pads with
zeros *after* the mean is subtracted: padding is the mean image, the network's "nothing".

Distributed: every rank draws the same order and the same augmentation for the whole
global batch and keeps its own slice, so N ranks see exactly what one process would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..shard import Shard


def image_mean(pixel_sum: Tensor, count: int, kind: str) -> Tensor:
    """The mean to subtract, on the [0, 1] scale, from the training images' pixel sums.

    `pixel_sum` is the float64 sum over images (C x H x W); "pixel_mean" keeps a value per
    pixel (the paper), "channel_mean" one per channel, "none" subtracts nothing.
    """
    mean = pixel_sum / (count * 255.0)
    if kind == "pixel_mean":
        return mean.float()
    if kind == "channel_mean":
        return mean.mean(dim=(1, 2), keepdim=True).float()
    return torch.zeros_like(mean[:, :1, :1], dtype=torch.float32)


def normalize(images: Tensor, mean: Tensor) -> Tensor:
    """uint8 images to float: divide by 255, subtract the training mean."""
    return images.float().div_(255.0).sub_(mean)


def crop_flip(x: Tensor, padding: int, dy: Tensor, dx: Tensor, flip: Tensor) -> Tensor:
    """Zero-pad by `padding`, take an H x W crop at (dy, dx) per image, flip where `flip`.

    One gather for the whole batch: the row and column each output pixel reads from are
    computed per image (a flipped image reads its columns right to left).
    """
    n, c, h, w = x.shape
    if padding:
        x = F.pad(x, (padding, padding, padding, padding))
    arange_h = torch.arange(h, device=x.device)
    arange_w = torch.arange(w, device=x.device)
    rows = dy[:, None] + arange_h  # n x h
    cols = torch.where(flip[:, None], w - 1 - arange_w, arange_w) + dx[:, None]  # n x w
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return x[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


class Augmenter:
    """Normalizes a batch and applies the recipe's random crop and flip."""

    def __init__(self, mean: Tensor, padding: int, hflip: bool, seed: int,
                 shard: Shard = Shard()):
        self.mean, self.padding, self.hflip, self.shard = mean, padding, hflip, shard
        # Its own generator on the device: the draws stay on the GPU, and the state is
        # saved in checkpoints so a resumed run augments exactly as before.
        self.generator = torch.Generator(mean.device).manual_seed(seed)

    def __call__(self, images: Tensor) -> Tensor:
        x = normalize(images, self.mean)
        if not self.padding and not self.hflip:
            return x
        n, device = x.shape[0] * self.shard.world_size, x.device
        dy = torch.randint(0, 2 * self.padding + 1, (n,), generator=self.generator, device=device)
        dx = torch.randint(0, 2 * self.padding + 1, (n,), generator=self.generator, device=device)
        if self.hflip:
            flip = torch.rand(n, generator=self.generator, device=device) < 0.5
        else:
            flip = torch.zeros(n, dtype=torch.bool, device=device)
        mine = self.shard.part(n)
        return crop_flip(x, self.padding, dy[mine], dx[mine], flip[mine])

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


class ShuffledOrder:
    """Which images make each global batch: a new random permutation every epoch.

    Batches are always full; the few images left at the end of an epoch wait for the next
    permutation (drop_last), so every iteration sees exactly `batch_size` images.
    """

    def __init__(self, size: int, batch_size: int, seed: int, device: torch.device | str = "cpu"):
        self.size, self.batch_size, self.device = size, batch_size, device
        # Drawn on the CPU (the same on every machine), kept on `device` for cheap slicing.
        self.generator = torch.Generator().manual_seed(seed)
        self.epoch, self.position = 0, 0
        self.perm = self._draw()

    def _draw(self) -> Tensor:
        perm = torch.randperm(self.size, generator=self.generator)
        if torch.device(self.device).type == "cuda":
            # From pinned memory, without blocking: a plain copy to the GPU would wait for
            # the queued steps, a host sync once per epoch.
            return perm.pin_memory().to(self.device, non_blocking=True)
        return perm.to(self.device)

    def exhausted(self) -> bool:
        return self.position + self.batch_size > self.size

    def next_epoch(self) -> None:
        self.epoch, self.position = self.epoch + 1, 0
        self.perm = self._draw()

    def remaining(self) -> list[Tensor]:
        """The global batches left in this epoch, from the current position."""
        starts = range(self.position, self.size - self.batch_size + 1, self.batch_size)
        return [self.perm[s:s + self.batch_size] for s in starts]

    def take(self) -> Tensor:
        if self.exhausted():
            self.next_epoch()
        batch = self.perm[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return batch

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "perm": self.perm.cpu(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.perm = state["perm"].to(self.device)
        self.generator.set_state(state["generator"])


class TensorBatches:
    """Endless augmented training batches (x, y) from images held on the device."""

    def __init__(self, images: Tensor, labels: Tensor, batch_size: int, augment: Augmenter,
                 seed: int, shard: Shard = Shard()):
        self.images, self.labels, self.augment = images, labels, augment
        self.order = ShuffledOrder(len(images), batch_size, seed, images.device)
        self.mine = shard.part(batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self

    def __next__(self) -> tuple[Tensor, Tensor]:
        index = self.order.take()[self.mine]
        return self.augment(self.images[index]), self.labels[index]

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order.state_dict(), "augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.load_state_dict(state["order"])
        self.augment.load_state_dict(state["augment"])


class TensorEvalBatches:
    """The held-out images in order, normalized, no augmentation; each rank a share."""

    def __init__(self, images: Tensor, labels: Tensor, mean: Tensor, batch_size: int,
                 shard: Shard = Shard()):
        self.images, self.labels, self.mean = images, labels, mean
        self.batch_size, self.shard = batch_size, shard

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for batch in in_order(len(self.images), self.batch_size, self.shard):
            yield normalize(self.images[batch], self.mean), self.labels[batch]


def in_order(size: int, batch_size: int, shard: Shard = Shard()) -> list[slice]:
    """Batches of images 0..size-1 in order; with several processes, every world_size-th."""
    starts = range(shard.rank * batch_size, size, batch_size * shard.world_size)
    return [slice(start, min(start + batch_size, size)) for start in starts]
