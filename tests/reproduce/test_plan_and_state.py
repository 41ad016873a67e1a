"""What a reproduction plans and decides for each run folder, from the folders alone:
nothing is trained here."""

from __future__ import annotations

import pytest

from resdsl.recipes import RecipeError
from resdsl.reproduce.errors import ReproduceError
from resdsl.reproduce.experiments import load_experiment, select_nets
from resdsl.reproduce.options import ReproduceOptions
from resdsl.reproduce.plan import plan_runs
from resdsl.reproduce.state import Action, run_state
from resdsl.train.errors import OptionsError
from resdsl.train.runfolder import checkpoint_path

from .reproduce_helpers import fake_run, planned


def test_a_run_per_net_and_seed_in_folders_named_to_be_found_again(tmp_path):
    jobs = planned(tmp_path, "table6", only=("resnet20", "resnet110"))
    assert [job.name for job in jobs] == ["resnet20-seed0"] + \
        [f"resnet110-seed{s}" for s in range(5)]
    assert all(job.run_dir == tmp_path / job.name for job in jobs)
    assert planned(tmp_path, "table6", only=("resnet20", "resnet110")) == jobs  # stable
    resnet110 = jobs[1]
    assert (resnet110.recipe, resnet110.own_recipe) == ("cifar10_warmup", True)
    assert resnet110.iterations == 6 and resnet110.params == 1727962
    assert [j.seed for j in planned(tmp_path, "table6", only=("resnet110",), seeds=2)] == [0, 1]


def test_planned_iterations_follow_the_recipe_and_its_overrides(tmp_path):
    options = ReproduceOptions("fig6", out=tmp_path, only=("resnet20",))
    experiment = load_experiment("fig6")
    nets = select_nets(experiment, ["resnet20"])
    assert plan_runs(experiment, nets, options).jobs[0].iterations == 64000  # the paper's
    sets = ReproduceOptions("fig6", out=tmp_path, sets=("iterations=300",))
    assert plan_runs(experiment, nets, sets).jobs[0].iterations == 300
    with pytest.raises(RecipeError, match="momentun"):
        plan_runs(experiment, nets, ReproduceOptions("fig6", sets=("momentun=0.5",)))
    with pytest.raises(OptionsError, match="precision must be one of"):
        plan_runs(experiment, nets, ReproduceOptions("fig6", train={"precision": "fp16"}))


def test_each_folder_is_started_restarted_resumed_or_skipped(tmp_path):
    new, early, halfway, done, beyond = planned(
        tmp_path, "fig6", only=("plain20", "plain32", "plain44", "plain56", "resnet20"))
    fake_run(early, checkpoints=[])  # killed before its first checkpoint
    fake_run(halfway, checkpoints=[2, 4], errors={3: 0.9, 5: 0.8})  # logged past it, then killed
    fake_run(done, checkpoints=[4, 6])
    fake_run(beyond, checkpoints=[10])  # finished an earlier, longer plan
    assert run_state(new).action is Action.START
    assert run_state(early).action is Action.RESTART
    assert (run_state(halfway).action, run_state(halfway).reached) == (Action.RESUME, 4)
    assert (run_state(done).action, run_state(done).reached) == (Action.SKIP, 6)
    assert run_state(beyond).action is Action.SKIP


def test_a_finished_run_is_resumed_to_a_longer_plan(tmp_path):
    job, = planned(tmp_path, only=("resnet20",), iterations=6)
    fake_run(job, checkpoints=[6])
    longer, = planned(tmp_path, only=("resnet20",), iterations=10)
    assert (run_state(longer).action, run_state(longer).reached) == (Action.RESUME, 6)


def test_a_damaged_newest_checkpoint_is_not_counted_nor_touched(tmp_path):
    """A finished run whose last checkpoint was cut short is resumed from the one before,
    not skipped: the names alone would say it is finished."""
    cut, hopeless = planned(tmp_path, "fig6", only=("plain20", "resnet20"))
    fake_run(cut, checkpoints=[4, 6])
    newest = checkpoint_path(cut.run_dir, 6)
    newest.write_bytes(newest.read_bytes()[:200])  # a truncated copy, a full disk
    state = run_state(cut)
    assert (state.action, state.reached) == (Action.RESUME, 4)
    assert len(state.damaged) == 1 and state.damaged[0].startswith(f"{newest}: cannot be read")
    assert newest.exists()  # set aside by the run that resumes, not by planning
    fake_run(hopeless, checkpoints=[2])
    checkpoint_path(hopeless.run_dir, 2).write_bytes(b"")
    state = run_state(hopeless)
    assert state.action is Action.CONFLICT
    assert "no checkpoint here can be used (ckpt_000002.pt" in state.reason


def test_a_damaged_checkpoint_is_said_when_the_run_is_decided(tmp_path):
    from resdsl.cli.reproduce import PrintedEvents
    from resdsl.reproduce.state import RunState

    job, = planned(tmp_path, only=("resnet20",))
    said = []
    PrintedEvents(said.append).decided(job, RunState(Action.RESUME, 4, damaged=(
        "runs/x/checkpoints/ckpt_000006.pt: cannot be read (truncated)",)))
    assert said == ["damaged resnet20-seed0: runs/x/checkpoints/ckpt_000006.pt: cannot be read "
                    "(truncated); resuming from the checkpoint of iteration 4"]


def test_a_folder_holding_another_run_is_refused_not_trained(tmp_path):
    other_net, other_seed, broken = planned(tmp_path, "fig6",
                                            only=("plain20", "plain32", "resnet20"))
    fake_run(other_net, checkpoints=[2], network="resnet56")
    fake_run(other_seed, checkpoints=[2], seed=3)
    fake_run(broken, checkpoints=[2])
    (broken.run_dir / "config.json").write_text("{not json")
    for job, says in ((other_net, "holds a run of resnet56 with seed 0, not plain20"),
                      (other_seed, "with seed 3, not plain32 with seed 0"),
                      (broken, "cannot be read")):
        state = run_state(job)
        assert state.action is Action.CONFLICT and says in state.reason


@pytest.mark.parametrize("options, message", [
    (dict(seeds=0), "--seeds must be between 1 and 100, got 0"),
    (dict(per_device=0), "--per-device must be between 1 and 64, got 0"),
    (dict(gpus=0), "--gpus must be at least 1, got 0"),
    (dict(gpus=2), "--gpus 2 asks for 2 GPUs, but this machine has 1"),
    (dict(gpus=1, train={"device": "cpu"}), "drop --device cpu"),
    (dict(train={"seed": 3}), "--seed is set by reproduce for each run"),
])
def test_counts_that_cannot_work_are_refused(options, message):
    with pytest.raises(ReproduceError, match=message):
        ReproduceOptions("fig6", **options).check(gpus_present=1)
    ReproduceOptions("fig6", gpus=1, per_device=4).check(gpus_present=1)


def test_planning_and_reporting_do_not_import_torch():
    """The reproduction's own process plans and reports without torch (the runs have it):
    the data sets' names and shapes come from a torch-free table."""
    from helpers import run_python

    done = run_python("import sys, resdsl.reproduce.plan, resdsl.reproduce.report\n"
                      "sys.exit('torch' in sys.modules)")
    assert done.returncode == 0, done.stderr
