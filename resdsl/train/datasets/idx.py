"""MNIST and Fashion-MNIST in their official IDX files: find, verify, download, read.

Each set is four files (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
`t10k-...`), gzip-compressed as published or already decompressed (no `.gz`). They are
looked for in --data-dir, in --data-dir/NAME/ (as --download writes them), in
torchvision's layout (--data-dir/FashionMNIST/raw/), and last where an operating system's
package installs them (Debian's `dataset-fashion-mnist`: /usr/share/datasets/fashion-mnist).

A copy is recognised by what it holds, not by how it was compressed: the published md5 of
each .gz file identifies the official download, and the md5 of the decompressed bytes
identifies the same data recompressed (Debian's .gz files differ from the published ones
byte for byte, while the images are the same) or stored uncompressed. Which of the two
was read is said in the data's `source`. Anything else is refused unless --skip-checksum.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..files import MiB, read_bounded
from .download import download, find_or_fetch
from .names import NAMED

MAX_COMPRESSED = 64 * MiB  # the largest official file, Fashion-MNIST's training images: 26 MB
MAX_DECOMPRESSED = 64 * MiB  # decompressed, 47 MB: a .gz inflating past this is refused
IMAGES_MAGIC, LABELS_MAGIC = 0x00000803, 0x00000801  # unsigned bytes; 3 dims, 1 dim
# Where operating-system packages install a set (a module constant: tests redirect it).
SYSTEM_DIRS = {"fashion-mnist": ("/usr/share/datasets/fashion-mnist",)}


@dataclass(frozen=True)
class IdxFile:
    name: str  # without .gz: "train-images-idx3-ubyte"
    gz_md5: str  # the published archive's md5
    content_md5: str | None  # the decompressed bytes' md5, where known


@dataclass(frozen=True)
class IdxFormat:
    name: str  # as --data takes it
    torchvision: str  # torchvision's folder name (its copies live in NAME/raw/)
    urls: tuple[str, ...]  # the official location first, then mirrors
    train_images: IdxFile
    train_labels: IdxFile
    test_images: IdxFile
    test_labels: IdxFile
    classes: tuple[str, ...]

    @property
    def title(self) -> str:
        return NAMED[self.name].title

    def files(self) -> tuple[IdxFile, ...]:
        return (self.train_images, self.train_labels, self.test_images, self.test_labels)


# The published md5s are the datasets' own (the same torchvision checks). The decompressed
# md5s of Fashion-MNIST were computed from Debian's package, whose images equal the
# official ones; MNIST's are not known here, so only its published files are recognised.
FASHION_MNIST = IdxFormat(
    "fashion-mnist", "FashionMNIST",
    ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    IdxFile("train-images-idx3-ubyte", "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    IdxFile("train-labels-idx1-ubyte", "25c81989df183df01b3e8a0aad5dffbe",
            "9018921c3c673c538a1fc5bad174d6f9"),
    IdxFile("t10k-images-idx3-ubyte", "bef4ecab320f06d8554ea6380940ec79",
            "8181f5470baa50b63fa0f6fddb340f0a"),
    IdxFile("t10k-labels-idx1-ubyte", "bb300cfdad3c16e7a12a480ee83cd310",
            "15d484375f8d13e6eb1aabb0c3f46965"),
    ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
     "Bag", "Ankle boot"))

MNIST = IdxFormat(
    "mnist", "MNIST",
    ("http://yann.lecun.com/exdb/mnist/", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    IdxFile("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873", None),
    IdxFile("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432", None),
    IdxFile("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3", None),
    IdxFile("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c", None),
    tuple(str(digit) for digit in range(10)))

IDX_FORMATS = {f.name: f for f in (MNIST, FASHION_MNIST)}


@dataclass
class IdxData:
    train_images: Tensor  # uint8 N x 1 x 28 x 28
    train_labels: Tensor  # int64 N
    test_images: Tensor
    test_labels: Tensor
    classes: list[str]
    source: str  # the folder read, and which copy it holds
    warnings: list[str] = field(default_factory=list)  # checksums accepted by --skip-checksum


def read_idx(fmt: IdxFormat, data_dir: str | Path, *, download: bool = False,
             skip_checksum: bool = False) -> IdxData:
    """Read (downloading first if asked and absent) and verify one IDX data set."""
    root = Path(data_dir)
    folder = find_or_fetch(fmt, root, download, locate, fetch)
    if folder is None:
        raise DataError(f"no {fmt.title} files here: expected {fmt.train_images.name}.gz and "
                        f"the other three in {root} or {root / fmt.name}. {_where_else(fmt)}",
                        file=str(root))
    warnings: list[str] = []
    copies = [_read_file(folder, item, skip_checksum, warnings) for item in fmt.files()]
    train = _images_and_labels(fmt, copies[0], copies[1])
    test = _images_and_labels(fmt, copies[2], copies[3])
    kinds = sorted({kind for kind, _, _ in copies if kind})
    return IdxData(*train, *test, list(fmt.classes), f"{folder}: {', '.join(kinds)}", warnings)


def _where_else(fmt: IdxFormat) -> str:
    system = SYSTEM_DIRS.get(fmt.name)
    package = f"; or install Debian's dataset-{fmt.name} ({system[0]})" if system else ""
    return f"Pass --download to fetch them, or --data-dir pointing at them{package}"


def candidates(fmt: IdxFormat, root: Path) -> list[Path]:
    """The folders looked in, in order: the user's first, the system's last."""
    return [root, root / fmt.name, root / fmt.torchvision / "raw",
            *map(Path, SYSTEM_DIRS.get(fmt.name, ()))]


def locate(fmt: IdxFormat, root: Path) -> Path | None:
    """The first folder holding the training images, compressed or not."""
    first = fmt.train_images.name
    for folder in candidates(fmt, root):
        if (folder / f"{first}.gz").is_file() or (folder / first).is_file():
            return folder
    return None


def fetch(fmt: IdxFormat, root: Path) -> Path:
    """Download the four .gz files into root/NAME/ (each atomically, see download.py)."""
    folder = root / fmt.name
    for item in fmt.files():
        target = folder / f"{item.name}.gz"
        if not target.is_file():
            download([url + target.name for url in fmt.urls], target)
    return folder


Copy = tuple[str | None, str, bytes]  # which copy it is (None: unrecognised), path, IDX bytes


def _read_file(folder: Path, item: IdxFile, skip: bool, warnings: list[str]) -> Copy:
    """One file's decompressed bytes, recognised as the official data or refused."""
    compressed = (folder / f"{item.name}.gz").is_file()
    path = folder / (f"{item.name}.gz" if compressed else item.name)
    if not path.is_file():
        raise DataError(f"missing beside {folder / item.name}(.gz): the copy is incomplete. "
                        "Copy it again, or pass --download", file=str(path))
    raw = read_bounded(path, MAX_COMPRESSED, DataError, "IDX file")
    if compressed and _md5(raw) == item.gz_md5:
        return "the official files", str(path), _gunzip(raw, str(path))
    content = _gunzip(raw, str(path)) if compressed else raw
    if item.content_md5 is not None and _md5(content) == item.content_md5:
        kind = "recompressed" if compressed else "decompressed"
        return f"a {kind} copy with the official content", str(path), content
    if skip:
        warnings.append(f"{path}: not the official data by md5; used anyway (--skip-checksum)")
        return None, str(path), content
    raise DataError("is not the official data (md5 differs, compressed and decompressed): "
                    "it is incomplete, corrupt, or another data set. Delete it and download "
                    "it again (--download), or pass --skip-checksum to use it anyway",
                    file=str(path))


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _gunzip(raw: bytes, label: str) -> bytes:
    """Decompressed, bounded: a small .gz that would inflate to gigabytes is refused."""
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip framing
    try:
        data = inflate.decompress(raw, MAX_DECOMPRESSED + 1)
        complete = inflate.eof
    except zlib.error as error:
        raise DataError(f"cannot decompress it ({error}): it is truncated or not gzip. "
                        "Delete it and download it again (--download)", file=label) from None
    if len(data) > MAX_DECOMPRESSED:
        raise DataError(f"decompresses to more than {MAX_DECOMPRESSED:,} bytes: not an IDX "
                        "file of this data set", file=label)
    if not complete:
        raise DataError("the gzip stream ends early: the file is truncated. Delete it and "
                        "download it again (--download)", file=label)
    return data


def _images_and_labels(fmt: IdxFormat, images: Copy, labels: Copy) -> tuple[Tensor, Tensor]:
    pixels = _parse(images[1], images[2], IMAGES_MAGIC, dims=3)
    classes = _parse(labels[1], labels[2], LABELS_MAGIC, dims=1)
    if len(pixels) != len(classes):
        raise DataError(f"{len(pixels):,} images but {len(classes):,} labels in "
                        f"{Path(labels[1]).name}: the two files are not a pair", file=images[1])
    side = NAMED[fmt.name].shape[1:]
    if pixels.shape[1:] != side:
        raise DataError(f"images are {pixels.shape[1]}x{pixels.shape[2]}, not the "
                        f"{side[0]}x{side[1]} of {fmt.title}", file=images[1])
    if classes.size and int(classes.max()) >= len(fmt.classes):
        raise DataError(f"labels outside 0..{len(fmt.classes) - 1}: the file is corrupt or "
                        "from another data set", file=labels[1])
    return (torch.from_numpy(pixels.copy()).unsqueeze(1),
            torch.from_numpy(classes.astype(np.int64)))


def _parse(label: str, data: bytes, magic: int, dims: int) -> np.ndarray:
    """An IDX array of unsigned bytes: magic, `dims` big-endian sizes, then the values."""
    header = 4 * (1 + dims)
    if len(data) < header or int.from_bytes(data[:4], "big") != magic:
        found = data[:4].hex() if len(data) >= 4 else f"{len(data)} bytes"
        raise DataError(f"not an IDX file of {dims}-dimensional unsigned bytes (magic number "
                        f"{found}, expected {magic:08x})", file=label)
    sizes = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    count = int(np.prod(sizes, dtype=np.int64))
    if len(data) - header != count:
        raise DataError(f"the header declares {' x '.join(map(str, sizes))} = {count:,} "
                        f"values but the file holds {len(data) - header:,}: it is truncated "
                        "or corrupt", file=label)
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(sizes)
