"""Every bound on what resdsl reads, expands and builds, in one place (README: "Limits").

Each is far beyond any real network and low enough that a hostile or mistaken spec is
refused in well under a second, before it is expanded, counted or allocated. The
build's memory bounds are the only ones a user raises (`--max-memory`): a real network
may be larger than one machine, a real spec never longer than a megabyte.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

# ---- reading --------------------------------------------------------------------------
MAX_FILE_BYTES = 256 * 1024  # a spec file: 35 times the prelude; bounds the parser to seconds
MAX_IMPORT_DEPTH = 64  # files importing files; deeper is a mistake (and overflows the stack)
MAX_DEPTH = 100  # levels of the parse tree: `1 + 1 + ...` nests one level per operator
# Parentheses and braces; deeper than any spec. Each brace is two levels of the parse tree
# (a body and the item in it), so this many always fit in MAX_DEPTH with 20 levels to
# spare for the expression inside the deepest one: the brace limit is the one that speaks.
MAX_NESTING = (MAX_DEPTH - 20) // 2
MAX_DIGITS = 15  # in one size of `3x224x224`; longer cannot be a real size
MAX_MAGNITUDE = 10**15  # any value: larger than any width, depth or size; stops runaway products
MAX_DERIVATION = 64  # `network b = a` and `recipe r = q` chains

# ---- expanding -------------------------------------------------------------------------
MAX_BLOCKS = 10_000  # ten times ResNet-1202
MAX_LAYERS = 50_000  # items once every repeat is written out: six ResNet-1202s (8,500 each)
MAX_PARAMS = 2**31
MAX_CHANNELS = 1 << 20  # wider than anything trainable
MAX_SPATIAL = 1 << 16  # pixels a side of the input
MAX_PATH_PARTS = 8  # in `stage s in stages.0.blocks` (3 parts): a path, not a data structure
MAX_TOLERANCE = 1000.0  # percent, in `expect ... within P%`: JSON cannot hold infinity

# ---- building ---------------------------------------------------------------------------
# Bytes a compiled network may allocate: its weights and buffers, and the activations
# of one image (fp32), each; `--max-memory` raises both. 4 GiB is a billion parameters,
# six times VGG-19; a network just under MAX_PARAMS would need 8 GiB before training.
MAX_BUILD_BYTES = 4 * 2**30
BUILD_LIMIT_TEXT = f"{MAX_BUILD_BYTES // 2**30}G"  # as --max-memory takes it, for help texts


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_size(text: str) -> int:
    """`--max-memory 32G`: a number of bytes, with K, M, G or T (powers of 1024)."""
    from .diagnostics import ResdslValidationError

    value = text.strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (value[:-1], value[-1]) if value and value[-1] in "KMGT" else (value, "")
    try:
        size = float(number) * _UNITS[unit]
    except ValueError:
        size = -1
    if not number.replace(".", "", 1).isascii() or not 0 < size < 2**62:
        raise ResdslValidationError(f"--max-memory takes a size such as 16G or 512M, got {text!r}")
    return int(size)


def human_bytes(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


@contextmanager
def paused_gc() -> Iterator[None]:
    """Python's cycle collector off while a large file is parsed or lowered: with
    hundreds of thousands of young objects its passes make the work quadratic (measured
    in bench/frontend_scaling.py), and nothing made there is freed by it anyway."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
