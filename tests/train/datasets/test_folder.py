"""Image folders: which files are images, and images that would hang or swamp a worker."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from resdsl.train.datasets import folder as folder_module
from resdsl.train.datasets.folder import ImageFiles, list_images
from resdsl.train.datasets.sources import open_data
from resdsl.train.errors import DataError
from resdsl.train.options import TrainOptions

from ..train_helpers import make_image_folder, tiny_network, tiny_recipe


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares width x height and holds almost nothing: a decompression bomb
    is cheap to make, and Pillow learns its size from the header alone."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + \
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + \
        chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_only_regular_files_are_images(tmp_path):
    root = make_image_folder(tmp_path / "images", per_class=2, val_per_class=1)
    os.mkfifo(root / "train" / "cat" / "pipe.png")  # reading it would hang a worker
    (root / "train" / "cat" / "folder.png").mkdir()
    items, classes = list_images(root, "train")
    assert classes == ["cat", "dog", "emu"] and len(items) == 6
    assert not [path for path, _ in items if path.name in ("pipe.png", "folder.png")]


@pytest.mark.parametrize("size, message", [
    ((20000, 20000), "cannot read the image"),  # Pillow itself calls it a bomb
    ((8000, 8000), "more than 50,000,000 pixels"),  # below Pillow's limit, above ours
])
def test_a_decompression_bomb_is_refused_before_decoding(tmp_path, size, message):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(*size))
    image, _, problem = ImageFiles([(bomb, 0)], (3, 16, 16))[0]
    assert image is None and problem[0] == str(bomb) and message in problem[1]


def test_a_bomb_in_a_worker_ends_in_one_line_naming_it(tmp_path):
    root = make_image_folder(tmp_path / "images")
    (root / "train" / "dog" / "000.jpg").unlink()
    (root / "train" / "dog" / "000.png").write_bytes(png_header(20000, 20000))
    recipe = tiny_recipe(batch_size=8)
    options = TrainOptions(data=str(root), workers=1)
    with pytest.raises(DataError, match="cannot read the image") as error:
        open_data(tiny_network(recipe, classes=3, input=(3, 16, 16)), recipe, options, "cpu")
    assert str(root / "train" / "dog" / "000.png") in str(error.value)


def test_a_folder_that_cannot_be_listed_names_itself(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "images", per_class=1, val_per_class=1)
    denied = root / "train" / "dog"
    original = Path.iterdir

    def iterdir(self):
        if self == denied:  # tests run as root: chmod would not stop them
            raise PermissionError(13, "Permission denied", str(self))
        return original(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    with pytest.raises(DataError, match="cannot list this folder \\(Permission denied\\)") as error:
        list_images(root, "train")
    assert str(denied) in str(error.value)


def test_an_image_that_cannot_be_opened_names_itself(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "images", per_class=1, val_per_class=1)
    from PIL import Image

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", refuse)
    items, _ = list_images(root, "train")
    _, _, problem = ImageFiles(items, (3, 16, 16))[0]
    assert problem == (str(items[0][0]), "cannot read the image (Permission denied); fix or "
                                         "remove it")


def test_any_decoder_failure_is_a_bad_image(tmp_path, monkeypatch):
    root = make_image_folder(tmp_path / "images", per_class=1, val_per_class=1)
    from PIL import Image

    monkeypatch.setattr(Image, "open", lambda *a, **k: (_ for _ in ()).throw(SyntaxError("broken")))
    items, _ = list_images(root, "train")
    assert ImageFiles(items, (3, 16, 16))[0][2][1] == "cannot read the image (broken); fix or " \
                                                      "remove it"
    assert folder_module.MAX_PIXELS == 50_000_000
