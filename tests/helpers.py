"""Shared paths and small specs for the tests.

Every test module imports its paths from here (tests/ is on sys.path: pytest puts the
rootdir of tests/conftest.py there, and train_script.py does for its processes).
"""

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
PRELUDE = ROOT / "resdsl" / "prelude.res"
BENCH = ROOT / "bench"
TESTS = ROOT / "tests"
GOLDEN = TESTS / "golden"
INVALID = TESTS / "invalid"  # one broken rule per file; helpers they import in imports/
REFERENCE = TESTS / "reference"  # the team's reference records, copied in

# The only wall-clock limit a test may set: a guard against a hang (a child that never
# exits, a lock never freed), far above what anything takes even on a busy 2-core machine
# (load average 10), so that a slow machine never fails a test, only a stuck one.
GUARD_SECONDS = 900

# A network small enough to lower in milliseconds: a stage that keeps the shape and one
# that halves it and doubles the channels, so both shortcut cases show up.
TINY = """
network tiny {
    input 3x32x32
    classes 10
    shortcut A
    stem { conv 3x3, 16; batchnorm; relu }
    stage s1: 2 x basic(16)
    stage s2: 2 x basic(32), stride 2
    head { avgpool; fc classes }
}
"""

# The same shape as a family of the shortcut option and the depth, on 8x8 inputs: every
# shortcut kind shows up in two blocks, and a network compiles and runs in milliseconds.
TINY_FAMILY = """
family tiny(n, shortcut = A) {
    input    3x8x8
    classes  10
    shortcut shortcut
    stem conv1 { conv 3x3, 4; batchnorm; relu }
    stage conv2_x: n x basic(4)
    stage conv3_x: n x basic(8), stride 2
    head { avgpool; fc classes }
}
"""


DILATED = """
network dilated {
    input    3x32x32
    classes  10
    stem { conv 3x3, 16 }
    stage s1 {
        conv 3x3, 32, dilation 2
        conv 3x3, 32, groups 4, bias true
        conv 3x3, 32, padding 0
        maxpool 3x3, stride 2, padding 0, ceil_mode true
        avgpool 2x2, stride 1, count_include_pad false, padding 1
    }
    head { avgpool; fc classes, bias false }
}
"""
# Each layer of DILATED as every view must show it: the options that change what it
# computes, after its kernel and width.
DILATED_OPTIONS = ["dilation 2", "groups 4, bias true", "padding 0",
                   "padding 0, ceil_mode true", "padding 1, count_include_pad false",
                   "bias false"]


def spec_files() -> list[Path]:
    return sorted(SPECS.glob("**/*.res"))


def network_specs() -> list[Path]:
    """Specs that declare a network (cifar.res and torchvision.res are libraries)."""
    return list(_network_specs())


@lru_cache(maxsize=1)
def _network_specs() -> tuple[Path, ...]:  # several modules parametrize over them
    from resdsl.loader import load_program

    return tuple(p for p in spec_files() if load_program(p).networks)


def spec_id(path: Path) -> str:
    return str(path.relative_to(SPECS).with_suffix(""))


def lower_text(text: str, network: str | None = None, **kw):
    """The IR of `network` (the only one, unless named) of a spec given as text."""
    from resdsl.loader import program_from_text
    from resdsl.lower import lower

    return lower(program_from_text(text), network, **kw)


def tiny_net(shortcut: str = "A", n: int = 1):
    """The IR of TINY_FAMILY with `shortcut` and `n` blocks a stage."""
    from resdsl import network_from_text

    return network_from_text(TINY_FAMILY + f"network tiny_{shortcut} = tiny(n = {n}, shortcut = {shortcut})\n")


def randomize(model, seed: int = 0, scale: float = 0.3):
    """`model` with non-trivial weights and BN statistics (the same for a seed), so that
    every layer shows in its output."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point():
                fill = torch.rand(tensor.shape, generator=g) + 0.5 if name.endswith("running_var") \
                    else torch.randn(tensor.shape, generator=g) * scale
                tensor.copy_(fill)
    return model


def run_python(code: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter at the repository root (to see what it imports)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
