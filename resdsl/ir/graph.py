"""The expanded network: stages of blocks, and each block a small graph.

A block is a main path of items (layers, groups, gates) that may end in a merge, where
a shortcut joins it. The shortcut is the identity (the block input itself), a path of
layers (a projection, zero padding, an average pool and a projection, ...) that reads a
point of the block, or nothing at all (the plain net). A gate multiplies the path by a
branch computed from a point of it (squeeze-and-excitation); a highway merge mixes the
path and the shortcut by a learned gate. Parallel paths (`sum`, `concat`) and a softmax
selection across groups of channels (`select`) are modules of their own, and may stand
in any list. Families, imports and calls are gone by now:
every item has concrete channels, strides and shapes.
"""

from __future__ import annotations

from math import prod
from typing import Annotated, ClassVar, Iterator, Literal, Union

from pydantic import Field

from .layers import LAYERS, Layer, Work
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

    # The helper class its torch code defines (`helper()`), a name the code then holds.
    helper_class: ClassVar[str] = ""

    def helper(self) -> str:
        return ""


class Group(Part):
    """`label: { items }`: a nested module (nn.Sequential) whose children run in order."""

    kind: Literal["group"] = "group"
    items: list[Item]

    @property
    def children(self) -> list[Item]:
        return self.items


class Gate(Part):
    """`gate [from P] { branch }`: the path multiplied by the branch's output, which reads
    point P (its own input by default); the output keeps the path's shape. In a block's
    own list the block's forward multiplies; elsewhere (a group: timm's `conv2.attn`) it
    is a module of its own (`Scale`), since a Sequential only passes its input on."""

    kind: Literal["gate"] = "gate"
    source: Point = None
    source_shape: Shape  # what the branch reads
    branch: list[Item]

    helper_class: ClassVar[str] = "Scale"

    @property
    def children(self) -> list[Item]:
        return self.branch

    def helper(self) -> str:
        return _SCALE


class Branches(Part):
    """`sum { paths }`, `concat { paths }`: parallel paths from one point, each reading
    the part's input (with `split`, the paths read equal consecutive slices of its
    channels, in order), merged by an element-wise sum (one shape) or a concatenation
    along the channels (one spatial size), in the paths' order."""

    kind: Literal["sum", "concat"]
    split: bool = False
    paths: list[Item]

    helper_class: ClassVar[str] = "Branches"

    @property
    def children(self) -> list[Item]:
        return self.paths

    def work(self) -> Work:
        size = prod(self.out_shape)  # a sum adds n-1 maps; a concatenation only copies
        return Work(0, (len(self.paths) - 1) * size if self.kind == "sum" else 0, size)

    def detail(self) -> str:
        return f"{self.kind} of {len(self.paths)} paths" + (", input split" if self.split else "")

    def figure_words(self, conv: bool = True) -> str:
        return self.detail()

    def helper(self) -> str:
        return _BRANCHES


class Select(Part):
    """`select R { [groups] avgpool; attention }` (SK, ResNeSt's split attention): the
    items before the first global `avgpool` (`groups`; none: the input itself) give R
    groups of C channels; the attention, from that pool on, reads their sum (CxHxW) and
    gives R*C weights (Cx1x1 per group); a softmax across the R groups makes them sum to
    one per channel, and the output is the groups weighted and summed: CxHxW."""

    kind: Literal["select"] = "select"
    radix: int
    groups: list[Item] = []
    branch: list[Item]

    helper_class: ClassVar[str] = "Select"

    @property
    def children(self) -> list[Item]:
        return [*self.groups, *self.branch]

    def work(self) -> Work:
        """Sum of the groups, softmax (exp, sum, divide: 3 per weight), the products
        and their sum."""
        size, weights = prod(self.out_shape), self.radix * self.out_shape[0]
        groups = self.radix * size
        return Work(0, 2 * (self.radix - 1) * size + 3 * weights + groups,
                    2 * size + weights + groups)

    def detail(self) -> str:
        return f"softmax across {self.radix} groups"

    def figure_words(self, conv: bool = True) -> str:
        return self.detail()

    def helper(self) -> str:
        return _SELECT


class Chain(Part):
    """`chain S [, stage B] { step }` (Res2Net, Gao et al. 2019), in a block's own list:
    the input's C channels are S groups of C/S; the step (its layers) runs S-1 times,
    step i reading group i plus, after the first, the output of step i-1; the output is
    the steps' outputs and the last group, concatenated. A `stage` chain (where the
    block changes shape: timm's "stage" type) adds nothing between steps and average-
    pools the last group (3x3, the steps' stride, padding 1). The chain is no module:
    its layers sit in the block as lists, step i's `convs` at `convs.i` (its layers'
    names are those paths), and the pool at `pool`, as timm's Bottle2neck has them."""

    kind: Literal["chain"] = "chain"
    scale: int
    stage: bool
    steps: list[Item]  # every step's layers, step after step; named `convs.0`, `bns.0`, ...
    pool: list[Item] = []  # the stage chain's average pool of the last group

    @property
    def children(self) -> list[Item]:
        return [*self.steps, *self.pool]

    @property
    def per_step(self) -> int:
        return len(self.steps) // (self.scale - 1)

    @property
    def lists(self) -> list[str]:
        """The block's module lists the steps fill, in order: `convs`, `bns`, ..."""
        return [item.name.split(".")[0] for item in self.steps[:self.per_step]]

    def work(self) -> Work:
        """The additions between steps (none in a stage chain); the concatenation copies."""
        group = prod(self.out_shape) // self.scale
        return Work(0, 0 if self.stage else (self.scale - 2) * group,
                    prod(self.out_shape) + (0 if self.stage else (self.scale - 2) * group))

    def detail(self) -> str:
        step = "; ".join(filter(None, (item.notation() for item in self.steps[:self.per_step])))
        kind = ", stage" if self.stage else ""
        return f"chain of {self.scale - 1} x [{step}] over {self.scale} groups{kind}"

    def figure_words(self, conv: bool = True) -> str:
        convs = [item for item in self.steps[:self.per_step] if item.kind == "conv"]
        words = ", ".join(item.figure_words(conv) for item in convs) or "chain"
        return f"{words}, chain of {self.scale}"


_SCALE = '''
class Scale(nn.Sequential):
    """A gate standing in a Sequential: its children compute the gate from the input,
    which it scales (per channel, or per element)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * super().forward(x)
'''

_BRANCHES = '''
class Branches(nn.Sequential):
    """Parallel paths (its children, in order) from one input, or from equal consecutive
    slices of its channels (`split`), merged by a sum or a concatenation along channels."""

    def __init__(self, merge: str, split: bool, *paths):
        super().__init__(*paths)
        self.merge, self.split = merge, split

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        paths = list(self)
        inputs = torch.chunk(x, len(paths), 1) if self.split else [x] * len(paths)
        outputs = [path(part) for path, part in zip(paths, inputs)]
        if self.merge == "concat":
            return torch.cat(outputs, 1)
        out = outputs[0]
        for output in outputs[1:]:
            out = out + output
        return out
'''

_SELECT = '''
class Select(nn.Sequential):
    """Softmax attention across `radix` groups of channels (SK, ResNeSt): its first
    `groups` children make the groups from the input, the others read the groups' sum
    and give radix x C weights; a softmax across the groups; the output is the groups
    weighted and summed."""

    def __init__(self, radix: int, groups: int, *children):
        super().__init__(*children)
        self.radix, self.groups = radix, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        layers = list(self)
        for layer in layers[:self.groups]:
            x = layer(x)
        groups = x.view(x.shape[0], self.radix, -1, *x.shape[2:])
        weights = groups.sum(1)
        for layer in layers[self.groups:]:
            weights = layer(weights)
        weights = weights.view(x.shape[0], self.radix, -1, 1, 1).softmax(1)
        return (groups * weights).sum(1)
'''


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


# Every primitive layer of `LAYERS` and the parts that hold them, told apart by `kind`.
Item = Annotated[Union[(*LAYERS.values(), Group, Gate, Merge, Branches, Select, Chain)],
                 Field(discriminator="kind")]


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


for _model in (Group, Gate, Branches, Select, Chain, Shortcut, Merge, Block, Stage):
    _model.model_rebuild()


def walk_layers(items: list, prefix: str = "") -> Iterator[tuple[str, Layer]]:
    """(module path, layer) for every primitive layer under `items`, as the compiled
    module's state_dict names them: a merge's shortcut layers and a chain's lists sit
    beside it in the block,
    its gate under its own name; every other part holds its children under its name."""
    for item in items:
        path = f"{prefix}.{item.name}" if prefix else item.name
        if isinstance(item, Layer):
            yield path, item
        elif isinstance(item, Merge):
            yield from walk_layers(item.shortcut.items, prefix)
            yield from walk_layers(item.gate, path)
        elif isinstance(item, Chain):  # its layers' names are paths in the block
            yield from walk_layers(item.children, prefix)
        else:
            yield from walk_layers(item.children, path)


def walk_items(items: list) -> Iterator:
    """Every item under `items`, parts and layers, depth first (a merge's shortcut too)."""
    for item in items:
        yield item
        if not isinstance(item, Layer):
            yield from walk_items(item.children)


def network_layers(network: Network) -> Iterator[tuple[str, Layer]]:
    """(module path, layer) for every primitive layer of the network."""
    for stage in network.stages:
        yield from walk_layers(stage.items, stage.module)

__all__ = ["Block", "Branches", "Chain", "Expect", "Gate", "Group", "Item", "Layer", "Merge", "Network", "Origin", "Part",
           "Point", "Recipe", "Select", "Shortcut", "Stage", "StageItem", "network_layers", "walk_items",
           "walk_layers"]
