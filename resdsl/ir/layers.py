"""The primitive layers, one class per kind, each in one place: what the language
accepts (`signature`), how a written layer becomes an IR node and which shape it
outputs (`build`), what it costs (`params`, `work`), how Table 1 writes it
(`notation`), and the torch code that builds it (`torch`). The torch code is Python
source text, so this module, like the analyser, never imports torch: `codegen.py`
assembles a network's source from it and `compiler.py` runs that source.

Adding a primitive is adding a class here and listing it in `LAYERS`: its module names
(`short`, `numbered`), its place in the figures (`boxed`, `figure_words`), its
initialisation (`init`) and the IR's union of items are all derived from the classes.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from math import ceil, floor, prod
from typing import ClassVar, Literal, NamedTuple

from ..diagnostics import ResdslValidationError, Span
from ..expressions import EvalValue, as_bool, as_float, as_int, as_pair
from ..limits import MAX_CHANNELS
from .node import Node, Shape, shape_text



@dataclass(frozen=True)
class Signature:
    positional: tuple[str, ...] = ()  # in order; trailing ones may have defaults
    options: tuple[str, ...] = ()
    required: int = 0  # how many positionals must be given


@dataclass
class LayerArgs:
    """A layer as written, its arguments evaluated and named by its signature."""

    kind: str
    values: dict[str, EvalValue]
    spans: dict[str, Span | None]
    span: Span | None

    def span_of(self, name: str) -> Span | None:
        return self.spans.get(name) or self.span

    def fail(self, message: str, argument: str | None = None) -> None:
        raise ResdslValidationError(message, self.span_of(argument) if argument else self.span)

    def int(self, name: str, default: int | None = None, minimum: int = 1) -> int:
        return as_int(self.values.get(name, default), name, self.span_of(name), minimum)

    def flag(self, name: str, default: bool) -> bool:
        return as_bool(self.values.get(name, default), name, self.span_of(name))

    def pair(self, name: str, minimum: int = 1) -> tuple[int, int]:
        return as_pair(self.values[name], name, self.span_of(name), minimum)


class Work(NamedTuple):
    """What running a layer on one image costs (see the analyser's CONVENTIONS)."""

    flops: int  # multiply-adds, the paper's "FLOPs"
    elementwise: int  # other arithmetic, per output element by the conventions
    activations: int  # elements of the tensors it creates


class Layer(Node):
    """Base of the primitive layers: a shape-keeping layer of one op per element."""

    kind: str
    name: str  # module name inside its parent: "conv1", "bn2", "0"
    in_shape: Shape
    out_shape: Shape

    signature: ClassVar[Signature] = Signature()
    # Its output is a new tensor its own backward does not read, so a ReLU right after
    # it may overwrite it in place.
    fresh_output: ClassVar[bool] = False
    # Its module's default name: `short` (the kind when empty) numbered by position among
    # its kind (conv1, bn1), always if `numbered`, else only when the kind repeats.
    short: ClassVar[str] = ""
    numbered: ClassVar[bool] = False
    # A normalisation: written on one line with the conv before it, and the last one
    # before a residual addition is what zero_init_residual zeroes.
    norm: ClassVar[bool] = False
    # Figure 3 draws it as a box; otherwise it is written small beside the line.
    boxed: ClassVar[bool] = True
    # Initialisation (codegen's init_weights): "conv" for He normal, "norm" for scale 1
    # and shift 0, "" for the module's own default; `torch_classes`: the nn classes its
    # torch code builds, which init_weights tests for.
    init: ClassVar[str] = ""
    torch_classes: ClassVar[tuple[str, ...]] = ()
    # The helper class its torch code defines (see `helper`), a name the code then holds.
    helper_class: ClassVar[str] = ""

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> Layer:
        return cls(name=name, in_shape=in_shape, out_shape=in_shape, span=args.span)

    @property
    def size(self) -> int:
        return prod(self.out_shape)

    @property
    def params(self) -> int:
        return 0

    def work(self) -> Work:
        return Work(0, self.size, self.size)

    def notation(self) -> str | None:
        """Table 1's words for it; None for those the table leaves out (BN, ReLU)."""
        return None

    def option_words(self) -> list[str]:
        """The options set away from their default that change what it computes, in the
        spec's words (`dilation 2`, `groups 32`, `bias true`): every place that shows the
        layer (tables, figures) shows these, so two layers that differ never read alike."""
        return []

    def detail(self) -> str:
        return self.notation() or self.kind

    def torch(self, after_fresh: bool = False) -> str:
        """Python source of the expression that builds its module."""
        raise NotImplementedError

    def helper(self) -> str:
        """Source of a helper class its torch code uses (emitted once per file), or ""."""
        return ""

    def figure_words(self, conv: bool = True) -> str:
        """A boxed layer's label in the figures (`3x3 conv, 128, /2`); `conv=False` drops
        the word `conv` as Figure 5 does. By default Table 1's words, which carry the
        options; a kind with words of its own adds them through `with_options`."""
        return self.notation() or self.kind

    def with_options(self, words: str) -> str:
        """`words`, then the options that change what the layer computes (`dilation 2`),
        so that no table or figure shows two different layers alike."""
        return ", ".join([words, *self.option_words()])

    def minor_words(self) -> str:
        """An unboxed layer written small beside a figure's line (`BN`, `relu`)."""
        return self.kind

    def buffer_bytes(self) -> int:
        """Bytes of the buffers its module keeps besides its parameters."""
        return 0


def stride_words(stride: int) -> str:
    """The figures' `/2` for a stride."""
    return f", /{stride}" if stride > 1 else ""


def call(function: str, *positional, **options) -> str:
    """`nn.Conv2d(64, 128, 3, stride=2)`: source of a call; options left at their
    default are given as None and left out, so the code reads as a person writes it."""
    parts = [repr(p) for p in positional]
    parts += [f"{key}={value!r}" for key, value in options.items() if value is not None]
    return f"{function}({', '.join(parts)})"


def need_map(args: LayerArgs, in_shape: Shape) -> tuple[int, int, int]:
    if len(in_shape) != 3:
        args.fail(f"'{args.kind}' needs a feature map (CxHxW), but its input is already flat "
                  f"({shape_text(in_shape)})")
    return in_shape  # type: ignore[return-value]


def check_width(args: LayerArgs, value: int, what: str, argument: str) -> int:
    if value > MAX_CHANNELS:
        args.fail(f"{value} {what} is too many to build (limit {MAX_CHANNELS})", argument)
    return value


def stride_of(args: LayerArgs, default: int = 1, any_size: bool = False) -> int:
    stride = args.int("stride", default)
    if not any_size and stride not in (1, 2):
        args.fail(f"stride must be 1 or 2, got {stride}", "stride")
    return stride


def padding_words(padding: tuple[int, int]) -> str:
    """`padding 1`, or `padding 0x3` where the sides differ: as a spec writes it."""
    return str(padding[0]) if padding[0] == padding[1] else f"{padding[0]}x{padding[1]}"


def padding_of(args: LayerArgs, default: tuple[int, int]) -> tuple[int, int]:
    if "padding" not in args.values:
        return default
    value = args.values["padding"]
    if isinstance(value, tuple):  # `padding 0x3` for a 1x7 kernel
        return as_pair(value, "padding", args.span_of("padding"), minimum=0)
    size = args.int("padding", minimum=0)
    return size, size


def window_output(args: LayerArgs, size: int, kernel: int, stride: int, pad: int, axis: str,
                  dilation: int = 1, ceil_mode: bool = False) -> int:
    """Output size of a sliding window along one axis, as torch computes it."""
    reach = dilation * (kernel - 1) + 1
    if reach > size + 2 * pad:
        padded = f" + 2x{pad}" if pad else ""
        args.fail(f"{args.kind} window {reach} is larger than its {'padded ' if pad else ''}"
                  f"input ({axis} = {size}{padded})", "kernel")
    rounding = ceil if ceil_mode else floor
    out = rounding((size + 2 * pad - reach) / stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1  # torch drops a last window that would start in the right padding
    return out


# ---- convolution and fully connected ------------------------------------------------
class Conv(Layer):
    kind: Literal["conv"] = "conv"
    out_channels: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: tuple[int, int]
    dilation: int = 1
    groups: int = 1
    bias: bool = False
    bias_init: float | None = None  # the bias's starting value (a Highway gate's -3)

    signature: ClassVar[Signature] = Signature(
        ("kernel", "channels"), ("stride", "groups", "padding", "dilation", "bias", "bias_init"), 2)
    fresh_output: ClassVar[bool] = True
    numbered: ClassVar[bool] = True
    init: ClassVar[str] = "conv"
    torch_classes: ClassVar[tuple[str, ...]] = ("nn.Conv2d",)

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> Conv:
        channels, height, width = need_map(args, in_shape)
        kernel = args.pair("kernel")
        out = check_width(args, args.int("channels"), "channels", "channels")
        dilation = args.int("dilation", 1)
        if "padding" not in args.values and (kernel[0] % 2 == 0 or kernel[1] % 2 == 0):
            args.fail(f"a {kernel[0]}x{kernel[1]} kernel is even: the default 'same' padding "
                      "needs an odd kernel; give `padding` explicitly", "kernel")
        padding = padding_of(args, (dilation * (kernel[0] // 2), dilation * (kernel[1] // 2)))
        stride = stride_of(args)
        groups = args.int("groups", 1)
        if channels % groups or out % groups:
            args.fail(f"groups {groups} must divide both the input channels ({channels}) and "
                      f"the output channels ({out})", "groups")
        out_h = window_output(args, height, kernel[0], stride, padding[0], "height", dilation)
        out_w = window_output(args, width, kernel[1], stride, padding[1], "width", dilation)
        bias = args.flag("bias", False)
        bias_init = None
        if "bias_init" in args.values:
            if not bias:
                args.fail("bias_init needs `bias true`", "bias_init")
            bias_init = as_float(args.values["bias_init"], "bias_init", args.span_of("bias_init"))
        return cls(name=name, in_shape=in_shape, out_shape=(out, out_h, out_w),
                   out_channels=out, kernel=kernel, stride=stride, padding=padding,
                   dilation=dilation, groups=groups, bias=bias, bias_init=bias_init,
                   span=args.span)

    @property
    def params(self) -> int:
        weights = self.kernel[0] * self.kernel[1] * (self.in_shape[0] // self.groups) * self.out_channels
        return weights + (self.out_channels if self.bias else 0)

    def work(self) -> Work:
        per_output = self.kernel[0] * self.kernel[1] * (self.in_shape[0] // self.groups)
        return Work(self.size * per_output, self.size if self.bias else 0, self.size)

    def notation(self, stride: bool = True) -> str:
        text = f"{self.kernel[0]}x{self.kernel[1]}, {self.out_channels}"
        text += f", stride {self.stride}" if stride and self.stride != 1 else ""
        return self.with_options(text)

    def option_words(self) -> list[str]:
        same = (self.dilation * (self.kernel[0] // 2), self.dilation * (self.kernel[1] // 2))
        return [word for word, shown in (
            (f"dilation {self.dilation}", self.dilation != 1),
            (f"padding {padding_words(self.padding)}", self.padding != same),
            (f"groups {self.groups}", self.groups != 1),
            ("bias true", self.bias)) if shown]

    def torch(self, after_fresh: bool = False) -> str:
        kernel = self.kernel[0] if self.kernel[0] == self.kernel[1] else self.kernel
        padding = self.padding[0] if self.padding[0] == self.padding[1] else self.padding
        return call("nn.Conv2d", self.in_shape[0], self.out_channels, kernel,
                    stride=self.stride if self.stride != 1 else None, padding=padding or None,
                    dilation=self.dilation if self.dilation != 1 else None,
                    groups=self.groups if self.groups != 1 else None, bias=self.bias)

    def figure_words(self, conv: bool = True) -> str:
        kernel = f"{self.kernel[0]}x{self.kernel[1]}" + (" conv" if conv else "")
        return self.with_options(f"{kernel}, {self.out_channels}{stride_words(self.stride)}")


class FC(Layer):
    kind: Literal["fc"] = "fc"
    out_features: int
    bias: bool = True

    signature: ClassVar[Signature] = Signature(("features",), ("bias",), 1)
    fresh_output: ClassVar[bool] = True
    helper_class: ClassVar[str] = "FlatLinear"

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> FC:
        if len(in_shape) == 3 and in_shape[1:] != (1, 1):
            args.fail(f"fc needs a 1x1 map or a flat input, but its input is "
                      f"{shape_text(in_shape)}: put `avgpool` (or `flatten`) before it")
        features = check_width(args, args.int("features"), "features", "features")
        return cls(name=name, in_shape=in_shape, out_shape=(features,), out_features=features,
                   bias=args.flag("bias", True), span=args.span)

    @property
    def in_features(self) -> int:
        return prod(self.in_shape)

    @property
    def params(self) -> int:
        return self.in_features * self.out_features + (self.out_features if self.bias else 0)

    def work(self) -> Work:
        return Work(self.in_features * self.out_features, self.size if self.bias else 0, self.size)

    def notation(self) -> str:
        return self.with_options(f"{self.out_features}-d fc")

    def option_words(self) -> list[str]:
        return [] if self.bias else ["bias false"]

    def torch(self, after_fresh: bool = False) -> str:
        linear = "FlatLinear" if len(self.in_shape) == 3 else "nn.Linear"
        return call(linear, self.in_features, self.out_features,
                    bias=None if self.bias else False)

    def helper(self) -> str:
        return _FLAT_LINEAR if len(self.in_shape) == 3 else ""

    def figure_words(self, conv: bool = True) -> str:
        return self.with_options(f"fc {self.out_features}")


_FLAT_LINEAR = '''
class FlatLinear(nn.Linear):
    """nn.Linear on a (N, C, 1, 1) map: flattens first; keeps the keys `weight`, `bias`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(torch.flatten(x, 1), self.weight, self.bias)
'''


class ChannelConv(Layer):
    """ECA (Wang et al. 2020): a 1-D convolution along the channels of a pooled vector
    (Cx1x1), one kernel shared by every channel, no bias; 'same' padding keeps C."""

    kind: Literal["channel_conv"] = "channel_conv"
    kernel_size: int

    signature: ClassVar[Signature] = Signature(("kernel",), (), 1)
    fresh_output: ClassVar[bool] = True
    helper_class: ClassVar[str] = "ChannelConv"

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> ChannelConv:
        if len(in_shape) != 3 or in_shape[1:] != (1, 1):
            args.fail(f"channel_conv runs along the channels of a pooled vector (Cx1x1), but "
                      f"its input is {shape_text(in_shape)}: put a global `avgpool` before it")
        kernel = args.int("kernel")
        if kernel % 2 == 0:
            args.fail(f"channel_conv's kernel {kernel} is even: 'same' padding needs an odd one",
                      "kernel")
        if kernel > 2 * in_shape[0] + 1:
            args.fail(f"channel_conv's kernel {kernel} is wider than its {in_shape[0]} "
                      "channels padded", "kernel")
        return cls(name=name, in_shape=in_shape, out_shape=in_shape, kernel_size=kernel,
                   span=args.span)

    @property
    def params(self) -> int:
        return self.kernel_size

    def work(self) -> Work:
        return Work(self.size * self.kernel_size, 0, self.size)

    def notation(self) -> str:
        return f"{self.kernel_size}-tap conv along channels"

    def torch(self, after_fresh: bool = False) -> str:
        return call("ChannelConv", self.kernel_size)

    def helper(self) -> str:
        return _CHANNEL_CONV


_CHANNEL_CONV = '''
class ChannelConv(nn.Conv1d):
    """ECA's 1-D convolution along the channels of a pooled (N, C, 1, 1) map: one kernel
    shared by every channel, 'same' padding; keeps nn.Conv1d's key `weight`."""

    def __init__(self, kernel_size: int):
        super().__init__(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.view(x.shape[0], 1, -1)).view(x.shape)
'''


# ---- normalisation and activations -------------------------------------------------
class BatchNorm(Layer):
    kind: Literal["batchnorm"] = "batchnorm"
    fresh_output: ClassVar[bool] = True
    short: ClassVar[str] = "bn"
    numbered: ClassVar[bool] = True
    norm: ClassVar[bool] = True
    boxed: ClassVar[bool] = False
    init: ClassVar[str] = "norm"
    torch_classes: ClassVar[tuple[str, ...]] = ("nn.BatchNorm1d", "nn.BatchNorm2d")

    @property
    def params(self) -> int:
        return 2 * self.in_shape[0]  # scale and shift; running statistics are buffers

    def work(self) -> Work:
        return Work(0, 2 * self.size, self.size)

    def detail(self) -> str:
        return "BN"

    def minor_words(self) -> str:
        return "BN"

    def buffer_bytes(self) -> int:
        return 2 * 4 * self.in_shape[0] + 8  # running mean and variance (fp32), a step count

    def torch(self, after_fresh: bool = False) -> str:
        # After flatten or fc the input is (N, F): normalise per feature instead.
        return call("nn.BatchNorm2d" if len(self.in_shape) == 3 else "nn.BatchNorm1d",
                    self.in_shape[0])


class GroupNorm(Layer):
    kind: Literal["groupnorm"] = "groupnorm"
    groups: int

    signature: ClassVar[Signature] = Signature(("groups",), (), 1)
    fresh_output: ClassVar[bool] = True
    short: ClassVar[str] = "gn"
    numbered: ClassVar[bool] = True
    norm: ClassVar[bool] = True
    boxed: ClassVar[bool] = False
    init: ClassVar[str] = "norm"
    torch_classes: ClassVar[tuple[str, ...]] = ("nn.GroupNorm",)

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> GroupNorm:
        groups = args.int("groups")
        if in_shape[0] % groups:
            args.fail(f"groupnorm's {groups} groups must divide its {in_shape[0]} channels",
                      "groups")
        return cls(name=name, in_shape=in_shape, out_shape=in_shape, groups=groups, span=args.span)

    @property
    def params(self) -> int:
        return 2 * self.in_shape[0]

    def work(self) -> Work:
        return Work(0, 2 * self.size, self.size)

    def detail(self) -> str:
        return f"GN, {self.groups} groups"

    def minor_words(self) -> str:
        return f"GN, {self.groups} groups"

    def torch(self, after_fresh: bool = False) -> str:
        return call("nn.GroupNorm", self.groups, self.in_shape[0])


class ReLU(Layer):
    kind: Literal["relu"] = "relu"
    boxed: ClassVar[bool] = False

    def detail(self) -> str:
        return "ReLU"

    def torch(self, after_fresh: bool = False) -> str:
        # In place only after a layer whose output nothing else reads (see fresh_output).
        return call("nn.ReLU", inplace=True if after_fresh else None)


class Sigmoid(Layer):
    kind: Literal["sigmoid"] = "sigmoid"
    boxed: ClassVar[bool] = False

    def torch(self, after_fresh: bool = False) -> str:
        return call("nn.Sigmoid")


class Dropout(Layer):
    kind: Literal["dropout"] = "dropout"
    p: float
    boxed: ClassVar[bool] = False

    signature: ClassVar[Signature] = Signature(("p",), (), 1)

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> Dropout:
        p = as_float(args.values["p"], "dropout probability", args.span_of("p"))
        if not 0 <= p < 1:
            args.fail(f"dropout probability must be in [0, 1), got {p:g}", "p")
        return cls(name=name, in_shape=in_shape, out_shape=in_shape, p=p, span=args.span)

    def notation(self) -> str:
        return f"dropout {self.p:g}"

    def torch(self, after_fresh: bool = False) -> str:
        return call("nn.Dropout", self.p)

    def minor_words(self) -> str:
        return f"dropout {self.p:g}"


# ---- pooling ------------------------------------------------------------------------
class _Pool(Layer):
    kernel: tuple[int, int]
    stride: int
    padding: tuple[int, int] = (0, 0)
    ceil_mode: bool = False

    default_padding: ClassVar[bool] = False  # pad (k-1)//2 unless told: maxpool's layout
    what: ClassVar[str] = ""

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> _Pool:
        channels, height, width = need_map(args, in_shape)
        kernel = args.pair("kernel")
        default = ((kernel[0] - 1) // 2, (kernel[1] - 1) // 2) if cls.default_padding else (0, 0)
        padding = padding_of(args, default)
        for pad, side in zip(padding, kernel):  # torch's rule, per axis
            if pad * 2 > side:
                args.fail(f"pool padding {pad} is more than half the window "
                          f"({kernel[0]}x{kernel[1]})", "padding")
        stride = stride_of(args, default=kernel[0], any_size=True)
        ceil_mode = args.flag("ceil_mode", False)
        out_h = window_output(args, height, kernel[0], stride, padding[0], "height", 1, ceil_mode)
        out_w = window_output(args, width, kernel[1], stride, padding[1], "width", 1, ceil_mode)
        if stride > max(height, width):  # a window that fits, but a step past the map
            args.fail(f"pool stride {stride} is larger than its input ({height}x{width})", "stride")
        return cls(name=name, in_shape=in_shape, out_shape=(channels, out_h, out_w),
                   kernel=kernel, stride=stride, padding=padding, ceil_mode=ceil_mode,
                   **cls.extra_fields(args), span=args.span)

    @classmethod
    def extra_fields(cls, args: LayerArgs) -> dict:
        return {}

    def work(self) -> Work:
        return Work(0, self.size * self.kernel[0] * self.kernel[1], self.size)

    def notation(self) -> str:
        return self.with_options(f"{self.kernel[0]}x{self.kernel[1]} {self.what}, "
                                 f"stride {self.stride}")

    def option_words(self) -> list[str]:
        default = (((self.kernel[0] - 1) // 2, (self.kernel[1] - 1) // 2)
                   if self.default_padding else (0, 0))
        return [word for word, shown in (
            (f"padding {padding_words(self.padding)}", self.padding != default),
            ("ceil_mode true", self.ceil_mode)) if shown]

    def pool_options(self) -> dict:
        padding = self.padding[0] if self.padding[0] == self.padding[1] else self.padding
        kernel = self.kernel[0] if self.kernel[0] == self.kernel[1] else self.kernel
        return {"kernel": kernel, "stride": self.stride, "padding": padding or None,
                "ceil_mode": True if self.ceil_mode else None}


class MaxPool(_Pool):
    kind: Literal["maxpool"] = "maxpool"
    signature: ClassVar[Signature] = Signature(("kernel",), ("stride", "padding", "ceil_mode"), 1)
    default_padding: ClassVar[bool] = True  # 3x3 pads 1 (torchvision's stem), 2x2 pads 0
    what: ClassVar[str] = "max pool"

    def torch(self, after_fresh: bool = False) -> str:
        options = self.pool_options()
        return call("nn.MaxPool2d", options.pop("kernel"), **options)

    def figure_words(self, conv: bool = True) -> str:
        return self.with_options("pool" + stride_words(self.stride))  # Figure 3's word


class AvgPool(_Pool):
    """`avgpool KxK` (padding 0 unless given), or a bare `avgpool`: global, to 1x1."""

    kind: Literal["avgpool"] = "avgpool"
    kernel: tuple[int, int] | None = None  # None: the global average pool
    stride: int = 1
    count_include_pad: bool = True  # padded zeros count in the average, as in torch

    signature: ClassVar[Signature] = Signature(
        ("kernel",), ("stride", "padding", "ceil_mode", "count_include_pad"), 0)
    what: ClassVar[str] = "avg pool"

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> AvgPool:
        if "kernel" in args.values:
            return super().build(args, name, in_shape)
        channels, _, _ = need_map(args, in_shape)
        if args.values:
            args.fail("a global avgpool (no window) takes no options")
        return cls(name=name, in_shape=in_shape, out_shape=(channels, 1, 1), span=args.span)

    @classmethod
    def extra_fields(cls, args: LayerArgs) -> dict:
        return {"count_include_pad": args.flag("count_include_pad", True)}

    def work(self) -> Work:
        if self.kernel is None:  # H*W additions per channel
            return Work(0, prod(self.in_shape), self.size)
        return super().work()

    def notation(self) -> str:
        return "average pool" if self.kernel is None else super().notation()

    def option_words(self) -> list[str]:
        if self.kernel is None:  # the global pool takes no options
            return []
        return super().option_words() + ([] if self.count_include_pad
                                         else ["count_include_pad false"])

    def torch(self, after_fresh: bool = False) -> str:
        if self.kernel is None:
            return call("nn.AdaptiveAvgPool2d", 1)
        options = self.pool_options()
        options["count_include_pad"] = None if self.count_include_pad else False
        return call("nn.AvgPool2d", options.pop("kernel"), **options)

    def figure_words(self, conv: bool = True) -> str:
        if self.kernel is None:
            return "avg pool"
        return self.with_options(f"{self.kernel[0]}x{self.kernel[1]} avg pool"
                                 f"{stride_words(self.stride)}")


class AdaptiveAvgPool(Layer):
    """An average pool to a fixed output size, whatever the input (VGG's 7x7)."""

    kind: Literal["adaptive_avgpool"] = "adaptive_avgpool"
    size_out: tuple[int, int]

    signature: ClassVar[Signature] = Signature(("size",), (), 1)

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> AdaptiveAvgPool:
        channels, _, _ = need_map(args, in_shape)
        height, width = args.pair("size")
        if max(height, width) > 1 << 16:
            args.fail(f"adaptive_avgpool size {height}x{width} is too large", "size")
        return cls(name=name, in_shape=in_shape, out_shape=(channels, height, width),
                   size_out=(height, width), span=args.span)

    def work(self) -> Work:
        # Window i along an axis spans floor(i*n/out) .. ceil((i+1)*n/out), as in torch.
        def reads(n: int, out: int) -> int:
            return sum(-(-(i + 1) * n // out) - (i * n // out) for i in range(out))
        per_channel = reads(self.in_shape[1], self.size_out[0]) * reads(self.in_shape[2], self.size_out[1])
        return Work(0, self.in_shape[0] * per_channel, self.size)

    def notation(self) -> str:
        return f"adaptive avg pool to {self.size_out[0]}x{self.size_out[1]}"

    def torch(self, after_fresh: bool = False) -> str:
        height, width = self.size_out
        return call("nn.AdaptiveAvgPool2d", height if height == width else (height, width))

    def figure_words(self, conv: bool = True) -> str:
        return f"avg pool to {self.size_out[0]}x{self.size_out[1]}"


# ---- reshaping and the zero-padding shortcut ------------------------------------------
class Flatten(Layer):
    kind: Literal["flatten"] = "flatten"
    boxed: ClassVar[bool] = False

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> Flatten:
        return cls(name=name, in_shape=in_shape, out_shape=(prod(in_shape),), span=args.span)

    def work(self) -> Work:
        return Work(0, 0, 0)  # a view of its input

    def torch(self, after_fresh: bool = False) -> str:
        return call("nn.Flatten")


class ZeroPad(Layer):
    """The paper's option A: subsample by the stride, then append zero channels."""

    kind: Literal["zeropad"] = "zeropad"
    channels: int
    stride: int = 1

    signature: ClassVar[Signature] = Signature(("channels",), ("stride",), 1)
    helper_class: ClassVar[str] = "ZeroPadShortcut"

    def helper(self) -> str:
        return _ZERO_PAD

    def figure_words(self, conv: bool = True) -> str:
        return f"zero-pad, {self.channels}{stride_words(self.stride)}"

    @classmethod
    def build(cls, args: LayerArgs, name: str, in_shape: Shape) -> ZeroPad:
        channels, height, width = need_map(args, in_shape)
        out = check_width(args, args.int("channels"), "channels", "channels")
        if out < channels:
            args.fail(f"zero padding cannot shrink channels ({channels} -> {out}): it only "
                      "appends zeros; use a projection (shortcut B or C)")
        stride = stride_of(args)
        return cls(name=name, in_shape=in_shape, channels=out, stride=stride,
                   out_shape=(out, -(-height // stride), -(-width // stride)), span=args.span)

    def work(self) -> Work:
        return Work(0, 0, self.size)  # free: a copy with zeros

    def notation(self) -> str:
        return f"zero-pad to {self.channels}" + (f", stride {self.stride}" if self.stride > 1 else "")

    def detail(self) -> str:
        return "zero-padded identity (option A)"

    def torch(self, after_fresh: bool = False) -> str:
        return call("ZeroPadShortcut", self.stride, self.channels - self.in_shape[0])


_ZERO_PAD = '''
class ZeroPadShortcut(nn.Module):
    """Option A (He et al. 2015, Sec. 3.3): subsample x by the stride, then append zero
    channels. No parameters."""

    def __init__(self, stride: int, extra_channels: int):
        super().__init__()
        self.stride, self.extra_channels = stride, extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, ::self.stride, ::self.stride]
        # F.pad's last pair pads dim 1 (channels): none before, the new ones after.
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"
'''


LAYERS: dict[str, type[Layer]] = {cls.model_fields["kind"].default: cls for cls in (
    Conv, BatchNorm, GroupNorm, ReLU, Sigmoid, MaxPool, AvgPool, AdaptiveAvgPool, Flatten,
    FC, Dropout, ZeroPad, ChannelConv)}


# ---- names ----------------------------------------------------------------------------
def short_name(kind: str) -> str:
    """The stem of a layer's default module name: torchvision's conv1, bn1, fc."""
    layer = LAYERS.get(kind)
    return (layer.short if layer else "") or kind


def always_numbered(kind: str) -> bool:
    layer = LAYERS.get(kind)
    return bool(layer and layer.numbered)

# A label becomes a module attribute of the compiled network and a name in its generated
# code, so it cannot be a name nn.Module, nn.Sequential or the generated code already use,
# nor a Python keyword (nor the locals of Res2Net's chain: sp, spx, spo, i). Listed here because this module never imports torch;
# tests/test_compiler.py checks the list against torch itself.
RESERVED_LABELS = frozenset("""
    T_destination add_module adds append apply bfloat16 buffers call_super_init children
    compile cpu cuda double dump_patches eval extend extra_repr float forward get_buffer
    get_extra_state get_parameter get_submodule half insert ipu kind load_state_dict modules
    mtia named_buffers named_children named_modules named_parameters network out parameters
    pop register_backward_hook register_buffer register_forward_hook
    register_forward_pre_hook register_full_backward_hook register_full_backward_pre_hook
    register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
    register_parameter register_state_dict_post_hook register_state_dict_pre_hook
    requires_grad_ residual_bn self set_extra_state source set_submodule share_memory shortcut
    state_dict super t to to_empty torch train training type x xpu zero_grad nn F
    report origin spec_source feature_info out_channels
    sp spx spo i
""".split()) | frozenset(keyword.kwlist)


def check_label(label: str, span: Span | None, what: str = "label a layer") -> None:
    if label in RESERVED_LABELS or label.startswith("_"):
        raise ResdslValidationError(
            f"'{label}' cannot {what}: the compiled module or its code already uses "
            "that name", span, notes=("choose another name, such as conv1 or proj",))
