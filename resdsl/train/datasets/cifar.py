"""The official CIFAR-10 / CIFAR-100 "python version" files: find, verify, download, read.

Accepted layouts, given as --data-dir or found directly inside it: the extracted folder
(`cifar-10-batches-py/`, `cifar-100-python/`) or the archive as downloaded
(`cifar-10-python.tar.gz`, `cifar-100-python.tar.gz`, read without extracting).
Checksums are the official ones (the same torchvision checks); --skip-checksum accepts
other files of the same format with a warning, for subsets and re-saved copies. Such files
are still read as data only: sizes are bounded before reading (`files.py`), the pickles
are loaded through an allow-list (`safe_pickle.py`), and labels must be whole numbers.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import DataError
from ..files import MiB, read_bounded
from .download import download, find_or_fetch
from .safe_pickle import load_pickle

# Where --download fetches from; a module constant so tests can point it elsewhere.
BASE_URL = "https://www.cs.toronto.edu/~kriz/"
SIDE = 32  # CIFAR images are 3 x 32 x 32
# Upper bounds on file sizes, checked before reading. The official files: CIFAR-10 batches
# 31 MB, CIFAR-100's training file 155 MB, meta files a few KB, archives 170 MB.
MAX_BATCH = 256 * MiB
MAX_META = 1 * MiB
MAX_ARCHIVE = 512 * MiB


@dataclass(frozen=True)
class CifarFormat:
    name: str  # "cifar10", as --data names it
    title: str  # "CIFAR-10", for messages
    folder: str  # the folder the archive extracts to
    archive: str  # the archive's file name, also its name on BASE_URL
    archive_md5: str
    train: tuple[tuple[str, str], ...]  # (file, md5), concatenated in this order
    test: tuple[tuple[str, str], ...]
    meta: tuple[str, str]  # (file, md5) holding the class names
    label_key: str  # labels inside each batch
    names_key: str  # class names inside the meta file
    classes: int

    def files(self) -> tuple[tuple[str, str], ...]:
        return (*self.train, *self.test, self.meta)


CIFAR10 = CifarFormat(
    "cifar10", "CIFAR-10", "cifar-10-batches-py", "cifar-10-python.tar.gz",
    "c58f30108f718f92721af3b95e74349a",
    train=(("data_batch_1", "c99cafc152244af753f735de768cd75f"),
           ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
           ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
           ("data_batch_4", "634d18415352ddfa80567beed471001a"),
           ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb")),
    test=(("test_batch", "40351d587109b95175f43aff81a1287e"),),
    meta=("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    label_key="labels", names_key="label_names", classes=10)

CIFAR100 = CifarFormat(
    "cifar100", "CIFAR-100", "cifar-100-python", "cifar-100-python.tar.gz",
    "eb9058c3a382ffc7106e4002c42a8d85",
    train=(("train", "16019d7e3df5f24257cddd939b257f8d"),),
    test=(("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),),
    meta=("meta", "7973b15100ade9c7d40fb424638fde48"),
    label_key="fine_labels", names_key="fine_label_names", classes=100)

FORMATS = {f.name: f for f in (CIFAR10, CIFAR100)}


@dataclass
class CifarData:
    train_images: Tensor  # uint8 N x 3 x 32 x 32, data batches in order
    train_labels: Tensor  # int64 N
    test_images: Tensor  # uint8, the test batch
    test_labels: Tensor  # int64
    classes: list[str]  # class names from the meta file, by label
    source: str  # the folder or archive read
    warnings: list[str] = field(default_factory=list)  # checksums accepted by --skip-checksum


def read_cifar(fmt: CifarFormat, data_dir: str | os.PathLike, *, download: bool = False,
               skip_checksum: bool = False) -> CifarData:
    """Read (downloading first if asked and absent) and verify one CIFAR data set."""
    root = Path(data_dir)
    found = find_or_fetch(fmt, root, download, locate, fetch)
    if found is None:
        raise DataError(f"no {fmt.title} data here: expected {fmt.folder}/ or {fmt.archive}. "
                        f"Pass --download to fetch it, or --data-dir pointing at it",
                        file=str(root))
    warnings: list[str] = []
    if found.is_dir():
        files = _folder_files(fmt, found, skip_checksum, warnings)
    else:
        files = _archive_files(fmt, found, skip_checksum, warnings)
    train = [_read_batch(fmt, *files[name]) for name, _ in fmt.train]
    test = [_read_batch(fmt, *files[name]) for name, _ in fmt.test]
    return CifarData(torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]),
                     torch.cat([x for x, _ in test]), torch.cat([y for _, y in test]),
                     _read_names(fmt, *files[fmt.meta[0]]), str(found), warnings)


def locate(fmt: CifarFormat, root: Path) -> Path | None:
    """The extracted folder or the archive: `root` itself, or inside `root`."""
    if root.is_file():
        return root
    if root.is_dir() and (root.name == fmt.folder or (root / fmt.train[0][0]).exists()):
        return root
    for candidate in (root / fmt.folder, root / fmt.archive):
        if candidate.exists():
            return candidate
    return None


def fetch(fmt: CifarFormat, root: Path) -> Path:
    """Download the archive into `root` (see download.py: atomic, safe side by side)."""
    return download([BASE_URL + fmt.archive], root / fmt.archive)


def _verify(label: str, raw: bytes, expected: str, skip: bool, warnings: list[str]) -> None:
    actual = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if actual == expected:
        return
    if skip:
        warnings.append(f"{label}: md5 {actual} is not the official {expected}; "
                        "used anyway (--skip-checksum)")
        return
    raise DataError(f"md5 {actual} is not the official {expected}: the file is incomplete, "
                    "corrupt, or not the official release. Delete it and download it again "
                    "(--download), or pass --skip-checksum to use it anyway", file=label)


def _folder_files(fmt: CifarFormat, folder: Path, skip: bool,
                  warnings: list[str]) -> dict[str, tuple[str, bytes]]:
    files = {}
    for name, md5 in fmt.files():
        path = folder / name
        if not path.exists():
            raise DataError(f"missing from {folder}: the copy is incomplete. Extract "
                            f"{fmt.archive} again, or pass --download", file=str(path))
        raw = read_bounded(path, _limit(fmt, name), DataError, f"{fmt.title} file")
        _verify(str(path), raw, md5, skip, warnings)
        files[name] = (str(path), raw)
    return files


def _archive_files(fmt: CifarFormat, archive: Path, skip: bool,
                   warnings: list[str]) -> dict[str, tuple[str, bytes]]:
    raw = read_bounded(archive, MAX_ARCHIVE, DataError, f"{fmt.title} archive")
    _verify(str(archive), raw, fmt.archive_md5, skip, warnings)
    files = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for name, _ in fmt.files():
                if name not in members:
                    raise DataError(f"{name} is not in the archive: not a {fmt.title} "
                                    "archive. Download it again (--download)", file=str(archive))
                member, label = members[name], f"{archive}:{members[name].name}"
                if member.size > _limit(fmt, name):
                    raise DataError(f"is {member.size:,} bytes, more than a {fmt.title} file "
                                    f"can be (at most {_limit(fmt, name):,})", file=label)
                files[name] = (label, tar.extractfile(member).read())
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DataError(f"cannot read the archive ({error}): it is truncated or corrupt. "
                        "Delete it and download it again (--download)", file=str(archive)) from None
    return files


def _limit(fmt: CifarFormat, name: str) -> int:
    return MAX_META if name == fmt.meta[0] else MAX_BATCH


def _unpickle(label: str, raw: bytes) -> dict[str, Any]:
    content = load_pickle(label, raw)
    if not isinstance(content, dict):
        raise DataError(f"not a CIFAR file: expected a pickled dict, found "
                        f"{type(content).__name__}", file=label)
    # Python 2 files give bytes keys (b"data"); files re-saved by Python 3 give str keys.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in content.items()}


def _read_batch(fmt: CifarFormat, label: str, raw: bytes) -> tuple[Tensor, Tensor]:
    content = _unpickle(label, raw)
    if "data" not in content or fmt.label_key not in content:
        raise DataError(f"not a {fmt.title} batch: no 'data' and '{fmt.label_key}' entries",
                        file=label)
    data, labels = content["data"], _labels(content[fmt.label_key], label)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * SIDE * SIDE or labels.shape != (data.shape[0],):
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else \
            type(data).__name__
        raise DataError(f"expected uint8 data of shape N x 3072 and N labels, found {found} "
                        f"and {labels.size} labels: the file is corrupt or not CIFAR. "
                        "Download it again", file=label)
    if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < fmt.classes:
        raise DataError(f"labels outside 0..{fmt.classes - 1}: the file is corrupt or from "
                        "another data set", file=label)
    # Each row is 1024 red, then 1024 green, then 1024 blue values, each plane row-major.
    images = torch.from_numpy(np.ascontiguousarray(data)).reshape(-1, 3, SIDE, SIDE)
    return images.clone(), torch.from_numpy(labels.astype(np.int64))


def _labels(value: Any, label: str) -> np.ndarray:
    """The labels as whole numbers; floats are refused, not truncated."""
    try:
        labels = np.asarray(value) if isinstance(value, (list, np.ndarray)) else None
    except (ValueError, TypeError, OverflowError, RecursionError):
        labels = None
    if labels is None or labels.ndim != 1 or labels.dtype.kind not in "iu":
        found = f"{labels.dtype} values" if labels is not None and labels.ndim == 1 else \
            "something else"
        raise DataError(f"labels must be a list of whole numbers, found {found}: the file is "
                        "corrupt or not CIFAR", file=label)
    return labels


def _read_names(fmt: CifarFormat, label: str, raw: bytes) -> list[str]:
    names = _unpickle(label, raw).get(fmt.names_key)
    if not isinstance(names, list) or len(names) != fmt.classes \
            or not all(isinstance(n, (bytes, str)) for n in names):
        raise DataError(f"no list of {fmt.classes} class names under '{fmt.names_key}': the "
                        "file is corrupt. Download it again", file=label)
    return [n.decode("latin1") if isinstance(n, bytes) else n for n in names]
