"""One process or several (torchrun): this process's device, its shard, the collectives.

Launched by torchrun (RANK, WORLD_SIZE, LOCAL_RANK set), each process trains on its own
slice of every global batch (the recipe's batch split evenly, `Shard`), gradients are
averaged by DistributedDataParallel, and only rank 0 writes files and reports. NCCL on
CUDA, gloo on the CPU. Without those variables all of this is a no-op around a single
process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from .errors import OptionsError
from .shard import Shard

DEVICE_TYPES = ("cpu", "cuda")  # what the trainer runs on (not meta, not xla, ...)


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto` is CUDA when present; a bare `cuda` is this process's GPU under torchrun."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise OptionsError(f"cannot run on device '{name}': use auto, cpu, cuda or cuda:N")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise OptionsError(f"device '{name}' asked for, but this torch ({torch.__version__}) "
                           "sees no CUDA GPU: use --device cpu")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    if device.type == "cuda" and device.index >= torch.cuda.device_count():
        raise OptionsError(f"device '{device}' asked for, but this machine has "
                           f"{torch.cuda.device_count()} GPU(s)")
    return device


@dataclass
class Distributed:
    shard: Shard = Shard()  # this process among all of them; rank 0 writes files and logs
    local_rank: int = 0  # this process among those on its machine: its GPU index
    owns_group: bool = False  # we started the process group, so we end it
    device: torch.device = torch.device("cpu")  # this process's device, set by start()

    @classmethod
    def from_env(cls) -> Distributed:
        env = os.environ
        shard = Shard(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)))
        return cls(shard, int(env.get("LOCAL_RANK", 0)))

    @property
    def is_main(self) -> bool:
        return self.shard.is_main

    @property
    def world_size(self) -> int:
        return self.shard.world_size

    def start(self, device: torch.device) -> None:
        self.device = device
        if self.world_size == 1 or dist.is_initialized():
            return
        # The caller has made `device` the current GPU: NCCL binds to it.
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                rank=self.shard.rank, world_size=self.world_size)
        self.owns_group = True

    def close(self) -> None:
        if self.owns_group:
            # Every rank reaches this point before any tears the group down: a rank whose
            # peer has already closed its gloo connections aborts in its own teardown
            # ("terminate called without an active exception"), seen 1 run in 4 on CPUs.
            try:
                dist.barrier()
            except RuntimeError:
                pass  # a peer already failed: its own error says why; tear down anyway
            dist.destroy_process_group()
            self.owns_group = False

    def wrap(self, model: nn.Module) -> nn.Module:
        """The module the training step calls: DDP around `model` when distributed."""
        if self.world_size == 1:
            return model
        ids = [self.device] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            dist.all_reduce(tensor)
        return tensor

    def any(self, flag: bool) -> bool:
        """True on every rank when it is True on one (a Ctrl-C seen by one process)."""
        if self.world_size == 1:
            return flag
        vote = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(vote, op=dist.ReduceOp.MAX)
        return bool(vote.item())

    def share(self, value: Any) -> Any:
        """Rank 0's `value` on every rank (a run folder name, a checkpoint path)."""
        if self.world_size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def sync_buffers(self, model: nn.Module) -> None:
        """Rank 0's BatchNorm statistics everywhere: each rank updated its own in training."""
        if self.world_size > 1:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()
