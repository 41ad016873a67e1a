"""One process trains in a run folder at a time; a killed one leaves no lock behind."""

from __future__ import annotations

import signal
import time

import pytest

from resdsl.train.errors import RunFolderError
from resdsl.train.lock import RunLock
from resdsl.train.runfolder import LOCK, read_metrics

from helpers import GUARD_SECONDS

from .train_helpers import environment, script, tiny_recipe, train_tiny as run

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_held_folder_refuses_a_second_hold_naming_the_first(tmp_path):
    first = RunLock.acquire(tmp_path / LOCK)
    with pytest.raises(RunFolderError, match=r"is in use: process \d+ on .*, since .* trains "
                                             "in this folder"):
        RunLock.acquire(tmp_path / LOCK)
    first.release()
    RunLock.acquire(tmp_path / LOCK).release()  # released: free again


def test_two_runs_into_one_folder_and_two_resumes_of_one_run(tmp_path):
    """A run in another process holds its folder: a second run with the same --out is
    refused, and so is a resume of it; once the holder is killed (SIGKILL: no clean-up),
    the folder is free and the run resumes."""
    folder = tmp_path / "run"
    holder = script(str(folder), str(tmp_path), "--data", "synthetic:64", "--slow", "0.5",
                    env=environment())
    deadline = time.monotonic() + GUARD_SECONDS
    while not read_metrics(folder):  # it has started and logged once
        assert holder.poll() is None and time.monotonic() < deadline, holder.stderr.read()
        time.sleep(0.02)
    message = f"is in use: process {holder.pid} on "
    with pytest.raises(RunFolderError, match=message):
        run(tmp_path, tmp_path, **{"data": "synthetic:64"})
    with pytest.raises(RunFolderError, match=message):
        run(tmp_path, tmp_path, data="synthetic:64", resume=str(folder))
    holder.send_signal(signal.SIGKILL)
    holder.communicate()
    resumed, _, _ = run(tmp_path, tmp_path, data="synthetic:64", resume=str(folder),
                        recipe=tiny_recipe(iterations=40))
    assert resumed.iteration == 40
    iterations = [r["iteration"] for r in read_metrics(folder)]
    assert iterations == sorted(set(iterations))  # one writer at a time: no duplicates
