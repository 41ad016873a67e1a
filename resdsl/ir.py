"""The expanded IR: what the compiler, the analyser and the trainer consume.

Families, imports and block calls are gone by the time a `Network` exists: every stage
holds concrete blocks of concrete layers with concrete channels, strides, shapes and
shortcut kinds. Every node is frozen and carries its source span, which is left out of
equality and serialisation (so two specs that mean the same network compare equal).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from .diagnostics import Span

# (C, H, W) for feature maps; (F,) once flattened (after `flatten` or `fc`).
Shape = tuple[int, ...]
# A value a block or family argument can hold once evaluated.
Value = Union[bool, int, float, str, tuple[int, ...]]
ShortcutOption = Literal["A", "B", "C", "none"]


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    span: Span | None = Field(default=None, exclude=True, repr=False)

    def __eq__(self, other: object) -> bool:
        # Spans say where a thing was written, not what it is: compare without them.
        return type(self) is type(other) and self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.model_dump_json()))


class LayerBase(Node):
    name: str  # module name inside its parent, e.g. "conv1", "bn2", "downsample"
    in_shape: Shape
    out_shape: Shape

    @property
    def params(self) -> int:
        return 0


class Conv(LayerBase):
    kind: Literal["conv"] = "conv"
    out_channels: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: tuple[int, int]
    groups: int = 1
    bias: bool = False

    @property
    def params(self) -> int:
        in_channels = self.in_shape[0]
        weights = self.kernel[0] * self.kernel[1] * (in_channels // self.groups) * self.out_channels
        return weights + (self.out_channels if self.bias else 0)


class BatchNorm(LayerBase):
    kind: Literal["batchnorm"] = "batchnorm"

    @property
    def params(self) -> int:
        return 2 * self.in_shape[0]  # scale and shift; running stats are buffers


class ReLU(LayerBase):
    kind: Literal["relu"] = "relu"


class MaxPool(LayerBase):
    kind: Literal["maxpool"] = "maxpool"
    kernel: tuple[int, int]
    stride: int
    padding: tuple[int, int]


class AvgPool(LayerBase):
    kind: Literal["avgpool"] = "avgpool"
    kernel: tuple[int, int] | None = None  # None: global average pool to 1x1
    stride: int = 1
    padding: tuple[int, int] = (0, 0)


class Flatten(LayerBase):
    kind: Literal["flatten"] = "flatten"


class FC(LayerBase):
    kind: Literal["fc"] = "fc"
    out_features: int
    bias: bool = True

    @property
    def in_features(self) -> int:
        size = 1
        for dim in self.in_shape:
            size *= dim
        return size

    @property
    def params(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)


class Dropout(LayerBase):
    kind: Literal["dropout"] = "dropout"
    p: float


ShortcutKind = Literal["identity", "zero_pad", "projection", "none"]


class Residual(LayerBase):
    """The point where the shortcut of the block input is added.

    `shortcut` is resolved from the network's option and the shapes on both sides:
    identity, zero_pad (option A: subsample, then zero channels), projection (1x1 conv
    with `stride` + BN; options B and C), or none (the plain net adds nothing).
    `name` is the projection's module name ("downsample", as torchvision).
    """

    kind: Literal["residual"] = "residual"
    option: ShortcutOption
    shortcut: ShortcutKind
    shortcut_in: Shape  # the block input the shortcut starts from
    stride: int = 1

    @property
    def params(self) -> int:
        if self.shortcut != "projection":
            return 0
        in_channels, out_channels = self.shortcut_in[0], self.out_shape[0]
        return in_channels * out_channels + 2 * out_channels


Layer = Annotated[
    Union[Conv, BatchNorm, ReLU, MaxPool, AvgPool, Flatten, FC, Dropout, Residual],
    Field(discriminator="kind"),
]

LAYER_KINDS = ("conv", "batchnorm", "relu", "maxpool", "avgpool", "flatten", "fc",
               "dropout", "residual")


class Block(Node):
    kind: Literal["block"] = "block"
    name: str  # module name inside its stage: "0", "1", ...
    block: str  # the declared block it instantiates, e.g. "basic"
    args: dict[str, Value]  # every parameter of the block, defaults filled in
    layers: list[Layer]
    in_shape: Shape
    out_shape: Shape

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    @property
    def residual(self) -> Residual | None:
        return next((layer for layer in self.layers if isinstance(layer, Residual)), None)


StageItem = Annotated[Union[Block, Layer], Field(discriminator="kind")]


class Stage(Node):
    name: str  # as declared: "conv1", "conv2_x", "head"
    role: Literal["stem", "stage", "head"]
    # Module holding the stage's items: "layer1".. for stages (torchvision's names);
    # "" for stem and head, whose layers sit at the top level as in torchvision.
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


class Network(Node):
    name: str
    input: Shape
    classes: int
    shortcut: ShortcutOption
    stages: list[Stage]  # stem first and head last, when present
    expects: list[Expect] = []
    recipe: Recipe | None = None

    @property
    def params(self) -> int:
        return sum(stage.params for stage in self.stages)

    @property
    def output(self) -> Shape:
        return self.stages[-1].out_shape if self.stages else self.input
