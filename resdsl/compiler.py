"""IR -> torch.nn.Module.

The IR is fully expanded, so compiling is a walk: every primitive layer goes through a
registry keyed by its IR `kind` (the grammar keyword), blocks become `Block` modules
that add their shortcut at the `residual` point, stages become `nn.Sequential`s named
`layer1`.., and stem and head layers sit at the top level. Module names and
registration order are torchvision's, so for a spec of torchvision's shape the
state_dict has torchvision's keys in torchvision's order and its weights load with
strict=True.

Nothing here interprets the IR at run time: the compiled modules call tuples of
submodules built once, as hand-written code would.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from pydantic import ValidationError
from torch import nn

from . import __version__
from . import ir
from .atomic import atomic_write
from .diagnostics import ResdslFileError, ResdslValidationError

FORMAT = "resdsl-model"  # tag of a saved model file, so a stray .pt is recognised
FORMAT_VERSION = 1  # bump when the saved dict changes; older readers refuse newer files


# ---- compiled modules -----------------------------------------------------------------
class _Linked(nn.Module):
    """Calls its children through tuples built once instead of looking them up by name.

    `_plan` maps an attribute to the names of the children it holds, in call order.
    Reassigning a child (a fused or quantised replacement, say) rebuilds the tuples, so
    they never point at a module that is no longer registered.
    """

    _plan: dict[str, tuple[str, ...]]

    def _link(self) -> None:
        for attr, names in self._plan.items():
            object.__setattr__(self, attr, tuple(self._modules[name] for name in names))

    def __setattr__(self, name: str, value) -> None:
        super().__setattr__(name, value)
        if isinstance(value, nn.Module) and "_plan" in self.__dict__:
            self._link()


class Block(_Linked):
    """One block: the layers before its residual point, the shortcut added, the rest.

    Children are registered under their IR names in the order written, with the
    shortcut's projection (`downsample`) last, which is torchvision's order.
    `kind` is the IR's shortcut kind, None for a block without `residual`; `adds` is
    False then and for a plain net's block (kind "none").
    """

    def __init__(self, main: list[tuple[str, nn.Module]], rest: list[tuple[str, nn.Module]],
                 shortcut: tuple[str, nn.Module | None] = ("", None), kind: str | None = None,
                 residual_bn: str | None = None):
        super().__init__()
        for name, module in (*main, *rest):
            self.add_module(name, module)
        shortcut_name, shortcut_module = shortcut
        if shortcut_module is not None:
            self.add_module(shortcut_name, shortcut_module)
        self.kind, self.adds = kind, kind not in (None, "none")
        self.residual_bn = residual_bn  # the BN that zero_init_residual zeroes, by name
        self._plan = {"_main": tuple(n for n, _ in main), "_rest": tuple(n for n, _ in rest),
                      "_shortcut": (shortcut_name,) if shortcut_module is not None else ()}
        self._link()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self._main:
            out = layer(out)
        if self.adds:
            # Out of place: the layer before the residual point may need its output
            # for its own backward pass (a ReLU does).
            out = out + (self._shortcut[0](x) if self._shortcut else x)
        for layer in self._rest:
            out = layer(out)
        return out

    def extra_repr(self) -> str:
        return f"shortcut={self.kind}" if self.kind else ""


class CompiledNetwork(_Linked):
    """The whole network: stem layers, `layer1`.. stages, head layers, in order.

    `network` is the IR it was compiled from; `save_model` stores it with the weights.
    """

    def __init__(self, network: ir.Network, children: list[tuple[str, nn.Module]]):
        super().__init__()
        for name, module in children:
            self.add_module(name, module)
        self.network = network
        self._plan = {"_layers": tuple(name for name, _ in children)}
        self._link()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self._layers:
            x = layer(x)
        return x

    def extra_repr(self) -> str:
        shape = "x".join(map(str, self.network.input))
        return f"name={self.network.name}, input={shape}, shortcut={self.network.shortcut}"


class FlatLinear(nn.Linear):
    """nn.Linear on a (N, C, 1, 1) map: flattens first, keeps the keys `weight`, `bias`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.flatten(x, 1))


class ZeroPadShortcut(nn.Module):
    """Option A: subsample by the stride, then append zero channels. No parameters."""

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


# ---- the registry: one builder per IR kind ------------------------------------------------
Builder = Callable[[ir.LayerBase], "nn.Module | None"]
BUILDERS: dict[str, Builder] = {}


def register(kind: str) -> Callable[[Builder], Builder]:
    def add(builder: Builder) -> Builder:
        BUILDERS[kind] = builder
        return builder
    return add


@register("conv")
def build_conv(layer: ir.Conv) -> nn.Module:
    return nn.Conv2d(layer.in_shape[0], layer.out_channels, layer.kernel, stride=layer.stride,
                     padding=layer.padding, groups=layer.groups, bias=layer.bias)


@register("batchnorm")
def build_batchnorm(layer: ir.BatchNorm) -> nn.Module:
    # After flatten or fc the input is (N, F): normalise per feature instead of per channel.
    if len(layer.in_shape) == 3:
        return nn.BatchNorm2d(layer.in_shape[0])
    return nn.BatchNorm1d(layer.in_shape[0])


@register("relu")
def build_relu(layer: ir.ReLU) -> nn.Module:
    return nn.ReLU()  # in place only where safe; see _chain


@register("maxpool")
def build_maxpool(layer: ir.MaxPool) -> nn.Module:
    return nn.MaxPool2d(layer.kernel, stride=layer.stride, padding=layer.padding)


@register("avgpool")
def build_avgpool(layer: ir.AvgPool) -> nn.Module:
    if layer.kernel is None:
        return nn.AdaptiveAvgPool2d((1, 1))
    return nn.AvgPool2d(layer.kernel, stride=layer.stride, padding=layer.padding)


@register("flatten")
def build_flatten(layer: ir.Flatten) -> nn.Module:
    return nn.Flatten()


@register("fc")
def build_fc(layer: ir.FC) -> nn.Module:
    linear = FlatLinear if len(layer.in_shape) == 3 else nn.Linear
    return linear(layer.in_features, layer.out_features, bias=layer.bias)


@register("dropout")
def build_dropout(layer: ir.Dropout) -> nn.Module:
    return nn.Dropout(layer.p)


@register("residual")
def build_residual(layer: ir.Residual) -> nn.Module | None:
    """The shortcut's module: None for identity and for the plain net's `none`."""
    in_channels, out_channels = layer.shortcut_in[0], layer.out_shape[0]
    if layer.shortcut == "projection":
        return nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, stride=layer.stride, bias=False),
            nn.BatchNorm2d(out_channels))
    if layer.shortcut == "zero_pad":
        return ZeroPadShortcut(layer.stride, out_channels - in_channels)
    return None


assert set(BUILDERS) == set(ir.LAYER_KINDS), "every IR kind needs a builder"

# Kinds whose output is a new tensor that their backward pass does not read, so a ReLU
# right after them may overwrite it. After anything else (the block input, the network
# input, a flatten view, eval-mode dropout's pass-through) it must not.
_FRESH_OUTPUT = ("conv", "batchnorm", "fc", "residual")


# ---- assembling ---------------------------------------------------------------------------
def compile_network(net: ir.Network, zero_init_residual: bool = False) -> CompiledNetwork:
    """The nn.Module for `net`, initialised as torchvision initialises its ResNets.

    zero_init_residual zeroes the scale of the last BN before each block's residual point,
    so every residual block starts as its shortcut (Goyal et al. 2017).
    """
    children: list[tuple[str, nn.Module]] = []
    for stage in net.stages:
        if stage.module:
            children.append((stage.module, nn.Sequential(OrderedDict(_chain(stage.items)))))
        else:
            children.extend(_chain(stage.items))  # stem and head sit at the top level
    _check_unique_names([name for name, _ in children], net)
    model = CompiledNetwork(net, children)
    init_weights(model, zero_init_residual)
    return model


def _chain(items: list, previous=None) -> list[tuple[str, nn.Module]]:
    """(name, module) for consecutive IR items; `previous` is the item before the first
    (None where the input comes from outside: the caller, a block input)."""
    built = []
    for item in items:
        if isinstance(item, ir.Block):
            module = _block(item)
        else:
            module = BUILDERS[item.kind](item)
            if isinstance(module, nn.ReLU):
                module.inplace = previous is not None and previous.kind in _FRESH_OUTPUT
        built.append((item.name, module))
        previous = item
    return built


def _block(block: ir.Block) -> Block:
    layers = list(block.layers)
    residual = block.residual
    if residual is None:
        return Block(_chain(layers), [])
    cut = layers.index(residual)
    adds = residual.shortcut != "none"
    # Without an addition the layers after the residual point see the one before it.
    before_rest = residual if adds else (layers[cut - 1] if cut else None)
    main, rest = _chain(layers[:cut]), _chain(layers[cut + 1:], previous=before_rest)
    norms = [layer.name for layer in layers[:cut] if isinstance(layer, ir.BatchNorm)]
    return Block(main, rest, (residual.name, build_residual(residual)), residual.shortcut,
                 residual_bn=norms[-1] if norms and adds else None)


def _check_unique_names(names: list[str], net: ir.Network) -> None:
    # Stem and head layers share the top level with the layer1.. stages.
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ResdslValidationError(
                f"two modules of network '{net.name}' are named '{name}' at the top level",
                net.span, notes=("rename the stem or head layer with a label, e.g. `pool: maxpool`",))
        seen.add(name)


def init_weights(model: nn.Module, zero_init_residual: bool = False) -> None:
    """torchvision's ResNet initialisation: He (MSRA) normal for convolutions, fan-out
    mode as torchvision; BN scale 1 and shift 0; fc keeps nn.Linear's default (uniform
    in +-1/sqrt(fan_in)), as torchvision's ResNet does. Conv biases (VGG) start at 0."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if zero_init_residual:
        for module in model.modules():
            if isinstance(module, Block) and module.residual_bn is not None:
                nn.init.zeros_(getattr(module, module.residual_bn).weight)


# ---- describing what gets built (the CLI prints it) ---------------------------------------
def describe_module(net: ir.Network) -> list[dict]:
    """One row per stage of the compiled module, as plain data for the CLI to print.

    Keys: `module` ("layer1"..; "" where the layers sit at the top level), `stage` (the
    declared name), `role`, `block` ("3 x basic"), `shortcut` (the kinds its blocks use,
    "projection, identity"), `input_shape`, `output_shape`, `params`; `blocks` (one dict
    per block: `module` path, `block`, `shortcut` (None without a residual point),
    shapes, `params`) and `layers` (module paths of the layers outside blocks).
    """
    rows = []
    for stage in net.stages:
        prefix = f"{stage.module}." if stage.module else ""
        blocks = [{"module": prefix + b.name, "block": b.block,
                   "shortcut": b.residual.shortcut if b.residual else None,
                   "input_shape": b.in_shape, "output_shape": b.out_shape, "params": b.params}
                  for b in stage.blocks]
        shortcuts = dict.fromkeys(b["shortcut"] for b in blocks if b["shortcut"])
        rows.append({
            "module": stage.module, "stage": stage.name, "role": stage.role,
            "block": _block_counts(stage.blocks), "shortcut": ", ".join(shortcuts),
            "input_shape": stage.in_shape, "output_shape": stage.out_shape,
            "params": stage.params, "blocks": blocks,
            "layers": [prefix + item.name for item in stage.items if not isinstance(item, ir.Block)],
        })
    return rows


def _block_counts(blocks: list[ir.Block]) -> str:
    """'3 x basic', or '1 x a + 2 x b' where a stage mixes declared blocks."""
    runs: list[list] = []
    for block in blocks:
        if runs and runs[-1][1] == block.block:
            runs[-1][0] += 1
        else:
            runs.append([1, block.block])
    return " + ".join(f"{count} x {name}" for count, name in runs)


# ---- saving and loading ---------------------------------------------------------------------
def save_model(model_or_net: nn.Module | ir.Network, spec_text: str, path: str | Path,
               spec_path: str | None = None, network_name: str | None = None) -> Path:
    """Write the weights with the spec (its text and its expanded IR) to `path`, atomically.

    An IR `Network` is compiled first (freshly initialised weights). A DDP-wrapped or
    torch.compile'd model is unwrapped to the compiled network inside.
    """
    if not isinstance(spec_text, str):  # a caller's slip, caught before anything is written
        raise TypeError(f"spec_text must be the spec's text, not {type(spec_text).__name__}")
    model = (compile_network(model_or_net) if isinstance(model_or_net, ir.Network)
             else _unwrap(model_or_net))
    net = model.network
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "resdsl_version": __version__,
        "network": network_name or net.name,
        "input": list(net.input),
        "spec_text": spec_text,
        "spec_path": spec_path,
        "ir": net.model_dump_json(),  # rebuilds the network without the spec's imports
        # On the CPU, so a model trained on a GPU loads anywhere.
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    path = Path(path)
    _write_atomically(payload, path)
    return path


def _unwrap(model: nn.Module) -> CompiledNetwork:
    # DDP keeps the network in `.module`, torch.compile in `._orig_mod`.
    while not isinstance(model, CompiledNetwork):
        inner = [getattr(model, attr, None) for attr in ("module", "_orig_mod")]
        inner = [m for m in inner if isinstance(m, nn.Module)]
        if not inner:
            raise TypeError(f"not a network compiled by resdsl: {type(model).__name__}")
        model = inner[0]
    return model


def _write_atomically(payload: dict, path: Path) -> None:
    try:
        atomic_write(path, lambda file: torch.save(payload, file))
    except OSError as error:
        raise ResdslFileError(f"cannot write: {error.strerror or error}", file=str(path)) from None


def load_saved(path: str | Path, **options) -> CompiledNetwork:
    """The model saved by `save_model`, rebuilt from its stored IR, weights loaded strictly.

    `options` go to `compile_network`. Any problem with the file is a ResdslFileError.
    """
    shown = str(path)
    payload = _read_payload(Path(path), shown)
    try:
        net = ir.Network.model_validate_json(payload["ir"])
    except ValidationError as error:
        raise ResdslFileError(f"the stored network is not valid: {error.errors()[0]['msg']}",
                              file=shown) from None
    model = compile_network(net, **options)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as error:
        detail = str(error).strip().splitlines()
        raise ResdslFileError(f"the stored weights do not fit the stored network: "
                              f"{(detail[-1].strip() if detail else str(error))[:300]}",
                              file=shown) from None
    return model


_REQUIRED = {"format_version": int, "network": str, "spec_text": str, "ir": str, "state_dict": dict}


def _read_payload(path: Path, shown: str) -> dict:
    if not path.exists():
        raise ResdslFileError("no such file", file=shown)
    if path.is_dir():
        raise ResdslFileError("is a directory, not a saved model", file=shown)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types for a damaged file; all mean one thing
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ResdslFileError(f"not a readable resdsl model file ({reason[:200]})", file=shown) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ResdslFileError("not a resdsl model file (written by `resdsl build --save`)", file=shown)
    for key, kind in _REQUIRED.items():
        if not isinstance(payload.get(key), kind):
            raise ResdslFileError(f"damaged resdsl model file: '{key}' is missing or wrong", file=shown)
    if payload["format_version"] > FORMAT_VERSION:
        raise ResdslFileError(
            f"written by a newer resdsl (format {payload['format_version']}; this one reads "
            f"up to {FORMAT_VERSION})", file=shown, notes=("upgrade resdsl",))
    return payload
