"""The built-in specs, by name: `resdsl summary resnet34`, `resdsl.load("timm/resnet50d")`.

The `specs/` folder of the repository ships inside the wheel (as the package
`resdsl.specs`). A spec is named by its path there without `.res` ("resnet34",
"torchvision/resnet50"), or by its file name alone when only one folder has it
("resnet50d"). Where a command or a function takes a spec, a file of that name wins
over a built-in one, and `resolve` says so.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from .diagnostics import ResdslArgumentError, ResdslFileError
from .expressions import did_you_mean


@lru_cache(maxsize=1)
def specs_dir() -> Path:
    # A source checkout keeps the specs in the top-level specs/ folder; an installed
    # wheel ships the same files as the resdsl.specs package.
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file() and (root / "specs" / "resnet34.res").is_file():
        return root / "specs"
    return Path(str(resources.files("resdsl.specs")))


@lru_cache(maxsize=1)
def builtin_names() -> dict[str, Path]:
    """Every built-in spec by its name: the path below specs/ without `.res`, and the
    file name alone where it is unique."""
    root = specs_dir()
    files = sorted(root.glob("**/*.res"))
    names = {str(p.relative_to(root).with_suffix("")): p for p in files}
    stems: dict[str, list[Path]] = {}
    for path in files:
        stems.setdefault(path.stem, []).append(path)
    for stem, paths in stems.items():
        names.setdefault(stem, paths[0]) if len(paths) == 1 else None
    return names


@dataclass(frozen=True)
class Resolved:
    path: Path
    note: str | None = None  # said when a local file hides a built-in spec of that name


def resolve(spec: str | Path) -> Resolved:
    """The file a spec reference means: a path that exists, else a built-in name."""
    text = str(spec)
    local = next((p for p in (Path(text), Path(text + ".res")) if p.exists()), None)
    builtin = builtin_names().get(text.removesuffix(".res"))
    if local is not None:
        shadowed = builtin is not None and local.resolve() != builtin.resolve()
        note = (f"using the local file {local}, not the built-in spec '{text}' "
                f"(name that one by its path: {builtin})") if shadowed else None
        return Resolved(local, note)
    if builtin is not None:
        return Resolved(builtin)
    raise ResdslFileError("no such file, and no built-in spec of that name", file=text,
                          notes=did_you_mean(text, builtin_names()) or
                          ("`resdsl list` shows the built-in specs",))


def split_reference(spec: str | Path) -> tuple[str, str | None]:
    """`FILE:NETWORK` -> (FILE, NETWORK): one network of a file that declares several
    (`r50.res:resnet50_C`), as `resdsl list` names them. A reference that names a file or
    a built-in spec as it is given stays whole, so a file name with a colon in it and a
    Windows path (`C:\\specs\\r50.res`, after whose colon comes no network name) are
    read as files."""
    text = str(spec)
    head, colon, name = text.rpartition(":")
    if not colon or not head or not name.isidentifier() or _names_a_spec(text):
        return text, None
    return head, name


def _names_a_spec(text: str) -> bool:
    return (Path(text).exists() or Path(text + ".res").exists()
            or text.removesuffix(".res") in builtin_names())


def reference(spec: str | Path, network: str | None = None) -> tuple[Resolved, str | None]:
    """The file a reference means and the network it names, by `FILE:NETWORK` or by
    `network` (the `--network` option, a function's argument); both, if they differ,
    is an error of the argument."""
    text, named = split_reference(spec)
    if named and network and named != network:
        raise ResdslArgumentError("network", f"'{spec}' names network '{named}', and "
                                             f"network '{network}' is asked for too")
    return resolve(text), named or network


@dataclass(frozen=True)
class Entry:
    name: str  # as `resolve` takes it: "resnet34", "torchvision/resnet50"
    path: Path
    source: str  # where the network comes from: "He et al. 2015, Table 1", "timm"


def entries(pattern: str | None = None) -> list[Entry]:
    """The built-in specs that declare a network, by their full names, matching a
    shell-style `pattern` (`resnet*`, `timm/*`) if given."""
    root = specs_dir()
    out = []
    for path in sorted(root.glob("**/*.res")):
        name = str(path.relative_to(root).with_suffix(""))
        if pattern and not (fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(path.stem, pattern)):
            continue
        out.append(Entry(name, path, _source(path, root)))
    return out


def _source(path: Path, root: Path) -> str:
    """The subfolder (torchvision, timm), or the file's first comment up to its colon."""
    if path.parent != root:
        return path.parent.name
    first = path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    return first.lstrip("# ").split(":")[0].strip() if first.startswith("#") else ""
