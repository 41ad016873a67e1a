"""resdsl.limits: the one bound a user sets (`--max-memory SIZE`), sizes in words, and
the collector paused while a large file is parsed or lowered."""

import gc

import pytest

from resdsl.diagnostics import ResdslError
from resdsl.limits import human_bytes, parse_size, paused_gc


@pytest.mark.parametrize("text, size", [
    ("16G", 16 * 2**30), ("512M", 512 * 2**20), ("1K", 1024), ("1.5G", 3 * 2**29),
    ("32GiB", 32 * 2**30), ("32gb", 32 * 2**30), (" 2T ", 2 * 2**40), ("100", 100),
])
def test_sizes_are_powers_of_1024(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0", "-1G", "lots", "", "G", "1..5G", "\uff12G", "nan", "inf",
                                  "99999999T"])
def test_what_is_not_a_size_is_refused(text):
    with pytest.raises(ResdslError, match="--max-memory takes a size such as 16G or 512M"):
        parse_size(text)


def test_human_bytes():
    assert [human_bytes(n) for n in (512, 2048, 7 * 2**29)] == ["512 B", "2.00 KiB", "3.50 GiB"]


def test_the_collector_is_paused_and_restored():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the outer one turns it back on
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(KeyError):
        with paused_gc():
            raise KeyError
    assert gc.isenabled()
