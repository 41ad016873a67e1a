"""The base of every IR node: frozen, validated, and compared without its source span."""

from __future__ import annotations

from typing import Union

from pydantic import BaseModel, ConfigDict, Field

from ..diagnostics import Span

# (C, H, W) for feature maps; (F,) once flattened (after `flatten` or `fc`).
Shape = tuple[int, ...]
# A value a block or family argument can hold once evaluated.
Value = Union[bool, int, float, str, tuple[int, ...]]


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    span: Span | None = Field(default=None, exclude=True, repr=False)

    def __eq__(self, other: object) -> bool:
        # Spans say where a thing was written, not what it is: compare without them.
        return type(self) is type(other) and self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.model_dump_json()))


def shape_text(shape: Shape) -> str:
    return "x".join(str(d) for d in shape)
