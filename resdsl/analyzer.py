"""Shapes, parameters, multiply-adds, element-wise work and activations, from the IR.

No torch here, not even indirectly: `resdsl summary` and `resdsl check` must start
fast. A test compares every number below with the compiled module's `sum(numel)` and
with torch's `FlopCounterMode` (which counts 2 FLOPs per multiply-add).

Counting conventions (also in `CONVENTIONS`, printed under every table):

- FLOPs are multiply-adds of conv and fc layers, as the paper's "FLOPs (multiply-adds)":
  conv = Hout*Wout*Cout * kh*kw*Cin/groups, fc = in_features*out_features. A bias adds
  no multiply-add.
- Element-wise operations are counted apart, per output element unless said otherwise:
  batchnorm 2 (scale and shift), ReLU 1, shortcut addition 1, conv/fc bias 1, option-A
  zero padding 0, max/avg pool kh*kw, global average pool H*W per output channel,
  dropout 1 (in training; it is the identity at eval), flatten 0.
- A projection shortcut (options B and C) counts its 1x1 conv as FLOPs
  (Cin*Cout*Hout*Wout) and its batchnorm as element-wise (2 per element), plus 1 for
  the addition.
- Activations: elements of every tensor a layer creates, for one image; bytes at fp32 (4
  per element). A projection shortcut creates three (conv, BN, sum), option A two
  (the padded shortcut, the sum); flatten is a view and the plain net's absent shortcut
  creates nothing. The input image is not counted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from math import prod

from . import ir

FP32_BYTES = 4

CONVENTIONS = (
    "FLOPs = multiply-adds of conv and fc layers, as the paper counts them (a bias adds no "
    "multiply-add; a projection shortcut's 1x1 conv counts, Cin*Cout*Hout*Wout). "
    "Element-wise operations, counted apart per output element: batchnorm 2 (scale and "
    "shift), ReLU 1, shortcut addition 1, conv/fc bias 1, option-A zero padding 0, "
    "max/avg pool kh*kw, global average pool H*W per output channel, dropout 1 (training; "
    "identity at eval), flatten 0. Activations = elements of each tensor a layer creates "
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
class Cost:
    params: int = 0  # learnable parameters (BN running stats are buffers, not counted)
    flops: int = 0  # multiply-adds of conv and fc layers (the paper's "FLOPs")
    elementwise: int = 0  # BN, ReLU, additions, biases, pooling: see CONVENTIONS
    activations: int = 0  # elements of the tensors created, one image


@dataclass
class LayerRow:
    name: str  # module path, e.g. "layer1.0.conv1"; stem and head layers: "conv1", "fc"
    kind: str  # the IR kind: conv, batchnorm, relu, residual, ...
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


# ---- per-layer counts ---------------------------------------------------------------
def layer_cost(layer) -> Cost:
    """Parameters, multiply-adds, element-wise operations and activations of one layer."""
    out = prod(layer.out_shape)
    flops, elementwise = _WORK[layer.kind](layer, out)
    return Cost(layer.params, flops, elementwise, _activations(layer, out))


def _conv(layer: ir.Conv, out: int) -> tuple[int, int]:
    per_output = layer.kernel[0] * layer.kernel[1] * (layer.in_shape[0] // layer.groups)
    return out * per_output, out if layer.bias else 0


def _fc(layer: ir.FC, out: int) -> tuple[int, int]:
    return layer.in_features * layer.out_features, out if layer.bias else 0


def _pool(layer, out: int) -> tuple[int, int]:
    if layer.kernel is None:  # global average pool: H*W additions per channel
        return 0, prod(layer.in_shape)
    return 0, out * layer.kernel[0] * layer.kernel[1]


def _residual(layer: ir.Residual, out: int) -> tuple[int, int]:
    if layer.shortcut == "none":  # the plain net: nothing is added
        return 0, 0
    if layer.shortcut == "projection":  # 1x1 conv (stride s) + BN, then the addition
        return layer.shortcut_in[0] * out, 2 * out + out
    return 0, out  # identity or zero padding (free): only the addition


_WORK = {
    "conv": _conv,
    "fc": _fc,
    "batchnorm": lambda layer, out: (0, 2 * out),
    "relu": lambda layer, out: (0, out),
    "dropout": lambda layer, out: (0, out),
    "maxpool": _pool,
    "avgpool": _pool,
    "flatten": lambda layer, out: (0, 0),
    "residual": _residual,
}


def _activations(layer, out: int) -> int:
    if layer.kind == "flatten":
        return 0  # a view of its input
    if layer.kind == "residual":
        created = {"none": 0, "identity": 1, "zero_pad": 2, "projection": 3}
        return created[layer.shortcut] * out
    return out


def layer_detail(layer) -> str:
    """A short description of a layer, in the paper's words where it has them."""
    if layer.kind == "residual":
        return _shortcut_detail(layer)
    return layer_notation(layer) or {"batchnorm": "BN", "relu": "ReLU"}.get(layer.kind, layer.kind)


def _shortcut_detail(layer: ir.Residual) -> str:
    if layer.shortcut == "projection":
        stride = f", stride {layer.stride}" if layer.stride != 1 else ""
        return f"+ projection 1x1, {layer.out_shape[0]}{stride} + BN"
    return {"identity": "+ identity", "zero_pad": "+ zero-padded identity (option A)",
            "none": "no shortcut (plain)"}[layer.shortcut]


# ---- Table 1's notation ---------------------------------------------------------------
def conv_text(conv: ir.Conv, stride: bool = True) -> str:
    text = f"{conv.kernel[0]}x{conv.kernel[1]}, {conv.out_channels}"
    return text + (f", stride {conv.stride}" if stride and conv.stride != 1 else "")


def layer_notation(layer) -> str | None:
    """Table 1's words for a primitive layer; None for the ones it leaves out (BN, ReLU)."""
    if layer.kind == "conv":
        return conv_text(layer)
    if layer.kind in ("maxpool", "avgpool") and layer.kernel is not None:
        what = "max pool" if layer.kind == "maxpool" else "avg pool"
        return f"{layer.kernel[0]}x{layer.kernel[1]} {what}, stride {layer.stride}"
    if layer.kind == "avgpool":
        return "average pool"
    if layer.kind == "fc":
        return f"{layer.out_features}-d fc"
    if layer.kind == "dropout":
        return f"dropout {layer.p:g}"
    return None


def block_signature(block: ir.Block) -> tuple[str, ...]:
    """The block's convolutions, kernels and widths only: strides do not split a group."""
    return tuple(conv_text(layer, stride=False) for layer in block.layers
                 if isinstance(layer, ir.Conv))


def notation(stage: ir.Stage) -> list[NotationPart]:
    """Consecutive blocks with the same convolutions become one `[...] x n` part."""
    parts: list[NotationPart] = []
    previous = None
    for item in stage.items:
        if isinstance(item, ir.Block):
            signature = block_signature(item)
            if previous is not None and signature == previous:
                parts[-1].repeat += 1
            else:
                parts.append(NotationPart(list(signature), 1))
            previous = signature
            continue
        previous = None
        text = layer_notation(item)
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


def _layer_row(layer, prefix: str) -> LayerRow:
    return LayerRow(name=_path(prefix, layer.name), kind=layer.kind, detail=layer_detail(layer),
                    output_shape=list(layer.out_shape), **asdict(layer_cost(layer)))


def _block_row(block: ir.Block, prefix: str) -> tuple[BlockRow, list[LayerRow]]:
    path = _path(prefix, block.name)
    layers = [_layer_row(layer, path) for layer in block.layers]
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
            report.layers.append(_layer_row(item, stage.module))
    _sum_into(report, report.layers)
    return report


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
