"""A network leaves resdsl: as standalone PyTorch source, ONNX, TorchScript or safetensors.

    resdsl export resnet34 --to pytorch --out resnet34.py

`pytorch` writes the code the compiler itself runs (`codegen.py`), as a file that needs
only torch; the others export the compiled module. safetensors files carry the spec in
their metadata (`modelfile.py`), so `resdsl.load` rebuilds them like a model file.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import torch

from . import ir
from .atomic import write_file
from .codegen import network_source
from .compiler import CompiledNetwork, compile_network
from .diagnostics import ResdslFileError, ResdslValidationError
from .limits import MAX_BUILD_BYTES
from .version import __version__

FORMATS = {"pytorch": ".py", "onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}


def default_path(net: ir.Network, to: str) -> Path:
    return Path(f"{net.name}{FORMATS[to]}")


def export(net: ir.Network, to: str, out: Path, docs: dict[str, str] | None = None,
           model: CompiledNetwork | None = None) -> Path:
    """Write `net` (with `model`'s weights, or freshly initialised ones) to `out`."""
    if to not in FORMATS:
        raise ResdslValidationError(f"cannot export to '{to}': choose one of {', '.join(FORMATS)}")
    if to == "pytorch":
        text = pytorch_source(net, docs)
        return write_file(out, lambda file: file.write(text.encode("utf-8")))
    model = (model or compile_network(net)).eval()
    if to == "torchscript":
        scripted = torch.jit.script(model)
        return write_file(out, lambda file: torch.jit.save(scripted, file))
    if to == "onnx":
        return export_onnx(model, out)
    from .modelfile import save_safetensors

    return save_safetensors(model, out)


def export_program(program, network: str | None, to: str, out: Path | None = None, *,
                   input: tuple[int, int, int] | None = None, weights: Path | None = None,
                   max_bytes: int = MAX_BUILD_BYTES) -> Path:
    """Write network `network` of a loaded spec (`loader.Program`), read once: its blocks'
    comments become docstrings; `weights` (a model file of the same network) gives its
    weights, else they are freshly initialised. `out` defaults to NETWORK.py, .onnx, ..."""
    from .lower import lower

    net, model = lower(program, network, input), None
    if weights is not None:
        from .modelfile import check_same_network, load_saved

        model = load_saved(weights)
        check_same_network(model.network, net, str(weights))
        net = model.network  # its origin: the sources a safetensors file carries
    if model is None and to != "pytorch":
        model = compile_network(net, max_bytes=max_bytes)
    docs = block_docs(program.namespace)
    return export(net, to, out or default_path(net, to), docs, model)


def pytorch_source(net: ir.Network, docs: dict[str, str] | None = None) -> str:
    """The network as one Python file that imports only torch."""
    source = network_source(net, docstring=f"{net.name}, as resdsl compiles it.", docs=docs)
    origin = net.origin.path if net.origin else "a spec"
    header = f'''"""{net.name}: standalone PyTorch code written by resdsl {__version__} from {origin}.

Needs only torch. Each block class below computes its path F(x) and adds its shortcut
(He et al. 2015): the identity where the shape is kept, a projection, zero padding or
nothing (the plain net) as the spec's shortcut option says. The module names are the
ones `resdsl build` gives (torchvision's where the spec has torchvision's shape), so a
state_dict saved from resdsl loads here with strict=True:

    model = {source.class_name}()
    init_weights(model)                  # or: model.load_state_dict(state_dict)
    logits = model(torch.randn(1, {", ".join(map(str, net.input))}))
"""

'''
    return header + source.text


@contextlib.contextmanager
def _quiet_logger(name: str):
    """Warnings of logger `name` held back: the ONNX exporter logs one line per
    torchvision operator it skips when torchvision is absent, which says nothing here."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def export_onnx(model: CompiledNetwork, out: Path) -> Path:
    """torch.onnx.export through torch.export, the batch dimension left free."""
    try:
        import onnxscript  # noqa: F401  (the exporter needs it; say so before it fails)
    except ImportError:
        raise ResdslFileError("ONNX export needs onnx and onnxscript: pip install "
                              "'resdsl[onnx]'", file=str(out)) from None
    x = torch.zeros(2, *model.network.input)
    batch = torch.export.Dim("batch")
    chatter = io.StringIO()  # the exporter prints its progress; the CLI alone prints
    with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter), \
            _quiet_logger("torch.onnx"):
        program = torch.onnx.export(model, (x,), dynamo=True, verbose=False,
                                    dynamic_shapes={"x": {0: batch}}, external_data=False)
    return write_file(out, lambda file: file.write(program.model_proto.SerializeToString()))


def block_docs(namespace) -> dict[str, str]:
    """Each block's docstring: the paragraph of comments right above its declaration,
    without a `# ---- section ----` heading that happens to sit on top of it."""
    return {name: _paragraph_above(decl.comments) for name, decl in namespace.blocks.items()}


def _paragraph_above(comments: tuple[str, ...]) -> str:
    text = [line.strip() for line in comments]  # a blank line between comments is ""
    last = len(text) - text[::-1].index("") if "" in text else 0
    return "\n".join(line for line in text[last:] if line and not line.startswith("----"))
