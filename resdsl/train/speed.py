"""How a training step runs fast: precision, memory layout, torch.compile, SyncBatchNorm.

One place for these choices, used by the trainer (`loop.py`) and by the throughput
benchmark (`bench/train_throughput.py`), so that what is benchmarked is what trains.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import torch
from torch import nn

from .errors import OptionsError


def default_precision(device: torch.device) -> str:
    """bf16 autocast on CUDA (fp32 weights, tensor-core speed); exact fp32 elsewhere."""
    return "bf16" if device.type == "cuda" else "fp32"


def default_channels_last(device: torch.device) -> bool:
    """NHWC on a CPU, where oneDNN's convolutions run it about 1.4x faster in fp32 (the
    same arithmetic, another memory order: bench/cpu_settings.py); on GPUs the layout is
    left as it was until a GPU measures it."""
    return device.type == "cpu"


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """The context a forward pass runs in: bf16 autocast, or nothing for fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def compile_mode(device: torch.device, distributed: bool = False) -> str | None:
    """torch.compile's mode for a training step on `device`.

    Every batch has the same shape (batches drop the ragged tail), so on one GPU a step
    can replay as CUDA graphs: "reduce-overhead" removes the kernel launch costs that
    dominate small CIFAR nets. Not under DDP: there BatchNorm's buffer updates are
    reported to make inductor skip the graphs and run slower than the default mode
    (https://github.com/pytorch/pytorch/issues/139207). Elsewhere the default mode.
    """
    return "reduce-overhead" if device.type == "cuda" and not distributed else None


def check_sync_bn(device: torch.device) -> None:
    if device.type != "cuda":
        raise OptionsError("--sync-bn needs CUDA GPUs (it gathers BatchNorm statistics "
                           "over NCCL); on the CPU each rank keeps its own statistics")


def prepare_model(model: nn.Module, device: torch.device, *, channels_last: bool = False,
                  compile: bool = False, sync_bn: bool = False,
                  wrap: Callable[[nn.Module], nn.Module] = lambda m: m) -> nn.Module:
    """Put `model` on `device` as asked, in place; return the module a step should call.

    `model` itself stays the plain module (checkpoints hold its state_dict): SyncBatchNorm
    replaces its BatchNorm children in place, keeping parameter and buffer names. `wrap`
    is DistributedDataParallel under torchrun; compiling goes around it, as PyTorch
    recommends, so that DDP's gradient buckets overlap with the compiled backward.
    """
    if sync_bn:
        check_sync_bn(device)
        for name, child in list(model.named_children()):
            # Children, not the root: the root must stay the object the caller holds.
            setattr(model, name, nn.SyncBatchNorm.convert_sync_batchnorm(child))
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    forward = wrap(model)
    if compile:
        distributed = forward is not model  # wrapped in DDP
        forward = torch.compile(forward, mode=compile_mode(device, distributed))
    return forward
