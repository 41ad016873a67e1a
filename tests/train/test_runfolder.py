"""Reading a run folder back as a user may have left it: lines that are not records,
config.json files that are not configs, files too large or not files at all."""

from __future__ import annotations

import json
import os

import pytest

from resdsl.train.errors import CheckpointError, OptionsError, RunFolderError
from resdsl.train.runfolder import (csv_line, load_run, metric_columns, new_run_dir,
                                    read_config, read_metrics, read_metrics_csv)

from .train_helpers import train_tiny as run, tiny_recipe


def test_metrics_lines_that_are_not_records_are_skipped(tmp_path):
    lines = ['{"iteration": 5, "train_error": 0.5}', "null", "[1, 2]", '"text"', "17",
             '{"iteration": "6"}', '{"iteration": true}', '{"no": "iteration"}',
             "[" * 100_000 + "]" * 100_000, '{"iteration": 7, "lr": "fast", "x": [1]}',
             '{"iteration": 8, "train_error": 0.4}', '{"iteration": 9, "train_e']
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + "\n\xff\xfe")
    assert read_metrics(tmp_path) == [{"iteration": 5, "train_error": 0.5}, {"iteration": 7},
                                      {"iteration": 8, "train_error": 0.4}]


@pytest.mark.parametrize("make, message", [
    (lambda path: os.mkfifo(path), "is not a regular file"),
    (lambda path: open(path, "wb").truncate(300 * 2**20), "more than a metrics.jsonl can be"),
])
def test_metrics_that_are_not_a_file_of_metrics_are_refused(tmp_path, make, message):
    make(tmp_path / "metrics.jsonl")
    with pytest.raises(RunFolderError, match=message):
        read_metrics(tmp_path)


@pytest.mark.parametrize("text, message", [
    ("null", "holds no JSON object"), ("[1, 2]", "holds no JSON object"),
    ("{", "cannot be read \\(JSONDecodeError\\)"), ("[" * 100_000, "cannot be read"),
    ("\udcff", "cannot be read"),
])
def test_a_config_that_is_not_a_config_is_a_clear_error(tmp_path, text, message):
    (tmp_path / "config.json").write_bytes(text.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(CheckpointError, match=message):
        read_config(tmp_path)


@pytest.mark.parametrize("change", [
    lambda c: c.pop("recipe"), lambda c: c.update(recipe=[1]),
    lambda c: c["options"].update(seed="zero"), lambda c: c["options"].update(log_every=0),
    lambda c: c.update(origin=12), lambda c: c["origin"].update(sources=[1]),
    lambda c: c.update(run_id=[1]),
    lambda c: c["recipe"].update(lr="fast"),
])
def test_a_config_with_bad_contents_cannot_be_resumed(tmp_path, change):
    first, _, _ = run(tmp_path, tmp_path, data="synthetic:64", recipe=tiny_recipe(iterations=2))
    path = first.run_dir / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="config.json: error: "):
        load_run(first.run_dir)


def test_a_fifo_or_a_sparse_giant_is_no_config(tmp_path):
    os.mkfifo(tmp_path / "config.json")
    with pytest.raises(CheckpointError, match="is not a regular file"):
        read_config(tmp_path)


@pytest.mark.parametrize("where, message", [
    ("file", "is not a folder: give --out a folder"),
    ("/proc/x/run", "cannot make the run folder"),
])
def test_out_must_be_a_folder_that_can_be_made(tmp_path, where, message):
    target = tmp_path / "file" if where == "file" else where
    (tmp_path / "file").write_text("")
    with pytest.raises(OptionsError, match=message) as error:
        new_run_dir(str(target), "net")
    assert str(target) in str(error.value)


def test_csv_rows_leave_missing_metrics_empty_and_a_partial_row_is_skipped(tmp_path):
    columns = metric_columns("val")
    assert columns[-1] == "val_error"
    text = csv_line(dict(zip(columns, columns)), columns) + \
        csv_line({"iteration": 5, "lr": 0.1}, columns) + "10,0.1,2"
    (tmp_path / "metrics.csv").write_text(text)
    assert read_metrics_csv(tmp_path) == [{"iteration": "5", "lr": "0.1", "train_loss": "",
                                           "train_error": "", "images_per_s": "",
                                           "val_error": ""}]
