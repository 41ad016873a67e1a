"""A run's plan: the spec from a file or from a run's config.json, the recipe, and on
resume the run's own settings with the changes the flags ask for."""

from __future__ import annotations

import json

import pytest

from helpers import SPECS
from resdsl.train.errors import CheckpointError, OptionsError
from resdsl.train.options import TrainOptions
from resdsl.train.plan import (build_model, choose_recipe, load_spec, network_of_run,
                               plan_resume, plan_run, plan_training, run_folder_of)
from resdsl.train.runfolder import load_run


def _old_run_folder(run, spec, recipe, options, spec_path=None):
    """A run folder as versions before `origin` wrote it: the spec's own text alone."""
    run.mkdir()
    (run / "config.json").write_text(json.dumps({
        "spec": spec, "spec_path": spec_path, "network": "resnet20",
        "recipe": recipe.model_dump(mode="json"), "options": options, "run_id": "x"}))


def test_an_older_run_folders_spec_compiles_with_its_imports_found_beside_it(tmp_path):
    """resnet20.res imports cifar.res: found beside the spec file the run was read from,
    whatever the working folder."""
    plan = plan_training(SPECS / "resnet20.res", None, None, {"batch_size": "8"},
                         {"data": "synthetic:32", "iterations": 2})
    assert plan.recipe.batch_size == 8 and plan.recipe.iterations == 2
    spec = str(SPECS / "resnet20.res")
    _old_run_folder(tmp_path / "run", (SPECS / "resnet20.res").read_text(), plan.recipe,
                    plan.options.to_dict(), spec)
    assert network_of_run(load_run(tmp_path / "run"), tmp_path / "run") == plan.network
    assert run_folder_of(tmp_path / "run" / "checkpoints" / "ckpt_000001.pt") == tmp_path / "run"


def test_resume_takes_the_runs_recipe_and_options_and_makes_the_safe_changes(tmp_path):
    spec = load_spec(SPECS / "resnet20.res")
    recipe = spec.network.recipe.model_copy(update={"iterations": 7})
    _old_run_folder(tmp_path / "run", (SPECS / "resnet20.res").read_text(), recipe,
                    {"seed": 3}, str(SPECS / "resnet20.res"))
    plan = plan_training(None, None, None, {}, {"resume": str(tmp_path / "run"),
                                                "iterations": 9})
    assert plan.recipe.iterations == 9 and plan.options.seed == 3
    assert plan.changed == {"iterations": (7, 9)} and plan.resumed.run_id == "x"
    for refused in ({"recipe": "other"}, {"momentum": "0.5"}, {"lr": 0.2}):
        name = next(iter(refused))
        with pytest.raises(OptionsError, match=f"would change this run, which has {name}"):
            plan_resume(TrainOptions(resume=str(tmp_path / "run")), refused)


def test_a_spec_without_a_train_statement_gets_the_paper_recipe_and_a_note(tmp_path):
    path = tmp_path / "n.res"
    path.write_text("network n { input 3x32x32\n classes 10\n stem { conv 3x3, 16 }\n"
                    " head { avgpool; fc classes } }\n")
    recipe, note = choose_recipe(load_spec(path), None)
    assert recipe.name == "cifar10_paper" and "has no `train` statement" in note
    assert choose_recipe(load_spec(SPECS / "resnet110.res"), None)[0].name == "cifar10_warmup"
    with pytest.raises(OptionsError, match="give a recipe"):
        plan_run(load_spec(path).network)


def test_flags_and_sets_reach_the_recipe_once():
    network = load_spec(SPECS / "resnet20.res").network
    plan = plan_run(network, options=TrainOptions(iterations=5, lr=0.3), sets={"momentum": 0.5})
    assert (plan.recipe.iterations, plan.recipe.lr, plan.recipe.momentum) == (5, 0.3, 0.5)
    assert plan.recipe.span == network.recipe.span  # later errors still point into the spec
    with pytest.raises(OptionsError, match="plan_resume"):
        plan_run(network, options=TrainOptions(resume="somewhere"))


def test_the_model_is_built_seeded():
    spec = load_spec(SPECS / "resnet20.res")
    a = build_model(spec.network, TrainOptions(seed=5)).state_dict()
    b = build_model(spec.network, TrainOptions(seed=5)).state_dict()
    assert all((a[k] == b[k]).all() for k in a)


def test_no_spec_and_no_run_folder(tmp_path):
    with pytest.raises(CheckpointError, match="not a run folder"):
        plan_training(None, None, None, {}, {"resume": str(tmp_path / "none")})
    with pytest.raises(OptionsError):
        plan_training(SPECS / "resnet20.res", None, None, {}, {"log_every": 0})


def test_a_run_is_read_once_and_its_spec_kept_once(tmp_path, monkeypatch):
    """One read of config.json makes the plan of a resumed run; the config holds the spec
    in `origin` alone, and the plan rebuilds the network from it with no files."""
    from resdsl.train import runfolder
    from resdsl.train.loop import train

    train(plan_training(SPECS / "resnet20.res", None, None, {}, dict(
        out=str(tmp_path / "run"), data="synthetic:32", iterations=2, batch_size=8,
        eval_every=2, log_every=2, checkpoint_every=2)))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert not {"spec", "spec_path", "spec_sha256"} & set(config)
    assert str(SPECS / "cifar.res") in config["origin"]["sources"]
    reads = []
    real = runfolder.read_config
    monkeypatch.setattr(runfolder, "read_config", lambda d: reads.append(d) or real(d))
    monkeypatch.chdir(tmp_path)  # not beside the specs: the imports come from the config
    plan = plan_training(None, None, None, {}, {"resume": str(tmp_path / "run")})
    assert len(reads) == 1 and plan.network.name == "resnet20" and plan.changed == {}


def test_a_run_of_a_model_built_for_other_classes_is_rebuilt_with_them(tmp_path):
    """resdsl.create_model(num_classes=5) trained, then resumed from its folder alone: the
    origin keeps the override, and the network is rebuilt with 5 classes, not the spec's."""
    import resdsl
    from resdsl.train.loop import train

    model = resdsl.create_model("resnet20", num_classes=5, input="1x28x28")
    options = TrainOptions(out=str(tmp_path / "run"), data="synthetic:32", iterations=2,
                           batch_size=8, eval_every=2, log_every=2, checkpoint_every=2)
    train(plan_run(model.network, options=options), model=model)
    rebuilt = network_of_run(load_run(tmp_path / "run"), tmp_path / "run")
    assert rebuilt.classes == 5 and tuple(rebuilt.input) == (1, 28, 28)


def test_a_config_rewritten_between_the_plan_and_the_lock_is_refused(tmp_path):
    """The plan reads config.json before the folder is locked: if another process resumed
    the run in between (and rewrote it), this one stops instead of using a stale plan."""
    from resdsl.train.errors import RunFolderError
    from resdsl.train.loop import train

    from .train_helpers import tiny_plan, tiny_recipe, train_tiny

    first, _, _ = train_tiny(tmp_path, tmp_path, data="synthetic:64",
                             recipe=tiny_recipe(iterations=4, eval_every=4))
    plan = tiny_plan(tiny_recipe(), TrainOptions(resume=str(first.run_dir)))
    config = first.run_dir / "config.json"
    config.write_text(config.read_text().replace("}", ' }', 1))
    with pytest.raises(RunFolderError, match="changed while this run was being prepared"):
        train(plan)
