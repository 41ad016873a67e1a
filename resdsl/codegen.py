"""IR -> PyTorch source: the network as a person would write it.

One class per kind of block, whose `forward` reads top to bottom (`out = self.bn2(
self.conv2(out))`, `out = out + shortcut`), then the network's class, whose `__init__`
builds every layer with its concrete sizes and whose `forward` runs the stem, the stages
and the head. `compiler.py` runs this source to build the module `resdsl build` and
`resdsl train` use, so the exported file (`resdsl export --to pytorch`) is the compiled
network itself, and every network gets code of its own (torch.compile caches by code).

The source holds nothing but numbers and names the IR validated: module names are
identifiers or positions, and every value comes from a layer's `torch()`.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from . import ir
from .diagnostics import ResdslValidationError
from .ir.layers import LAYERS

HEADER = '''from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
'''


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part) or "X"


# Names the generated module defines or imports besides the classes it writes.
TAKEN = frozenset({"F", "nn", "torch", "OrderedDict", "CompiledNetwork", "init_weights",
                   *(layer.helper_class for layer in LAYERS.values() if layer.helper_class),
                   ir.Branches.helper_class, ir.Select.helper_class, ir.Gate.helper_class,
                   *keyword.kwlist})


def fresh_name(base: str, taken: set[str]) -> str:
    """`base`, or base2, base3, ... : the first one no other name of the file has."""
    name, n = base, 1
    while name in taken or name in TAKEN:
        n += 1
        name = f"{base}{n}"
    taken.add(name)
    return name


def is_identifier(name: str) -> bool:
    return name.isidentifier()


def attribute(owner: str, name: str) -> str:
    """`self.conv1`, or `getattr(self, "0")` for a name that is a position."""
    return f"{owner}.{name}" if is_identifier(name) else f'getattr({owner}, "{name}")'


# ---- constructors -------------------------------------------------------------------------
def construct(item, classes: dict, after_fresh: bool, indent: str, in_block: bool = False) -> str:
    """Source of the expression that builds `item`'s module (`in_block`: an item of a
    block's own list, which the block's forward runs)."""
    if isinstance(item, ir.Layer):
        return item.torch(after_fresh)
    if isinstance(item, ir.Group):
        return sequential(item.items, classes, indent)
    if isinstance(item, ir.Gate) and in_block:  # the block's forward multiplies
        return sequential(item.branch, classes, indent)
    if isinstance(item, ir.Gate):  # in a Sequential: a module that multiplies
        return "Scale(" + sequential(item.branch, classes, indent)[len("nn.Sequential("):]
    if isinstance(item, ir.Merge):
        return sequential(item.gate, classes, indent)
    if isinstance(item, ir.Branches):  # an nn.Sequential of its paths, merged its own way
        return wrap(f"Branches({item.kind!r}, {item.split!r}",
                    sequential(item.paths, classes, indent))
    if isinstance(item, ir.Select):
        return wrap(f"Select({item.radix!r}, {len(item.groups)!r}",
                    sequential(item.children, classes, indent))
    if isinstance(item, ir.Block):
        return classes[id(item)].construct(item, indent)
    if isinstance(item, LayerList):
        return item.construct(indent)
    raise TypeError(f"no module for {type(item).__name__}")


@dataclass(frozen=True)
class LayerList:
    """One list a chain fills in its block (`convs`): an nn.ModuleList, a layer per step."""

    layers: tuple
    fresh: tuple  # whether each layer follows a fresh output (an in-place ReLU)

    def construct(self, indent: str) -> str:
        built = [layer.torch(fresh) for layer, fresh in zip(self.layers, self.fresh)]
        if len(set(built)) == 1:  # one layer, made once per step
            return f"nn.ModuleList([{built[0]} for _ in range({len(built)})])"
        inner = indent + "    "
        return f"nn.ModuleList([\n{inner}" + f",\n{inner}".join(built) + f",\n{indent}])"


def chain_modules(chain: ir.Chain) -> dict[str, tuple[object, bool]]:
    """A chain's lists and its pool, as the modules of its block."""
    step = chain.steps[:chain.per_step]
    modules: dict[str, tuple[object, bool]] = {}
    for index, name in enumerate(chain.lists):
        layers = tuple(chain.steps[index::chain.per_step])
        modules[name] = (LayerList(layers, (fresh_before(step, index),) * len(layers)), False)
    modules.update((pool.name, (pool, False)) for pool in chain.pool)
    return modules


def chain_lines(chain: ir.Chain, current: str, labels: set[str]) -> list[str]:
    """A chain in the block's forward, as timm's Bottle2neck writes it (and, like it,
    TorchScript can script it: the lists are zipped, never indexed by a variable).
    `labels`: the block's, which its forward may hold as points: the loop keeps off them."""
    names = loop_names(chain.lists, labels)
    calls = "sp"
    for name in names:
        calls = f"{name}({calls})"
    lists = ", ".join(f"self.{name}" for name in chain.lists)
    step = f"({', '.join(names)})" if len(names) > 1 else names[0]
    steps = f"zip({lists})" if len(names) > 1 else lists
    how = ("a stage chain: each step reads its group alone, the last group is pooled"
           if chain.stage else "each step reads its group plus the step before")
    read = ["    sp = spx[i]"] if chain.stage else ["    if i > 0:", "        sp = sp + spx[i]"]
    last = "self.pool(spx[-1])" if chain.stage else "spx[-1]"
    return [f"# Res2Net's chain over {chain.scale} groups of channels; {how}",
            f"spx = torch.chunk({current}, {chain.scale}, 1)",
            "spo = []",
            "sp = spx[0]",
            f"for i, {step} in enumerate({steps}):",
            *read,
            f"    sp = {calls}",
            "    spo.append(sp)",
            f"spo.append({last})",
            "out = torch.cat(spo, 1)"]


def loop_names(lists: list[str], labels: set[str] = frozenset()) -> list[str]:
    """A step's layer as the loop names it: `conv` of `convs`; where that is taken (by the
    forward's own names or a label, which a point may hold), `_convs`: no label starts
    with an underscore."""
    singular = [name[:-1] if name.endswith("s") and len(name) > 1 else f"{name}_i"
                for name in lists]
    clash = len(set(singular)) < len(singular) or set(singular) & (CHAIN_LOCALS | labels)
    return [f"_{name}" for name in lists] if clash else singular


# The names a chain's code uses in a block's forward, beside the block's own.
CHAIN_LOCALS = frozenset({"x", "out", "shortcut", "t", "spx", "spo", "sp", "i", "torch"})


def wrap(head: str, sequential_source: str) -> str:
    """`nn.Sequential(children)` as `Head(arguments, children)`: a helper class that is a
    Sequential of its own (Branches, Select) takes its children as Sequential does."""
    inner = sequential_source[len("nn.Sequential("):]
    return f"{head})" if inner == ")" else f"{head}, {inner}"


def sequential(items: list, classes: dict, indent: str) -> str:
    """nn.Sequential of `items`: positional where they are named 0, 1, ...; else named."""
    inner = indent + "    "
    built = [construct(item, classes, fresh_before(items, i), inner) for i, item in enumerate(items)]
    if [item.name for item in items] == [str(i) for i in range(len(items))]:
        parts = built
    else:
        parts = [f"({item.name!r}, {text})" for item, text in zip(items, built)]
        return f"nn.Sequential(OrderedDict([\n{inner}" + f",\n{inner}".join(parts) + \
            f",\n{indent}]))" if parts else "nn.Sequential()"
    if not parts:
        return "nn.Sequential()"
    return f"nn.Sequential(\n{inner}" + f",\n{inner}".join(parts) + f",\n{indent})"


def is_fresh(item) -> bool:
    """Its output is a new tensor nothing reads but the next layer, so a ReLU after it
    may work in place (not the block input, a flatten's view, a sigmoid's saved output)."""
    if isinstance(item, ir.Layer):
        return item.fresh_output
    return isinstance(item, (ir.Gate, ir.Merge, ir.Block, ir.Branches, ir.Select, ir.Chain)) or (
        isinstance(item, ir.Group) and bool(item.items) and is_fresh(item.items[-1]))


def fresh_before(items: list, index: int, points: set[str] = frozenset()) -> bool:
    if index == 0:
        return False
    before = items[index - 1]
    return is_fresh(before) and before.name not in points


# ---- blocks ------------------------------------------------------------------------------------
@dataclass
class BlockClass:
    """The class of every block that shares one `forward`."""

    name: str  # the Python class name: "Basic", "Bottleneck2"
    decl: str  # the declared block: "basic"
    children: list[str]  # its modules, in registration order
    fixed: dict[str, str]  # children built alike in every block (a ReLU): built in the class
    optional: set[str]  # children that some blocks of the class lack (an identity shortcut)
    forward: list[str]  # its body's lines
    shortcuts: set[str] = field(default_factory=set)  # declarations it serves: "A", "B"
    doc: str = ""  # the spec's comment above the block

    def construct(self, block: ir.Block, indent: str) -> str:
        inner = indent + "    "
        parts = [f"{name}={construct(item, {}, fresh, inner, True)}"
                 for name, (item, fresh) in block_modules(block).items() if name not in self.fixed]
        if not parts:
            return f"{self.name}()"
        return f"{self.name}(\n{inner}" + f",\n{inner}".join(parts) + f",\n{indent})"

    def source(self) -> str:
        passed = [c for c in self.children if c not in self.fixed]
        params = [f"{c}: nn.Module | None = None" if c in self.optional else f"{c}: nn.Module"
                  for c in passed]
        init = [f"        self.{c} = {self.fixed.get(c, c)}" for c in self.children]
        signature = "    def __init__(self):" if not params else \
            "    def __init__(self, *, " + ", ".join(params) + "):"
        if len(signature) > 88:
            signature = "    def __init__(\n            self, *,\n" + "".join(
                f"            {param},\n" for param in params) + "    ):"
        lines = [f"class {self.name}(nn.Module):", self._docstring(), "", signature,
                 "        super().__init__()", *init, "",
                 "    def forward(self, x: torch.Tensor) -> torch.Tensor:", *self.forward]
        return "\n".join(lines) + "\n"

    def _docstring(self) -> str:
        served = f" (shortcut {', '.join(sorted(self.shortcuts))})" if self.shortcuts else ""
        lines = [f"Block `{self.decl}` of the spec{served}."]
        if self.doc:
            lines += ["", *self.doc.splitlines()]
        body = "\n".join(f"    {line}".rstrip() for line in lines).lstrip()
        return f'    """{body}\n    """' if len(lines) > 1 else f'    """{lines[0]}"""'


def block_modules(block: ir.Block) -> dict[str, tuple[object, bool]]:
    """The block's child modules by name, in registration order, each with whether the
    item before it leaves a fresh output (for an in-place ReLU)."""
    modules: dict[str, tuple[object, bool]] = {}
    points = referenced_points(block)
    for index, item in enumerate(block.items):
        fresh = fresh_before(block.items, index, points)
        if isinstance(item, ir.Merge):
            for i, part in enumerate(item.shortcut.items):
                modules[part.name] = (part, fresh_before(item.shortcut.items, i))
            if item.kind == "highway":
                modules[item.name] = (item, False)
        elif isinstance(item, ir.Chain):
            modules.update(chain_modules(item))
        else:
            modules[item.name] = (item, fresh)
    return modules


def referenced_points(block: ir.Block) -> set[str]:
    points = set()
    for item in block.items:
        if isinstance(item, (ir.Gate, ir.Merge)) and item.source:
            points.add(item.source)
        if isinstance(item, ir.Merge) and item.shortcut.start:
            points.add(item.shortcut.start)
    return points


def block_forward(block: ir.Block, shortcut: str) -> list[str]:
    """The lines of a block's forward. `shortcut`: "identity", "path", "optional" (some
    blocks of the class have a path, others the identity) or "off"."""
    points = referenced_points(block)
    lines, current = [], "x"
    for index, item in enumerate(block.items):
        if isinstance(item, ir.Merge):
            lines += merge_lines(item, current, shortcut)
        elif isinstance(item, ir.Gate):
            source = item.source or current
            lines.append(f"out = {current} * {attribute('self', item.name)}({source})"
                         f"  # gate {item.name}: scales the path by its branch")
        elif isinstance(item, ir.Chain):
            lines += chain_lines(item, current, {i.name for i in ir.walk_items(block.items)})
        else:
            call = f"{attribute('self', item.name)}({current})"
            if lines and _chains(block.items, index) and lines[-1].startswith("out = self."):
                lines[-1] = f"out = {attribute('self', item.name)}({lines[-1][6:]})"
            else:
                lines.append(f"out = {call}")
        current = "out"
        if item.name in points:
            lines.append(f"{item.name} = out  # a point a shortcut or a gate reads")
    lines.append(f"return {current}")
    return ["        " + line for line in lines]


def _chains(items: list, index: int) -> bool:
    """A normalisation joins the convolution before it on one line: `bn1(conv1(x))`."""
    return is_norm(items[index]) and isinstance(items[index - 1], ir.Conv)


def is_norm(item) -> bool:
    return isinstance(item, ir.Layer) and item.norm


# What the paper's options are, said where the generated code adds the shortcut.
OPTION_WORDS = {
    "A": "option A: the identity, zero-padded where the shape changes",
    "B": "option B: the identity, a 1x1 projection where the shape changes",
    "C": "option C: a 1x1 projection on every block",
    "D": "ResNet-D: average pool, then a 1x1 projection, where the shape changes",
    "preact": "a 1x1 projection without BN where the shape changes, from the pre-activation",
}


def merge_lines(merge: ir.Merge, current: str, mode: str) -> list[str]:
    if mode == "off":
        return ["# no shortcut: the plain net adds nothing to F(x)"]
    start = merge.shortcut.start or "x"
    decl = merge.shortcut.decl
    lines = [f"# {current} is F(x), the residual function; the shortcut carries x around it",
             f"# ({OPTION_WORDS.get(decl, f'shortcut {decl} of the spec')})"]
    path = merge.shortcut.items
    if mode == "identity":
        lines.append("shortcut = x  # the identity")
    else:
        steps = [f"shortcut = {attribute('self', path[0].name)}({start})"]
        steps += [f"shortcut = {attribute('self', p.name)}(shortcut)" for p in path[1:]]
        if mode == "optional":
            lines += ["shortcut = x  # the identity, where the block keeps its shape",
                      f"if self.{path[0].name} is not None:  # its shortcut's layers"]
            lines += ["    " + step for step in steps]
        else:
            lines += steps
    if merge.kind == "highway":
        gate_input = merge.source or "x"
        lines.append(f"t = {attribute('self', merge.name)}({gate_input})  # T(x), the transform gate")
        lines.append(f"out = t * {current} + (1 - t) * shortcut  # T F(x) + (1 - T) x")
    else:
        lines.append(f"out = {current} + shortcut")
    return lines


def shortcut_mode(block: ir.Block) -> str:
    merge = block.merge
    return "none" if merge is None else "path" if merge.shortcut.kind == "path" else \
        merge.shortcut.kind


def _alike(blocks: list[ir.Block]) -> dict[str, str]:
    """Children every block builds the same way, on one line (ReLUs, a fixed pool)."""
    texts: dict[str, set[str]] = {}
    for block in blocks:
        for name, (item, fresh) in block_modules(block).items():
            texts.setdefault(name, set()).add(construct(item, {}, fresh, "", True))
    counts = {name: sum(name in block_modules(b) for b in blocks) for name in texts}
    return {name: next(iter(found)) for name, found in texts.items()
            if len(found) == 1 and counts[name] == len(blocks) and "\n" not in next(iter(found))}


def block_classes(network: ir.Network, docs: dict[str, str] | None = None
                  ) -> tuple[list[BlockClass], dict[int, BlockClass]]:
    """The classes the network's blocks need, and each block's class (by id): blocks
    alike but for their sizes share one; an identity and a path shortcut share one too,
    whose path is then optional (torchvision's `downsample=None`)."""
    docs = docs or {}
    groups: dict[tuple, list[ir.Block]] = {}
    for stage in network.stages:
        for block in stage.blocks:
            groups.setdefault(_structure(block), []).append(block)
    classes, by_block, used = [], {}, set()
    for blocks in _split_by_path(groups):
        modes = {shortcut_mode(b) for b in blocks}
        mode = "optional" if modes == {"identity", "path"} else modes.pop()
        representative = next((b for b in blocks if shortcut_mode(b) == "path"), blocks[0])
        optional = {p.name for p in representative.merge.shortcut.items} \
            if mode == "optional" else set()
        # "Block" ends every block class's name: `block f` or `block none` cannot take F
        # or None, nor `block basic2` the name of basic's second class (BasicBlock2).
        cls = BlockClass(fresh_name(camel(representative.block) + "Block", used),
                         representative.block, list(block_modules(representative)),
                         _alike(blocks), optional, block_forward(representative, mode),
                         {b.merge.shortcut.decl for b in blocks if b.merge is not None},
                         docs.get(representative.block, ""))
        classes.append(cls)
        by_block.update((id(block), cls) for block in blocks)
    return classes, by_block


def _split_by_path(groups: dict[tuple, list[ir.Block]]) -> list[list[ir.Block]]:
    """Blocks whose shortcut paths are named differently need classes of their own;
    identity blocks join the first."""
    out = []
    for blocks in groups.values():
        by_path: dict[tuple, list[ir.Block]] = {}
        for block in blocks:
            if shortcut_mode(block) == "path":
                names = tuple(p.name for p in block.merge.shortcut.items)
                by_path.setdefault(names, []).append(block)
        identity = [b for b in blocks if shortcut_mode(b) != "path"]
        split = list(by_path.values()) or [[]]
        order = {id(block): index for index, block in enumerate(blocks)}  # not ==: slow
        split[0] = sorted(split[0] + identity, key=lambda block: order[id(block)])
        out.extend(split)
    return out


def _structure(block: ir.Block) -> tuple:
    """What a block's forward depends on: its items' names and roles, its points and
    merge, not its sizes nor whether its shortcut is the identity or a path."""
    parts = []
    for item in block.items:
        if isinstance(item, ir.Merge):
            parts.append(("merge", item.kind, item.name, item.source,
                          item.shortcut.kind == "off"))
        elif isinstance(item, ir.Chain):
            parts.append(("chain", item.name, item.scale, item.stage, tuple(item.lists)))
        else:
            parts.append((type(item).__name__, item.name, getattr(item, "source", None)))
    return (block.block, tuple(parts))


# ---- the network -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    text: str  # the Python source
    class_name: str  # the network's class in it, e.g. "Resnet20"


def network_source(network: ir.Network, base: str = "nn.Module", docstring: str = "",
                   docs: dict[str, str] | None = None) -> Source:
    """Python source defining the network's block classes and its own class (named after
    it); `docs`: the spec's comments on its blocks, by block name, for their docstrings."""
    classes, by_block = block_classes(network, docs)
    class_name = fresh_name(camel(network.name), {cls.name for cls in classes})
    in_blocks = {id(item) for stage in network.stages for block in stage.blocks
                 for item in block.items}  # their forward runs them: no helper of their own
    items = [item for stage in network.stages for item in ir.walk_items(stage.items)
             if id(item) not in in_blocks or not isinstance(item, ir.Gate)]
    helpers = dict.fromkeys(item.helper() for item in items if getattr(item, "helper", None)
                            and item.helper())
    init, forward = network_body(network, by_block)
    parts = [HEADER]
    parts += [helper.strip() + "\n" for helper in helpers]
    parts += [cls.source() for cls in classes]
    doc = f'    """{docstring}"""\n\n' if docstring else ""
    parts.append(f"class {class_name}({base}):\n{doc}"
                 "    def __init__(self):\n        super().__init__()\n" + init + "\n\n"
                 "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n" + forward + "\n")
    parts.append(init_source(network))
    return Source("\n\n".join(parts), class_name)


def check_top_level(network: ir.Network) -> None:
    """Stem and head layers share the top level with the stages' containers: an IR
    built some other way than by the lowering (from JSON, say) may name two alike."""
    layers: set[str] = set()
    containers: set[str] = set()  # several stages may share one (VGG's `features`)
    for stage in network.stages:
        root = stage.module.split(".")[0]
        for name in [root] if root else [item.name for item in stage.items]:
            if name in layers or (not root and name in containers):
                raise ResdslValidationError(
                    f"two modules of network '{network.name}' are named '{name}' at the top "
                    "level", network.span,
                    notes=("rename the stem or head layer with a label, e.g. `pool: maxpool`",))
            (containers if root else layers).add(name)


def network_body(network: ir.Network, classes: dict) -> tuple[str, str]:
    """The network's `__init__` and `forward` bodies: top-level layers, then containers."""
    check_top_level(network)
    init, forward = [], []
    tree = containers(network)
    done: set[str] = set()
    previous = None
    for stage in network.stages:
        root = stage.module.split(".")[0] if stage.module else ""
        if root:
            if root not in done:
                init.append(f"self.{root} = {container_source(tree[root], classes, '        ')}")
                forward.append(f"x = self.{root}(x)")
                done.add(root)
            previous = stage.items[-1] if stage.items else previous
            continue
        for item in stage.items:
            fresh = previous is not None and is_fresh(previous)
            text = construct(item, classes, fresh, "        ")
            if is_identifier(item.name):
                init.append(f"self.{item.name} = {text}")
            else:
                init.append(f'self.add_module("{item.name}", {text})')
            forward.append(f"x = {attribute('self', item.name)}(x)")
            previous = item
    forward.append("return x")
    return "\n".join("        " + line for line in init), \
        "\n".join("        " + line for line in forward)


def containers(network: ir.Network) -> dict:
    """Nested containers by dotted path: {"layer1": [items]} or
    {"stages": {"0": {"blocks": [items]}}}; items in order, several stages appending."""
    tree: dict = {}
    for stage in network.stages:
        if not stage.module:
            continue
        node, parts = tree, stage.module.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(parts[-1], []).extend(stage.items)
    return tree


def container_source(node, classes: dict, indent: str) -> str:
    if isinstance(node, list):
        return sequential(node, classes, indent)
    inner = indent + "    "
    parts = [f"({name!r}, {container_source(child, classes, inner + '    ')})"
             for name, child in node.items()]
    if list(node) == [str(i) for i in range(len(node))]:
        parts = [container_source(child, classes, inner) for child in node.values()]
        return f"nn.Sequential(\n{inner}" + f",\n{inner}".join(parts) + f",\n{indent})"
    return f"nn.Sequential(OrderedDict([\n{inner}" + f",\n{inner}".join(parts) + f",\n{indent}]))"


# ---- initialisation ---------------------------------------------------------------------------------
def init_source(network: ir.Network) -> str:
    """`init_weights`: torchvision's ResNet initialisation, and what the spec asks for."""
    biases = [(path, layer.bias_init) for path, layer in ir.network_layers(network)
              if isinstance(layer, ir.Conv) and layer.bias_init is not None]
    residual_norms = [path for path in last_norms(network)]
    lines = [
        "def init_weights(model: nn.Module, zero_init_residual: bool = False) -> None:",
        '    """He (MSRA) normal for convolutions, fan-out mode; norms scale 1, shift 0;',
        "    nn.Linear keeps its default; conv biases start at 0 unless the spec says",
        "    otherwise. zero_init_residual zeroes the last norm before each residual",
        '    addition, so that every block starts as its shortcut (Goyal et al. 2017)."""',
        "    for module in model.modules():",
        f"        if isinstance(module, {init_classes('conv')}):",
        '            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")',
        "            if module.bias is not None:",
        "                nn.init.zeros_(module.bias)",
        f"        elif isinstance(module, {init_classes('norm')}):",
        "            nn.init.ones_(module.weight)",
        "            nn.init.zeros_(module.bias)",
    ]
    for path, value in biases:
        lines.append(f"    nn.init.constant_(model.get_submodule({path!r}).bias, {value!r})")
    if residual_norms:
        lines.append("    if zero_init_residual:")
        lines.append(f"        for path in {tuple(residual_norms)!r}:")
        lines.append("            nn.init.zeros_(model.get_submodule(path).weight)")
    return "\n".join(lines) + "\n"


def init_classes(rule: str) -> str:
    """The nn classes of the layers initialised by `rule` (Layer.init), as isinstance
    reads them: `nn.Conv2d`, or `(nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm)`."""
    names = [name for layer in LAYERS.values() if layer.init == rule
             for name in layer.torch_classes]
    return names[0] if len(names) == 1 else f"({', '.join(names)})"


def last_norms(network: ir.Network) -> list[str]:
    """Module paths of the last norm on each block's path before a residual addition."""
    paths = []
    for stage in network.stages:
        prefix = f"{stage.module}." if stage.module else ""
        for block in stage.blocks:
            merge = block.merge
            if merge is None or not merge.adds:
                continue
            before = block.items[:block.items.index(merge)]
            norms = [i for i in before if is_norm(i)]
            if norms:
                paths.append(f"{prefix}{block.name}.{norms[-1].name}")
    return paths

