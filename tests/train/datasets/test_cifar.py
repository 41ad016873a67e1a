"""The official CIFAR python-format reader: layouts, both pickle flavours, checksums, damage,
and files made to hurt: too large, not files at all, float labels."""

from __future__ import annotations

import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

from resdsl.train.datasets import cifar
from resdsl.train.datasets.cifar import CIFAR10, CIFAR100, read_cifar
from resdsl.train.errors import DataError

from ..train_helpers import cifar_batch, make_cifar10, make_tar, py2_pickle


@pytest.fixture
def cifar_dir(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    return make_cifar10(tmp_path / "data")


def test_fixture_is_in_the_official_python2_format(cifar_dir):
    folder, images, _ = cifar_dir
    raw = (folder / "data_batch_1").read_bytes()
    as_bytes = pickle.loads(raw, encoding="bytes")
    as_latin1 = pickle.loads(raw, encoding="latin1")
    assert set(as_bytes) == {b"batch_label", b"labels", b"data", b"filenames"}
    assert set(as_latin1) == {"batch_label", "labels", "data", "filenames"}
    assert as_bytes[b"data"].dtype == np.uint8 and as_bytes[b"data"].shape == (20, 3072)
    np.testing.assert_array_equal(as_latin1["data"], as_bytes[b"data"])
    np.testing.assert_array_equal(as_bytes[b"data"][:, :1024].reshape(20, 32, 32), images[:20, 0])


def test_reads_the_folder_and_warns_that_checksums_differ(cifar_dir):
    folder, images, labels = cifar_dir
    data = read_cifar(CIFAR10, folder.parent, skip_checksum=True)
    assert data.train_images.shape == (100, 3, 32, 32) and data.test_images.shape == (20, 3, 32, 32)
    # data_batch_1..5 in order, then the test batch; R, G, B planes become channels.
    np.testing.assert_array_equal(data.train_images.numpy(), images[:100])
    np.testing.assert_array_equal(data.test_images.numpy(), images[100:])
    assert data.train_labels.tolist() == labels[:100].tolist()
    assert data.classes[0] == "airplane" and len(data.classes) == 10
    assert len(data.warnings) == 7
    assert "data_batch_1" in data.warnings[0] and "--skip-checksum" in data.warnings[0]


def test_the_folder_itself_may_be_given(cifar_dir):
    folder, images, _ = cifar_dir
    data = read_cifar(CIFAR10, folder, skip_checksum=True)
    np.testing.assert_array_equal(data.train_images.numpy(), images[:100])


def test_checksum_mismatch_is_an_error_naming_the_file(cifar_dir):
    folder, _, _ = cifar_dir
    with pytest.raises(DataError) as error:
        read_cifar(CIFAR10, folder.parent)
    assert "data_batch_1" in str(error.value)
    assert "c99cafc152244af753f735de768cd75f" in str(error.value)  # the official md5
    assert "--skip-checksum" in str(error.value)


def test_python3_pickles_with_str_keys_are_read_too(tmp_path):
    _, images, _ = make_cifar10(tmp_path, str_keys=True)
    data = read_cifar(CIFAR10, tmp_path, skip_checksum=True)
    np.testing.assert_array_equal(data.train_images.numpy(), images[:100])


@pytest.mark.parametrize("inside", [True, False])
def test_reads_the_archive_given_or_found_inside_data_dir(cifar_dir, tmp_path, inside):
    folder, images, _ = cifar_dir
    archive = make_tar(folder, tmp_path / "cifar-10-python.tar.gz")
    data = read_cifar(CIFAR10, tmp_path if inside else archive, skip_checksum=True)
    np.testing.assert_array_equal(data.train_images.numpy(), images[:100])
    assert data.warnings == [f"{archive}: md5 {data.warnings[0].split()[2]} is not the official "
                             "c58f30108f718f92721af3b95e74349a; used anyway (--skip-checksum)"]


def test_archive_checksum_mismatch_is_an_error(cifar_dir, tmp_path):
    archive = make_tar(cifar_dir[0], tmp_path / "cifar-10-python.tar.gz")
    official = "c58f30108f718f92721af3b95e74349a"
    with pytest.raises(DataError, match=f"not the official {official}") as error:
        read_cifar(CIFAR10, archive)
    assert "cifar-10-python.tar.gz" in str(error.value)


def truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


@pytest.mark.parametrize("damage, message, named", [
    (lambda folder: truncate(folder / "data_batch_2", 500), "truncated or corrupt", "data_batch_2"),
    (lambda folder: (folder / "data_batch_3").unlink(), "missing", "data_batch_3"),
    (lambda folder: (folder / "test_batch").write_bytes(b"<html>404 not found</html>"),
     "not a readable CIFAR file", "test_batch"),
])
def test_a_damaged_folder_names_the_file(cifar_dir, damage, message, named):
    folder, _, _ = cifar_dir
    damage(folder)
    with pytest.raises(DataError, match=message) as error:
        read_cifar(CIFAR10, folder, skip_checksum=True)
    assert named in str(error.value)


def test_truncated_archive(cifar_dir, tmp_path):
    archive = make_tar(cifar_dir[0], tmp_path / "cifar-10-python.tar.gz")
    truncate(archive, 2000)
    with pytest.raises(DataError, match="truncated or corrupt") as error:
        read_cifar(CIFAR10, archive, skip_checksum=True)
    assert "cifar-10-python.tar.gz" in str(error.value)


def test_wrong_array_size(cifar_dir):
    folder, _, _ = cifar_dir
    bad = cifar_batch(np.zeros((20, 3000), dtype=np.uint8), [0] * 20, "bad")
    (folder / "data_batch_4").write_bytes(py2_pickle(bad))
    with pytest.raises(DataError, match="N x 3072") as error:
        read_cifar(CIFAR10, folder, skip_checksum=True)
    assert "data_batch_4" in str(error.value)


def test_labels_out_of_range(cifar_dir):
    folder, _, _ = cifar_dir
    bad = cifar_batch(np.zeros((2, 3, 32, 32), dtype=np.uint8), [0, 10], "bad")
    (folder / "data_batch_5").write_bytes(py2_pickle(bad))
    with pytest.raises(DataError, match="labels outside 0..9"):
        read_cifar(CIFAR10, folder, skip_checksum=True)


def test_no_data_suggests_download(tmp_path):
    with pytest.raises(DataError, match="--download") as error:
        read_cifar(CIFAR10, tmp_path)
    assert str(tmp_path) in str(error.value)


def test_download_fetches_the_archive(cifar_dir, tmp_path, monkeypatch):
    server = tmp_path / "server"
    server.mkdir()
    make_tar(cifar_dir[0], server / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar, "BASE_URL", server.as_uri() + "/")
    target = tmp_path / "downloads"
    data = read_cifar(CIFAR10, target, download=True, skip_checksum=True)
    assert (target / "cifar-10-python.tar.gz").exists()
    np.testing.assert_array_equal(data.train_images.numpy(), cifar_dir[1][:100])
    assert sorted(p.name for p in target.iterdir()) == ["cifar-10-python.tar.gz"]


def test_two_downloads_at_once_write_apart(cifar_dir, tmp_path, monkeypatch):
    """Another process's half-written download (its own .part) is neither read nor
    overwritten: each process writes a file of its own, renamed when complete."""
    server = tmp_path / "server"
    server.mkdir()
    make_tar(cifar_dir[0], server / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar, "BASE_URL", server.as_uri() + "/")
    target = tmp_path / "downloads"
    target.mkdir()
    other = target / "cifar-10-python.tar.gz.999999.part"
    other.write_bytes(b"another process, half way")
    cifar.fetch(CIFAR10, target)
    assert other.read_bytes() == b"another process, half way"
    assert (target / "cifar-10-python.tar.gz").stat().st_size > 1000


def test_download_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar, "BASE_URL", "http://127.0.0.1:9/")  # nothing listens there
    with pytest.raises(DataError, match="could not download .*Offline") as error:
        read_cifar(CIFAR10, tmp_path, download=True)
    assert "cifar-10-python.tar.gz" in str(error.value)
    assert not list(tmp_path.iterdir())  # no partial download left behind


def test_cifar100_layout(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, count in (("train", 30), ("test", 10)):
        batch = cifar_batch(rng.integers(0, 256, (count, 3072), dtype=np.uint8),
                            rng.integers(0, 100, count).tolist(), name, label_key="fine_labels")
        batch["coarse_labels"] = [0] * count
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    names = {"fine_label_names": [f"class{i}" for i in range(100)], "coarse_label_names": []}
    (folder / "meta").write_bytes(pickle.dumps(names))
    data = read_cifar(CIFAR100, tmp_path, skip_checksum=True)
    assert data.train_images.shape == (30, 3, 32, 32) and len(data.classes) == 100


def test_a_huge_sparse_batch_is_refused_before_it_is_read(cifar_dir):
    folder, _, _ = cifar_dir
    with open(folder / "data_batch_2", "r+b") as file:
        file.truncate(12 * 2**30)  # 12 GB, sparse: costs no disk
    with pytest.raises(DataError, match="more than a CIFAR-10 file can be") as error:
        read_cifar(CIFAR10, folder, skip_checksum=True)
    assert "data_batch_2" in str(error.value)


def test_a_fifo_is_not_read(cifar_dir):
    folder, _, _ = cifar_dir
    (folder / "batches.meta").unlink()
    os.mkfifo(folder / "batches.meta")  # reading it would wait forever
    with pytest.raises(DataError, match="is not a regular file") as error:
        read_cifar(CIFAR10, folder, skip_checksum=True)
    assert "batches.meta" in str(error.value)


def test_an_archive_member_too_large_is_refused_before_it_is_extracted(cifar_dir, tmp_path,
                                                                      monkeypatch):
    archive = make_tar(cifar_dir[0], tmp_path / "cifar-10-python.tar.gz")
    monkeypatch.setattr(cifar, "MAX_BATCH", 1000)  # the fixture's batches are 61 KB
    monkeypatch.setattr(tarfile.TarFile, "extractfile", lambda *_: pytest.fail("extracted"))
    with pytest.raises(DataError, match="more than a CIFAR-10 file can be") as error:
        read_cifar(CIFAR10, archive, skip_checksum=True)
    assert "cifar-10-python.tar.gz:cifar-10-batches-py/data_batch_1" in str(error.value)


@pytest.mark.parametrize("labels, found", [
    ([0.0, 1.7], "float64"), ([0, 1.5], "float64"), (["cat", "dog"], "<U3"),
    ([[0], [1]], "something else"), ({"a": 1}, "something else"), ([2**70, 1], "object"),
    ([True, False], "bool"),
])
def test_labels_must_be_whole_numbers(cifar_dir, labels, found):
    folder, _, _ = cifar_dir
    batch = cifar_batch(np.zeros((2, 3, 32, 32), dtype=np.uint8), labels, "bad")
    (folder / "data_batch_1").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError, match="labels must be a list of whole numbers") as error:
        read_cifar(CIFAR10, folder, skip_checksum=True)
    assert found in str(error.value) and "data_batch_1" in str(error.value)


@pytest.mark.parametrize("data", [
    [[0] * 3072, [1] * 3072],  # a list, not an array
    np.zeros((2, 3072), dtype=np.float32),  # not uint8
    np.zeros((2, 3072), dtype=object),  # objects
])
def test_data_must_be_a_uint8_array(cifar_dir, data):
    folder, _, _ = cifar_dir
    batch = {"data": data, "labels": [0, 1], "batch_label": "bad"}
    (folder / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataError, match="expected uint8 data of shape N x 3072"):
        read_cifar(CIFAR10, folder, skip_checksum=True)


def test_class_names_must_be_text(cifar_dir):
    folder, _, _ = cifar_dir
    meta = {"label_names": [np.zeros(3)] * 10}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    with pytest.raises(DataError, match="no list of 10 class names"):
        read_cifar(CIFAR10, folder, skip_checksum=True)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_of_the_format_is_read(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    images = np.random.default_rng(0).integers(0, 256, (4, 3072), dtype=np.uint8)
    for name, _ in CIFAR10.files():
        content = {"label_names": [f"c{i}" for i in range(10)]} if name == "batches.meta" \
            else {b"data": images, b"labels": [0, 1, 2, 3], b"filenames": [b"a", b"b", b"c", b"d"]}
        (folder / name).write_bytes(pickle.dumps(content, protocol=protocol))
    data = read_cifar(CIFAR10, folder, skip_checksum=True)
    assert data.train_images.shape == (20, 3, 32, 32) and data.classes[3] == "c3"
