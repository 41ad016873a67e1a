"""Random images shaped like the network's input: `--data synthetic[:N]`, for smoke runs
and benchmarks. N training images and N // 5 held-out ones, the same for the same seed."""

from __future__ import annotations

import torch
from torch import Tensor

from ... import ir
from ..errors import DataError

SIZE = 5000  # training images of plain "synthetic"
MAX_BYTES = 1 << 32  # all images together, as uint8: 4 GiB (1.16M CIFAR-sized images)


def synthetic_size(name: str, network: ir.Network) -> int:
    """N of `synthetic:N`, refused unless it is a whole number the memory can hold."""
    size = name.partition(":")[2] or str(SIZE)
    # isdigit() alone accepts '²' and other digits int() refuses: ASCII digits only.
    if not (size.isascii() and size.isdigit()) or int(size) < 2:
        raise DataError(f"'{name}': write synthetic:N with N, the number of training "
                        "images, a whole number of at least 2")
    per_image = 1
    for side in network.input:
        per_image *= side
    most = MAX_BYTES // per_image * 5 // 6  # N + N // 5 images fit in MAX_BYTES
    if int(size) > most:
        shape = "x".join(map(str, network.input))
        raise DataError(f"'{name}': {int(size):,} random {shape} images would need more than "
                        f"{MAX_BYTES >> 30} GiB; use at most synthetic:{most}")
    return int(size)


def synthetic(network: ir.Network, size: int, seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Random uint8 images and labels, the same for the same seed: (x, y, x_test, y_test)."""
    generator = torch.Generator().manual_seed(seed)
    test = max(1, size // 5)
    images = torch.randint(0, 256, (size + test, *network.input), dtype=torch.uint8,
                           generator=generator)
    labels = torch.randint(0, network.classes, (size + test,), generator=generator)
    return images[:size], labels[:size], images[size:], labels[size:]
