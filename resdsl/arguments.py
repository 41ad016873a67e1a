"""Arguments given from Python or on the command line (`input="1x28x28"`, `num_classes`,
`out_indices`), checked before anything is lowered, so that a bad one is reported as
that argument (`ResdslArgumentError`), never at the line of the spec it would override.
No torch here: `resdsl summary` checks its `--input` through this module too.
"""

from __future__ import annotations

import numbers

from .diagnostics import ResdslArgumentError
from .ir import shape_text
from .limits import MAX_CHANNELS, MAX_SPATIAL


def shape(value, name: str = "input") -> tuple[int, int, int] | None:
    """CxHxW from "1x28x28" or (1, 28, 28); None stays None."""
    if value is None:
        return None
    given, example = value, "3x32x32" if isinstance(value, str) else '(3, 32, 32) or "3x32x32"'
    if isinstance(value, str):
        parts = value.lower().split("x")
        # ASCII digits only: str.isdigit() also takes "３" and "٣", which int() then reads.
        value = tuple(int(p) if p.isascii() and p.isdigit() else p for p in parts)
    if not isinstance(value, (tuple, list)) or len(value) != 3 or \
            not all(_is_int(d) for d in value):
        raise ResdslArgumentError(name, f"expected CxHxW such as {example}, got {given!r}")
    dims = tuple(int(d) for d in value)
    if min(dims) < 1:
        raise ResdslArgumentError(name, f"expected CxHxW of positive sizes, got {shape_text(dims)}")
    if dims[0] > MAX_CHANNELS or max(dims[1:]) > MAX_SPATIAL:
        raise ResdslArgumentError(name, f"expected CxHxW of at most {MAX_CHANNELS} channels and "
                                        f"{MAX_SPATIAL} pixels a side, got {shape_text(dims)}")
    return dims  # type: ignore[return-value]


def count(value, name: str, most: int = MAX_CHANNELS) -> int | None:
    """A positive whole number (classes, channels) up to `most`; None stays None."""
    if value is None:
        return None
    if not _is_int(value) or not 1 <= value <= most:
        raise ResdslArgumentError(name, f"expected a whole number from 1 to {most}, got {value!r}")
    return int(value)


def indices(value, available: int, name: str = "out_indices") -> tuple[int, ...]:
    """Positions among `available` points, in order, each once; negative ones count from
    the end (timm's `out_indices=(-1,)`). None means all of them."""
    if value is None:
        return tuple(range(available))
    if _is_int(value):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value or not all(_is_int(i) for i in value):
        raise ResdslArgumentError(name, f"expected a tuple of positions, got {value!r}")
    chosen = []
    for i in value:
        if not -available <= i < available:
            raise ResdslArgumentError(name, f"position {i} is out of range: this network "
                                            f"has {available} feature maps (0 to {available - 1})")
        chosen.append(i % available)
    if len(set(chosen)) != len(chosen):
        raise ResdslArgumentError(name, f"a position is given twice in {tuple(value)}")
    return tuple(sorted(chosen))


def _is_int(value) -> bool:
    # numpy's integers too; but bool is an int, and True would read as 1.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
