"""resdsl: a declarative language and compiler for residual networks.

    import resdsl
    net = resdsl.parse_network("specs/resnet34.res")   # the expanded IR
    model = resdsl.load("specs/resnet34.res")          # a torch.nn.Module
    report = resdsl.analyze(net)                       # shapes, params, multiply-adds

Only `load` and `compile` import torch.
"""

from __future__ import annotations

from pathlib import Path

from .diagnostics import ResdslError
from .ir import Network

__version__ = "0.1.0"
__all__ = ["ResdslError", "Network", "parse_network", "parse", "load", "analyze", "compile"]


def parse_network(source: str | Path, network: str | None = None,
                  input: tuple[int, int, int] | None = None) -> Network:
    """The expanded IR of a spec, given a path to a .res file or the spec's text."""
    from .loader import load_program, program_from_text
    from .lower import lower

    if isinstance(source, Path) or (isinstance(source, str) and source.endswith(".res")
                                    and "\n" not in source):
        program = load_program(source)
    else:
        program = program_from_text(source)
    return lower(program, network, input)


def parse(text: str, path: str = "<string>"):
    """The syntax tree of .res text (before families and blocks are expanded)."""
    from .parser import parse as parse_text

    return parse_text(text, path)


def analyze(source, network: str | None = None, input=None):
    """The analyser's report (a plain-data object; no torch needed)."""
    from .analyzer import analyze as analyze_network

    net = source if isinstance(source, Network) else parse_network(source, network, input)
    return analyze_network(net)


def compile(source, network: str | None = None, input=None, **options):
    """An nn.Module built from a spec (path or text) or an IR `Network`."""
    from .compiler import compile_network

    net = source if isinstance(source, Network) else parse_network(source, network, input)
    return compile_network(net, **options)


def load(source, network: str | None = None, input=None, **options):
    """An nn.Module from a .res spec (path or text) or from a `model.pt` written by
    `resdsl build --save` (the spec text travels with the weights)."""
    if isinstance(source, (str, Path)) and str(source).endswith(".pt"):
        from .compiler import load_saved

        return load_saved(source, **options)
    return compile(source, network, input, **options)
