"""The data sets `--data` names, without reading them: title, image shape, classes.

No torch here: the reproduction and the reports name their data from this table, and
`resdsl reproduce` decides each run's input size from it before anything is trained.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NamedData:
    name: str  # as --data takes it: "fashion-mnist"
    title: str  # as the literature writes it: "Fashion-MNIST"
    shape: tuple[int, int, int]  # C x H x W of its images
    classes: int


NAMED = {data.name: data for data in (
    NamedData("cifar10", "CIFAR-10", (3, 32, 32), 10),
    NamedData("cifar100", "CIFAR-100", (3, 32, 32), 100),
    NamedData("mnist", "MNIST", (1, 28, 28), 10),
    NamedData("fashion-mnist", "Fashion-MNIST", (1, 28, 28), 10),
)}


def is_synthetic(data: str) -> bool:
    return data == "synthetic" or data.startswith("synthetic:")


def data_title(data: str) -> str:
    """How reports, logs and figures name the data `--data` chose."""
    if data in NAMED:
        return NAMED[data].title
    if is_synthetic(data):
        return f"{data} (random images)"
    return f"the image folder {Path(data).name or data}"


def shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))
