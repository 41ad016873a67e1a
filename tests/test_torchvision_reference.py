"""specs/torchvision/*.res compile to torchvision's ResNets: the same state_dict keys,
shapes and order, the same multiply-adds, and, under the same weights and input, the
same logits (reference numbers in tests/reference/torchvision/, made with
torchvision 0.28; torchvision itself is never imported)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from resdsl import parse_network
from resdsl.compiler import compile_network

from helpers import REFERENCE as ALL_REFERENCES, ROOT

REFERENCE = ALL_REFERENCES / "torchvision"
MODELS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


@lru_cache(maxsize=None)
def reference(model: str) -> dict:
    return json.loads((REFERENCE / f"{model}.json").read_text())


def network(model: str):
    return parse_network(ROOT / "specs" / "torchvision" / f"{model}.res")


def on_meta(model: str):
    """The compiled model without memory behind it: enough for names, shapes and FLOPs."""
    with torch.device("meta"):
        return compile_network(network(model))


def fill_as_reference(module: torch.nn.Module) -> None:
    """The weights the reference logits were computed under (see the reference README)."""
    g = torch.Generator().manual_seed(0)
    state = module.state_dict()
    with torch.no_grad():
        for name in sorted(state):
            tensor = state[name]
            if not tensor.is_floating_point():  # num_batches_tracked stays as is
                continue
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5)
            else:
                tensor.copy_(torch.randn(tensor.shape, generator=g) * 0.05)


@pytest.mark.parametrize("model", MODELS)
def test_state_dict_keys_shapes_and_order(model):
    state = on_meta(model).state_dict()
    assert [(k, list(v.shape)) for k, v in state.items()] == list(reference(model)["state_dict"].items())


@pytest.mark.parametrize("model", MODELS)
def test_parameters(model):
    net = network(model)
    assert net.params == reference(model)["params"]
    assert sum(p.numel() for p in on_meta(model).parameters()) == reference(model)["params"]


@pytest.mark.parametrize("model", MODELS)
def test_multiply_adds_at_224(model):
    compiled = on_meta(model)
    with FlopCounterMode(display=False) as counter:
        compiled(torch.empty(1, 3, 224, 224, device="meta"))
    assert counter.get_total_flops() // 2 == reference(model)["macs_224"]


@pytest.mark.parametrize("model", MODELS)
def test_logits_equal_torchvision_s(model):
    ref = reference(model)
    compiled = compile_network(network(model))
    fill_as_reference(compiled)
    shape, seed = ref["input"]["shape"], ref["input"]["seed"]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    compiled.eval()
    with torch.no_grad():
        logits = compiled(x)
    torch.testing.assert_close(logits, torch.tensor(ref["logits"]), atol=1e-4, rtol=0)
