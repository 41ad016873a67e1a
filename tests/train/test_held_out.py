"""The error on held-out images, and `evaluate_checkpoint` (what `resdsl eval` reports)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resdsl.train.checkpoint import load_weights
from resdsl.train.datasets.batches import TensorEvalBatches
from resdsl.train.datasets.sources import open_data
from resdsl.train.errors import CheckpointError
from resdsl.train.held_out import evaluate_checkpoint, held_out_error
from resdsl.train.options import TrainOptions
from resdsl.train.runfolder import load_run

from .train_helpers import (SPEC, tiny_model, tiny_network, tiny_recipe, train_resnet20,
                            train_tiny as run)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_held_out_error_counts_mistakes():
    class Always(nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(torch.full((len(x),), 3), 10).float()

    labels = torch.tensor([3, 1, 3, 3, 0, 3, 9])
    batches = TensorEvalBatches(torch.zeros(7, 3, 2, 2, dtype=torch.uint8), labels,
                                torch.zeros(3, 1, 1), batch_size=3)
    assert held_out_error(Always(), batches, "cpu") == pytest.approx(3 / 7)


def test_final_error_is_the_error_on_the_test_images(tmp_path, cifar):
    result, model, _ = run(tmp_path, cifar, recipe=tiny_recipe(iterations=5, eval_every=5))
    recipe = tiny_recipe()
    data = open_data(tiny_network(recipe), recipe, TrainOptions(data_dir=str(cifar),
                                                                skip_checksum=True), "cpu")
    assert held_out_error(model, data, "cpu") == result.final_error


def test_a_run_can_be_evaluated_again_from_its_folder(tmp_path):
    first, trained, _ = run(tmp_path, tmp_path, data="synthetic:64",
                            recipe=tiny_recipe(iterations=10))
    saved = load_run(first.run_dir)
    assert saved.origin.sources == {"tiny.res": SPEC} and saved.recipe.iterations == 10
    assert saved.options.data == "synthetic:64"
    model = tiny_model(seed=3)
    assert load_weights(model, first.run_dir, print, saved.run_id) == first.checkpoint
    data = open_data(tiny_network(saved.recipe), saved.recipe, saved.options, "cpu")
    assert held_out_error(model, data, "cpu") == first.final_error
    with pytest.raises(CheckpointError, match="does not fit this model"):
        load_weights(tiny_model(classes=3), first.checkpoint, print)


def test_evaluate_checkpoint_takes_the_spec_and_data_from_the_run(tmp_path):
    result = train_resnet20(tmp_path, iterations=2, seed=4)
    notes: list[str] = []
    for source in (result.run_dir, result.checkpoint):  # the folder, or a checkpoint in it
        evaluation = evaluate_checkpoint(None, source, None, {}, notes.append)
        assert evaluation.network == "resnet20" and evaluation.checkpoint == result.checkpoint
        assert evaluation.error == result.final_error  # same synthetic images: seed 4
    (tmp_path / "lone.pt").write_bytes(result.checkpoint.read_bytes())
    with pytest.raises(CheckpointError, match="holds no config.json with the spec: give the "
                                              "spec too"):
        evaluate_checkpoint(None, tmp_path / "lone.pt", None, {}, notes.append)


def test_eval_past_a_damaged_newest_checkpoint_warns_naming_both(tmp_path):
    result = train_resnet20(tmp_path, iterations=4)  # checkpoints at 2 and 4
    newest = result.checkpoint
    older = newest.with_name("ckpt_000002.pt")
    newest.write_bytes(newest.read_bytes()[:1000])  # cut short
    notes: list[str] = []
    evaluation = evaluate_checkpoint(None, result.run_dir, None, {}, notes.append)
    assert evaluation.checkpoint == older
    warning, = notes
    assert warning.startswith(f"warning: evaluated {older}, not the newest checkpoint: "
                              f"{newest}: cannot be read"), warning
