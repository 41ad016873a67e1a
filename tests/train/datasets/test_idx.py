"""The official MNIST / Fashion-MNIST IDX reader: layouts, recognising a copy by what it
holds (the published .gz, a recompressed one, a decompressed one), downloads, and damaged
files, each refused in one line naming the file."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from resdsl.train.datasets import idx
from resdsl.train.datasets.idx import FASHION_MNIST, MNIST, IdxFile, read_idx
from resdsl.train.errors import DataError

from ..train_helpers import IDX_NAMES, idx_bytes, make_idx

DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def known_as(folder: Path, compressed: bool = True) -> idx.IdxFormat:
    """Fashion-MNIST's format, its checksums those of the tiny files in `folder`: the
    files then are 'the official ones' as far as the reader can tell."""
    files = []
    for name in IDX_NAMES:
        packed = folder / f"{name}.gz"
        raw = gzip.decompress(packed.read_bytes()) if compressed else (folder / name).read_bytes()
        files.append(IdxFile(name, md5(packed.read_bytes()) if compressed else "0" * 32, md5(raw)))
    return dataclasses.replace(FASHION_MNIST, train_images=files[0], train_labels=files[1],
                               test_images=files[2], test_labels=files[3])


@pytest.fixture(autouse=True)
def no_system_copy(monkeypatch):
    """This machine's own copy (Debian's package) would be found behind every test's back."""
    monkeypatch.setattr(idx, "SYSTEM_DIRS", {})


@pytest.fixture
def tiny(tmp_path):
    images, labels = make_idx(tmp_path / "data")
    return tmp_path / "data", images, labels


def test_fixture_is_the_official_idx_layout(tiny):
    folder, images, labels = tiny
    raw = gzip.decompress((folder / "train-images-idx3-ubyte.gz").read_bytes())
    # magic 0x00000803 (unsigned bytes, 3 dimensions), then 40, 28, 28 as big-endian int32
    assert raw[:16] == bytes.fromhex("00000803" "00000028" "0000001c" "0000001c")
    assert raw[16:16 + 784] == images[0].tobytes()
    raw = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert raw[:8] == bytes.fromhex("00000801" "0000000a") and raw[8:] == labels[40:].tobytes()


def test_reads_the_official_files(tiny):
    folder, images, labels = tiny
    data = read_idx(known_as(folder), folder)
    assert data.train_images.shape == (40, 1, 28, 28) and data.test_images.shape == (10, 1, 28, 28)
    np.testing.assert_array_equal(data.train_images[:, 0].numpy(), images[:40])
    np.testing.assert_array_equal(data.test_labels.numpy(), labels[40:])
    assert data.classes[0] == "T-shirt/top" and len(data.classes) == 10
    assert data.source == f"{folder}: the official files" and not data.warnings


def test_a_recompressed_copy_is_recognised_by_its_content(tiny, tmp_path):
    """Debian's .gz files differ byte for byte from the published ones; the images do not."""
    folder, images, _ = tiny
    fmt = known_as(folder)
    copy = tmp_path / "debian"
    make_idx(copy, level=1)  # the same images, other compressed bytes
    assert (copy / IDX_NAMES[0]).with_suffix(".gz").read_bytes() != \
        (folder / IDX_NAMES[0]).with_suffix(".gz").read_bytes()
    data = read_idx(fmt, copy)
    assert data.source == f"{copy}: a recompressed copy with the official content"
    np.testing.assert_array_equal(data.train_images[:, 0].numpy(), images[:40])


def test_a_decompressed_copy_is_recognised_by_its_content(tiny, tmp_path):
    fmt = known_as(tiny[0])
    make_idx(tmp_path / "raw", compressed=False)
    data = read_idx(fmt, tmp_path / "raw")
    assert data.source.endswith(": a decompressed copy with the official content")


def test_other_files_are_refused_unless_skip_checksum(tiny):
    folder, images, _ = tiny
    with pytest.raises(DataError, match="not the official data .*--skip-checksum") as error:
        read_idx(FASHION_MNIST, folder)
    assert "train-images-idx3-ubyte.gz" in str(error.value)
    data = read_idx(FASHION_MNIST, folder, skip_checksum=True)
    assert len(data.warnings) == 4 and "--skip-checksum" in data.warnings[0]
    np.testing.assert_array_equal(data.train_images[:, 0].numpy(), images[:40])


@pytest.mark.parametrize("layout", ["itself", "named", "torchvision"])
def test_layouts(tmp_path, layout):
    inside = {"itself": "", "named": "fashion-mnist", "torchvision": "FashionMNIST/raw"}[layout]
    make_idx(tmp_path / inside)
    data = read_idx(FASHION_MNIST, tmp_path, skip_checksum=True)
    assert data.source.startswith(str(tmp_path / inside))


def test_the_system_copy_is_found_last(tmp_path, monkeypatch):
    system = tmp_path / "usr-share"
    make_idx(system, seed=1)
    monkeypatch.setitem(idx.SYSTEM_DIRS, "fashion-mnist", (str(system),))
    assert read_idx(FASHION_MNIST, tmp_path / "empty", skip_checksum=True).source.startswith(
        str(system))
    make_idx(tmp_path / "mine")  # the user's own copy wins
    assert read_idx(FASHION_MNIST, tmp_path / "mine", skip_checksum=True).source.startswith(
        str(tmp_path / "mine"))


def test_missing_data_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(idx.SYSTEM_DIRS, "fashion-mnist", (str(tmp_path / "nowhere"),))
    with pytest.raises(DataError) as error:
        read_idx(FASHION_MNIST, tmp_path)
    message = str(error.value)
    assert "no Fashion-MNIST files here" in message and "--download" in message
    assert "dataset-fashion-mnist" in message
    with pytest.raises(DataError, match="no MNIST files here"):
        read_idx(MNIST, tmp_path)


def test_a_missing_file_of_the_four_is_named(tiny):
    folder, _, _ = tiny
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="missing .*incomplete") as error:
        read_idx(FASHION_MNIST, folder, skip_checksum=True)
    assert "t10k-labels-idx1-ubyte" in str(error.value)


def test_download_fetches_the_four_files_from_the_first_mirror_that_serves(tiny, tmp_path,
                                                                             monkeypatch):
    folder, images, _ = tiny
    fmt = dataclasses.replace(known_as(folder), urls=("http://127.0.0.1:9/",  # nothing there
                                                      folder.as_uri() + "/"))
    data = read_idx(fmt, tmp_path / "downloads", download=True)
    assert sorted(p.name for p in (tmp_path / "downloads" / "fashion-mnist").iterdir()) == \
        sorted(f"{name}.gz" for name in IDX_NAMES)
    assert data.source.endswith(": the official files")
    np.testing.assert_array_equal(data.train_images[:, 0].numpy(), images[:40])


def test_download_offline_is_one_clear_error(tmp_path, monkeypatch):
    fmt = dataclasses.replace(FASHION_MNIST, urls=("http://127.0.0.1:9/",))
    with pytest.raises(DataError, match="could not download .*Offline"):
        read_idx(fmt, tmp_path, download=True)
    assert not list((tmp_path / "fashion-mnist").glob("*"))  # nothing half-written left


def rewrite(folder: Path, name: str, raw: bytes) -> None:
    (folder / f"{name}.gz").write_bytes(gzip.compress(raw, mtime=0))


def damage_cases():
    images = np.zeros((40, 28, 28), np.uint8)
    return {
        "truncated gzip": ("train-images-idx3-ubyte", None, "truncated"),
        "not gzip": ("train-images-idx3-ubyte", b"not gzip at all", "cannot decompress"),
        "wrong magic": ("train-images-idx3-ubyte",
                        b"\x00\x00\x08\x01" + idx_bytes(images)[4:], "magic number 00000801"),
        "truncated values": ("train-images-idx3-ubyte", idx_bytes(images)[:-100],
                             "declares 40 x 28 x 28 = 31,360 values but the file holds 31,260"),
        "wrong count": ("train-labels-idx1-ubyte", idx_bytes(np.zeros(39, np.uint8)),
                        "40 images but 39 labels"),
        "labels out of range": ("t10k-labels-idx1-ubyte", idx_bytes(np.full(10, 10, np.uint8)),
                                "labels outside 0..9"),
        "wrong image size": ("t10k-images-idx3-ubyte", idx_bytes(np.zeros((10, 32, 32), np.uint8)),
                             "images are 32x32, not the 28x28"),
        "short header": ("train-labels-idx1-ubyte", b"\x00\x00", "not an IDX file"),
    }


@pytest.mark.parametrize("case", sorted(damage_cases()))
def test_damaged_files_are_one_line_errors_naming_the_file(tiny, case):
    folder, _, _ = tiny
    name, raw, expected = damage_cases()[case]
    path = folder / f"{name}.gz"
    if case == "truncated gzip":
        path.write_bytes(path.read_bytes()[:200])
    elif case == "not gzip":
        path.write_bytes(raw)
    else:
        rewrite(folder, name, raw)
    with pytest.raises(DataError) as error:
        read_idx(FASHION_MNIST, folder, skip_checksum=True)
    message = str(error.value)
    assert expected in message and "\n" not in message.strip()


def test_a_gzip_bomb_is_refused_before_it_inflates(tiny, monkeypatch):
    folder, _, _ = tiny
    monkeypatch.setattr(idx, "MAX_DECOMPRESSED", 10_000)
    with pytest.raises(DataError, match="decompresses to more than 10,000 bytes"):
        read_idx(FASHION_MNIST, folder, skip_checksum=True)


@pytest.mark.skipif(not DEBIAN.is_dir(), reason="Debian's dataset-fashion-mnist is not "
                    "installed (apt-get install dataset-fashion-mnist)")
def test_debians_fashion_mnist_is_the_official_content():
    data = read_idx(FASHION_MNIST, DEBIAN)
    assert data.source == f"{DEBIAN}: a recompressed copy with the official content"
    assert data.train_images.shape == (60000, 1, 28, 28)
    assert data.test_images.shape == (10000, 1, 28, 28)
    assert np.bincount(data.train_labels.numpy()).tolist() == [6000] * 10
    assert not data.warnings
