"""The expanded network: stages of blocks, and each block a small graph.

A block is a main path of items (layers, groups, gates) that may end in a merge, where
a shortcut joins it. The shortcut is the identity (the block input itself), a path of
layers (a projection, zero padding, an average pool and a projection, ...) that reads a
point of the block, or nothing at all (the plain net). A gate multiplies the path by a
branch computed from a point of it (squeeze-and-excitation); a highway merge mixes the
path and the shortcut by a learned gate. Families, imports and calls are gone by now:
every item has concrete channels, strides and shapes.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from .layers import (FC, AdaptiveAvgPool, AvgPool, BatchNorm, Conv, Dropout, Flatten,
                     GroupNorm, Layer, MaxPool, ReLU, Sigmoid, ZeroPad)
from .node import Node, Shape, Value

# Where a shortcut path or a branch reads: the label of an earlier item of the block,
# or None for the block input (a branch: the point where it stands).
Point = Union[str, None]


class Part(Node):
    """Base of the items that hold other items."""

    name: str  # its module's name; a merge has no module and names only its row
    in_shape: Shape
    out_shape: Shape

    @property
    def children(self) -> list[Item]:
        return []

    @property
    def params(self) -> int:
        return sum(item.params for item in self.children)


class Group(Part):
    """`label: { items }`: a nested module (nn.Sequential) whose children run in order."""

    kind: Literal["group"] = "group"
    items: list[Item]

    @property
    def children(self) -> list[Item]:
        return self.items


class Gate(Part):
    """`gate [from P] { branch }`: the path multiplied by the branch's output, which reads
    point P (its own input by default); the output keeps the path's shape."""

    kind: Literal["gate"] = "gate"
    source: Point = None
    source_shape: Shape  # what the branch reads
    branch: list[Item]

    @property
    def children(self) -> list[Item]:
        return self.branch


class Shortcut(Node):
    """What a merge adds, chosen per block by a `shortcut` declaration (A, B, C, none, D,
    preact, ...) from whether the block keeps its shape (`same`) or not (`changed`)."""

    kind: Literal["identity", "path", "off"]
    decl: str  # the declaration it comes from, e.g. "B"
    case: Literal["same", "changed"]
    start: Point = None  # where a path reads; the identity always carries the block input
    items: list[Item] = []  # the path's layers; empty for identity and off
    in_shape: Shape
    out_shape: Shape

    @property
    def params(self) -> int:
        return sum(item.params for item in self.items)


class Merge(Part):
    """Where the shortcut joins the path. `residual`: y = F(x) + S(x). `highway`:
    y = T·F(x) + (1 − T)·S(x), T the output of `gate`, a branch reading point `source`
    (the block input by default)."""

    kind: Literal["residual", "highway"]
    shortcut: Shortcut
    source: Point = None
    source_shape: Shape | None = None  # what the highway's gate reads
    gate: list[Item] = []

    @property
    def children(self) -> list[Item]:
        return [*self.shortcut.items, *self.gate]

    @property
    def adds(self) -> bool:
        return self.shortcut.kind != "off"


Item = Annotated[
    Union[Conv, BatchNorm, GroupNorm, ReLU, Sigmoid, MaxPool, AvgPool, AdaptiveAvgPool,
          Flatten, FC, Dropout, ZeroPad, Group, Gate, Merge],
    Field(discriminator="kind"),
]


class Block(Part):
    kind: Literal["block"] = "block"
    block: str  # the declared block it instantiates, e.g. "basic"
    args: dict[str, Value]  # every parameter of the block, defaults filled in
    items: list[Item]  # the main path, its merge last if it has one

    @property
    def children(self) -> list[Item]:
        return self.items

    @property
    def merge(self) -> Merge | None:
        return next((item for item in self.items if isinstance(item, Merge)), None)


StageItem = Annotated[Union[Block, Item], Field(discriminator="kind")]


class Stage(Node):
    name: str  # as declared: "conv1", "conv2_x", "head"
    role: Literal["stem", "stage", "head"]
    # The module holding the stage's items, a dotted path: "layer1" (torchvision's),
    # "stages.0.blocks", "features"; "" for the top level (stem and head by default).
    module: str
    items: list[StageItem]
    in_shape: Shape
    out_shape: Shape

    @property
    def params(self) -> int:
        return sum(item.params for item in self.items)

    @property
    def blocks(self) -> list[Block]:
        return [item for item in self.items if isinstance(item, Block)]


class Expect(Node):
    metric: Literal["params", "flops"]
    value: float
    text: str  # as written, e.g. "21.8M"
    tolerance: float  # relative; from `within P%`, or half a unit of the last digit shown


class Recipe(Node):
    """A training recipe, declared in the language (see the prelude's `cifar10_paper`)."""

    name: str
    optimizer: Literal["sgd"] = "sgd"
    momentum: float
    weight_decay: float
    batch_size: int
    lr: float
    lr_steps: tuple[int, ...]  # iterations at which lr is multiplied by lr_gamma
    lr_gamma: float
    iterations: int
    crop_padding: int  # zero padding before the random crop; 0 turns cropping off
    hflip: bool
    normalize: Literal["pixel_mean", "channel_mean", "none"]
    warmup_lr: float | None = None  # lr used until train error < warmup_until_error
    warmup_until_error: float | None = None
    eval_every: int  # iterations between test-set evaluations


class Origin(Node):
    """Where a network was lowered from: every file's text, so that the same path that
    built it (parse, lower, compile) can build it again without the files."""

    path: str  # the spec file, as it was named
    base_dir: str  # the folder its imports were resolved from
    sources: dict[str, str]  # the text of every file read, by the path its spans name
    network: str  # which of the file's networks
    input: Shape | None = None  # an `--input` override it was lowered with
    classes: int | None = None  # a `num_classes` override it was lowered with


class Network(Node):
    name: str
    input: Shape
    classes: int
    shortcut: str  # the network's shortcut declaration: A, B, C, none, D, ...
    stages: list[Stage]  # stem first and head last, when present
    expects: list[Expect] = []
    recipe: Recipe | None = None
    # Where it came from; not part of what it is (left out of equality and of its JSON).
    origin: Origin | None = Field(default=None, exclude=True, repr=False)

    @property
    def params(self) -> int:
        return sum(stage.params for stage in self.stages)

    @property
    def output(self) -> Shape:
        return self.stages[-1].out_shape if self.stages else self.input


for _model in (Group, Gate, Shortcut, Merge, Block, Stage):
    _model.model_rebuild()

__all__ = ["Block", "Expect", "Gate", "Group", "Item", "Layer", "Merge", "Network", "Origin", "Part",
           "Point", "Recipe", "Shortcut", "Stage", "StageItem"]
