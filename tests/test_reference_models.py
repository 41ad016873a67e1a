"""specs/torchvision/ and specs/timm/ compile to torchvision's and timm's models: the same
state_dict keys and shapes (torchvision's order too), the same parameters and
multiply-adds, and, under the same weights and input, the same logits. The reference
records are in tests/reference/ (README there: how each was made); torchvision and timm
themselves are never imported.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from resdsl import parse_network
from resdsl.analyzer import analyze
from resdsl.compiler import compile_network

from helpers import REFERENCE, SPECS

RECORDS = sorted(REFERENCE.glob("torchvision/*.json")) + sorted(REFERENCE.glob("timm/*.json"))
MODELS = [f"{p.parent.name}/{p.stem}" for p in RECORDS]
ODD_SIZE = (3, 97, 83)  # odd sides: ceil_mode, padding and strides all show


@lru_cache(maxsize=None)
def reference(model: str) -> dict:
    return json.loads((REFERENCE / f"{model}.json").read_text())


def network(model: str, input=None):
    return parse_network(SPECS / f"{model}.res", input=input)


def on_meta(model: str, input=None):
    """The compiled model without memory behind it: enough for names, shapes and FLOPs."""
    with torch.device("meta"):
        return compile_network(network(model, input))


def macs(module: torch.nn.Module, shape) -> int:
    module.eval()  # as the reference was counted: BN on a 1x1 map cannot train at batch 1
    with FlopCounterMode(display=False) as counter:
        module(torch.empty(1, *shape, device="meta"))
    return counter.get_total_flops() // 2


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
def test_state_dict_keys_and_shapes(model):
    """torchvision's order too; timm's resnetv2 registers its shortcut before norm1, which a
    spec cannot say (the shortcut's modules stand where the merge does), so for timm the
    keys are compared as a set, as load_state_dict(strict=True) compares them."""
    ours = [(k, list(v.shape)) for k, v in on_meta(model).state_dict().items()]
    theirs = list(reference(model)["state_dict"].items())
    if model.startswith("torchvision/"):
        assert ours == theirs
    else:
        assert sorted(ours) == sorted(theirs)


@pytest.mark.parametrize("model", MODELS)
def test_parameters(model):
    assert network(model).params == reference(model)["params"]
    assert sum(p.numel() for p in on_meta(model).parameters()) == reference(model)["params"]


@pytest.mark.parametrize("model", MODELS)
def test_multiply_adds_at_224_and_at_an_odd_size(model):
    assert macs(on_meta(model), (3, 224, 224)) == reference(model)["macs_224"]
    assert analyze(network(model)).flops == reference(model)["macs_224"]
    assert analyze(network(model, ODD_SIZE)).flops == macs(on_meta(model, ODD_SIZE), ODD_SIZE)


# Records without `logits_fp64` (the project's own VGG, ResNeXt and Wide records, made
# where torchvision could be imported) are compared in float32 within this much of their
# largest logit, on top of 1e-4: float32 numbers near VGG-16's 2e4 are 2e-3 apart, and
# two CPUs' kernels summing in different orders differ by tens of them (0.06 measured);
# a wrong network differs by the logits' own size. See tests/reference/README.md.
FLOAT32_RELATIVE = 1e-5
FLOAT64_RELATIVE = 1e-6  # of the largest logit; float64 runs agree to ~1e-12 on any CPU


def logits_under_the_recipe(model: str, dtype: torch.dtype) -> torch.Tensor:
    """The compiled spec's logits, filled as the reference was, computed in `dtype` (the
    float32 draws cast, as the fp64 records were made)."""
    ref = reference(model)
    compiled = compile_network(network(model))
    theirs = {key: torch.zeros(shape) for key, shape in ref["state_dict"].items()}
    compiled.load_state_dict(theirs, strict=True)  # their names, their shapes: nothing left out
    fill_as_reference(compiled)
    shape, seed = ref["input"]["shape"], ref["input"]["seed"]
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    compiled.to(dtype).eval()
    with torch.no_grad():
        return compiled(x.to(dtype))


def reference_logits(model: str) -> tuple[torch.Tensor, float]:
    """The logits to compare with and the absolute tolerance; independent of the CPU."""
    ref = reference(model)
    if "logits_fp64" in ref:
        expected = torch.tensor(ref["logits_fp64"], dtype=torch.float64)
        return expected, FLOAT64_RELATIVE * float(expected.abs().max())
    expected = torch.tensor(ref["logits"])
    return expected, 1e-4 + FLOAT32_RELATIVE * float(expected.abs().max())


@pytest.mark.parametrize("model", MODELS)
def test_logits_equal_the_reference(model):
    expected, tolerance = reference_logits(model)
    logits = logits_under_the_recipe(model, expected.dtype)
    torch.testing.assert_close(logits, expected, atol=tolerance, rtol=0)


def test_the_comparison_does_not_depend_on_the_cpu():
    """Where a record has float64 logits, the test runs in float64 too, to a tolerance far
    below any difference a wrong network makes. Where only float32 logits exist, the
    tolerance follows their size: VGG-16's reach 2e4, where 1e-4 absolute asked float32 for
    less than one step of its own spacing, and failed on a CPU other than the recording
    one by 0.06; the scaled tolerance is above that, and far below the logits themselves."""
    for model in MODELS:
        expected, tolerance = reference_logits(model)
        fp64 = "logits_fp64" in reference(model)
        assert expected.dtype == (torch.float64 if fp64 else torch.float32)
        assert tolerance < 1e-3 * float(expected.abs().max()) + 1e-4
    expected, tolerance = reference_logits("torchvision/vgg16")
    spacing = float(torch.finfo(torch.float32).eps) * float(expected.abs().max())
    assert 0.0615 < tolerance and tolerance > 10 * spacing
