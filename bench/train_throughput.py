"""Training throughput: resdsl-compiled modules against hand-written PyTorch.

For each network, both models are built in this process, given the same weights,
and timed on the same synthetic batches in alternating rounds (ABBA order), so that
machine noise falls on both alike. Reports images/s for each and the ratio compiled /
hand-written — the median of the per-round ratios, with their range (1.00 means
compiling from a spec costs nothing at run time).

    python bench/train_throughput.py                 # CPU: resnet20/56/110 and resnet50
    python bench/train_throughput.py --device cuda --modes fp32,bf16-cl,compile

On GPU it also reports peak memory and what the paper's full CIFAR schedule
(64k iterations at batch 128) would take at the measured speed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import handwritten  # noqa: E402

import resdsl  # noqa: E402

NETWORKS = {  # name: (spec, input H=W, batch)
    "resnet20": ("specs/resnet20.res", 32, 128),
    "resnet56": ("specs/resnet56.res", 32, 128),
    "resnet110": ("specs/resnet110.res", 32, 128),
    "resnet50": ("specs/torchvision/resnet50.res", 224, 64),
}
PAPER_ITERATIONS = 64_000


def make_pair(name: str) -> tuple[nn.Module, nn.Module]:
    spec, _, _ = NETWORKS[name]
    compiled = resdsl.load(str(ROOT / spec))
    baseline = handwritten.build(name)
    # Same weights in both: tensor order matches even where module names differ.
    for mine, theirs in zip(compiled.state_dict().values(), baseline.state_dict().values()):
        theirs.copy_(mine)
    return compiled, baseline


def prepare(model: nn.Module, device: str, mode: str) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = model.to(device)
    if "cl" in mode:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    if "compile" in mode:
        model = torch.compile(model)
    return model, optimizer


def step(model, optimizer, images, labels, mode: str) -> None:
    autocast = torch.autocast(images.device.type, dtype=torch.bfloat16, enabled="bf16" in mode)
    with autocast:
        loss = nn.functional.cross_entropy(model(images), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def time_steps(model, optimizer, batch, steps: int, mode: str) -> float:
    images, labels = batch
    sync = torch.cuda.synchronize if images.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(steps):
        step(model, optimizer, images, labels, mode)
    sync()
    return time.perf_counter() - start


def measure(name: str, device: str, mode: str, steps: int, rounds: int) -> dict:
    _, size, batch_size = NETWORKS[name]
    torch.manual_seed(0)
    images = torch.randn(batch_size, 3, size, size, device=device)
    if "cl" in mode:
        images = images.contiguous(memory_format=torch.channels_last)
    batch = (images, torch.randint(0, 10 if size == 32 else 1000, (batch_size,), device=device))
    pair = [prepare(m, device, mode) for m in make_pair(name)]
    for model, optimizer in pair:  # warm-up: kernels chosen, compile done
        time_steps(model, optimizer, batch, 3, mode)
    times = {"resdsl": [], "hand-written": []}
    labelled = list(zip(times, pair))
    for round_ in range(rounds):
        # ABBA order: whichever runs first in a round gets no systematic advantage.
        for label, (model, optimizer) in (labelled if round_ % 2 == 0 else labelled[::-1]):
            times[label].append(time_steps(model, optimizer, batch, steps, mode))
    rates = {k: batch_size * steps / statistics.median(v) for k, v in times.items()}
    # The ratio is taken within each round, then the median over rounds: slow drifts
    # of the machine (other processes, clocks) cancel within a round.
    ratios = [hand / mine for mine, hand in zip(times["resdsl"], times["hand-written"])]
    return {"network": name, "mode": mode, "batch": batch_size, **rates,
            "ratio": statistics.median(ratios),
            "spread": (min(ratios), max(ratios))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--networks", default="resnet20,resnet56,resnet110,resnet50")
    parser.add_argument("--modes", default="fp32", help="fp32, bf16-cl, compile, bf16-cl-compile")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cpu = args.device == "cpu"
    print(f"device: {torch.cuda.get_device_name() if not cpu else 'cpu'}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}")
    print(f"{'network':<10} {'mode':<16} {'batch':>5} {'resdsl img/s':>13} {'hand img/s':>11} "
          f"{'ratio':>6} {'(min-max)':>13}" + ("" if cpu else f" {'peak GiB':>9} {'64k iters':>10}"))
    for name in args.networks.split(","):
        for mode in args.modes.split(","):
            if not cpu:
                torch.cuda.reset_peak_memory_stats()
            steps = args.steps or (2 if cpu and name == "resnet50" else 5 if cpu else 50)
            row = measure(name, args.device, mode, steps, args.rounds)
            line = (f"{name:<10} {mode:<16} {row['batch']:>5} {row['resdsl']:>13.1f} "
                    f"{row['hand-written']:>11.1f} {row['ratio']:>6.3f} "
                    f"{row['spread'][0]:>6.3f}-{row['spread'][1]:.3f}")
            if not cpu:
                schedule = PAPER_ITERATIONS * row["batch"] / row["resdsl"]
                line += f" {torch.cuda.max_memory_allocated() / 2**30:>9.2f} {schedule / 60:>8.1f} m"
            print(line, flush=True)


if __name__ == "__main__":
    main()
