"""Write a reference record (tests/reference/<library>/<model>.json) for a torchvision or
timm model, as the team's reference records were made (see README.md).

Needs torchvision (and timm for timm models), which the test suite never imports:

    pip install torch==2.14.1 torchvision==0.29.1 timm
    python tests/reference/make_reference.py torchvision vgg16 wide_resnet50_2 ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode


def build(library: str, name: str) -> torch.nn.Module:
    if library == "torchvision":
        import torchvision

        return getattr(torchvision.models, name)(weights=None)
    import timm

    return timm.create_model(name, pretrained=False)


def fill(model: torch.nn.Module) -> None:
    """The recipe of README.md: every float tensor drawn in sorted key order."""
    g = torch.Generator().manual_seed(0)
    state = model.state_dict()
    with torch.no_grad():
        for key in sorted(state):
            tensor = state[key]
            if not tensor.is_floating_point():
                continue
            if key.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=g) * 0.05)


def record(library: str, name: str) -> dict:
    import importlib

    model = build(library, name).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    fill(model)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        logits = model(x)
        # The same weights and input in float64: the logits any CPU reproduces (README.md).
        logits_fp64 = model.double()(x.double())
    return {
        "model": name, library: importlib.import_module(library).__version__,
        "torch": torch.__version__, "params": sum(p.numel() for p in model.parameters()),
        "macs_224": counter.get_total_flops() // 2,
        "state_dict": {k: list(v.shape) for k, v in model.state_dict().items()},
        "input": {"shape": [2, 3, 64, 64], "seed": 1},
        "logits": [[round(float(v), 6) for v in row] for row in logits],
        "logits_fp64": [[float(v) for v in row] for row in logits_fp64],
    }


if __name__ == "__main__":
    library, names = sys.argv[1], sys.argv[2:]
    folder = Path(__file__).parent / library
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / f"{name}.json").write_text(json.dumps(record(library, name)) + "\n")
        print("wrote", folder / f"{name}.json")
