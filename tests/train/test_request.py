"""What a command trains: the spec from a file or from a run's config.json, the recipe."""

from __future__ import annotations

import json

import pytest

from helpers import SPECS
from resdsl.train.errors import CheckpointError, OptionsError
from resdsl.train.request import (build_model, choose_recipe, load_spec, request_training,
                                  require_spec, run_folder_of, spec_of_run)
from resdsl.train.runfolder import load_run


def test_the_spec_saved_in_a_run_compiles_with_its_imports(tmp_path):
    """resnet20.res imports cifar.res: found beside the spec file the run was read from,
    whatever the working folder."""
    request = request_training(SPECS / "resnet20.res", None, None, {"batch_size": "8"},
                               {"data": "synthetic:32", "iterations": 2})
    assert request.recipe.batch_size == 8 and request.recipe.iterations == 2
    run = tmp_path / "run"
    run.mkdir()
    config = {"spec": request.spec.text, "spec_path": request.spec_path, "network": "resnet20",
              "recipe": request.recipe.model_dump(mode="json"),
              "options": request.options.to_dict(), "run_id": "x"}
    (run / "config.json").write_text(json.dumps(config))
    saved = spec_of_run(load_run(run), run)
    assert saved.network == request.spec.network and saved.text == request.spec.text
    assert require_spec(None, run).network == request.spec.network
    assert run_folder_of(run / "checkpoints" / "ckpt_000001.pt") == run


def test_resume_takes_the_runs_recipe_and_passes_every_flag_on(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    spec = load_spec(SPECS / "resnet20.res")
    recipe = spec.network.recipe.model_copy(update={"iterations": 7})
    (run / "config.json").write_text(json.dumps({
        "spec": spec.text, "spec_path": str(SPECS / "resnet20.res"), "network": "resnet20",
        "recipe": recipe.model_dump(mode="json"), "options": {"seed": 3}, "run_id": "x"}))
    request = request_training(None, None, "other", {"momentum": "0.5"},
                               {"resume": str(run), "lr": 0.2})
    assert request.recipe.iterations == 7 and request.model_options.seed == 3
    assert request.changes == {"resume": str(run), "lr": 0.2, "momentum": "0.5",
                               "recipe": "other"}


def test_a_spec_without_a_train_statement_gets_the_paper_recipe_and_a_note(tmp_path):
    path = tmp_path / "n.res"
    path.write_text("network n { input 3x32x32\n classes 10\n stem { conv 3x3, 16 }\n"
                    " head { avgpool; fc classes } }\n")
    recipe, note = choose_recipe(load_spec(path), None)
    assert recipe.name == "cifar10_paper" and "has no `train` statement" in note
    assert choose_recipe(load_spec(SPECS / "resnet110.res"), None)[0].name == "cifar10_warmup"


def test_the_model_is_built_seeded():
    spec = load_spec(SPECS / "resnet20.res")
    from resdsl.train.options import TrainOptions

    a = build_model(spec.network, TrainOptions(seed=5)).state_dict()
    b = build_model(spec.network, TrainOptions(seed=5)).state_dict()
    assert all((a[k] == b[k]).all() for k in a)


def test_no_spec_and_no_run_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no such run folder or checkpoint"):
        require_spec(None, tmp_path / "none")
    with pytest.raises(OptionsError):
        request_training(SPECS / "resnet20.res", None, None, {}, {"log_every": 0})


def test_a_run_of_a_model_built_for_other_classes_is_rebuilt_with_them(tmp_path):
    """resdsl.create_model(num_classes=5) trained, then resumed from its folder alone: the
    origin keeps the override, and the network is rebuilt with 5 classes, not the spec's."""
    import resdsl
    from resdsl.train.loop import train
    from resdsl.train.options import TrainOptions
    from resdsl.train.progress import RecordingReporter

    model = resdsl.create_model("resnet20", num_classes=5, input="1x28x28")
    recipe = model.network.recipe.model_copy(update={"iterations": 2, "batch_size": 8,
                                                     "eval_every": 2})
    options = TrainOptions(out=str(tmp_path / "run"), data="synthetic:32", iterations=2,
                           batch_size=8, log_every=2, checkpoint_every=2)
    train(model, recipe, options, model.spec_source, RecordingReporter())
    rebuilt = require_spec(None, tmp_path / "run").network
    assert rebuilt.classes == 5 and tuple(rebuilt.input) == (1, 28, 28)
