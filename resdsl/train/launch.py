"""`resdsl train --nproc N ...`: checked once, then run as `torchrun --standalone
--nproc-per-node=N -m resdsl train ...` in this process, so that a failed rank ends in one
line, not in torchrun's traceback. Each rank reports its own errors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .. import ir
from .distributed import pick_device
from .errors import OptionsError
from .options import TrainOptions
from .shard import Shard
from .speed import check_sync_bn


def check_launch(options: TrainOptions, recipe: ir.Recipe, processes: int) -> None:
    """What every one of `processes` ranks would refuse, checked once before launching."""
    if processes < 1:
        raise OptionsError(f"--nproc must be at least 1, got {processes}")
    device = pick_device(options.device)
    if options.sync_bn:
        check_sync_bn(device)
    if device.type == "cuda" and processes > torch.cuda.device_count():
        raise OptionsError(f"--nproc {processes} asks for a GPU per process, but this machine "
                           f"has {torch.cuda.device_count()}")
    Shard(0, processes).check_split(recipe.batch_size)


def torchrun_args(argv: Sequence[str], processes: int) -> list[str]:
    """torchrun's arguments for the command line `argv` (after the program), --nproc out."""
    args, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            args.append(arg)
    return ["--standalone", f"--nproc-per-node={processes}", "-m", "resdsl", *args]


def run_torchrun(args: list[str], processes: int) -> tuple[int, str | None]:
    """Run torchrun; its exit status, and a line on what failed (None when all went well)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    try:
        run(get_args_parser().parse_args(args))
    except ChildFailedError as error:
        _, first = error.get_first_failure()
        return (first.exitcode if first.exitcode > 0 else 1,
                describe_failure(error.failures, processes))
    return 0, None


def describe_failure(failures: dict[int, Any], processes: int) -> str:
    """One line on what became of torchrun's processes: ranks that failed by themselves
    (exit status > 0) and ranks killed by a signal (torchrun stops the rest of a group
    once one fails, so those often only show that)."""
    failed = sorted((rank, f.exitcode) for rank, f in failures.items() if f.exitcode > 0)
    killed = sorted((rank, -f.exitcode) for rank, f in failures.items() if f.exitcode <= 0)
    codes = ", ".join(f"rank {rank}: exit {code}" for rank, code in failed)
    signals = ", ".join(f"rank {rank}: signal {number}" for rank, number in killed)
    if not failed:
        return f"{len(killed)} of {processes} training processes were stopped ({signals})"
    line = (f"{len(failed)} of {processes} training processes failed ({codes}); their "
            "messages are above")
    return line + (f", then {len(killed)} of {processes} were stopped ({signals})"
                   if killed else "")
