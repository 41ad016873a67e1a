"""Shapes, parameters, multiply-adds, element-wise work and activations, from the IR.

No torch here, not even indirectly: `resdsl summary` and `resdsl check` must start
fast. A test compares every number below with the compiled module's `sum(numel)` and
with torch's `FlopCounterMode` (which counts 2 FLOPs per multiply-add).

Counting conventions (also in `CONVENTIONS`, printed under every table):

- FLOPs are multiply-adds of conv and fc layers, as the paper's "FLOPs (multiply-adds)":
  conv = Hout*Wout*Cout * kh*kw*Cin/groups, fc = in_features*out_features. A bias adds
  no multiply-add.
- Element-wise operations are counted apart, per output element unless said otherwise:
  batchnorm and groupnorm 2 (scale and shift), ReLU and sigmoid 1, shortcut addition 1,
  conv/fc bias 1, option-A zero padding 0, max/avg pool kh*kw, global average pool H*W
  per output channel, adaptive average pool the elements its windows read, dropout 1
  (in training; it is the identity at eval), flatten 0, a gate's product 1, a highway
  merge 4 (T*F, 1 - T, (1 - T)*S and the sum).
- A shortcut's layers count like any others, in rows of their own (a projection's 1x1
  conv as FLOPs, Cin*Cout*Hout*Wout, its batchnorm as element-wise), and the addition
  in the merge's row.
- Activations: elements of every tensor a layer creates, for one image; bytes at fp32 (4
  per element): a projection shortcut creates three (conv, BN, sum), option A two (the
  padded shortcut, the sum); flatten is a view and the plain net's absent shortcut
  creates nothing. The input image is not counted.

Each primitive layer's own counts live with it (`ir/layers.py`, `work()`); this module
adds those of gates and merges and sums them by block, stage and network.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from math import prod

from . import ir
from .diagnostics import ResdslValidationError
from .limits import MAX_BUILD_BYTES, human_bytes

FP32_BYTES = 4

CONVENTIONS = (
    "FLOPs = multiply-adds of conv and fc layers, as the paper counts them (a bias adds no "
    "multiply-add; a projection shortcut's 1x1 conv counts, Cin*Cout*Hout*Wout). "
    "Element-wise operations, counted apart per output element: batchnorm and groupnorm 2 "
    "(scale and shift), ReLU and sigmoid 1, shortcut addition 1, conv/fc bias 1, option-A "
    "zero padding 0, max/avg pool kh*kw, global average pool H*W per output channel, "
    "adaptive average pool the elements its windows read, dropout 1 (training; identity at "
    "eval), flatten 0, a gate's product 1, a highway merge 4 (T*F, 1 - T, (1 - T)*S, sum). "
    "Activations = elements of each tensor a layer creates "
    "for one image (a projection shortcut's conv, BN and sum; option A's padded shortcut "
    "and sum; flatten is a view), bytes at fp32; the input image is not counted."
)

# One line for table captions; the full text above goes into the JSON.
SHORT_CONVENTIONS = (
    "FLOPs = multiply-adds (conv, fc; projection shortcuts included), as the paper counts. "
    "Element-wise = BN 2/elem, ReLU 1, add 1, bias 1, zero-pad 0, pool kh*kw/out, "
    "global avgpool H*W/channel, dropout 1 (training). Activations: fp32, one image."
)


# ---- the report ------------------------------------------------------------------
# Every row carries the same four counts; a group's counts are the sums of its rows'.
COUNTS = ("params", "flops", "elementwise", "activations")


@dataclass
class LayerRow:
    name: str  # module path, e.g. "layer1.0.conv1"; stem and head layers: "conv1", "fc"
    kind: str  # the IR kind: conv, batchnorm, relu, gate, residual, highway, ...
    detail: str  # what it is, briefly: "3x3, 64, stride 2", "+ projection 1x1, 128 + BN"
    output_shape: list[int]  # [C, H, W], or [F] once flat
    params: int = 0
    flops: int = 0  # multiply-adds
    elementwise: int = 0
    activations: int = 0


@dataclass
class BlockRow:
    name: str  # module path, e.g. "layer1.0"
    block: str  # the declared block it instantiates, e.g. "basic"
    output_shape: list[int]
    params: int = 0
    flops: int = 0
    elementwise: int = 0
    activations: int = 0


@dataclass
class NotationPart:
    """One piece of a stage's Table-1 notation: repeated blocks, or one layer."""

    lines: list[str]  # "3x3, 64" per conv of the block; one entry for a primitive layer
    repeat: int | None = None  # consecutive blocks alike; None for a primitive layer

    def text(self) -> str:
        if self.repeat is None:
            return self.lines[0]
        return f"[{'; '.join(self.lines)}] x {self.repeat}"


@dataclass
class StageReport:
    name: str  # as declared: "conv1", "conv2_x", "head"
    role: str  # stem, stage or head
    module: str  # module holding its items ("layer1"), "" for stem and head
    input_shape: list[int]
    output_shape: list[int]
    blocks: int  # how many blocks the stage holds
    notation: str  # Table 1's notation, e.g. "[3x3, 64; 3x3, 64] x 3"
    params: int = 0
    flops: int = 0
    elementwise: int = 0
    activations: int = 0
    notation_parts: list[NotationPart] = field(default_factory=list)
    block_rows: list[BlockRow] = field(default_factory=list)
    layers: list[LayerRow] = field(default_factory=list)  # every layer, blocks flattened


@dataclass
class ExpectResult:
    metric: str  # params or flops (multiply-adds)
    expected: str  # as written in the spec, e.g. "21.8M"
    value: float  # the expected number
    actual: int
    tolerance: float  # relative
    passed: bool


@dataclass
class Report:
    network: str
    input: list[int]  # [C, H, W]
    output: list[int]  # [classes] for a classifier
    classes: int
    shortcut: str  # the network's option: A, B, C or none
    params: int = 0
    flops: int = 0  # multiply-adds, as the paper's "FLOPs"
    elementwise: int = 0
    activations: int = 0  # elements, one image
    activation_bytes: int = 0  # activations at fp32
    flops_unit: str = "multiply-adds"
    stages: list[StageReport] = field(default_factory=list)
    expects: list[ExpectResult] = field(default_factory=list)
    conventions: str = CONVENTIONS

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.expects)

    def as_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        """Indented JSON with every flat row on one line (ResNet-1202 has 4,000 rows)."""
        return _dump(self.as_dict(), 0) + "\n"


def _sum_into(target, rows) -> None:
    for count in COUNTS:
        setattr(target, count, sum(getattr(row, count) for row in rows))


def _dump(value, level: int) -> str:
    if _flat(value):
        return json.dumps(value)
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {_dump(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    items = [inner + _dump(v, level + 1) for v in value]
    return "[\n" + ",\n".join(items) + f"\n{pad}]"


def _flat(value) -> bool:
    """A scalar, or a row: a dict or list of scalars and lists of scalars (shapes)."""
    def scalar(x) -> bool:
        return not isinstance(x, (dict, list))

    if isinstance(value, dict):
        value = list(value.values())
    children = value if isinstance(value, list) else []
    return all(scalar(c) or (isinstance(c, list) and all(map(scalar, c))) for c in children)


# ---- per-item counts ------------------------------------------------------------------
def _merge_work(merge: ir.Merge) -> ir.Work:
    """The join itself; the shortcut's and the gate's layers count in their own rows."""
    size = prod(merge.out_shape)
    if merge.kind == "highway":  # T*F, 1 - T, (1 - T)*S and the sum: four tensors
        return ir.Work(0, 4 * size, 4 * size)
    return ir.Work(0, size, size) if merge.adds else ir.Work(0, 0, 0)


def _merge_detail(merge: ir.Merge) -> str:
    shortcut = merge.shortcut
    if shortcut.kind == "off":
        return "no shortcut (plain)"
    how = "T*F + (1 - T)*" if merge.kind == "highway" else "+ "
    if shortcut.kind == "identity":
        return how + "identity"
    steps = [layer.notation() or row_detail(layer) for layer in flat_layers(shortcut.items)]
    start = f" from {shortcut.start}" if shortcut.start else ""
    return f"{how}shortcut {shortcut.decl}{start}: {'; '.join(steps)}"


def row_detail(layer: ir.Layer) -> str:
    """A short description of a layer, in the paper's words where it has them."""
    return layer.detail()


def flat_layers(items: list) -> list[ir.Layer]:
    """The primitive layers of a list, groups opened, in order."""
    out = []
    for item in items:
        if isinstance(item, ir.Group):
            out.extend(flat_layers(item.items))
        elif isinstance(item, ir.Layer):
            out.append(item)
    return out


def shortcut_kind(block: ir.Block) -> str | None:
    """identity, none (the plain net), or what the shortcut's path holds: projection
    (1x1 conv), zero_pad, pool+projection (ResNet-D)."""
    merge = block.merge
    if merge is None:
        return None
    shortcut = merge.shortcut
    if shortcut.kind != "path":
        return {"off": "none", "identity": "identity"}[shortcut.kind]
    kinds = [layer.kind for layer in flat_layers(shortcut.items)]
    if kinds == ["zeropad"]:
        return "zero_pad"
    return ("pool+projection" if kinds[0] == "avgpool" else "projection") \
        if "conv" in kinds else "+".join(kinds)



def block_counts(blocks: list[ir.Block]) -> str:
    """'3 x basic', or '1 x a + 2 x b' where a stage mixes declared blocks."""
    runs: list[list] = []
    for block in blocks:
        if runs and runs[-1][1] == block.block:
            runs[-1][0] += 1
        else:
            runs.append([1, block.block])
    return " + ".join(f"{count} x {name}" for count, name in runs)



# ---- Table 1's notation ---------------------------------------------------------------
def main_convs(items: list) -> list[ir.Conv]:
    """The convolutions of a block's main path: not its shortcut's, nor its gates'."""
    return [layer for layer in flat_layers(items) if isinstance(layer, ir.Conv)]


def block_lines(block: ir.Block) -> tuple[str, ...]:
    """The block's lines in Table 1's bracket: its convolutions (kernels and widths
    only: strides do not split a group) with its parallel paths, selections and chains
    each on a line of its own, then its gates' widths, as the SE paper's Table 1 writes
    them."""
    lines = path_lines([item for item in block.items if not isinstance(item, ir.Gate)])
    for item in block.items:
        branch = item.branch if isinstance(item, ir.Gate) else getattr(item, "gate", [])
        widths = [str(conv.out_channels) for conv in main_convs(branch)]
        if widths:
            lines.append(f"{item.name}, [{', '.join(widths)}]")
    return tuple(lines) or (block.block,)  # no convolution at all: the block's name


def path_lines(items: list) -> list[str]:
    """Table 1's lines for a list of items, in order: a conv's `3x3, 64`; `concat [3x3,
    64 | 3x3, 64, dilation 2]` for parallel paths; a selection's or a gate's attention
    widths (`attn: select 2, [32, 128]`); `chain of 8: 3x3, 14` for Res2Net's chain."""
    lines: list[str] = []
    for item in items:
        if isinstance(item, ir.Conv):
            lines.append(item.notation(stride=False))
        elif isinstance(item, ir.Group):
            lines += path_lines(item.items)
        elif isinstance(item, ir.Branches):
            paths = ["; ".join(path_lines([path])) or path.kind for path in item.paths]
            lines.append(f"{item.kind}{' split' if item.split else ''} [{' | '.join(paths)}]")
        elif isinstance(item, (ir.Select, ir.Gate)):
            lines += path_lines(getattr(item, "groups", []))
            widths = ", ".join(str(conv.out_channels) for conv in main_convs(item.branch))
            what = f"select {item.radix}" if isinstance(item, ir.Select) else "gate"
            lines.append(f"{item.name}: {what}, [{widths}]")
        elif isinstance(item, ir.Chain):
            step = path_lines(item.steps[:item.per_step])
            lines.append(f"chain of {item.scale}: {'; '.join(step)}")
    return lines


def notation(stage: ir.Stage) -> list[NotationPart]:
    """Consecutive blocks with the same lines become one `[...] x n` part."""
    parts: list[NotationPart] = []
    previous = None
    for item in stage.items:
        if isinstance(item, ir.Block):
            lines = block_lines(item)
            if previous is not None and lines == previous:
                parts[-1].repeat += 1
            else:
                parts.append(NotationPart(list(lines), 1))
            previous = lines
            continue
        previous = None
        for layer in flat_layers([item]):
            text = layer.notation()
            if text is not None:
                parts.append(NotationPart([text]))
    return parts


def notation_text(parts: list[NotationPart]) -> str:
    """One line, as Table 1 reads: "7x7, 64, stride 2; 3x3 max pool, stride 2", and
    "average pool, 1000-d fc" (commas where no part has its own)."""
    texts = [part.text() for part in parts]
    return ("; " if any("," in text for text in texts) else ", ").join(texts)


# ---- walking the network --------------------------------------------------------------
def _path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _row(name: str, kind: str, detail: str, shape, params: int, work: ir.Work) -> LayerRow:
    return LayerRow(name=name, kind=kind, detail=detail, output_shape=list(shape), params=params,
                    flops=work.flops, elementwise=work.elementwise, activations=work.activations)


def item_rows(item, prefix: str) -> list[LayerRow]:
    """A row per primitive layer, gate and merge of `item`, named by module path."""
    path = _path(prefix, item.name)
    if isinstance(item, ir.Layer):
        return [_row(path, item.kind, row_detail(item), item.out_shape, item.params, item.work())]
    if isinstance(item, ir.Group):
        return [row for child in item.items for row in item_rows(child, path)]
    if isinstance(item, ir.Gate):
        rows = [row for child in item.branch for row in item_rows(child, path)]
        size = prod(item.out_shape)
        return rows + [_row(path, "gate", f"x gate {item.name}", item.out_shape, 0,
                            ir.Work(0, size, size))]
    if isinstance(item, (ir.Branches, ir.Select)):
        rows = [row for child in item.children for row in item_rows(child, path)]
        return rows + [_row(path, item.kind, item.detail(), item.out_shape, 0, item.work())]
    if isinstance(item, ir.Chain):  # its lists sit in the block, its layers named by path
        rows = [row for child in item.children for row in item_rows(child, prefix)]
        return rows + [_row(path, item.kind, item.detail(), item.out_shape, 0, item.work())]
    # A merge: its shortcut's layers sit in the block beside it, its gate under its name.
    rows = [row for child in item.shortcut.items for row in item_rows(child, prefix)]
    rows += [row for child in item.gate for row in item_rows(child, path)]
    return rows + [_row(path, item.kind, _merge_detail(item), item.out_shape, 0,
                        _merge_work(item))]


def _block_row(block: ir.Block, prefix: str) -> tuple[BlockRow, list[LayerRow]]:
    path = _path(prefix, block.name)
    layers = [row for item in block.items for row in item_rows(item, path)]
    row = BlockRow(name=path, block=block.block, output_shape=list(block.out_shape))
    _sum_into(row, layers)
    return row, layers


def analyze_stage(stage: ir.Stage) -> StageReport:
    parts = notation(stage)
    report = StageReport(name=stage.name, role=stage.role, module=stage.module,
                         input_shape=list(stage.in_shape), output_shape=list(stage.out_shape),
                         blocks=len(stage.blocks), notation=notation_text(parts),
                         notation_parts=parts)
    for item in stage.items:
        if isinstance(item, ir.Block):
            row, layers = _block_row(item, stage.module)
            report.block_rows.append(row)
            report.layers.extend(layers)
        else:
            report.layers.extend(item_rows(item, stage.module))
    _sum_into(report, report.layers)
    return report


@dataclass
class Memory:
    """What building a network allocates, before it is built (`compile_network` checks it)."""

    weights: int  # bytes of parameters and buffers (BN statistics), fp32
    activations: int  # bytes of the tensors one image creates in a forward pass, fp32


def memory(net: ir.Network, report: Report | None = None) -> Memory:
    """`report`: the network's analysis, where the caller has it already."""
    buffers = sum(layer.buffer_bytes() for _, layer in ir.network_layers(net))
    activations = (report or analyze(net)).activation_bytes
    return Memory(FP32_BYTES * net.params + buffers, activations)


def check_size(net: ir.Network, max_bytes: int = MAX_BUILD_BYTES,
               report: Report | None = None) -> None:
    """Refuse a network whose build would allocate more than `max_bytes` for its weights,
    or for one image's activations: `check` says so as `build` would, before allocating."""
    need = memory(net, report)
    for what, size in (("its weights and buffers", need.weights),
                       ("the activations of one image", need.activations)):
        if size > max_bytes:
            need_text, limit_text = human_bytes(size), human_bytes(max_bytes)
            if need_text == limit_text:  # just over the limit: rounding would hide it
                need_text, limit_text = f"{size:,} bytes", f"{max_bytes:,} bytes"
            raise ResdslValidationError(
                f"network '{net.name}' needs {need_text} for {what} ({net.params:,} "
                f"parameters), more than the {limit_text} a build may allocate",
                net.span, notes=("raise the limit with --max-memory SIZE (e.g. 32G), or "
                                 "max_bytes=... from Python",))


def check_expect(expect: ir.Expect, actual: int) -> ExpectResult:
    # The relative tolerance comes from the spec (`within P%`, or half a unit of the
    # last digit written); the tiny slack only absorbs float rounding at the boundary.
    passed = abs(actual - expect.value) <= expect.tolerance * abs(expect.value) * (1 + 1e-9)
    return ExpectResult(metric=expect.metric, expected=expect.text, value=expect.value,
                        actual=actual, tolerance=expect.tolerance, passed=passed)


def analyze(net: ir.Network) -> Report:
    """The full report of an expanded network: plain data, ready for tables or JSON."""
    report = Report(network=net.name, input=list(net.input), output=list(net.output),
                    classes=net.classes, shortcut=net.shortcut)
    report.stages = [analyze_stage(stage) for stage in net.stages]
    _sum_into(report, report.stages)
    report.activation_bytes = FP32_BYTES * report.activations
    actual = {"params": report.params, "flops": report.flops}
    report.expects = [check_expect(e, actual[e.metric]) for e in net.expects]
    return report
