"""Preparing a run: resuming it (exactly, after a kill, from a damaged or foreign
checkpoint, with flags that may or may not change it) and starting one in a used folder."""

from __future__ import annotations

import json
import signal
import time

import pytest
from torch import nn

from resdsl.train.checkpoint import load_checkpoint, save_checkpoint
from resdsl.train.runfolder import checkpoint_path, list_checkpoints
from resdsl.train.errors import CheckpointError, OptionsError, RunFolderError
from resdsl.train.options import TrainOptions
from resdsl.train.runfolder import load_run, read_metrics

from helpers import GUARD_SECONDS

from .train_helpers import (SPEC, assert_identical, make_cifar10, same_weights, script,
                            strip_timing, tiny_model, tiny_network, tiny_plan, tiny_recipe,
                            train_tiny as run, environment)
from .train_script import run_tiny

pytestmark = pytest.mark.usefixtures("one_thread")
SYNTHETIC = dict(data="synthetic:64")


def test_resume_falls_back_when_the_newest_checkpoint_is_corrupt(tmp_path):
    first, model, _ = run(tmp_path, tmp_path, **SYNTHETIC)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    newest = checkpoint_path(first.run_dir, 30)
    newest.write_bytes(newest.read_bytes()[:1000])
    again, model, reporter = run(tmp_path, tmp_path, **SYNTHETIC, model=tiny_model(seed=9),
                                 resume=str(first.run_dir))
    assert any("ckpt_000030.pt" in m and "falling back" in m for m in reporter.messages)
    assert any("resuming from" in m and "ckpt_000020.pt" in m for m in reporter.messages)
    assert again.final_error == first.final_error
    assert same_weights(model.state_dict(), expected)


def test_a_checkpoint_copied_from_another_run_is_not_resumed(tmp_path):
    """Two runs of the same shapes: the stranger's newest checkpoint, copied in, is set
    aside, and the run goes on from its own."""
    mine, model, _ = run(tmp_path, tmp_path, "mine", **SYNTHETIC)
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    theirs, _, _ = run(tmp_path, tmp_path, "theirs", **SYNTHETIC, seed=5,
                       recipe=tiny_recipe(iterations=40))
    checkpoint_path(mine.run_dir, 30).unlink()
    stranger = checkpoint_path(theirs.run_dir, 40)
    stranger.rename(checkpoint_path(mine.run_dir, 40))
    again, model, reporter = run(tmp_path, tmp_path, "mine", **SYNTHETIC, model=tiny_model(seed=9),
                                 resume=str(mine.run_dir))
    assert any("ckpt_000040.pt: was written by another run" in m and "ckpt_000040.pt.foreign" in m
               for m in reporter.messages)
    assert again.iteration == 30 and same_weights(model.state_dict(), expected)


def test_resume_needs_the_same_spec(tmp_path):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    with pytest.raises(CheckpointError, match="another spec") as error:
        tiny_plan(tiny_recipe(), TrainOptions(resume=str(first.run_dir)),
                  tiny_network(spec=SPEC + "# changed\n"))
    assert "config.json" in str(error.value)


def test_resume_of_a_finished_run_only_evaluates(tmp_path):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    again, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir),
                      model=tiny_model(seed=4))
    assert again.iteration == 10 and again.final_error == first.final_error


def test_more_iterations_on_resume_extend_the_run_exactly(tmp_path):
    whole, whole_model, _ = run(tmp_path, tmp_path, "whole", **SYNTHETIC)
    short, _, _ = run(tmp_path, tmp_path, "short", **SYNTHETIC, recipe=tiny_recipe(iterations=20))
    longer, model, reporter = run(tmp_path, tmp_path, "short", **SYNTHETIC, model=tiny_model(seed=3),
                                  resume=str(short.run_dir), changes={"iterations": 30})
    assert longer.iteration == 30 and same_weights(model.state_dict(), whole_model.state_dict())
    assert "resumed with iterations 20 -> 30; recorded in config.json" in reporter.messages
    config = json.loads((short.run_dir / "config.json").read_text())
    assert config["recipe"]["iterations"] == 30
    assert config["resumed"][0]["at"] == 20 and config["resumed"][0]["changed"] == \
        {"iterations": [20, 30]}
    assert load_run(short.run_dir).recipe.iterations == 30  # a later resume keeps it
    with pytest.raises(OptionsError, match="--iterations 10: this run is already at iteration 30"):
        run(tmp_path, tmp_path, "short", **SYNTHETIC, resume=str(short.run_dir),
            changes={"iterations": 10})


@pytest.mark.parametrize("changes, flag", [
    ({"lr": 0.2}, "--lr 0.2 would change this run, which has lr 0.05"),
    ({"batch_size": 8}, "--batch-size 8 would change this run"),
    ({"momentum": "0.5"}, "--set momentum=0.5 would change this run, which has momentum 0.9"),
    ({"lr_steps": ("5",)}, "--set lr_steps=5 would change this run, which has lr_steps 20"),
    ({"recipe": "cifar10_paper"}, "--recipe cifar10_paper would change this run, which has "
                                  "recipe tiny"),
    ({"seed": 3}, "--seed 3 would change this run, which has seed 0"),
    ({"data": "synthetic:96"}, "--data synthetic:96 would change this run"),
    ({"precision": "bf16"}, "--precision bf16 would change this run"),
    ({"log_every": 2}, "--log-every 2 would change this run"),
    ({"out": "elsewhere"}, "--out elsewhere would change this run"),
])
def test_flags_that_would_change_a_resumed_run_are_refused(tmp_path, changes, flag):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    before = (first.run_dir / "config.json").read_text()
    with pytest.raises(OptionsError, match="start a new run with another --out") as error:
        run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir), changes=changes)
    assert str(error.value).startswith(f"{first.run_dir / 'config.json'}: error: {flag}")
    assert (first.run_dir / "config.json").read_text() == before


def test_flags_that_repeat_the_run_or_only_say_where_it_runs_are_fine(tmp_path):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    same = {"lr": 0.05, "seed": 0, "data": "synthetic:64", "recipe": "tiny",
            "out": str(first.run_dir), "device": "cpu", "workers": 0, "checkpoint_every": 5,
            "eval_every": 10, "momentum": "0.9"}
    again, _, reporter = run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir),
                             changes=same, recipe=tiny_recipe(iterations=15))
    assert again.iteration == 10  # the saved iterations: `recipe` is not a change
    assert "resumed with checkpoint_every 10 -> 5; recorded in config.json" in reporter.messages


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path):
    """Its folder holds config.json and a few metrics, no checkpoint: --out starts it again
    in place, and --resume does the same, from iteration 0."""
    recipe = tiny_recipe(iterations=10)
    whole, whole_model, _ = run(tmp_path, tmp_path, "whole", **SYNTHETIC, recipe=recipe)
    for name in ("out", "resume"):
        cut, _, _ = run(tmp_path, tmp_path, name, **SYNTHETIC, recipe=recipe)
        for path in list_checkpoints(cut.run_dir):
            path.unlink()  # as if killed at iteration 7, before the checkpoint of 10
        (cut.run_dir / "metrics.jsonl").write_text('{"iteration": 5}\n{"iter')
        where = {"resume": str(cut.run_dir)} if name == "resume" else {}
        again, model, reporter = run(tmp_path, tmp_path, name, **SYNTHETIC, recipe=recipe,
                                     **where)
        assert any("stopped before its first checkpoint" in m or "no checkpoint yet" in m
                   for m in reporter.messages), reporter.messages
        assert same_weights(model.state_dict(), whole_model.state_dict())
        assert strip_timing(read_metrics(cut.run_dir)) == strip_timing(read_metrics(whole.run_dir))


def test_out_folder_holding_a_run_with_checkpoints_is_refused(tmp_path):
    run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=2))
    with pytest.raises(RunFolderError, match="already holds a run: continue it with --resume"):
        run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=2))


def test_a_checkpoint_that_does_not_fit_the_model_is_a_clear_error(tmp_path):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    bigger = nn.Sequential(*tiny_model(), nn.Linear(10, 10))
    bigger.network = tiny_network()
    with pytest.raises(CheckpointError, match="does not fit this run") as error:
        run(tmp_path, tmp_path, model=bigger, resume=str(first.run_dir))
    assert "ckpt_000010.pt" in str(error.value)


def test_a_checkpoint_with_a_sound_digest_but_the_wrong_contents_does_not_fit(tmp_path):
    first, _, _ = run(tmp_path, tmp_path, **SYNTHETIC, recipe=tiny_recipe(iterations=10))
    path = checkpoint_path(first.run_dir, 10)
    state = load_checkpoint(path)
    state["rng"] = [1, 2, 3]  # a list where the RNG states belong
    save_checkpoint(first.run_dir, 10, state, keep=3, run_id=load_run(first.run_dir).run_id)
    with pytest.raises(CheckpointError, match="does not fit this run"):
        run(tmp_path, tmp_path, **SYNTHETIC, resume=str(first.run_dir))


def test_sigkill_then_resume_is_bitwise_identical(tmp_path):
    make_cifar10(tmp_path / "data")
    data, whole, cut = str(tmp_path / "data"), tmp_path / "whole", tmp_path / "cut"
    killed = script(str(cut), data, "--slow", "0.3", env=environment())
    expected, expected_model = run_tiny(str(whole), data)  # meanwhile, uninterrupted
    # Wait for the checkpoint of iteration 18 (inside the window logged at 20), then kill
    # once the next line is logged: the resumed run must redo iterations 19 and 20.
    deadline = time.monotonic() + GUARD_SECONDS
    while not checkpoint_path(cut, 18).exists() or read_metrics(cut)[-1]["iteration"] < 20:
        assert killed.poll() is None and time.monotonic() < deadline, killed.stderr.read()
        time.sleep(0.01)
    killed.send_signal(signal.SIGKILL)
    killed.communicate()
    assert killed.returncode == -signal.SIGKILL
    assert not checkpoint_path(cut, 24).exists()  # it really was stopped before then
    resumed, resumed_model = run_tiny(str(cut), data, resume=True)
    assert resumed.final_error == expected.final_error and resumed.iteration == 40
    assert_identical(resumed_model.state_dict(), expected_model.state_dict())
    a, b = load_checkpoint(checkpoint_path(whole, 40)), load_checkpoint(checkpoint_path(cut, 40))
    for part in ("model", "optimizer", "schedule", "data", "window"):
        assert_identical(a[part], b[part])
    assert strip_timing(read_metrics(cut)) == strip_timing(read_metrics(whole))
