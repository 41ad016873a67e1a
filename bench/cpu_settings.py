"""Which of the trainer's settings is fastest on a CPU: eager fp32, channels
last, torch.compile, both, and bf16 autocast with channels last, each measured against the
same network hand-written in PyTorch run eagerly in fp32 (the loop a tutorial would
write), in paired rounds.

    python bench/cpu_settings.py                       # resnet20 and resnet56, 1x28x28 and 3x32x32
    python bench/cpu_settings.py --networks resnet20 --sizes 32 --rounds 9

Every round times the hand-written baseline and each setting once, in an order that
rotates from round to round, so the machine's noise falls on all alike; the ratio is
taken within the round (setting / baseline) and its median over the rounds reported,
with the range. Setting and baseline are timed on the same batch, in one process, with
the same number of threads (torch's default unless --threads).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import handwritten  # noqa: E402
from train_throughput import ROOT, prepare, start_afresh, time_steps  # noqa: E402

import resdsl  # noqa: E402

SETTINGS = ("fp32", "cl", "compile", "cl-compile", "bf16-cl")  # as train_throughput's modes
FLAGS = {"fp32": "--no-channels-last", "cl": "--channels-last (the CPU default)", "compile": "--compile",
         "cl-compile": "--channels-last --compile", "bf16-cl": "--precision bf16 --channels-last"}


def models(name: str, channels: int, side: int):
    """The compiled spec (one per setting: compile wraps it) and the hand-written net,
    all with the same weights."""
    depth = int(name.removeprefix("resnet"))
    network = resdsl.parse_network(str(ROOT / f"specs/{name}.res"), input=(channels, side, side))
    baseline = handwritten.CifarResNet((depth - 2) // 6, in_channels=channels)
    compiled = {}
    for setting in SETTINGS:
        model = resdsl.compile(network)
        for mine, theirs in zip(model.state_dict().values(), baseline.state_dict().values()):
            mine.copy_(theirs)
        compiled[setting] = prepare(model, "cpu", setting)
    return compiled, prepare(baseline, "cpu", "fp32")


def batch(channels: int, side: int, channels_last: bool):
    images = torch.randn(128, channels, side, side, generator=torch.Generator().manual_seed(0))
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images, torch.randint(0, 10, (128,), generator=torch.Generator().manual_seed(1))


def measure(name: str, channels: int, side: int, steps: int, rounds: int) -> dict:
    start_afresh()
    compiled, baseline = models(name, channels, side)
    plain, nhwc = batch(channels, side, False), batch(channels, side, True)
    runs = {s: (*compiled[s], nhwc if "cl" in s else plain) for s in SETTINGS}
    runs["hand"] = (*baseline, plain)
    order = list(runs)
    for label in order:  # warm-up: kernels chosen, compilation done
        time_steps(runs[label][0], runs[label][1], runs[label][2], 2, _mode(label))
    seconds = {label: [] for label in order}
    for round_ in range(rounds):
        rotated = order[round_ % len(order):] + order[:round_ % len(order)]
        for label in rotated:
            model, optimizer, data = runs[label]
            seconds[label].append(time_steps(model, optimizer, data, steps, _mode(label))[0])
    ratios = {s: [hand / mine for mine, hand in zip(seconds[s], seconds["hand"])]
              for s in SETTINGS}
    rate = {label: 128 * steps / statistics.median(v) for label, v in seconds.items()}
    return {"rate": rate, "ratios": ratios}


def _mode(label: str) -> str:
    return "fp32" if label == "hand" else label


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default="resnet20,resnet56")
    parser.add_argument("--sizes", default="28,32", help="28: 1x28x28 (MNIST), 32: 3x32x32")
    parser.add_argument("--steps", type=int, default=3, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"cpu, torch {torch.__version__}, {torch.get_num_threads()} threads, batch 128; "
          "speed-up = hand-written eager fp32 time / setting time, median of paired rounds")
    print(f"{'network':<9} {'input':<8} {'setting':<11} {'img/s':>7} {'speed-up':>8} "
          f"{'(min-max)':>11}  flags")
    for name in args.networks.split(","):
        for side in map(int, args.sizes.split(",")):
            channels = 1 if side == 28 else 3
            row = measure(name, channels, side, args.steps, args.rounds)
            print(f"{name:<9} {channels}x{side}x{side:<3} {'hand-written':<11} "
                  f"{row['rate']['hand']:>7.0f} {1:>8.3f} {'':>11}  (the baseline)")
            for setting in SETTINGS:
                ratios = row["ratios"][setting]
                print(f"{name:<9} {channels}x{side}x{side:<3} {setting:<11} "
                      f"{row['rate'][setting]:>7.0f} {statistics.median(ratios):>8.3f} "
                      f"{min(ratios):>5.3f}-{max(ratios):.3f}  {FLAGS[setting]}", flush=True)


if __name__ == "__main__":
    main()
