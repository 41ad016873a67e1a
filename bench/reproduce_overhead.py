"""What does `resdsl reproduce` cost beyond the runs it trains?

    python bench/reproduce_overhead.py [--experiment fig6] [--only resnet20,resnet32]
        [--iterations 60] [--rounds 3] [--data synthetic:1280] [--threads 1]

In paired rounds, the same runs are trained two ways, each into fresh folders:
  direct     each run as `python -m resdsl train ...`, one after another: the very command
             line reproduce gives it (resdsl.reproduce.command.train_command), its output
             to a log file as reproduce's is;
  reproduce  `python -m resdsl reproduce EXPERIMENT --only ...`: planning, deciding,
             scheduling, the runs' processes, history.jsonl, then report.md/json/png.
The order alternates (direct first in even rounds, reproduce first in odd ones), so a
machine that speeds up or slows down during the measurement favours neither. Reported,
per round and as medians over rounds:
  paired overhead  (reproduce - direct) / direct, both wall times of the whole;
  own overhead     (reproduce - its runs) / its runs, where "its runs" is the wall time of
                   each run's process as reproduce measured it (history.jsonl): the time
                   reproduce spends outside its runs, within the same invocation;
  rerun            the same reproduce command again once every run has finished: the part
                   of the overhead that does not grow with the runs (start, plan, decide,
                   report), beside what launching and waiting for each run adds.
The runs log, evaluate and checkpoint the same way in both: what they cost is the runs'
own, not the reproduction's. Timings are never asserted anywhere; this only reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable from a checkout without installing

from resdsl.reproduce.command import train_command  # noqa: E402
from resdsl.reproduce.experiments import load_experiment, select_nets  # noqa: E402
from resdsl.reproduce.options import ReproduceOptions  # noqa: E402
from resdsl.reproduce.plan import plan_runs  # noqa: E402
from resdsl.reproduce.scheduler import Slot  # noqa: E402
from resdsl.reproduce.state import Action  # noqa: E402


THREADS = {"threads": 1}  # torch threads per run (--threads), set in main


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: bytecode cached
    # On a shared machine, threads that spin-wait for a core another tenant holds make a
    # run's time swing several-fold; one thread a run keeps the pairs comparable.
    env["OMP_NUM_THREADS"] = str(THREADS["threads"])
    return env


def options(args: argparse.Namespace, out: Path) -> ReproduceOptions:
    train = {"data": args.data, "iterations": args.iterations}
    return ReproduceOptions(args.experiment, out=out, only=tuple(args.only.split(",")),
                            train=train)


def direct(args: argparse.Namespace, out: Path) -> float:
    """Every run as its own `resdsl train`, one after another: the total wall time."""
    chosen = options(args, out)
    experiment = load_experiment(args.experiment)
    jobs = plan_runs(experiment, select_nets(experiment, list(chosen.only)), chosen).jobs
    (out / "logs").mkdir(parents=True)
    began = time.perf_counter()
    for job in jobs:
        argv = train_command(job, Action.START, Slot(None, 0), chosen)
        with open(out / "logs" / f"{job.name}.log", "wb") as log:
            subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env(),
                           check=True)
    return time.perf_counter() - began


def through_reproduce(args: argparse.Namespace, out: Path) -> tuple[float, float, float]:
    """The whole `resdsl reproduce`: its wall time, the sum of its runs' own, and the wall
    time of the same command again, every run finished (the part that does not grow with
    the runs: starting, planning, deciding, the report)."""
    argv = [sys.executable, "-m", "resdsl", "reproduce", args.experiment, "--only", args.only,
            "--data", args.data, "--iterations", str(args.iterations), "--out", str(out)]
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, env=child_env(), check=True)
    total = time.perf_counter() - began
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert all(h["exit"] == 0 and h["action"] == "start" for h in history), history
    began = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, env=child_env(), check=True)
    return total, sum(h["seconds"] for h in history), time.perf_counter() - began


def one_round(args: argparse.Namespace, index: int, scratch: Path) -> dict:
    folder = scratch / f"round{index}"
    order = ("direct", "reproduce") if index % 2 == 0 else ("reproduce", "direct")
    times: dict = {}
    for way in order:
        if way == "direct":
            times["direct"] = direct(args, folder / "direct")
        else:
            times["reproduce"], times["runs"], times["rerun"] = \
                through_reproduce(args, folder / "reproduce")
    shutil.rmtree(folder)  # checkpoints of every round would fill the disk for nothing
    times["paired"] = (times["reproduce"] - times["direct"]) / times["direct"]
    times["own"] = (times["reproduce"] - times["runs"]) / times["runs"]
    times["order"] = " then ".join(order)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="fig6")
    parser.add_argument("--only", default="resnet20,resnet32", help="nets, comma-separated")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default="synthetic:1280",
                        help="what the runs train on (CIFAR-10 itself: cifar10 --data-dir)")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of each run")
    args = parser.parse_args()
    THREADS["threads"] = args.threads
    print(f"resdsl reproduce {args.experiment} --only {args.only} --iterations "
          f"{args.iterations} --data {args.data}; {args.rounds} paired rounds; "
          f"{os.cpu_count()} CPUs, {args.threads} thread(s) a run, Python "
          f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}")
    print(f"{'round':>5}  {'order':<20} {'direct s':>9} {'reproduce s':>12} {'its runs s':>11} "
          f"{'paired':>8} {'own':>8} {'rerun s':>8}")
    rounds = []
    with tempfile.TemporaryDirectory(prefix="reproduce-overhead-") as scratch:
        for index in range(args.rounds):
            r = one_round(args, index, Path(scratch))
            rounds.append(r)
            print(f"{index:>5}  {r['order']:<20} {r['direct']:>9.1f} {r['reproduce']:>12.1f} "
                  f"{r['runs']:>11.1f} {r['paired']:>+8.2%} {r['own']:>+8.2%} "
                  f"{r['rerun']:>8.2f}", flush=True)
    paired = statistics.median(r["paired"] for r in rounds)
    own = statistics.median(r["own"] for r in rounds)
    print(f"median paired overhead (reproduce - direct) / direct: {paired:+.2%}")
    print(f"median own overhead (reproduce - its runs) / its runs: {own:+.2%}")
    fixed = statistics.median(r["rerun"] for r in rounds)
    per_run = statistics.median(r["reproduce"] - r["runs"] - r["rerun"] for r in rounds)
    print(f"of which fixed (a rerun with every run finished): {fixed:.2f} s; the rest, "
          f"launching and waiting for the runs: {per_run:+.2f} s in all")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
