"""IR -> torch.nn.Module, by running the PyTorch source `codegen.py` writes for it.

Each compiled network is an instance of its own generated class (a subclass of
`CompiledNetwork`), built from code that calls its layers as hand-written code would:
no interpretation of the IR at run time, and a code object per network, so that
torch.compile caches each network apart. The source is registered with `linecache`
under a name of its own, so tracebacks show its lines and `torch.jit.script` can read
it. Module names and registration order are torchvision's for a spec of its shape, so
torchvision's state_dicts load with strict=True.
"""

from __future__ import annotations

import itertools
import linecache
import sys
import types

import torch
from torch import nn

from . import ir
from .analyzer import block_counts, check_size, shortcut_kind
from .limits import MAX_BUILD_BYTES
from .codegen import network_source

_COUNTER = itertools.count()


class CompiledNetwork(nn.Module):
    """The base of every compiled network. Its attribute `network` is the IR it was
    compiled from (not a submodule, not in the state_dict); `source` is the code that
    defines its class. (Not annotated on the class: TorchScript reads class annotations.)
    """

    # Not compiled by TorchScript, which compiles every property of a module it scripts.
    __jit_unused_properties__ = ["report", "origin", "spec_source"]

    @property
    def report(self):
        """The analyser's report: shapes, parameters, multiply-adds per stage and layer."""
        from .analyzer import analyze

        return analyze(self.network)

    @property
    def origin(self) -> ir.Origin | None:
        """Where the network was lowered from: the text of its spec and of every import."""
        return self.network.origin

    @property
    def spec_source(self) -> str | None:
        """The text of the spec file the network is declared in (`source` is the Python)."""
        origin = self.network.origin
        return origin.sources.get(origin.path) if origin else None

    def extra_repr(self) -> str:
        net = self.network
        return f"name={net.name}, input={ir.shape_text(net.input)}, shortcut={net.shortcut}"


def compile_network(net: ir.Network, zero_init_residual: bool = False,
                    max_bytes: int = MAX_BUILD_BYTES) -> CompiledNetwork:
    """The nn.Module for `net`, initialised as torchvision initialises its ResNets.

    zero_init_residual zeroes the scale of the last norm before each residual addition,
    so every residual block starts as its shortcut (Goyal et al. 2017). `max_bytes`
    bounds its weights and buffers, and the activations of one image, each, before
    anything is allocated.
    """
    check_size(net, max_bytes)
    source = network_source(net, base="CompiledNetwork")
    # An identifier: TorchScript keeps the module's name in what it saves.
    namespace = run_source(source.text, f"resdsl_generated.{net.name}_{next(_COUNTER)}",
                           {"CompiledNetwork": CompiledNetwork})
    model = namespace[source.class_name]()
    object.__setattr__(model, "network", net)  # plain attributes: not modules, not state
    object.__setattr__(model, "source", source.text)
    namespace["init_weights"](model, zero_init_residual)
    return model


def run_source(source: str, filename: str, extra: dict) -> dict:
    """Execute generated source as a module of its own, its lines in linecache.

    The module is put in sys.modules for as long as its classes live, because
    `inspect` (and so TorchScript) finds a class's source through its module.
    """
    module = types.ModuleType(filename)
    module.__file__ = filename
    module.__dict__.update(extra)
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    sys.modules[filename] = module
    exec(compile(source, filename, "exec"), module.__dict__)  # our own generated code
    return module.__dict__


def unwrap(model: nn.Module) -> CompiledNetwork:
    """The compiled network inside a DDP-wrapped or torch.compile'd model."""
    while not isinstance(model, CompiledNetwork):
        inner = [getattr(model, attr, None) for attr in ("module", "_orig_mod")]
        inner = [m for m in inner if isinstance(m, nn.Module)]
        if not inner:
            raise TypeError(f"not a network compiled by resdsl: {type(model).__name__}")
        model = inner[0]
    return model


# ---- describing what gets built (the CLI prints it) ---------------------------------------
def describe_module(net: ir.Network) -> list[dict]:
    """One row per stage of the compiled module, as plain data for the CLI to print.

    Keys: `module` ("layer1"..; "" where the layers sit at the top level), `stage` (the
    declared name), `role`, `block` ("3 x basic"), `shortcut` (the kinds its blocks use,
    "projection, identity"), `input_shape`, `output_shape`, `params`; `blocks` (one dict
    per block: `module` path, `block`, `shortcut` (None without a merge), shapes,
    `params`) and `layers` (module paths of the items outside blocks).
    """
    rows = []
    for stage in net.stages:
        prefix = f"{stage.module}." if stage.module else ""
        blocks = [{"module": prefix + b.name, "block": b.block, "shortcut": shortcut_kind(b),
                   "input_shape": b.in_shape, "output_shape": b.out_shape, "params": b.params}
                  for b in stage.blocks]
        shortcuts = dict.fromkeys(b["shortcut"] for b in blocks if b["shortcut"])
        rows.append({
            "module": stage.module, "stage": stage.name, "role": stage.role,
            "block": block_counts(stage.blocks), "shortcut": ", ".join(shortcuts),
            "input_shape": stage.in_shape, "output_shape": stage.out_shape,
            "params": stage.params, "blocks": blocks,
            "layers": [prefix + item.name for item in stage.items if not isinstance(item, ir.Block)],
        })
    return rows


__all__ = ["CompiledNetwork", "compile_network", "describe_module", "run_source", "unwrap",
           "torch"]
