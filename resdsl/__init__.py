"""resdsl: a declarative language and compiler for residual networks.

    import resdsl
    net = resdsl.parse_network("specs/resnet34.res")   # the expanded IR (a path...)
    net = resdsl.parse_network("resnet34")             # ...or a built-in spec's name
    model = resdsl.load("timm/resnet50d")              # a torch.nn.Module
    report = resdsl.analyze(net)                       # shapes, params, multiply-adds
    net = resdsl.network_from_text(text)               # a spec given as text

Each function takes one kind of input: a spec reference (a path, or a built-in name; a
file of that name wins), text (`*_from_text`), or an IR `Network`. Only `compile` and
`load` import torch.
"""

from __future__ import annotations

from pathlib import Path

from .diagnostics import ResdslError
from .ir import Network
from .version import __version__

__all__ = ["ResdslError", "Network", "__version__", "parse", "parse_network",
           "network_from_text", "analyze", "compile", "load"]


def parse(text: str, path: str = "<string>"):
    """The syntax tree of .res text (before families and blocks are expanded)."""
    from .parser import parse as parse_text

    return parse_text(text, path)


def parse_network(spec: str | Path, network: str | None = None,
                  input: tuple[int, int, int] | None = None) -> Network:
    """The expanded IR of a spec: a path to a .res file, or a built-in spec's name."""
    from .catalog import resolve
    from .loader import load_program
    from .lower import lower

    return lower(load_program(resolve(spec).path), network, input)


def network_from_text(text: str, network: str | None = None,
                      input: tuple[int, int, int] | None = None,
                      base_dir: str | Path | None = None) -> Network:
    """The expanded IR of a spec given as text; its imports are read from `base_dir`
    (default: the current folder)."""
    from .loader import program_from_text
    from .lower import lower

    program = program_from_text(text, base_dir=Path(base_dir) if base_dir else None)
    return lower(program, network, input)


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
    if str(source).endswith((".pt", ".safetensors")):
        from .modelfile import load_saved

        return load_saved(source, **options)
    return compile(source, network, input, **options)
