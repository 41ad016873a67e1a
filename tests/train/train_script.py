"""A tiny training run in a process of its own: for the kill-and-resume and DDP tests.

    python train_script.py RUN DATA_DIR [--resume] [--slow S] [--weights FILE] [...]

One thread, so two runs compute bit-identical weights: the CPU kernels this tiny model
uses are deterministic for a fixed thread count. (torch.use_deterministic_algorithms is
not needed for them, and importing what it imports costs seconds per process.)
Prints the RunResult as JSON on its last line. `run_tiny` is the same run in-process.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# train_helpers, and the helpers of tests/ it imports, as pytest finds them.
sys.path[:0] = [str(Path(__file__).parent), str(Path(__file__).parents[1])]

import torch  # noqa: E402
from train_helpers import tiny_model, tiny_plan, tiny_recipe  # noqa: E402

from resdsl.train.loop import train  # noqa: E402
from resdsl.train.options import TrainOptions  # noqa: E402
from resdsl.train.progress import RecordingReporter  # noqa: E402


class SlowReporter(RecordingReporter):
    """Sleeps at each log, so that a test can kill the run in the middle."""

    def __init__(self, pause: float):
        super().__init__()
        self.pause = pause

    def log(self, metrics: dict) -> None:
        super().log(metrics)
        time.sleep(self.pause)


def run_tiny(run: str, data_dir: str, data: str = "cifar10", iterations: int = 40,
             resume: bool = False, slow: float = 0.0, compile: bool = False):
    """The tiny run of these tests; returns (RunResult, model)."""
    recipe = tiny_recipe(iterations=iterations, lr_steps=(25,), warmup_lr=0.01,
                         warmup_until_error=0.9, eval_every=20)
    # Checkpoints every 6, logs every 4: most checkpoints fall inside a logging window.
    options = TrainOptions(out=run, data=data, data_dir=data_dir, skip_checksum=True,
                           log_every=4, checkpoint_every=6, seed=11, compile=compile,
                           resume=run if resume else None)
    model = tiny_model(seed=123 if resume else 0)  # a resumed run must not need the init
    result = train(tiny_plan(recipe, options), SlowReporter(slow), model)
    return result, model


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("data_dir")
    parser.add_argument("--data", default="cifar10")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--slow", type=float, default=0.0)
    parser.add_argument("--weights", help="also save the final state_dict here")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result, model = run_tiny(args.run, args.data_dir, args.data, args.iterations, args.resume,
                             args.slow, args.compile)
    if args.weights:
        torch.save(model.state_dict(), args.weights)
    print(json.dumps({"iteration": result.iteration, "final_error": result.final_error,
                      "interrupted": result.interrupted}))


if __name__ == "__main__":
    main()
