"""The printing reporters of `resdsl train`: plain lines, and a rich progress bar."""

from __future__ import annotations

import io

from resdsl.cli.progress import PlainReporter, RichReporter, make_reporter
from resdsl.train.runfolder import RunResult

SUMMARY = {"network": "resnet20", "run_dir": "runs/x", "device": "cpu", "precision": "fp32",
           "world_size": 1, "iterations": 200, "start_iteration": 0, "batch_size": 128,
           "data": "data/cifar-10-batches-py", "data_title": "CIFAR-10", "input": [3, 32, 32],
           "channels_last": True, "train_images": 50000, "eval_images": 10000,
           "eval_set": "test"}
METRICS = {"iteration": 100, "lr": 0.1, "train_loss": 1.5, "train_error": 0.55,
           "images_per_s": 12000.0, "test_error": 0.5}


def test_plain_reporter_writes_lines():
    stream = io.StringIO()
    reporter = make_reporter(stream)
    assert isinstance(reporter, PlainReporter)
    reporter.start(SUMMARY)
    reporter.log(METRICS)
    reporter.message("checksum skipped")
    reporter.finish(RunResult(run_dir="runs/x", iteration=200, eval_set="test", final_error=0.0875,
                              data="CIFAR-10"))
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("training resnet20 (3x32x32 inputs) for 200 iterations (batch 128) "
                               "on CIFAR-10 (data/cifar-10-batches-py): 50000 training images, "
                               "reporting the error on 10000 test images; cpu, fp32, "
                               "channels-last; run folder runs/x")
    assert lines[1].startswith("[100/200]") and "train err 55.00%" in lines[1]
    assert "test err 50.00%" in lines[1] and "12,000 img/s" in lines[1] and "eta" in lines[1]
    assert lines[2] == "note: checksum skipped"
    assert lines[3] == ("done: final CIFAR-10 test error 8.75% after 200 iterations; run folder "
                        "runs/x")


def test_rich_reporter_draws_a_bar():
    stream = io.StringIO()
    reporter = RichReporter(stream)
    reporter.start(SUMMARY)
    reporter.log(METRICS)
    reporter.message("a [bold] note")
    reporter.finish(RunResult(run_dir="runs/x", iteration=120, eval_set="test",
                              final_error=None, interrupted=True))
    text = stream.getvalue()
    assert "100/200" in text and "a [bold] note" in text
    assert "interrupted at iteration 120; continue with --resume runs/x" in text
