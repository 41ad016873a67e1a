"""Options, recipe overrides, the lr schedule, reporters and plots."""

from __future__ import annotations

import io

import pytest
from train_helpers import tiny_recipe

from resdsl.diagnostics import Span
from resdsl.train.errors import OptionsError, PlotError
from resdsl.train.loop import RunResult
from resdsl.train.options import TrainOptions, resolve_recipe
from resdsl.train.plot import plot_runs
from resdsl.train.progress import PlainReporter, RichReporter, make_reporter
from resdsl.train.runfolder import append_metrics
from resdsl.train.schedule import LRSchedule


def test_overrides_replace_only_what_is_set_and_keep_the_span():
    span = Span("spec.res", 3, 1, 3, 10)
    recipe = tiny_recipe().model_copy(update={"span": span})
    resolved = resolve_recipe(recipe, TrainOptions(iterations=500, lr=0.2))
    assert (resolved.iterations, resolved.lr, resolved.batch_size) == (500, 0.2, 16)
    assert resolved.span == span
    assert resolve_recipe(recipe, {"momentum": 0.5, "lr": None}).momentum == 0.5


@pytest.mark.parametrize("overrides, message", [
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"lr": "fast"}, "invalid recipe override: lr"),
    ({"colour": 1}, "not a recipe field: colour"),
    ({"lr_steps": (10, 5)}, "lr_steps must increase"),
    ({"warmup_lr": 0.01}, "go together"),
    ({"warmup_lr": 0.01, "warmup_until_error": 80}, "fraction in \\(0, 1\\]"),
])
def test_bad_overrides_are_options_errors(overrides, message):
    with pytest.raises(OptionsError, match=message):
        resolve_recipe(tiny_recipe(), overrides)


def test_bad_options():
    with pytest.raises(OptionsError, match="log_every"):
        TrainOptions(log_every=0)
    with pytest.raises(OptionsError, match="precision"):
        TrainOptions(precision="fp8")
    options = TrainOptions(val_split=5000, data="synthetic")
    assert TrainOptions.from_dict({**options.to_dict(), "unknown": 1}) == options


def test_lr_steps_and_warm_up():
    schedule = LRSchedule(tiny_recipe(lr=0.1, lr_steps=(10, 20), lr_gamma=0.1,
                                      warmup_lr=0.01, warmup_until_error=0.8))
    assert schedule.lr(0) == 0.01
    assert not schedule.observe(0.85) and schedule.lr(5) == 0.01
    assert schedule.observe(0.79) and schedule.lr(5) == 0.1
    assert not schedule.observe(0.1)  # switches once
    assert schedule.lr(9) == 0.1 and schedule.lr(10) == pytest.approx(0.01)
    assert schedule.lr(20) == pytest.approx(0.001)
    fresh = LRSchedule(schedule.recipe)
    fresh.load_state_dict(schedule.state_dict())
    assert fresh.lr(0) == 0.1


def test_no_warm_up_means_lr_from_the_start():
    schedule = LRSchedule(tiny_recipe(lr=0.1))
    assert schedule.lr(0) == 0.1 and not schedule.observe(0.0)


SUMMARY = {"network": "resnet20", "run_dir": "runs/x", "device": "cpu", "precision": "fp32",
           "world_size": 1, "iterations": 200, "start_iteration": 0, "batch_size": 128,
           "data": "cifar10", "train_images": 50000, "eval_images": 10000, "eval_set": "test"}
METRICS = {"iteration": 100, "lr": 0.1, "train_loss": 1.5, "train_error": 0.55,
           "images_per_s": 12000.0, "test_error": 0.5}


def test_plain_reporter_writes_lines():
    stream = io.StringIO()
    reporter = make_reporter(stream)
    assert isinstance(reporter, PlainReporter)
    reporter.start(SUMMARY)
    reporter.log(METRICS)
    reporter.message("checksum skipped")
    reporter.finish(RunResult(run_dir="runs/x", iteration=200, eval_set="test", final_error=0.0875))
    lines = stream.getvalue().splitlines()
    assert "resnet20" in lines[0] and "50000 images" in lines[0]
    assert lines[1].startswith("[100/200]") and "train err 55.00%" in lines[1]
    assert "test err 50.00%" in lines[1] and "12,000 img/s" in lines[1] and "eta" in lines[1]
    assert lines[2] == "note: checksum skipped"
    assert lines[3] == "done: final test error 8.75% after 200 iterations; run folder runs/x"


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


def test_plot_overlays_runs(tmp_path):
    for name, errors in (("plain20", [0.6, 0.4]), ("resnet20", [0.5, 0.2])):
        (tmp_path / name).mkdir()
        for iteration, error in zip((100, 200), errors):
            record = {"iteration": iteration, "train_error": error, "test_error": error + 0.1}
            append_metrics(tmp_path / name, record)
    out = plot_runs([tmp_path / "plain20", tmp_path / "resnet20"], tmp_path / "fig6.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(PlotError, match="no metrics"):
        plot_runs([tmp_path / "plain20", tmp_path], tmp_path / "bad.png")
