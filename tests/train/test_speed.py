"""resdsl.train.speed: how the trainer and the benchmark prepare a model for its steps."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resdsl.train import speed
from resdsl.train.errors import OptionsError

from .train_helpers import tiny_model

CPU, CUDA = torch.device("cpu"), torch.device("cuda", 0)


def test_cuda_graphs_on_one_gpu_only():
    assert speed.compile_mode(CUDA) == "reduce-overhead"
    assert speed.compile_mode(CUDA, distributed=True) is None
    assert speed.compile_mode(CPU) is None


def test_bf16_is_the_default_on_cuda_only():
    assert speed.default_precision(CUDA) == "bf16" and speed.default_precision(CPU) == "fp32"


def test_the_plain_model_stays_what_the_caller_holds():
    model = tiny_model()
    wrapped = []
    forward = speed.prepare_model(model, CPU, channels_last=True,
                                  wrap=lambda m: wrapped.append(m) or nn.Sequential(m))
    assert wrapped == [model] and forward[0] is model
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last)


def test_sync_bn_swaps_batchnorm_keeping_names_and_parameters(monkeypatch):
    monkeypatch.setattr(speed, "check_sync_bn", lambda device: None)  # conversion only
    model = tiny_model()
    names, parameters = list(model.state_dict()), list(model.parameters())
    assert speed.prepare_model(model, CPU, sync_bn=True) is model
    assert [type(m).__name__ for m in model if "Norm" in type(m).__name__] == \
        ["SyncBatchNorm", "SyncBatchNorm"]
    assert list(model.state_dict()) == names  # checkpoints load into a plain model
    assert all(a is b for a, b in zip(model.parameters(), parameters))


def test_sync_bn_needs_cuda():
    with pytest.raises(OptionsError, match="--sync-bn needs CUDA"):
        speed.prepare_model(tiny_model(), CPU, sync_bn=True)


def test_channels_last_is_the_cpu_default_and_said(tmp_path, cifar):
    """NHWC on a CPU (bench/cpu_settings.py: 1.3-1.5x, the same arithmetic); the run's
    config.json and start line say which layout ran; --no-channels-last is NCHW."""
    import json

    from .train_helpers import train_tiny

    assert speed.default_channels_last(torch.device("cpu"))
    assert not speed.default_channels_last(torch.device("cuda"))
    for name, flag, expected in (("auto", None, True), ("off", False, False)):
        _, _, reporter = train_tiny(tmp_path, cifar, name=name, iterations=2,
                                    channels_last=flag)
        config = json.loads((tmp_path / name / "config.json").read_text())
        assert config["channels_last"] is expected and config["options"]["channels_last"] is flag
        assert reporter.summary["channels_last"] is expected
