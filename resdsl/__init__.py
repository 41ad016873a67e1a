"""resdsl: a declarative language and compiler for residual networks.

    import resdsl
    net = resdsl.parse_network("specs/resnet34.res")   # the expanded IR (a path...)
    net = resdsl.parse_network("resnet34")             # ...or a built-in spec's name
    model = resdsl.load("timm/resnet50d")              # a torch.nn.Module
    report = resdsl.analyze(net)                       # shapes, params, multiply-adds
    net = resdsl.network_from_text(text)               # a spec given as text
    model = resdsl.create_model("resnet50", num_classes=10, in_chans=1)  # as timm's
    resdsl.list_models("timm/*")                       # the built-in networks' names

Each function takes one kind of input: a spec reference (a path, or a built-in name; a
file of that name wins; `FILE:NETWORK` for one network of a file), text (`*_from_text`),
or an IR `Network`. `input` is a tuple or text, (1, 28, 28) or "1x28x28". Only `compile`,
`load` and `create_model` import torch.
"""

from __future__ import annotations

from pathlib import Path

from .diagnostics import ResdslError
from .ir import Network
from .version import __version__

__all__ = ["ResdslError", "Network", "__version__", "parse", "parse_network",
           "network_from_text", "analyze", "compile", "load", "create_model", "list_models"]


def parse(text: str, path: str = "<string>"):
    """The syntax tree of .res text (before families and blocks are expanded)."""
    from .parser import parse as parse_text

    return parse_text(text, path)


def parse_network(spec: str | Path, network: str | None = None,
                  input: tuple[int, int, int] | None = None) -> Network:
    """The expanded IR of a spec: a path to a .res file, or a built-in spec's name."""
    from .arguments import shape
    from .catalog import reference
    from .loader import load_program
    from .lower import lower

    found, name = reference(spec, network)
    return lower(load_program(found.path), name, shape(input))


def network_from_text(text: str, network: str | None = None,
                      input: tuple[int, int, int] | None = None,
                      base_dir: str | Path | None = None) -> Network:
    """The expanded IR of a spec given as text; its imports are read from `base_dir`
    (default: the current folder)."""
    from .arguments import shape
    from .loader import program_from_text
    from .lower import lower

    program = program_from_text(text, base_dir=Path(base_dir) if base_dir else None)
    return lower(program, network, shape(input))


def _network(source, network, input) -> Network:
    return source if isinstance(source, Network) else parse_network(source, network, input)


def analyze(source: str | Path | Network, network: str | None = None, input=None):
    """The analyser's report (a plain-data object; no torch needed) of a spec or an IR."""
    from .analyzer import analyze as analyze_network

    return analyze_network(_network(source, network, input))


def compile(source: str | Path | Network, network: str | None = None, input=None, **options):
    """An nn.Module built from a spec (a path or a built-in name) or an IR `Network`."""
    from .compiler import compile_network

    return compile_network(_network(source, network, input), **options)


def load(source: str | Path, network: str | None = None, input=None, **options):
    """An nn.Module: from a model file written by `resdsl build --save` or `resdsl export`
    (`.pt`, `.safetensors`: the spec travels with the weights), or from a spec."""
    from .modelfile import MODEL_FILES, load_saved

    if str(source).endswith(MODEL_FILES):
        return load_saved(source, **options)
    return compile(source, network, input, **options)


def create_model(name_or_path: str | Path, *, num_classes: int | None = None,
                 in_chans: int | None = None, input=None, weights: str | Path | None = None,
                 features_only: bool = False, out_indices=None, network: str | None = None,
                 **options):
    """An nn.Module as timm's `create_model` makes one: a built-in name, a spec file
    (`FILE:NETWORK` for one of several) or a saved model file; `num_classes`, `in_chans`
    and `input` change the network without editing its spec; `weights` loads a resdsl
    model file's or a timm / torchvision state_dict strictly; `features_only` returns the
    feature maps (`out_indices`: which) as torchvision's detection models take a backbone.
    `options` go to the compiler (`zero_init_residual`)."""
    from .models import create_model as create

    return create(name_or_path, num_classes=num_classes, in_chans=in_chans, input=input,
                  weights=weights, features_only=features_only, out_indices=out_indices,
                  network=network, **options)


def list_models(pattern: str | None = None) -> list[str]:
    """The built-in networks' names, as `create_model` takes them; `pattern` is
    shell-style (`"resnet*"`, `"timm/*"`). No torch needed."""
    from .tables import model_names

    return model_names(pattern)
