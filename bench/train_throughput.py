"""Training throughput: resdsl-compiled modules against hand-written PyTorch.

For each network, both models are built in this process, given the same weights,
and timed on the same synthetic batches in alternating rounds (ABBA order), so that
machine noise falls on both alike. Reports images/s for each and the ratio compiled /
hand-written — the median of the per-round ratios, with their range (1.00 means
compiling from a spec costs nothing at run time).

    python bench/train_throughput.py                 # CPU: resnet20/56/110 and resnet50
    python bench/train_throughput.py --networks resnet50 --rounds 15 --steps 1   # less noise
    python bench/train_throughput.py --device cuda --modes fp32,bf16-cl,bf16-cl-compile

Both models run as the trainer runs them (`resdsl.train.speed`: autocast, channels_last,
torch.compile with CUDA graphs on a GPU). Then, unless --no-trainer, `resdsl train`
itself is timed on synthetic CIFAR-format data (data on the device, augmentation, the
step, everything but evaluation): "train/hand" says what the data pipeline costs.

On GPU it also reports the peak memory of training (the trainer's run, one model
resident) and what the paper's full CIFAR schedule (64k iterations) would take at the
trainer's measured speed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import handwritten  # noqa: E402

import resdsl  # noqa: E402
from resdsl.recipes import resolve_recipe  # noqa: E402
from resdsl.train import RecordingReporter, TrainOptions, plan_run, train  # noqa: E402
from resdsl.train.speed import autocast, prepare_model  # noqa: E402

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
    """The model as the trainer runs it in `mode` (the same code: resdsl.train.speed)."""
    forward = prepare_model(model, torch.device(device), channels_last="cl" in mode,
                            compile="compile" in mode)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    return forward, optimizer


def precision(mode: str) -> str:
    return "bf16" if "bf16" in mode else "fp32"


def step(model, optimizer, images, labels, mode: str) -> None:
    with autocast(images.device, precision(mode)):
        logits = model(images)
    loss = nn.functional.cross_entropy(logits.float(), labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def time_steps(model, optimizer, batch, steps: int, mode: str) -> tuple[float, float]:
    """Seconds for `steps` training steps, and the peak GPU memory meanwhile (GiB)."""
    images, labels = batch
    cuda = images.is_cuda
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for _ in range(steps):
        step(model, optimizer, images, labels, mode)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return seconds, torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0


def start_afresh() -> None:
    """Forget what earlier measurements compiled, CUDA graphs' memory pools included.

    Each row's peak memory is then its own, and torch.compile never reaches its limit of
    recompilations for one code object (which every resdsl model's forward shares), past
    which it would fall back to eager without a word.
    """
    torch._dynamo.reset()
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def measure(name: str, device: str, mode: str, steps: int, rounds: int) -> dict:
    start_afresh()
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
    peaks = dict.fromkeys(times, 0.0)  # both models stay resident: each peak includes
    #                                    the other's weights and momentum (small)
    labelled = list(zip(times, pair))
    for round_ in range(rounds):
        # ABBA order: whichever runs first in a round gets no systematic advantage.
        for label, (model, optimizer) in (labelled if round_ % 2 == 0 else labelled[::-1]):
            seconds, peak = time_steps(model, optimizer, batch, steps, mode)
            times[label].append(seconds)
            peaks[label] = max(peaks[label], peak)
    rates = {k: batch_size * steps / statistics.median(v) for k, v in times.items()}
    # The ratio is taken within each round, then the median over rounds: slow drifts
    # of the machine (other processes, clocks) cancel within a round.
    ratios = [hand / mine for mine, hand in zip(times["resdsl"], times["hand-written"])]
    return {"network": name, "mode": mode, "batch": batch_size, **rates,
            "ratio": statistics.median(ratios), "spread": (min(ratios), max(ratios)),
            "peak_gib": peaks["resdsl"]}


def measure_trainer(name: str, device: str, mode: str, steps: int, rounds: int) -> dict:
    """Images/s of `resdsl train` itself: data on the device, augmentation, the step.

    Synthetic images in CIFAR's format (50k on a GPU, as CIFAR-10; fewer on a CPU, where
    the final evaluation would otherwise dominate). The trainer times each logging window
    of `steps` iterations, evaluations and saves left out; the first window (warm-up,
    compilation) is dropped and the median of the others reported.
    """
    start_afresh()
    spec, size, batch_size = NETWORKS[name]
    network = resdsl.parse_network(str(ROOT / spec))
    recipe = resolve_recipe(resdsl.parse_network(str(ROOT / "specs/resnet20.res")).recipe,
                            {"batch_size": batch_size})  # the paper's CIFAR recipe
    images = (50_000 if size == 32 else 2_000) if device != "cpu" else 5 * batch_size
    reporter = RecordingReporter()
    with tempfile.TemporaryDirectory() as out:
        options = TrainOptions(data=f"synthetic:{images}", out=out, device=device,
                               precision=precision(mode), channels_last="cl" in mode,
                               compile="compile" in mode, iterations=steps * (rounds + 1),
                               eval_every=steps * (rounds + 1), log_every=steps,
                               checkpoint_every=steps * (rounds + 1))
        if device != "cpu":
            torch.cuda.reset_peak_memory_stats()
        train(plan_run(network, recipe, options), reporter)
    rates = [log["images_per_s"] for log in reporter.logs if "images_per_s" in log][1:]
    peak = torch.cuda.max_memory_allocated() / 2**30 if device != "cpu" else 0.0
    return {"trainer": statistics.median(rates), "trainer_peak_gib": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--networks", default="resnet20,resnet56,resnet110,resnet50")
    parser.add_argument("--modes", default="fp32", help="fp32, bf16-cl, compile, bf16-cl-compile")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--trainer", action=argparse.BooleanOptionalAction, default=True,
                        help="also time `resdsl train` itself, data pipeline included")
    args = parser.parse_args()
    cpu = args.device == "cpu"
    print(f"device: {torch.cuda.get_device_name() if not cpu else 'cpu'}, "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(" ".join(f"{title:{spec}}" for title, spec, _ in columns(args.trainer, cpu)))
    for name in args.networks.split(","):
        for mode in args.modes.split(","):
            steps = args.steps or (2 if cpu and name == "resnet50" else 5 if cpu else 50)
            row = measure(name, args.device, mode, steps, args.rounds)
            if args.trainer:
                row.update(measure_trainer(name, args.device, mode, steps, args.rounds))
            # The paper's CIFAR schedule (64k iterations at batch 128) at the trainer's
            # speed when measured, else the step's; it means nothing for ImageNet nets.
            speed = row.get("trainer", row["resdsl"])
            row["schedule"] = (f"{PAPER_ITERATIONS * row['batch'] / speed / 60:.1f} m"
                               if NETWORKS[name][1] == 32 else "-")
            print(" ".join(f"{show(row):{spec}}" for _, spec, show in
                           columns(args.trainer, cpu)), flush=True)


def columns(trainer: bool, cpu: bool) -> list[tuple[str, str, Callable[[dict], str]]]:
    """(title, format spec, how to show a row) for each column printed."""
    chosen = [("network", "<9", lambda r: r["network"]), ("mode", "<15", lambda r: r["mode"]),
              ("batch", ">5", lambda r: str(r["batch"])),
              ("resdsl img/s", ">12", lambda r: f"{r['resdsl']:.1f}"),
              ("hand img/s", ">10", lambda r: f"{r['hand-written']:.1f}"),
              ("ratio", ">6", lambda r: f"{r['ratio']:.3f}"),
              ("(min-max)", ">11", lambda r: "{:.3f}-{:.3f}".format(*r["spread"]))]
    if trainer:
        chosen += [("train img/s", ">11", lambda r: f"{r['trainer']:.1f}"),
                   ("train/hand", ">10", lambda r: f"{r['trainer'] / r['hand-written']:.3f}")]
    if not cpu:
        peak = "trainer_peak_gib" if trainer else "peak_gib"
        chosen += [("peak GiB", ">8", lambda r: f"{r[peak]:.2f}"),
                   ("64k iters", ">9", lambda r: r["schedule"])]
    return chosen


if __name__ == "__main__":
    main()
