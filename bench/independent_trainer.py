"""The trainer held to an independent implementation: ResNet-20 on Fashion-MNIST trained
by `resdsl train` and by a hand-written PyTorch model and loop that share nothing with
resdsl (their own IDX reading, mean, crop, flip, SGD and schedule), with the same recipe,
data, iterations and seeds; the test errors compared over the seeds.

    python bench/independent_trainer.py                      # 3 seeds, one epoch each
    python bench/independent_trainer.py --seeds 5 --iterations 940

The two runs of a seed go side by side, one thread each (a paired round: the machine's
noise falls on both). They cannot be equal number for number: the two draw their
initial weights, batch order and augmentation from different random streams. What must
hold is that they agree within the seed-to-seed spread: |mean difference| at most the
larger standard deviation. Needs the official Fashion-MNIST files (the Debian package
`dataset-fashion-mnist`, or --data-dir).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import handwritten  # noqa: E402  (no resdsl in it)

# The recipe both trainers follow: the paper's CIFAR-10 recipe (Sec. 4.2) for one epoch.
BATCH, LR, MOMENTUM, WEIGHT_DECAY, GAMMA, PADDING = 128, 0.1, 0.9, 1e-4, 0.1, 4
DEBIAN = "/usr/share/datasets/fashion-mnist"


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder: Path):
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
    x, y, xt, yt = (torch.from_numpy(read_idx(folder / f"{n}.gz").copy()) for n in names)
    return x[:, None], y.long(), xt[:, None], yt.long()


def hand_run(folder: Path, seed: int, iterations: int, steps: list[int]) -> float:
    """One hand-written run; the final test error in %."""
    torch.manual_seed(seed)
    x, y, xt, yt = load(folder)
    mean = x.double().mean(0) / 255  # per-pixel mean, on the [0, 1] scale
    model = handwritten.CifarResNet(3, in_channels=1)
    for m in model.modules():  # He normal (fan-out) for convs, as the paper cites
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM,
                          weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, steps, GAMMA)
    order, pos = torch.randperm(len(x)), 0
    for _ in range(iterations):
        if pos + BATCH > len(x):
            order, pos = torch.randperm(len(x)), 0
        idx = order[pos:pos + BATCH]
        pos += BATCH
        batch = F.pad(x[idx].float() / 255 - mean.float(), (PADDING,) * 4)
        crops = []
        for image in batch:
            i, j = torch.randint(0, 2 * PADDING + 1, (2,)).tolist()
            crop = image[:, i:i + 28, j:j + 28]
            crops.append(crop.flip(-1) if torch.rand(()) < 0.5 else crop)
        loss = F.cross_entropy(model(torch.stack(crops)), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    with torch.no_grad():
        wrong = sum((model(xt[i:i + 500].float() / 255 - mean.float()).argmax(1)
                     != yt[i:i + 500]).sum().item() for i in range(0, len(xt), 500))
    return 100 * wrong / len(xt)


def resdsl_command(seed: int, iterations: int, steps: list[int], out: Path, data_dir: str):
    return [sys.executable, "-m", "resdsl", "train", "resnet20", "--data", "fashion-mnist",
            "--data-dir", data_dir, "--input", "1x28x28", "--seed", str(seed),
            "--iterations", str(iterations), "--eval-every", str(iterations),
            "--set", "lr_steps=" + ",".join(map(str, steps)), "--out", str(out),
            "--precision", "fp32", "--no-channels-last", "--log-every", "50"]


def final_error(run: Path) -> float:
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return 100 * [line["test_error"] for line in lines if "test_error" in line][-1]


def paired_round(seed: int, args, folder: Path, work: Path) -> tuple[float, float, float]:
    """Both runs of one seed side by side: (resdsl error, hand error, the round's seconds)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = work / f"resdsl-seed{seed}"
    began = time.monotonic()
    child = subprocess.Popen(resdsl_command(seed, args.iterations, args.steps, out,
                                            args.data_dir), env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    torch.set_num_threads(1)
    hand = hand_run(folder, seed, args.iterations, args.steps)
    if child.wait() != 0:
        sys.exit(f"resdsl train failed: {child.stderr.read()}")
    return final_error(out), hand, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=469, help="469 x 128: one epoch")
    parser.add_argument("--steps", type=lambda s: [int(v) for v in s.split(",")],
                        default=[352], help="iterations where the lr is divided by 10")
    parser.add_argument("--data-dir", default=DEBIAN)
    args = parser.parse_args()
    folder = Path(args.data_dir)
    print(f"ResNet-20 on Fashion-MNIST (1x28x28), {args.iterations} iterations of "
          f"{BATCH}, lr {LR} / 10 at {args.steps}, seeds 0..{args.seeds - 1}; "
          f"torch {torch.__version__}, one thread per run, the two runs side by side")
    print(f"{'seed':>4} {'resdsl %':>9} {'hand %':>8} {'round s':>8}")
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for seed in range(args.seeds):
            rows.append(paired_round(seed, args, folder, Path(work)))
            print(f"{seed:>4} {rows[-1][0]:>9.2f} {rows[-1][1]:>8.2f} {rows[-1][2]:>8.0f}",
                  flush=True)
    ours, hand = [r[0] for r in rows], [r[1] for r in rows]
    spread = max(statistics.stdev(ours), statistics.stdev(hand))
    gap = abs(statistics.fmean(ours) - statistics.fmean(hand))
    print(f"resdsl: {statistics.fmean(ours):.2f} ± {statistics.stdev(ours):.2f}%   "
          f"hand-written: {statistics.fmean(hand):.2f} ± {statistics.stdev(hand):.2f}%")
    verdict = "agree" if gap <= spread else "DISAGREE"
    print(f"{verdict}: the means differ by {gap:.2f} points; the larger seed-to-seed "
          f"std is {spread:.2f}")


if __name__ == "__main__":
    main()
