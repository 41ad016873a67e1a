"""This process's share of the work: its rank among the processes that train one run.

One process is `Shard()`: rank 0 of 1. Under torchrun each process takes the slice
`part(global_batch)` of every global batch, evaluates every world_size-th held-out batch,
and only rank 0 (`is_main`) writes files and reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import OptionsError


@dataclass(frozen=True)
class Shard:
    rank: int = 0  # this process among all of them
    world_size: int = 1  # number of processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def part(self, global_batch: int) -> slice:
        """Where this process's images sit in a global batch (an equal slice each)."""
        local = global_batch // self.world_size
        return slice(self.rank * local, (self.rank + 1) * local)

    def check_split(self, global_batch: int) -> None:
        if global_batch % self.world_size:
            raise OptionsError(f"batch size {global_batch} does not split evenly over "
                               f"{self.world_size} processes: choose a --batch-size that is a "
                               "multiple of --nproc")
