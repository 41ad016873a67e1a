"""Model files (`resdsl build --save model.pt`, `resdsl export --to safetensors`): the
weights with the spec they fit.

A model file carries the text of the spec and of every file it imports, and is rebuilt
through the same path as any spec (parse, the static rules, lowering, compiling), so a
file from anywhere gets every check a spec gets before a module is built: there is one
path from untrusted data to a module. The weights then load with strict=True.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import ir
from .atomic import write_file
from .compiler import CompiledNetwork, compile_network, unwrap
from .diagnostics import ResdslError, ResdslFileError
from .version import __version__

FORMAT = "resdsl-model"  # tag of a saved model file, so a stray .pt is recognised
FORMAT_VERSION = 2  # 2: the sources of the spec and its imports (1, one spec text, is refused)
MODEL_FILES = (".pt", ".safetensors")  # what `resdsl.load` reads as a saved model, by suffix


def _model_and_origin(model_or_net: nn.Module | ir.Network) -> tuple[CompiledNetwork, ir.Origin]:
    """An IR `Network` is compiled first (freshly initialised weights); a DDP-wrapped or
    torch.compile'd model is unwrapped to the compiled network inside."""
    model = (compile_network(model_or_net) if isinstance(model_or_net, ir.Network)
             else unwrap(model_or_net))
    origin = model.network.origin
    if origin is None:
        raise TypeError("this network was not lowered from a spec (no origin): lower it "
                        "with resdsl.parse_network, or build it from a spec file")
    return model, origin


def save_model(model_or_net: nn.Module | ir.Network, path: str | Path) -> Path:
    """Write the weights with the spec they came from to `path`, atomically."""
    model, origin = _model_and_origin(model_or_net)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "resdsl_version": __version__,
        "network": model.network.name,
        "input": list(model.network.input),
        "origin": origin.model_dump(mode="json"),
        # On the CPU, so a model trained on a GPU loads anywhere.
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return write_file(path, lambda file: torch.save(payload, file))


def save_safetensors(model_or_net: nn.Module | ir.Network, path: str | Path) -> Path:
    """The weights as safetensors, the spec (every file's text) and its sha256 in the
    metadata, which holds strings only."""
    import hashlib
    import json

    model, origin = _model_and_origin(model_or_net)
    spec = json.dumps(origin.model_dump(mode="json"), sort_keys=True)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "resdsl_version": __version__, "network": model.network.name,
                "origin": spec, "spec_sha256": hashlib.sha256(spec.encode()).hexdigest()}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return write_file(path, lambda file: file.write(_safetensors().save(state, metadata)))


def _safetensors():
    try:
        import safetensors.torch
    except ImportError:
        raise ResdslFileError("safetensors files need the safetensors package: pip install "
                              "'resdsl[export]'") from None
    return safetensors.torch


def _read_safetensors(path: Path, shown: str) -> dict:
    """The payload `_read_payload` gives, from a safetensors file's metadata."""
    import json

    module = _safetensors()
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
        state = module.load_file(str(path))
        origin = json.loads(metadata.get("origin", "null"))
        version = int(metadata.get("format_version", "0"))
    except Exception as error:  # a damaged file: the reader raises several kinds
        raise ResdslFileError(f"not a readable safetensors file ({str(error)[:200]})",
                              file=shown) from None
    if metadata.get("format") != FORMAT:
        raise ResdslFileError("a safetensors file without a resdsl spec in its metadata "
                              "(written by `resdsl export --to safetensors`)", file=shown)
    return {"format": FORMAT, "format_version": version, "network": metadata.get("network"),
            "origin": origin, "state_dict": state}


def load_saved(path: str | Path, **options) -> CompiledNetwork:
    """The model saved by `save_model` or `save_safetensors`, rebuilt from its spec,
    weights loaded strictly.

    `options` go to `compile_network`. Any problem with the file is a ResdslFileError;
    a spec inside it that is not valid is reported as any spec error, in its own lines.
    """
    shown = str(path)
    payload = _read_payload(Path(path), shown)
    net = _rebuild(payload, shown)
    try:
        model = compile_network(net, **options)
    except ResdslError as error:  # e.g. more than the build may allocate
        raise ResdslFileError(f"the network stored in this model file cannot be built: "
                              f"{error.message}", file=shown) from None
    _check_weights(model, payload["state_dict"], shown)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, TypeError, AttributeError) as error:
        detail = str(error).strip().splitlines()
        raise ResdslFileError(f"the stored weights do not fit the stored network: "
                              f"{(detail[-1].strip() if detail else str(error))[:300]}",
                              file=shown) from None
    return model


def check_same_network(stored: ir.Network, named: ir.Network, shown: str) -> None:
    """Weights handed in for `named` are `named`'s: a model file of another network is
    refused, never put in its place (its expectations and recipe do not count)."""
    if stored.name != named.name:
        raise ResdslFileError(f"holds the weights of {stored.name}, not of {named.name} "
                              f"(the network named on the command line)", file=shown)
    if _architecture(stored) != _architecture(named):
        raise ResdslFileError(f"holds the weights of another network named {named.name}: "
                              f"its layers or input differ from the spec's", file=shown)


def _architecture(net: ir.Network) -> ir.Network:
    return net.model_copy(update={"expects": [], "recipe": None})


def _rebuild(payload: dict, shown: str) -> ir.Network:
    from .loader import program_from_sources
    from .lower import lower

    try:
        origin = ir.Origin.model_validate(payload["origin"])
        program = program_from_sources(origin.path, origin.base_dir, origin.sources)
        return lower(program, origin.network, origin.input, classes=origin.classes)
    except ResdslError as error:
        raise ResdslFileError(f"the spec stored in this model file is not valid: "
                              f"{error.message}", file=shown) from None
    except (ValueError, TypeError, KeyError) as error:
        raise ResdslFileError(f"damaged resdsl model file: its spec cannot be read ({error})"[:300],
                              file=shown) from None


def _check_weights(model: CompiledNetwork, state: dict, shown: str,
                   kind: str = "resdsl model file") -> None:
    """Every stored weight a finite tensor of the dtype the model holds there: a file whose
    weights were edited to NaN, or to another type, is refused rather than loaded."""
    expected = model.state_dict()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            raise ResdslFileError(f"damaged {kind}: weight '{key}' is not a tensor", file=shown)
        if key in expected and value.dtype != expected[key].dtype:
            raise ResdslFileError(f"the stored weight '{key}' is {value.dtype}, but the network "
                                  f"holds {expected[key].dtype} there", file=shown)
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ResdslFileError(f"the stored weight '{key}' holds NaN or infinite values",
                                  file=shown)


_REQUIRED = {"network": str, "origin": dict, "state_dict": dict}  # format 2's fields


def _read_payload(path: Path, shown: str) -> dict:
    if not path.exists():
        raise ResdslFileError("no such file", file=shown)
    if not path.is_file():
        raise ResdslFileError("is not a regular file, not a saved model", file=shown)
    if path.suffix == ".safetensors":
        payload = _read_safetensors(path, shown)
        return _checked(payload, shown)
    try:
        # weights_only: tensors, numbers, strings, lists and dicts; nothing runs.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load raises many types for a damaged file; all mean one thing
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ResdslFileError(f"not a readable resdsl model file ({reason[:200]})", file=shown) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ResdslFileError("not a resdsl model file (written by `resdsl build --save`)", file=shown)
    return _checked(payload, shown)


def _checked(payload: dict, shown: str) -> dict:
    version = payload.get("format_version")
    if type(version) is not int or version < 1:  # bool is an int: True would read as 1
        raise ResdslFileError("damaged resdsl model file: 'format_version' is missing or wrong",
                              file=shown)
    if version > FORMAT_VERSION:
        raise ResdslFileError(
            f"written by a newer resdsl (format {version}; this one reads up to "
            f"{FORMAT_VERSION})", file=shown, notes=("upgrade resdsl",))
    if version < FORMAT_VERSION:
        # Format 1 kept one spec text whose imports were read from the reader's disk.
        raise ResdslFileError(
            f"written by an older resdsl (format {version}), which this one no longer reads",
            file=shown, notes=("rebuild it from its spec: resdsl build SPEC --save FILE",))
    for key, kind in _REQUIRED.items():
        if not isinstance(payload.get(key), kind):
            raise ResdslFileError(f"damaged resdsl model file: '{key}' is missing or wrong", file=shown)
    return payload


# ---- weights alone (`create_model(weights=...)`) ---------------------------------------
def load_weights(model: CompiledNetwork, path: str | Path) -> None:
    """Load the weights of a file into `model`, strictly: a resdsl model file's, or a
    state_dict as timm and torchvision save one (a plain dict of tensors, or one under
    "state_dict" or "model"; DDP's "module." prefix dropped), in a .pt, .pth or
    .safetensors file. A key missing, left over or of another shape is named."""
    shown = str(path)
    state = _weights_of(Path(path), shown)
    _check_weights(model, state, shown, kind="weights file")
    _check_keys(model, state, shown)
    try:
        model.load_state_dict(state, strict=True)
    except (RuntimeError, TypeError) as error:  # what the checks above did not foresee
        raise ResdslFileError(f"the weights do not load: {str(error).strip()[:300]}",
                              file=shown) from None


def _weights_of(path: Path, shown: str) -> dict:
    """The state_dict a weights file holds."""
    if not path.is_file():
        raise ResdslFileError("no such file" if not path.exists() else "is not a regular file",
                              file=shown)
    try:
        if path.suffix == ".safetensors":
            payload = _safetensors().load_file(str(path))
        else:  # weights_only: tensors, numbers, strings, lists and dicts; nothing runs
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except ResdslError:
        raise
    except Exception as error:  # a damaged file: the readers raise many kinds
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ResdslFileError(f"not a readable weights file ({reason[:200]})", file=shown) from None
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return _checked(payload, shown)["state_dict"]
    for wrapper in ("state_dict", "model"):  # how training scripts save a checkpoint
        if isinstance(payload, dict) and isinstance(payload.get(wrapper), dict):
            payload = payload[wrapper]
            break
    if not isinstance(payload, dict) or not payload or \
            not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items()):
        raise ResdslFileError("not a state_dict (a dict of names to tensors, maybe under "
                              "'state_dict' or 'model')", file=shown)
    if all(key.startswith("module.") for key in payload):  # saved from a DDP-wrapped model
        payload = {key.removeprefix("module."): value for key, value in payload.items()}
    return payload


def _check_keys(model: CompiledNetwork, state: dict, shown: str) -> None:
    expected = model.state_dict()
    # BatchNorm counts its updates; torchvision's older files lack the count, torch fills it.
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in state if k in expected and state[k].shape != expected[k].shape]
    problems = ([f"missing {_first(missing)}"] if missing else []) + \
        ([f"unexpected {_first(unexpected)}"] if unexpected else [])
    if shapes:
        key = shapes[0]
        problems.append(f"'{key}' is {ir.shape_text(state[key].shape)} in the file but "
                        f"{ir.shape_text(expected[key].shape)} in the network" +
                        (f" (and {len(shapes) - 1} more)" if len(shapes) > 1 else ""))
    if problems:
        raise ResdslFileError(
            f"the weights do not fit network '{model.network.name}': " + "; ".join(problems),
            file=shown, notes=("a classifier of another size: build with the file's "
                               "num_classes (or in_chans), then replace it",) if shapes else ())


def _first(keys: list[str], shown: int = 3) -> str:
    names = ", ".join(f"'{k}'" for k in keys[:shown])
    return names + (f" (and {len(keys) - shown} more)" if len(keys) > shown else "")
