"""Tiny data sets, model and recipe for the training tests (and their subprocess scripts).

The CIFAR fixtures are written in exactly the official layout: a `cifar-10-batches-py/`
folder of pickled dicts whose keys and strings are Python 2 `str`s, so that they
unpickle as bytes with encoding="bytes" and as str with encoding="latin1", like the
files from https://www.cs.toronto.edu/~kriz/cifar.html.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from resdsl import ir

from helpers import GUARD_SECONDS, ROOT

SCRIPT = Path(__file__).with_name("train_script.py")

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


class Py2Str(bytes):
    """A Python 2 `str`: pickled with the STRING opcodes Python 3 only reads, never writes."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table is a dict
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2str(self, obj: Py2Str) -> None:
        size = len(obj)
        if size < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([size]) + bytes(obj))
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", size) + bytes(obj))
        self.memoize(obj)

    def save_ndarray(self, obj: np.ndarray) -> None:
        # numpy's own reduction, with its raw bytes turned into a Python 2 str, as in
        # arrays pickled by Python 2 (numpy reads those back under either encoding).
        func, args, state = obj.__reduce_ex__(2)
        version, shape, dtype, fortran, raw = state
        self.save_reduce(func, (args[0], args[1], Py2Str(args[2])),
                         (version, shape, dtype, fortran, Py2Str(raw)), obj=obj)

    dispatch[Py2Str] = save_py2str
    dispatch[np.ndarray] = save_ndarray


def py2_pickle(obj: object) -> bytes:
    buffer = io.BytesIO()
    _Py2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()


def _py2(value: object) -> object:
    """Strings (and dict keys, list items) as Python 2 strs, recursively."""
    if isinstance(value, str):
        return Py2Str(value.encode("latin1"))
    if isinstance(value, dict):
        return {_py2(k): _py2(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_py2(v) for v in value]
    return value


def cifar_batch(images: np.ndarray, labels: list[int], name: str, label_key: str = "labels"
                ) -> dict:
    """One batch as the official files hold it: uint8 N x 3072 (R, G, B planes, row-major)."""
    return {"batch_label": name, label_key: labels, "data": images.reshape(len(images), -1),
            "filenames": [f"img_{i:05d}.png" for i in range(len(images))]}


def make_cifar10(root: Path, per_batch: int = 20, test: int = 20, seed: int = 0,
                 str_keys: bool = False) -> tuple[Path, np.ndarray, np.ndarray]:
    """A tiny cifar-10-batches-py/ under root; returns it, all train images and labels."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    dump = pickle.dumps if str_keys else (lambda obj: py2_pickle(_py2(obj)))
    images = rng.integers(0, 256, (5 * per_batch + test, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, 5 * per_batch + test).tolist()
    for b in range(6):
        part = slice(b * per_batch, b * per_batch + (per_batch if b < 5 else test))
        name = f"data_batch_{b + 1}" if b < 5 else "test_batch"
        title = f"training batch {b + 1} of 5" if b < 5 else "testing batch 1 of 1"
        (folder / name).write_bytes(dump(cifar_batch(images[part], labels[part], title)))
    meta = {"num_cases_per_batch": per_batch, "label_names": CIFAR10_NAMES, "num_vis": 3072}
    (folder / "batches.meta").write_bytes(dump(meta))
    return folder, images, np.array(labels)


def make_tar(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def make_image_folder(root: Path, classes: tuple[str, ...] = ("cat", "dog", "emu"),
                      per_class: int = 8, val_per_class: int = 3) -> Path:
    """root/train/<class>/*.png and root/val/<class>/*.png, of assorted sizes."""
    from PIL import Image

    rng = np.random.default_rng(1)
    for split, count in (("train", per_class), ("val", val_per_class)):
        for c, name in enumerate(classes):
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                size = (int(rng.integers(8, 20)), int(rng.integers(8, 20)), 3)
                pixels = rng.integers(0, 256, size, dtype=np.uint8)
                pixels[..., c % 3] = 255  # a class colour, so there is something to learn
                suffix = ".png" if i % 2 else ".jpg"
                Image.fromarray(pixels).save(root / split / name / f"{i:03d}{suffix}")
    return root


def tiny_model(classes: int = 10, seed: int = 0, input: tuple[int, int, int] = (3, 32, 32)
               ) -> nn.Module:
    """Two convolutions with BatchNorm: small, but with buffers and momentum to restore.
    Its `.network` is an IR of the same input and classes, as a compiled model has."""
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(input[0], 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))
    model.network = tiny_network(classes=classes, input=input)
    return model


def tiny_recipe(**changes: object) -> ir.Recipe:
    values = dict(name="tiny", momentum=0.9, weight_decay=1e-4, batch_size=16, lr=0.05,
                  lr_steps=(20,), lr_gamma=0.1, iterations=30, crop_padding=4, hflip=True,
                  normalize="pixel_mean", eval_every=10)
    values.update(changes)
    return ir.Recipe(**values)


SPEC = "network tiny { input 3x32x32\n classes 10 }\n"  # stands in for the spec text


def tiny_network(recipe: ir.Recipe | None = None, classes: int = 10,
                 input: tuple[int, int, int] = (3, 32, 32), spec: str = SPEC) -> ir.Network:
    """The IR the tiny model stands for; its origin is `spec`, as a run saves it."""
    origin = ir.Origin(path="tiny.res", base_dir=".", sources={"tiny.res": spec}, network="tiny")
    return ir.Network(name="tiny", input=input, classes=classes, shortcut="none", stages=[],
                      recipe=recipe, origin=origin)


def tiny_plan(recipe: ir.Recipe, options, network: ir.Network | None = None, changes=None):
    """The plan of a tiny run: a new one, or (options.resume) the one it resumes."""
    from resdsl.train.plan import plan_resume, plan_run

    network = network or tiny_network()
    if options.resume is not None:
        return plan_resume(options, changes, network)
    return plan_run(network, recipe, options)


# ---- training in processes of their own ----------------------------------------------------

def environment(**extra: str) -> dict[str, str]:
    paths = [str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p),
            "OMP_NUM_THREADS": "1", **extra}


def script(*args: str, **popen: object) -> subprocess.Popen:
    """train_script.py in a process of its own (see its docstring for the arguments)."""
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=GUARD_SECONDS)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def strip_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "images_per_s"} for r in records]


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def assert_identical(a: object, b: object) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_identical(x, y)
    else:
        assert a == b


def train_tiny(tmp_path: Path, data_dir: Path, name: str = "run", recipe: ir.Recipe | None = None,
               model: nn.Module | None = None, reporter=None, changes=None, **options):
    """Train the tiny model into tmp_path/name in this process; (result, model, reporter)."""
    from resdsl.train.loop import train
    from resdsl.train.options import TrainOptions
    from resdsl.train.progress import RecordingReporter

    recipe = recipe or tiny_recipe()
    settings = dict(out=str(tmp_path / name), data_dir=str(data_dir), skip_checksum=True,
                    log_every=5, checkpoint_every=10)
    settings.update(options)
    reporter = reporter or RecordingReporter()
    model = model or tiny_model()
    plan = tiny_plan(recipe, TrainOptions(**settings), model.network, changes)
    return train(plan, reporter, model), model, reporter


class FullDisk:
    """A file that takes `room` bytes, then finds the disk full (ENOSPC)."""

    def __init__(self, file, room: int = 1000):
        self.file, self.room = file, room

    def write(self, data):
        self.room -= len(data)
        if self.room < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


def train_resnet20(tmp_path: Path, iterations: int = 4, **options):
    """ResNet-20 from its spec, a few iterations on synthetic data, as `resdsl train` would
    run it (its spec saved, so its run folder alone can be evaluated); the RunResult."""
    from helpers import SPECS
    from resdsl.train.loop import train
    from resdsl.train.plan import plan_training

    settings = dict(out=str(tmp_path / "run"), data="synthetic:32", iterations=iterations,
                    batch_size=8, eval_every=2, log_every=2, checkpoint_every=2)
    return train(plan_training(SPECS / "resnet20.res", None, None, {},
                               {**settings, **options}))


# ---- MNIST / Fashion-MNIST: the official IDX format ------------------------------------
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def idx_bytes(values: np.ndarray) -> bytes:
    """An IDX file as published: 0x00 0x00, type 0x08 (unsigned byte), the number of
    dimensions, each size as a big-endian int32, then the values in row-major order."""
    header = bytes([0, 0, 0x08, values.ndim]) + b"".join(struct.pack(">i", size)
                                                         for size in values.shape)
    return header + np.ascontiguousarray(values, dtype=np.uint8).tobytes()


def make_idx(folder: Path, train: int = 40, test: int = 10, seed: int = 0, level: int = 9,
             compressed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """A tiny MNIST-shaped set in `folder` as the four official files (.gz at `level`, or
    decompressed); returns all images (train then test, N x 28 x 28) and labels."""
    import gzip

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (train + test, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, train + test).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    parts = (images[:train], labels[:train], images[train:], labels[train:])
    for name, values in zip(IDX_NAMES, parts):
        raw = idx_bytes(values)
        if compressed:  # mtime 0: the same bytes every time, as a published file
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw, level, mtime=0))
        else:
            (folder / name).write_bytes(raw)
    return images, labels
