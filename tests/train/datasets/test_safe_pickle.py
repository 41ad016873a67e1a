"""CIFAR files are pickles: a crafted one must not run its payload, whatever it calls."""

from __future__ import annotations

import os
import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

from resdsl.train.datasets.cifar import CIFAR10, read_cifar
from resdsl.train.datasets.safe_pickle import load_pickle
from resdsl.train.errors import DataError

from ..train_helpers import make_cifar10, make_tar


class Payload:
    """Pickles as a call of `function(*args)`: what a malicious file would hold."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def payloads(marker: Path) -> dict[str, object]:
    touch = f"touch {marker}"
    return {
        "os.system": Payload(os.system, touch),
        "subprocess.call": Payload(subprocess.call, ["touch", str(marker)]),
        "eval": Payload(eval, f"open({str(marker)!r}, 'w')"),
        "exec": Payload(exec, f"open({str(marker)!r}, 'w')"),
        "builtins.open": Payload(open, str(marker), "w"),
        "numpy.save": Payload(np.save, str(marker), np.zeros(1)),
        "importlib": Payload(__import__("importlib").import_module, "os"),
    }


@pytest.mark.parametrize("name", list(payloads(Path("x"))))
@pytest.mark.parametrize("where", ["data_batch_1", "batches.meta", "test_batch"])
def test_a_payload_is_refused_before_it_runs(tmp_path, name, where):
    folder, _, _ = make_cifar10(tmp_path / "data")
    marker = tmp_path / "pwned"
    evil = {"data": payloads(marker)[name], "labels": [0], "label_names": ["x"] * 10}
    (folder / where).write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError) as error:
        read_cifar(CIFAR10, folder, skip_checksum=True)
    assert not marker.exists()
    message = str(error.value)
    assert message.startswith(f"{folder / where}: error: refused to load: it asks for '")
    assert "may try to run code" in message and len(message.splitlines()) == 1


def test_a_payload_inside_the_archive_is_refused_too(tmp_path):
    folder, _, _ = make_cifar10(tmp_path / "data")
    marker = tmp_path / "pwned"
    (folder / "data_batch_4").write_bytes(pickle.dumps(Payload(os.system, f"touch {marker}")))
    archive = make_tar(folder, tmp_path / "cifar-10-python.tar.gz")
    with pytest.raises(DataError, match="refused to load") as error:
        read_cifar(CIFAR10, archive, skip_checksum=True)
    assert not marker.exists() and "data_batch_4" in str(error.value)


def test_the_formats_own_pieces_load():
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    for protocol in range(2, 6):
        loaded = load_pickle("x", pickle.dumps({"a": array, b"b": [1, "s", b"t", 2.5]},
                                               protocol=protocol))
        np.testing.assert_array_equal(loaded["a"], array)
        assert loaded[b"b"] == [1, "s", b"t", 2.5]


@pytest.mark.parametrize("raw", [b"", b"\x80\x02", b"garbage", pickle.dumps(1)[:-1],
                                 b"\x80\x02" + b"(" * 100_000])
def test_damage_is_a_clear_error(raw):
    with pytest.raises(DataError, match="x: error: not a readable CIFAR file"):
        load_pickle("x", raw)
