"""Layers in the words the paper's figures use: `3x3 conv, 128, /2`, `pool, /2`,
`avg pool`, `fc 1000` (Figure 3), and `3x3, 64` inside a block (Figure 5).

Table 1's words (`3x3, 128, stride 2`) live with each layer (`Layer.notation`); these are
the figures', which differ enough (the `/2`, `pool` for any max pool) to be their own.
"""

from __future__ import annotations

from .. import ir
from ..analyzer import flat_layers, shortcut_kind

# Layers Figure 3 draws no box for: normalisation, activations, reshapes. A block
# figure writes them small beside the line, as Figure 5 writes `relu`.
MINOR_KINDS = frozenset({"batchnorm", "groupnorm", "relu", "sigmoid", "dropout", "flatten"})


def is_boxed(layer: ir.Layer) -> bool:
    return layer.kind not in MINOR_KINDS


def _stride(stride: int) -> str:
    return f", /{stride}" if stride > 1 else ""


def layer_words(layer: ir.Layer, conv: bool = True) -> str:
    """A boxed layer's label; `conv=False` drops the word `conv` as Figure 5 does."""
    words = _figure_words(layer, conv)
    if words is None:  # the figures use Table 1's words, which carry the options
        return layer.notation() or layer.kind
    # The options that change what the layer computes (dilation, groups, bias, ...)
    # follow its figure words, as every table shows them.
    return ", ".join([words, *layer.option_words()])


def _figure_words(layer: ir.Layer, conv: bool) -> str | None:
    """The figures' own words for a layer, where they differ from Table 1's."""
    if isinstance(layer, ir.Conv):
        kernel = f"{layer.kernel[0]}x{layer.kernel[1]}" + (" conv" if conv else "")
        return f"{kernel}, {layer.out_channels}{_stride(layer.stride)}"
    if isinstance(layer, ir.MaxPool):
        return "pool" + _stride(layer.stride)
    if isinstance(layer, ir.AvgPool):
        if layer.kernel is None:
            return "avg pool"
        return f"{layer.kernel[0]}x{layer.kernel[1]} avg pool{_stride(layer.stride)}"
    if isinstance(layer, ir.AdaptiveAvgPool):
        return f"avg pool to {layer.size_out[0]}x{layer.size_out[1]}"
    if isinstance(layer, ir.FC):
        return f"fc {layer.out_features}"
    if isinstance(layer, ir.ZeroPad):
        return f"zero-pad, {layer.channels}{_stride(layer.stride)}"
    return None


def minor_words(layer: ir.Layer) -> str:
    """A layer written small beside the line: `BN`, `relu` (Figure 5's spelling)."""
    if isinstance(layer, ir.GroupNorm):
        return f"GN, {layer.groups} groups"
    if isinstance(layer, ir.Dropout):
        return f"dropout {layer.p:g}"
    return {"batchnorm": "BN"}.get(layer.kind, layer.kind)


def gate_words(gate: ir.Gate) -> str:
    """A gate as one box of Figure 3, with its convolutions' widths as the SE paper's
    Table 1 writes them: `se gate, [16, 256]`."""
    widths = [str(layer.out_channels) for layer in flat_layers(gate.branch)
              if isinstance(layer, ir.Conv)]
    return f"{gate.name} gate" + (f", [{', '.join(widths)}]" if widths else "")


def shortcut_lines(shortcut: ir.Shortcut, minor: bool = False, conv: bool = True) -> list[str]:
    """The labels of a shortcut path's layers, in order; its BN too if `minor`."""
    return [layer_words(layer, conv) if is_boxed(layer) else minor_words(layer)
            for layer in flat_layers(shortcut.items) if minor or is_boxed(layer)]


def arc_style(block: ir.Block) -> str:
    """The paper's: solid for the identity, dotted where the shortcut does something."""
    return "solid" if shortcut_kind(block) == "identity" else "dotted"


def kind_words(kind: str) -> str:
    return {"zero_pad": "zero-pad"}.get(kind, kind)


def depth_words(shape: tuple[int, ...]) -> str:
    """Figure 5's `64-d`: the channels of a map, or the width of a flat vector."""
    return f"{shape[0]}-d"


def size_words(shape: tuple[int, ...]) -> str:
    """Figure 3's `output size: 56` (both sides when they differ; 1 once flat)."""
    if len(shape) < 3:
        return "output size: 1"
    height, width = shape[1], shape[2]
    return f"output size: {height}" + (f"x{width}" if width != height else "")
