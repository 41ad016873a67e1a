"""Primitive layers: their arguments, defaults, output shapes and validation.

One table says what each layer keyword takes; the builders turn a written layer into
an IR layer with a concrete shape, or raise a ResdslError at the offending argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from . import ir
from . import syntax as syn
from .diagnostics import ResdslValidationError, Span
from .evaluate import (EvalValue, as_bool, as_float, as_int, as_pair, did_you_mean,
                       evaluate)

MAX_CHANNELS = 1 << 20  # wider than anything trainable; refuse before counting weights


@dataclass(frozen=True)
class Signature:
    positional: tuple[str, ...] = ()  # in order; trailing ones may have defaults
    options: tuple[str, ...] = ()
    required: int = 0  # how many positionals must be given


SIGNATURES: dict[str, Signature] = {
    "conv": Signature(("kernel", "channels"), ("stride", "groups", "padding", "bias"), 2),
    "batchnorm": Signature(),
    "relu": Signature(),
    "maxpool": Signature(("kernel",), ("stride", "padding"), 1),
    "avgpool": Signature(("kernel",), ("stride", "padding"), 0),
    "flatten": Signature(),
    "fc": Signature(("features",), ("bias",), 1),
    "dropout": Signature(("p",), (), 1),
    "residual": Signature(),
}

SHORT_NAMES = {"batchnorm": "bn"}  # torchvision's module names: conv1, bn1, fc, ...

# A label becomes a module attribute of the compiled network, so it cannot be a name
# nn.Module (or the compiler's modules) already uses. Listed here because the lowering
# never imports torch; tests/test_compiler.py checks the list against torch itself.
RESERVED_LABELS = frozenset("""
    T_destination add_module adds apply bfloat16 buffers call_super_init children compile
    cpu cuda double dump_patches eval extra_repr float forward get_buffer get_extra_state
    get_parameter get_submodule half ipu kind load_state_dict modules mtia named_buffers
    named_children named_modules named_parameters network parameters register_backward_hook
    register_buffer register_forward_hook register_forward_pre_hook
    register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ residual_bn set_extra_state set_submodule share_memory state_dict to
    to_empty train training type xpu zero_grad
""".split())


@dataclass
class Written:
    """A layer as written, its arguments evaluated and checked against its signature."""

    kind: str
    values: dict[str, EvalValue]
    spans: dict[str, Span | None]
    span: Span | None

    def span_of(self, name: str) -> Span | None:
        return self.spans.get(name) or self.span


def check(stmt: syn.LayerStmt) -> Signature:
    """Check a layer's keyword, argument count and option names (nothing evaluated)."""
    if stmt.layer not in SIGNATURES:
        raise ResdslValidationError(f"unknown layer '{stmt.layer}'", stmt.span,
                                    notes=did_you_mean(stmt.layer, SIGNATURES) or
                                    (f"layers: {', '.join(SIGNATURES)}",))
    if stmt.label is not None and (stmt.label in RESERVED_LABELS or stmt.label.startswith("_")):
        raise ResdslValidationError(
            f"'{stmt.label}' cannot label a layer: the compiled module already uses that name",
            stmt.span, notes=("choose another label, such as conv1 or proj",))
    sig = SIGNATURES[stmt.layer]
    positional = [a for a in stmt.args if a.name is None]
    if len(positional) > len(sig.positional) or len(positional) < sig.required:
        raise ResdslValidationError(_count_message(stmt.layer, sig, len(positional)), stmt.span)
    seen: set[str] = set()
    for arg in stmt.args:
        if arg.name is None:
            continue
        if arg.name not in sig.options:
            allowed = ", ".join(sig.options) or "none"
            raise ResdslValidationError(
                f"'{stmt.layer}' has no option '{arg.name}' (options: {allowed})", arg.span,
                notes=did_you_mean(arg.name, sig.options))
        if arg.name in seen:
            raise ResdslValidationError(f"option '{arg.name}' given twice", arg.span)
        seen.add(arg.name)
    return sig


def bind(stmt: syn.LayerStmt, env: Mapping[str, EvalValue]) -> Written:
    """Check a layer's keyword and arguments and evaluate them."""
    sig = check(stmt)
    values: dict[str, EvalValue] = {}
    spans: dict[str, Span | None] = {}
    positional = [a for a in stmt.args if a.name is None]
    for name, arg in zip(sig.positional, positional):
        values[name], spans[name] = evaluate(arg.value, env), arg.value.span
    for arg in stmt.args:
        if arg.name is not None:
            values[arg.name], spans[arg.name] = evaluate(arg.value, env), arg.value.span
    return Written(stmt.layer, values, spans, stmt.span)


def _count_message(kind: str, sig: Signature, given: int) -> str:
    if not sig.positional:
        return f"'{kind}' takes no arguments, got {given}"
    names = ", ".join(sig.positional)
    if sig.required == len(sig.positional):
        return f"'{kind}' takes {len(sig.positional)} argument(s) ({names}), got {given}"
    return f"'{kind}' takes at most {len(sig.positional)} argument(s) ({names}), got {given}"


def build(written: Written, name: str, in_shape: ir.Shape) -> ir.LayerBase:
    """The IR layer for `written` applied to a map of `in_shape` (residual excluded)."""
    return _BUILDERS[written.kind](written, name, in_shape)


def _fail(message: str, span: Span | None) -> None:
    raise ResdslValidationError(message, span)


def _need_map(w: Written, in_shape: ir.Shape) -> tuple[int, int, int]:
    if len(in_shape) != 3:
        _fail(f"'{w.kind}' needs a feature map (CxHxW), but its input is already flat "
              f"({shape_text(in_shape)})", w.span)
    return in_shape  # type: ignore[return-value]


def shape_text(shape: ir.Shape) -> str:
    return "x".join(str(d) for d in shape)


def _stride(w: Written, default: int = 1, pool: bool = False) -> int:
    if "stride" not in w.values:
        return default
    stride = as_int(w.values["stride"], "stride", w.span_of("stride"))
    if not pool and stride not in (1, 2):
        _fail(f"stride must be 1 or 2, got {stride}", w.span_of("stride"))
    return stride


def _window_output(w: Written, size: int, kernel: int, stride: int, pad: int, axis: str) -> int:
    if kernel > size + 2 * pad:
        _fail(f"{w.kind} window {kernel} is larger than its {'padded ' if pad else ''}input "
              f"({axis} = {size}{f' + 2x{pad}' if pad else ''})", w.span_of("kernel"))
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1:
        _fail(f"{w.kind} shrinks the {axis} below 1", w.span)
    return out


def _padding(w: Written, kernel: tuple[int, int], default: tuple[int, int]) -> tuple[int, int]:
    if "padding" not in w.values:
        return default
    value = w.values["padding"]
    span = w.span_of("padding")
    if isinstance(value, tuple):
        pad = as_pair(value, "padding", span, minimum=0)  # `padding 0x3` for a 1x7 kernel
    else:
        size = as_int(value, "padding", span, minimum=0)
        pad = (size, size)
    return pad


def _conv(w: Written, name: str, in_shape: ir.Shape) -> ir.Conv:
    channels, height, width = _need_map(w, in_shape)
    kernel = as_pair(w.values["kernel"], "kernel", w.span_of("kernel"))
    out = as_int(w.values["channels"], "channels", w.span_of("channels"))
    if out > MAX_CHANNELS:
        _fail(f"{out} channels is too many to build (limit {MAX_CHANNELS})", w.span_of("channels"))
    if "padding" not in w.values and (kernel[0] % 2 == 0 or kernel[1] % 2 == 0):
        _fail(f"a {kernel[0]}x{kernel[1]} kernel is even: the default 'same' padding needs an odd "
              "kernel; give `padding` explicitly", w.span_of("kernel"))
    padding = _padding(w, kernel, (kernel[0] // 2, kernel[1] // 2))
    stride = _stride(w)
    groups = as_int(w.values.get("groups", 1), "groups", w.span_of("groups"))
    if channels % groups or out % groups:
        _fail(f"groups {groups} must divide both the input channels ({channels}) and the "
              f"output channels ({out})", w.span_of("groups"))
    out_h = _window_output(w, height, kernel[0], stride, padding[0], "height")
    out_w = _window_output(w, width, kernel[1], stride, padding[1], "width")
    bias = as_bool(w.values.get("bias", False), "bias", w.span_of("bias"))
    return ir.Conv(name=name, in_shape=in_shape, out_shape=(out, out_h, out_w),
                   out_channels=out, kernel=kernel, stride=stride, padding=padding,
                   groups=groups, bias=bias, span=w.span)


def _pool(w: Written, name: str, in_shape: ir.Shape):
    channels, height, width = _need_map(w, in_shape)
    if w.kind == "avgpool" and "kernel" not in w.values:
        if set(w.values) - {"kernel"}:
            _fail("a global avgpool (no window) takes no options", w.span)
        return ir.AvgPool(name=name, in_shape=in_shape, out_shape=(channels, 1, 1), span=w.span)
    kernel = as_pair(w.values["kernel"], "kernel", w.span_of("kernel"))
    # Default padding keeps torch's and torchvision's layouts: 3x3 pads 1, 2x2 pads 0.
    padding = _padding(w, kernel, ((kernel[0] - 1) // 2, (kernel[1] - 1) // 2))
    if padding[0] * 2 > kernel[0] or padding[1] * 2 > kernel[1]:
        _fail(f"pool padding {padding[0]} is more than half the window", w.span_of("padding"))
    stride = _stride(w, default=kernel[0], pool=True)
    out_h = _window_output(w, height, kernel[0], stride, padding[0], "height")
    out_w = _window_output(w, width, kernel[1], stride, padding[1], "width")
    model = ir.MaxPool if w.kind == "maxpool" else ir.AvgPool
    return model(name=name, in_shape=in_shape, out_shape=(channels, out_h, out_w),
                 kernel=kernel, stride=stride, padding=padding, span=w.span)


def _same_shape(model: type) -> Callable:
    def build_same(w: Written, name: str, in_shape: ir.Shape):
        return model(name=name, in_shape=in_shape, out_shape=in_shape, span=w.span)
    return build_same


def _flatten(w: Written, name: str, in_shape: ir.Shape) -> ir.Flatten:
    size = 1
    for dim in in_shape:
        size *= dim
    return ir.Flatten(name=name, in_shape=in_shape, out_shape=(size,), span=w.span)


def _fc(w: Written, name: str, in_shape: ir.Shape) -> ir.FC:
    if len(in_shape) == 3 and in_shape[1:] != (1, 1):
        _fail(f"fc needs a 1x1 map or a flat input, but its input is {shape_text(in_shape)}: "
              "put `avgpool` (or `flatten`) before it", w.span)
    features = as_int(w.values["features"], "features", w.span_of("features"))
    if features > MAX_CHANNELS:
        _fail(f"{features} features is too many to build (limit {MAX_CHANNELS})", w.span_of("features"))
    bias = as_bool(w.values.get("bias", True), "bias", w.span_of("bias"))
    return ir.FC(name=name, in_shape=in_shape, out_shape=(features,), out_features=features,
                 bias=bias, span=w.span)


def _dropout(w: Written, name: str, in_shape: ir.Shape) -> ir.Dropout:
    p = as_float(w.values["p"], "dropout probability", w.span_of("p"))
    if not 0 <= p < 1:
        _fail(f"dropout probability must be in [0, 1), got {p:g}", w.span_of("p"))
    return ir.Dropout(name=name, in_shape=in_shape, out_shape=in_shape, p=p, span=w.span)


_BUILDERS: dict[str, Callable[[Written, str, ir.Shape], ir.LayerBase]] = {
    "conv": _conv,
    "batchnorm": _same_shape(ir.BatchNorm),
    "relu": _same_shape(ir.ReLU),
    "maxpool": _pool,
    "avgpool": _pool,
    "flatten": _flatten,
    "fc": _fc,
    "dropout": _dropout,
}


def default_names(stmts: list[syn.LayerStmt]) -> list[str]:
    """Module names for a scope's layers, torchvision's where the shape matches:
    conv1, bn1, conv2, ...; a kind that occurs once keeps its bare name (relu, fc)."""
    totals: dict[str, int] = {}
    for stmt in stmts:
        totals[stmt.layer] = totals.get(stmt.layer, 0) + 1
    seen: dict[str, int] = {}
    names = []
    for stmt in stmts:
        seen[stmt.layer] = seen.get(stmt.layer, 0) + 1
        short = SHORT_NAMES.get(stmt.layer, stmt.layer)
        numbered = stmt.layer in ("conv", "batchnorm") or totals[stmt.layer] > 1
        default = f"{short}{seen[stmt.layer]}" if numbered else short
        if stmt.layer == "residual":
            default = "downsample"  # the projection shortcut's module, as torchvision
        names.append(stmt.label or default)
    return names
