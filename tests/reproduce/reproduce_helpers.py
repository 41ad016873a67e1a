"""Run folders as a training run leaves them, written by hand: for the tests of what a
reproduction decides and reports without training anything."""

from __future__ import annotations

import json
from pathlib import Path

from resdsl.reproduce.experiments import load_experiment, select_nets
from resdsl.reproduce.options import ReproduceOptions
from resdsl.reproduce.plan import RunJob, plan_runs
from resdsl.train.checkpoint import save_checkpoint


def planned(root: Path, experiment: str = "fig6", only: tuple[str, ...] = ("plain20", "resnet20"),
            iterations: int = 6, **options) -> list[RunJob]:
    chosen = ReproduceOptions(experiment, out=root, only=only,
                              train={"iterations": iterations}, **options)
    found = load_experiment(experiment)
    return plan_runs(found, select_nets(found, list(only)), chosen).jobs


def fake_run(job: RunJob, checkpoints: list[int], errors: dict[int, float] | None = None,
             network: str | None = None, seed: int | None = None,
             data: str = "CIFAR-10") -> Path:
    """A run folder of `job` with these checkpoints (sound ones, holding an iteration count
    alone: a reproduction loads the newest to trust it) and test errors (fractions) logged at these iterations; the training error
    logged with each is 5 points above it."""
    job.run_dir.mkdir(parents=True, exist_ok=True)
    config = {"network": network or job.network, "seed": job.seed if seed is None else seed,
              "data": {"eval_set": "test", "title": data}}
    (job.run_dir / "config.json").write_text(json.dumps(config))
    (job.run_dir / "checkpoints").mkdir(exist_ok=True)
    for iteration in checkpoints:
        save_checkpoint(job.run_dir, iteration, {"iteration": iteration}, keep=len(checkpoints))
    lines = [{"iteration": it, "train_error": min(1.0, error + 0.05), "test_error": error}
             for it, error in sorted((errors or {}).items())]
    (job.run_dir / "metrics.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return job.run_dir
