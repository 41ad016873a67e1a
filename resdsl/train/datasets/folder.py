"""Image-folder data: PATH/train/<class>/*.png|jpg and PATH/val/<class>/*, via a DataLoader.

Classes are the folder names under train/, sorted; every image is decoded with Pillow
and resized to the network's input H x W (aspect ratio not kept). Decoding runs in
DataLoader worker processes; augmentation runs on the device, as for the fast path
(`batches.py`), with the same epoch order and the same state in checkpoints.

Only regular files are images (a FIFO named pipe.png would hang a worker), and an image
is refused before decoding when its header declares more than MAX_PIXELS pixels: a
small PNG can declare 20000 x 20000 and decompress to gigabytes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from ..errors import DataError
from ..files import first_line, reason
from ..shard import Shard
from .batches import Augmenter, ShuffledOrder, in_order, normalize

SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_PIXELS = 50_000_000  # per image, as its header declares it: 7071 x 7071, or 50 megapixels
Item = tuple[Path, int]  # an image file and its class index
Problem = tuple[str, str]  # a file that cannot be used, and why


def list_images(root: Path, split: str, classes: Sequence[str] | None = None
                ) -> tuple[list[Item], list[str]]:
    """The images of `root/split`, sorted; the classes are taken from it unless given."""
    folder = root / split
    if not folder.is_dir():
        raise DataError(f"no {split}/ folder here: an image-folder data set holds "
                        f"{root}/train/<class>/*.png and {root}/val/<class>/*.png", file=str(root))
    found = sorted(d.name for d in _entries(folder) if d.is_dir())
    classes = list(classes) if classes is not None else found
    unknown = sorted(set(found) - set(classes))
    if unknown:
        raise DataError(f"classes {', '.join(unknown)} are not in train/: every {split}/ class "
                        "needs training images", file=str(folder))
    items = [(path, index) for index, name in enumerate(classes) if (folder / name).is_dir()
             for path in sorted(_entries(folder / name))
             if path.suffix.lower() in SUFFIXES and path.is_file()]
    if not items:
        raise DataError(f"no .png or .jpg images under {split}/<class>/", file=str(folder))
    return items, classes


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as error:
        raise DataError(f"cannot list this folder ({reason(error)})", file=str(folder)) from None


class ImageFiles(Dataset):
    """Decoded, resized uint8 images C x H x W; a bad file becomes an error message.

    Errors are returned as (file, message), not raised: an exception raised in a worker
    process reaches the main process wrapped in a traceback, and the user should just
    read which file is bad.
    """

    def __init__(self, items: Sequence[Item], shape: tuple[int, int, int]):
        self.items, self.shape = list(items), shape

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[Tensor | None, int, Problem | None]:
        from PIL import Image  # Pillow is only needed for image folders

        path, label = self.items[index]
        channels, height, width = self.shape
        try:
            with warnings.catch_warnings():
                # Pillow warns of large images; the check below refuses them itself.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                image = Image.open(path)
            with image:
                if image.width * image.height > MAX_PIXELS:
                    return None, label, (str(path), f"the image is {image.width} x "
                                         f"{image.height}, more than {MAX_PIXELS:,} pixels; "
                                         "shrink or remove it")
                image = image.convert("RGB" if channels == 3 else "L")
                image = image.resize((width, height), Image.Resampling.BILINEAR)
                pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
        # Any failure to decode a user's file means one thing, a bad image: Pillow raises
        # OSError, ValueError, SyntaxError, DecompressionBombError, struct.error, ...
        except Exception as error:  # noqa: BLE001
            detail = reason(error) if isinstance(error, OSError) else first_line(error)
            return None, label, (str(path), f"cannot read the image ({detail}); fix or remove it")
        return pixels.view(height, width, channels).permute(2, 0, 1).contiguous(), label, None


def collate(items: list[tuple[Tensor | None, int, Problem | None]]
            ) -> tuple[Tensor, Tensor] | Problem:
    errors = [error for _, _, error in items if error is not None]
    if errors:
        return errors[0]
    return torch.stack([image for image, _, _ in items]), torch.tensor([y for _, y, _ in items])


def _checked(batch: tuple[Tensor, Tensor] | Problem) -> tuple[Tensor, Tensor]:
    if isinstance(batch[0], str):
        path, message = batch
        raise DataError(message, file=path)
    return batch


def loader(files: ImageFiles, batches: Any, workers: int, pin: bool) -> DataLoader:
    return DataLoader(files, batch_sampler=batches, num_workers=workers, collate_fn=collate,
                      pin_memory=pin, persistent_workers=workers > 0)


def _index_batches(size: int, batch_size: int, shard: Shard = Shard()) -> list[list[int]]:
    return [list(range(s.start, s.stop)) for s in in_order(size, batch_size, shard)]


def pixel_sum(files: ImageFiles, batch_size: int, workers: int) -> Tensor:
    """Sum of all images, float64 C x H x W: one pass to get the training mean."""
    total = torch.zeros(files.shape, dtype=torch.float64)
    batches = _index_batches(len(files), batch_size)
    for batch in DataLoader(files, batch_sampler=batches, num_workers=workers, collate_fn=collate):
        total += _checked(batch)[0].sum(0, dtype=torch.float64)
    return total


class _RemainingBatches:
    """The DataLoader's batch sampler: this rank's part of the epoch's remaining batches.

    Read afresh each time the loader starts an epoch, so a restored position is honoured.
    """

    def __init__(self, order: ShuffledOrder, shard: Shard):
        self.order, self.mine = order, shard.part(order.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.order.remaining():
            yield batch[self.mine].tolist()

    def __len__(self) -> int:
        return len(self.order.remaining())


class FolderBatches:
    """Endless augmented training batches decoded by DataLoader workers."""

    def __init__(self, files: ImageFiles, batch_size: int, augment: Augmenter, seed: int,
                 workers: int, device: torch.device, shard: Shard = Shard()):
        self.order = ShuffledOrder(len(files), batch_size, seed)
        self.augment, self.device = augment, device
        sampler = _RemainingBatches(self.order, shard)
        self.loader = loader(files, sampler, workers, pin=device.type == "cuda")
        self._batches: Iterator | None = None

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        return self

    def __next__(self) -> tuple[Tensor, Tensor]:
        if self.order.exhausted():
            self.order.next_epoch()
            self._batches = None
        if self._batches is None:
            self._batches = iter(self.loader)
        images, labels = _checked(next(self._batches))
        # Counted when consumed, not when the workers fetched ahead: that is the position.
        self.order.position += self.order.batch_size
        images = images.to(self.device, non_blocking=True)
        return self.augment(images), labels.to(self.device, non_blocking=True)

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order.state_dict(), "augment": self.augment.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.order.load_state_dict(state["order"])
        self.augment.load_state_dict(state["augment"])
        self._batches = None  # restart the workers from the restored position


class FolderEvalBatches:
    """Held-out images in order, normalized on the device; each rank a share."""

    def __init__(self, files: ImageFiles, mean: Tensor, batch_size: int, workers: int,
                 shard: Shard = Shard()):
        self.size, self.mean = len(files), mean
        batches = _index_batches(len(files), batch_size, shard)
        self.loader = loader(files, batches, workers, pin=mean.device.type == "cuda")

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        for batch in self.loader:
            images, labels = _checked(batch)
            images = images.to(self.mean.device, non_blocking=True)
            yield normalize(images, self.mean), labels.to(self.mean.device, non_blocking=True)
