"""Reading .res files and resolving their imports into one namespace of declarations.

Every file is parsed and checked by the static rules (`rules.py`) once, when it is
read, whether it is the file named on the command line, an import or the prelude.
A `Program` remembers the text of every file it read (`sources`), so that a model
file can carry its spec and be rebuilt through the same path without the files.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import Callable

from . import syntax as syn
from .diagnostics import ResdslFileError, ResdslImportError, ResdslValidationError, Span
from .catalog import builtin_names
from .expressions import BlockValue, Symbol, describe, did_you_mean
from .limits import MAX_FILE_BYTES, MAX_IMPORT_DEPTH, paused_gc
from .parser import parse

PRELUDE_PATH = "<prelude>"

TABLES = {syn.BlockDecl: "blocks", syn.FamilyDecl: "families", syn.NetworkDecl: "networks",
          syn.RecipeDecl: "recipes", syn.ShortcutDecl: "shortcuts"}


@dataclass
class Namespace:
    """Every block, family, network, recipe and shortcut a file can see, by name.

    Later definitions shadow earlier ones: the prelude first, then imports in order,
    then the file's own declarations, so a spec can redefine `basic` or `B`.
    """

    blocks: dict[str, syn.BlockDecl] = field(default_factory=dict)
    families: dict[str, syn.FamilyDecl] = field(default_factory=dict)
    networks: dict[str, syn.NetworkDecl] = field(default_factory=dict)
    recipes: dict[str, syn.RecipeDecl] = field(default_factory=dict)
    shortcuts: dict[str, syn.ShortcutDecl] = field(default_factory=dict)

    def add_module(self, module: syn.Module) -> None:
        for decl in module.decls:
            if type(decl) in TABLES:
                getattr(self, TABLES[type(decl)])[decl.name] = decl

    def merge(self, other: Namespace) -> None:
        for name in TABLES.values():
            getattr(self, name).update(getattr(other, name))

    def block_called(self, call: syn.Call, env) -> tuple[syn.BlockDecl, BlockValue | None]:
        """The block `N x name(...)` or `stem: name()` calls: the block a family's
        parameter `name` holds (`block = bottleneck(stride_on = 3x3)`, with the arguments
        given in advance), else the block declared as `name`."""
        value = env.get(call.name)
        if isinstance(value, Symbol):
            value = BlockValue(value.name)
        if isinstance(value, BlockValue):
            return self.lookup("blocks", value.name, call.span, "block"), value
        if value is not None:
            raise ResdslValidationError(f"'{call.name}' is {describe(value)}, not a block",
                                        call.span)
        return self.lookup("blocks", call.name, call.span, "block"), None

    def lookup(self, table: str, name: str, span: Span | None, what: str):
        entries = getattr(self, table)
        if name not in entries:
            raise ResdslValidationError(f"unknown {what} '{name}'", span,
                                        notes=did_you_mean(name, entries))
        return entries[name]


@dataclass
class Program:
    """A parsed file, its namespace (imports resolved), and its own networks."""

    module: syn.Module
    namespace: Namespace
    text: str
    # Every file read for it, by the path its spans name: the file itself and its imports.
    sources: dict[str, str] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)  # where its imports are resolved from
    # What the user should know but that is no error: a local file hiding a built-in spec.
    notes: list[str] = field(default_factory=list)

    @cached_property
    def networks(self) -> list[syn.NetworkDecl]:
        return [d for d in self.module.decls if isinstance(d, syn.NetworkDecl)]

    @cached_property
    def own_networks(self) -> dict[str, syn.NetworkDecl]:
        """The file's own networks by name (`check` looks each one up)."""
        return {d.name: d for d in self.networks}


# How an import is read: from the disk, or from the sources a model file carries.
Reader = Callable[[Path], str]


class MissingFileError(ResdslFileError):
    """No file there (where an import may then name a built-in spec)."""


def read_spec(path: str | Path) -> str:
    """The text of a spec file, or a ResdslFileError that says what is wrong with it."""
    path, shown = Path(path), str(path)
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise ResdslFileError("is a directory, not a .res file", file=shown)
        if not stat.S_ISREG(info.st_mode):  # a pipe or a device would block or never end
            raise ResdslFileError("not a regular file (a pipe, a device or a socket)", file=shown)
        # Read one byte past the limit rather than trust st_size, which may change.
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise MissingFileError("no such file", file=shown) from None
    except (OSError, ValueError, RuntimeError) as error:  # ValueError: a NUL byte in the path
        reason = getattr(error, "strerror", None) or error
        raise ResdslFileError(f"cannot read file: {reason}", file=shown) from None
    if len(data) > MAX_FILE_BYTES:
        raise ResdslFileError(f"file is larger than {MAX_FILE_BYTES // 1024} KiB; not a spec",
                              file=shown)
    return decode(data, shown)


def decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        from .diagnostics import register_source

        # Shown with the bad bytes replaced, so the error gets its line and caret.
        register_source(shown, data.decode("utf-8-sig", errors="replace"))
        start = data.rfind(b"\n", 0, error.start) + 1
        line = data[:error.start].count(b"\n") + 1
        col = len(data[start:error.start].decode("utf-8", errors="replace")) + 1
        raise ResdslFileError(
            f"file is not UTF-8 text (byte 0x{data[error.start]:02x})",
            Span(shown, line, col, line, col + 1)) from None


@lru_cache(maxsize=1)
def prelude() -> syn.Module:
    text = resources.files("resdsl").joinpath("prelude.res").read_text(encoding="utf-8")
    module = parse(text, PRELUDE_PATH)
    namespace = Namespace()
    namespace.add_module(module)
    _check(module, namespace)
    return module


def prelude_namespace() -> Namespace:
    namespace = Namespace()
    namespace.add_module(prelude())
    return namespace


def load_program(path: str | Path) -> Program:
    """A spec file and everything it imports, from the disk."""
    text = read_spec(path)
    resolved = Path(path).resolve()
    return program_from_text(text, str(path), base_dir=resolved.parent, importing=(resolved,))


def program_from_sources(path: str, base_dir: str | Path, sources: dict[str, str]) -> Program:
    """A program rebuilt from the texts of its files (a model file's), with no disk:
    imports are resolved from `base_dir` as they were, and looked up among `sources`."""
    def read(target: Path) -> str:
        if str(target) not in sources:
            raise MissingFileError("is not among the sources this file carries", file=str(target))
        return sources[str(target)]

    if path not in sources:
        raise ResdslFileError("the spec's own text is missing", file=path)
    return program_from_text(sources[path], path, base_dir=Path(base_dir),
                             importing=(Path(base_dir) / Path(path).name,), reader=read)


def program_from_text(text: str, path: str = "<string>", base_dir: Path | None = None,
                      importing: tuple[Path, ...] = (), loaded: dict | None = None,
                      reader: Reader = read_spec) -> Program:
    """`importing`: the chain of files being read (for cycles); `loaded`: the programs
    of the files already read in this load, so a file imported twice is read once."""
    with paused_gc():
        module = parse(text, path)
    namespace = prelude_namespace()
    base_dir = base_dir or Path.cwd()
    loaded = {} if loaded is None else loaded
    sources, notes = {path: text}, []
    for decl in module.decls:
        if isinstance(decl, syn.ImportDecl):
            imported = _import(decl, base_dir, importing, loaded, reader)
            namespace.merge(imported.namespace)
            sources.update(imported.sources)
            notes += [n for n in imported.notes if n not in notes]
    _check_duplicates(module)
    namespace.add_module(module)
    _check(module, namespace)
    return Program(module, namespace, text, sources, base_dir, notes)


def _check(module: syn.Module, namespace: Namespace) -> None:
    from .rules import check_module  # rules reads the namespace this module builds

    check_module(module, namespace)


def _import(decl: syn.ImportDecl, base_dir: Path, importing: tuple[Path, ...],
            loaded: dict[Path, Program], reader: Reader) -> Program:
    try:
        target = (base_dir / decl.path).resolve()
    except (OSError, ValueError, RuntimeError) as error:  # too long, a NUL, a symlink loop
        reason = getattr(error, "strerror", None) or error
        raise ResdslImportError(f"cannot import \"{decl.path}\": {reason}", decl.span) from None
    text = note = None
    if target not in importing and target not in loaded:  # a file imported twice is read once
        text, target, note = _read_import(decl, target, reader)
    if target in importing:
        chain = " -> ".join(p.name for p in (*importing, target))
        raise ResdslImportError(f"import cycle: {chain}", decl.span)
    if target in loaded:
        return loaded[target]
    if len(importing) >= MAX_IMPORT_DEPTH:
        raise ResdslImportError(f"imports nested more than {MAX_IMPORT_DEPTH} files deep", decl.span)
    program = program_from_text(text, str(target), target.parent, (*importing, target), loaded,
                                reader)
    if note and note not in program.notes:
        program.notes.insert(0, note)
    loaded[target] = program
    return program


def _read_import(decl: syn.ImportDecl, target: Path, reader: Reader) -> tuple[str, Path, str | None]:
    """The imported text and the file it came from: the file beside the importer, or,
    where there is none, the built-in spec of that name (`import "timm/timm.res"`).
    A local file hiding a built-in one is read, with a note that says so."""
    builtin = builtin_names().get(decl.path.removesuffix(".res"))
    try:
        text = reader(target)
    except MissingFileError as error:
        if builtin is None:
            raise ResdslImportError(f"cannot import \"{decl.path}\": {error.message} ({target})",
                                    decl.span) from None
        return _read_import_at(decl, builtin.resolve(), reader), builtin.resolve(), None
    except ResdslFileError as error:
        raise ResdslImportError(f"cannot import \"{decl.path}\": {error.message} ({target})",
                                decl.span) from None
    note = None
    if builtin is not None and builtin.resolve() != target:
        note = (f"{decl.span}: import \"{decl.path}\" reads the local file {target}, not the "
                f"built-in spec of that name ({builtin})")
    return text, target, note


def _read_import_at(decl: syn.ImportDecl, target: Path, reader: Reader) -> str:
    try:
        return reader(target)
    except ResdslFileError as error:
        raise ResdslImportError(f"cannot import \"{decl.path}\": {error.message} ({target})",
                                decl.span) from None


def _check_duplicates(module: syn.Module) -> None:
    seen: dict[tuple[str, str], syn.Statement] = {}
    for decl in module.decls:
        if isinstance(decl, syn.ImportDecl):
            continue
        key = (decl.kind, decl.name)
        if key in seen:
            first = seen[key].span
            raise ResdslValidationError(
                f"{decl.kind} '{decl.name}' is defined twice", decl.span,
                notes=(f"first defined at {first}",) if first else ())
        seen[key] = decl
