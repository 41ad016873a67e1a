"""The training loop end to end on a tiny model: run folder, data sources, warm-up,
divergence, Ctrl-C, speed options, and the device reads of a step."""

from __future__ import annotations

import json
import signal
import sys

import pytest
import torch
from torch import nn

from helpers import SPECS
from resdsl.train.checkpoint import load_checkpoint
from resdsl.train.runfolder import checkpoint_path, list_checkpoints
from resdsl.train.errors import DataError, DivergedError, OptionsError
from resdsl.train.loop import train
from resdsl.train.options import TrainOptions
from resdsl.train.plan import plan_run
from resdsl.train.progress import RecordingReporter
from resdsl.train.runfolder import read_metrics, read_metrics_csv

from .train_helpers import (SPEC, make_image_folder, make_tar, same_weights, tiny_model,
                            tiny_recipe, train_tiny as run)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_cifar_run_writes_its_folder(tmp_path, cifar):
    result, model, reporter = run(tmp_path, cifar)
    folder = tmp_path / "run"
    assert result.run_dir == folder and result.iteration == 30 and not result.interrupted
    assert result.eval_set == "test" and 0 <= result.final_error <= 1
    config = json.loads((folder / "config.json").read_text())
    # The spec, once: every file's text in `origin`, nothing beside it.
    assert config["origin"]["sources"] == {"tiny.res": SPEC}
    assert not {"spec", "spec_path", "spec_sha256"} & set(config)
    assert config["recipe"]["iterations"] == 30 and config["options"]["seed"] == 0
    assert set(config["versions"]) == {"python", "torch", "resdsl"} and config["device"] == "cpu"
    records = read_metrics(folder)
    assert [r["iteration"] for r in records] == [5, 10, 15, 20, 25, 30]
    assert set(records[0]) == {"iteration", "lr", "train_loss", "train_error", "images_per_s"}
    assert records[-1]["test_error"] == result.final_error  # the final error, not the best
    assert [r["lr"] for r in records] == pytest.approx([0.05] * 4 + [0.005] * 2)
    assert [p.name for p in list_checkpoints(folder)] == \
        ["ckpt_000010.pt", "ckpt_000020.pt", "ckpt_000030.pt"]
    assert same_weights(load_checkpoint(result.checkpoint)["model"], model.state_dict())
    assert (folder / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any("--skip-checksum" in m for m in reporter.messages)
    assert reporter.summary["train_images"] == 100 and reporter.result is result
    rows = read_metrics_csv(folder)  # the same records, as a table
    assert list(rows[0]) == ["iteration", "lr", "train_loss", "train_error", "images_per_s",
                             "test_error"]
    assert [int(r["iteration"]) for r in rows] == [5, 10, 15, 20, 25, 30]
    assert float(rows[-1]["test_error"]) == result.final_error and rows[0]["test_error"] == ""
    assert float(rows[2]["train_loss"]) == records[2]["train_loss"]
    assert len(config["run_id"]) == 32


def test_archive_and_val_split(tmp_path, cifar):
    archive = make_tar(cifar / "cifar-10-batches-py", tmp_path / "cifar-10-python.tar.gz")
    result, _, reporter = run(tmp_path, archive, val_split=20,
                              recipe=tiny_recipe(iterations=10, eval_every=5))
    assert result.eval_set == "val" and reporter.summary["eval_images"] == 20
    assert reporter.summary["train_images"] == 80
    assert read_metrics(result.run_dir)[-1]["val_error"] == result.final_error


def test_synthetic_data(tmp_path):
    result, _, reporter = run(tmp_path, tmp_path, data="synthetic:64",
                              recipe=tiny_recipe(iterations=4, eval_every=4))
    assert result.iteration == 4 and reporter.summary["eval_images"] == 12


def test_image_folder_with_worker_processes(tmp_path):
    root = make_image_folder(tmp_path / "images")
    recipe = tiny_recipe(iterations=6, batch_size=8, eval_every=3, crop_padding=2)
    model = tiny_model(classes=3, input=(3, 16, 16))
    options = TrainOptions(out=str(tmp_path / "run"), data=str(root), workers=1, log_every=3)
    result = train(plan_run(model.network, recipe, options), reporter := RecordingReporter(),
                   model)
    assert result.iteration == 6 and result.eval_set == "val"
    assert reporter.summary["train_images"] == 24 and reporter.summary["eval_images"] == 9
    assert round(result.final_error * 9) == pytest.approx(result.final_error * 9)


def test_image_folder_bad_image_names_the_file(tmp_path):
    root = make_image_folder(tmp_path / "images")
    bad = root / "train" / "dog" / "003.png"
    bad.write_bytes(b"not a png")
    recipe = tiny_recipe(batch_size=8)
    with pytest.raises(DataError, match="cannot read the image") as error:
        model = tiny_model(classes=3, input=(3, 16, 16))
        train(plan_run(model.network, recipe, TrainOptions(out=str(tmp_path / "run"),
                                                           data=str(root), workers=1)),
              model=model)
    assert str(bad) in str(error.value)


def test_warm_up_switches_once_the_training_error_is_low_enough(tmp_path):
    recipe = tiny_recipe(iterations=15, lr=0.1, warmup_lr=0.01, warmup_until_error=1.0,
                         lr_steps=())
    result, _, reporter = run(tmp_path, tmp_path, data="synthetic:64", recipe=recipe)
    assert [r["lr"] for r in read_metrics(result.run_dir)] == pytest.approx([0.01, 0.1, 0.1])
    assert [m for m in reporter.messages if "warm-up over at iteration 5" in m]
    never = tiny_recipe(iterations=15, lr=0.1, warmup_lr=0.01, warmup_until_error=1e-9)
    result, _, _ = run(tmp_path, tmp_path, "never", data="synthetic:64", recipe=never)
    assert [r["lr"] for r in read_metrics(result.run_dir)] == pytest.approx([0.01] * 3)


class NaNAfter(nn.Module):
    """The model, until its forward has run `calls` times in training: then NaN."""

    def __init__(self, model: nn.Module, calls: int):
        super().__init__()
        self.model, self.calls, self.count = model, calls, 0
        self.network = model.network

    def forward(self, x):
        self.count += self.training
        out = self.model(x)
        return out * float("nan") if self.count > self.calls else out


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    recipe = tiny_recipe(iterations=40, eval_every=100)
    with pytest.raises(DivergedError, match="became nan by iteration 30") as error:
        run(tmp_path, tmp_path, data="synthetic:64", recipe=recipe,
            model=NaNAfter(tiny_model(), 26))
    assert "ckpt_000020.pt" in str(error.value) and "Lower the learning rate" in str(error.value)
    kept = [p.name for p in list_checkpoints(tmp_path / "run")]
    assert kept == ["ckpt_000010.pt", "ckpt_000020.pt"]
    assert read_metrics(tmp_path / "run")[-1]["iteration"] == 25


def test_nan_weights_are_never_checkpointed(tmp_path):
    class Poison(RecordingReporter):
        def log(self, metrics):
            super().log(metrics)
            if metrics["iteration"] == 10:
                with torch.no_grad():
                    model[0].weight[0, 0, 0, 0] = float("inf")

    model = tiny_model()
    with pytest.raises(DivergedError, match="by iteration 10"):
        run(tmp_path, tmp_path, data="synthetic:64", model=model, reporter=Poison())
    assert list_checkpoints(tmp_path / "run") == []


class InterruptAt(RecordingReporter):
    """Presses Ctrl-C (a real SIGINT) when iteration `at` is logged."""

    def __init__(self, at: int):
        super().__init__()
        self.at = at

    def log(self, metrics):
        super().log(metrics)
        if metrics["iteration"] == self.at:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_saves_and_resume_finishes_exactly(tmp_path):
    recipe = tiny_recipe(iterations=30, warmup_lr=0.01, warmup_until_error=0.9)
    options = dict(data="synthetic:64", log_every=3, checkpoint_every=10)
    whole, whole_model, _ = run(tmp_path, tmp_path, "whole", recipe=recipe, **options)
    stopped, _, reporter = run(tmp_path, tmp_path, "cut", recipe=recipe,
                               reporter=InterruptAt(12), **options)
    assert stopped.interrupted and stopped.iteration == 12 and stopped.final_error is None
    assert stopped.checkpoint == checkpoint_path(tmp_path / "cut", 12)
    assert "interrupted" not in reporter.messages  # a clean return, not an exception
    resumed, resumed_model, _ = run(tmp_path, tmp_path, "cut", recipe=recipe,
                                    model=tiny_model(seed=5), resume=str(tmp_path / "cut"),
                                    **options)
    assert resumed.final_error == whole.final_error
    assert same_weights(resumed_model.state_dict(), whole_model.state_dict())
    strip = lambda rs: [{k: v for k, v in r.items() if k != "images_per_s"} for r in rs]  # noqa
    assert strip(read_metrics(tmp_path / "cut")) == strip(read_metrics(tmp_path / "whole"))


def test_missing_matplotlib_skips_the_plot_and_says_so(tmp_path, monkeypatch):
    for name in ["matplotlib", *[m for m in sys.modules if m.startswith("matplotlib.")]]:
        monkeypatch.setitem(sys.modules, name, None)  # None: "import matplotlib" fails
    result, _, reporter = run(tmp_path, tmp_path, data="synthetic:64",
                              recipe=tiny_recipe(iterations=10, eval_every=5))
    assert not (result.run_dir / "curves.png").exists()
    assert [m for m in reporter.messages if "matplotlib is not installed" in m] != []
    assert len([m for m in reporter.messages if "matplotlib" in m]) == 1


def test_bf16_autocast_and_channels_last_run_on_the_cpu(tmp_path):
    result, model, _ = run(tmp_path, tmp_path, data="synthetic:64", precision="bf16",
                           channels_last=True, recipe=tiny_recipe(iterations=3, eval_every=3))
    assert result.iteration == 3 and 0 <= result.final_error <= 1
    assert model[0].weight.dtype == torch.float32  # autocast: the weights stay fp32
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert json.loads((result.run_dir / "config.json").read_text())["precision"] == "bf16"


def test_a_compiled_spec_trains_with_its_own_recipe(tmp_path):
    import resdsl

    spec = SPECS / "resnet20.res"
    network = resdsl.parse_network(spec)
    torch.manual_seed(0)
    model = resdsl.compile(network)
    options = TrainOptions(out=str(tmp_path / "run"), data="synthetic:32", iterations=3,
                           batch_size=8, eval_every=3, log_every=1)
    result = train(plan_run(network, options=options), model=model)
    records = read_metrics(result.run_dir)
    assert result.iteration == 3 and [r["lr"] for r in records] == [0.1] * 3
    config = json.loads((result.run_dir / "config.json").read_text())
    assert config["network"] == "resnet20" and config["recipe"]["lr_steps"] == [32000, 48000]


# Ways Python code reads a tensor's value on the host: each one waits for the device.
HOST_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__")


def test_steps_never_read_the_device_between_logging_intervals(tmp_path, monkeypatch):
    """A CPU stand-in for CUDA's sync debug mode: every Python-level read of a tensor's
    value is recorded with the phase of the loop it happened in. Steps, and the boundary
    checks of iterations that neither log, evaluate nor save, must read nothing."""
    from resdsl.train import loop

    phase: list[tuple[str, int]] = [("setup", 0)]
    reads: list[tuple[str, int, str]] = []
    for name in HOST_READS:
        original = getattr(torch.Tensor, name)

        def recorded(self, *args, _original=original, _name=name, **kwargs):
            reads.append((*phase[-1], _name))
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, recorded)

    def traced(function, label):
        def wrapper(run_state):
            phase.append((label, run_state.iteration))
            try:
                return function(run_state)
            finally:
                phase.pop()
        return wrapper

    monkeypatch.setattr(loop, "_step", traced(loop._step, "step"))
    monkeypatch.setattr(loop, "_at_boundary", traced(loop._at_boundary, "boundary"))
    recipe = tiny_recipe(iterations=12, eval_every=12, warmup_lr=0.01, warmup_until_error=0.5)
    result, _, _ = run(tmp_path, tmp_path, data="synthetic:64", recipe=recipe, log_every=4,
                       checkpoint_every=12)
    assert result.iteration == 12
    assert not [r for r in reads if r[0] == "step"]
    boundary_reads = {iteration for label, iteration, _ in reads if label == "boundary"}
    assert boundary_reads == {4, 8, 12}  # logged at 4 and 8; logged, evaluated, saved at 12
    assert any(label == "boundary" and how == "tolist" for label, _, how in reads)  # it works


@pytest.mark.slow  # torch.compile builds C++ kernels: about 15 s
def test_compile_trains_on_the_cpu(tmp_path):
    result, model, _ = run(tmp_path, tmp_path, data="synthetic:64", compile=True,
                           recipe=tiny_recipe(iterations=4, eval_every=4), log_every=2)
    assert result.iteration == 4 and 0 <= result.final_error <= 1
    saved = load_checkpoint(result.checkpoint)["model"]
    assert list(saved) == list(model.state_dict())  # the plain names, no "_orig_mod."
    assert json.loads((result.run_dir / "config.json").read_text())["options"]["compile"]


def test_sync_bn_is_refused_on_the_cpu_before_reading_data(tmp_path):
    with pytest.raises(OptionsError, match="--sync-bn needs CUDA"):
        run(tmp_path, tmp_path / "nowhere", data="cifar10", sync_bn=True, device="cpu")
    assert not (tmp_path / "run").exists()
