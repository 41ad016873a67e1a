"""How much faster is counting from the IR than counting with torch?

    python bench/summary_speed.py [spec] [--repeat N]

Measures, in one run, on the same spec (default specs/resnet152.res):
  (a) `python -m resdsl summary SPEC` as a subprocess (wall time, interpreter start
      included), checked not to import torch, and the in-process parse + analyse time;
  (b) the torch route: compile the spec with resdsl.compiler.compile_network and count
      a 1x3x224x224 forward pass (the spec's input) with FlopCounterMode.
Each is repeated and the median reported, with the ratios. Takes well under a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # runnable from a checkout without installing

# Run in a child: analyse, render, and list any torch module that got imported.
NO_TORCH_CHECK = """
import json, sys
from rich.console import Console
from resdsl import parse_network
from resdsl.analyzer import analyze
from resdsl.tables import summary
Console(file=open({devnull!r}, "w")).print(summary(analyze(parse_network({spec!r}))))
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "torch")))
"""


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    # As installed: bytecode cached. With PYTHONDONTWRITEBYTECODE set (some sandboxes set
    # it) every run would recompile resdsl and its dependencies from source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


BUDGET_S = 20.0  # per measured route: stop repeating past this, so a run stays < 1 min


def repeats(repeat: int):
    """Up to `repeat` iterations, fewer if they have used BUDGET_S (on a busy machine)."""
    start = time.perf_counter()
    for i in range(repeat):
        if i and time.perf_counter() - start > BUDGET_S:
            print(f"  (stopped after {i} runs: over the {BUDGET_S:.0f} s budget)")
            return
        yield i


def median_time(run, repeat: int) -> float:
    times = []
    for _ in repeats(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cli_time(spec: str, repeat: int) -> float | None:
    """Wall time of `python -m resdsl summary SPEC`, or None if the CLI cannot run it."""
    command = [sys.executable, "-m", "resdsl", "summary", spec]
    # The first run writes the bytecode caches; it is a probe, not a measurement.
    probe = subprocess.run(command, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    if probe.returncode != 0:
        print(f"  `python -m resdsl summary` failed (exit {probe.returncode}): "
              f"{(probe.stderr or probe.stdout).strip()[-300:]}")
        return None
    return median_time(lambda: subprocess.run(command, capture_output=True, env=child_env(),
                                              cwd=ROOT, check=True), repeat)


def cli_torch_imports(spec: str) -> list[str] | None:
    """Torch modules `python -X importtime -m resdsl summary` imports; None if it fails."""
    command = [sys.executable, "-X", "importtime", "-m", "resdsl", "summary", spec]
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    if done.returncode != 0:
        return None
    names = [line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:")]
    return [name for name in names if name.split(".")[0] == "torch"]


def torch_free(spec: str) -> list[str]:
    code = NO_TORCH_CHECK.format(spec=spec, devnull=os.devnull)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=child_env(), cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def analyse_time(spec: str, repeat: int) -> float:
    from resdsl import parse_network
    from resdsl.analyzer import analyze

    return median_time(lambda: analyze(parse_network(spec)), repeat)


def torch_time(spec: str, repeat: int) -> tuple[float, float, int]:
    """(median build time, median count time, FlopCounterMode total / 2)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from resdsl import parse_network
    from resdsl.compiler import compile_network

    net = parse_network(spec)
    x = torch.zeros(1, *net.input)
    builds, counts, macs = [], [], 0
    for _ in repeats(repeat):
        start = time.perf_counter()
        model = compile_network(net).eval()
        built = time.perf_counter()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
        builds.append(built - start)
        counts.append(time.perf_counter() - built)
        macs = counter.get_total_flops() // 2
    return statistics.median(builds), statistics.median(counts), macs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="specs/resnet152.res")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    spec = str(args.spec)

    print(f"spec: {spec}; median of {args.repeat} runs")
    for what, imported in (("analyse + tables in a fresh interpreter", torch_free(spec)),
                           ("python -X importtime -m resdsl summary", cli_torch_imports(spec))):
        verdict = ("could not run" if imported is None else "NO" if not imported
                   else "YES: " + ", ".join(imported[:5]))
        print(f"  {what} imports torch: {verdict}")
    cli = cli_time(spec, args.repeat)
    analyse = analyse_time(spec, args.repeat)
    import resdsl
    report = resdsl.analyze(spec)
    build, count, macs = torch_time(spec, args.repeat)

    if cli is not None:
        print(f"(a) resdsl summary (subprocess):       {cli:8.3f} s")
    else:
        print("(a) resdsl summary (subprocess):       unavailable; timing the in-process path only")
    print(f"(a) parse + analyse (in process):      {analyse:8.3f} s   "
          f"{report.flops:,} multiply-adds")
    print(f"(b) compile_network:                   {build:8.3f} s")
    print(f"(b) FlopCounterMode forward, batch 1:  {count:8.3f} s   {macs:,} multiply-adds")
    print(f"    counts agree: {macs == report.flops}")
    torch_total = build + count
    if cli is not None:
        print(f"ratio (b) build+count / (a) subprocess: {torch_total / cli:6.1f}x")
    print(f"ratio (b) build+count / (a) in process: {torch_total / analyse:6.1f}x "
          "(torch import not included in (b))")


if __name__ == "__main__":
    main()
