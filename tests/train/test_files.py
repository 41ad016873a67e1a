"""Reading user files: regular files of a bounded size only; OS errors as one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from resdsl.train.errors import DataError, RunFolderError
from resdsl.train.files import first_line, read_bounded, write_failure


def test_reads_a_small_regular_file(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert read_bounded(tmp_path / "f", 3, DataError, "thing") == b"abc"


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"abcd"), "is 4 bytes, more than a thing can be \\(at most 3\\)"),
    (lambda p: os.mkfifo(p), "is not a regular file, so not a thing"),
    (lambda p: p.mkdir(), "is not a regular file"),
    (lambda p: None, "cannot read this thing \\(No such file or directory\\)"),
])
def test_refuses_what_is_not_a_small_regular_file(tmp_path, make, message):
    make(tmp_path / "f")
    with pytest.raises(DataError, match=message) as error:
        read_bounded(tmp_path / "f", 3, DataError, "thing")
    assert str(error.value).startswith(f"{tmp_path / 'f'}: error: ")


def test_a_file_the_stat_understates_is_still_bounded(tmp_path):
    # /proc files say they are empty and are not.
    with pytest.raises(DataError, match="more than 10 bytes"):
        read_bounded(Path("/proc/self/environ"), 10, DataError, "thing")


@pytest.mark.parametrize("code, advice", [
    (errno.ENOSPC, "the disk is full: free some space"),
    (errno.EROFS, "the folder is read-only here: copy the run somewhere writable (cp -r)"),
    (errno.EIO, "check the folder"),
])
def test_a_failed_write_says_what_to_do(code, advice):
    error = write_failure(OSError(code, os.strerror(code)), Path("run/x"), "x", "all is well")
    assert isinstance(error, RunFolderError)
    assert str(error) == f"run/x: error: cannot write x ({os.strerror(code)}): {advice}; all is well"


def test_first_line_never_fails():
    assert first_line(EOFError()) == "EOFError" and first_line(ValueError("a\nb")) == "a"
