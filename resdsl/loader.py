"""Reading .res files and resolving their imports into one namespace of declarations."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from . import syntax as syn
from .diagnostics import ResdslFileError, ResdslImportError, ResdslValidationError, Span
from .evaluate import did_you_mean
from .parser import parse

MAX_FILE_BYTES = 4 * 1024 * 1024  # far beyond any spec; refuse before parsing
MAX_IMPORT_DEPTH = 64  # files importing files; deeper is a mistake (and would overflow the stack)
PRELUDE_PATH = "<prelude>"


@dataclass
class Namespace:
    """Every block, family, network and recipe a file can see, by name.

    Later definitions shadow earlier ones: the prelude first, then imports in order,
    then the file's own declarations, so a spec can redefine `basic`.
    """

    blocks: dict[str, syn.BlockDecl] = field(default_factory=dict)
    families: dict[str, syn.FamilyDecl] = field(default_factory=dict)
    networks: dict[str, syn.NetworkDecl] = field(default_factory=dict)
    recipes: dict[str, syn.RecipeDecl] = field(default_factory=dict)

    def add_module(self, module: syn.Module) -> None:
        tables = {syn.BlockDecl: self.blocks, syn.FamilyDecl: self.families,
                  syn.NetworkDecl: self.networks, syn.RecipeDecl: self.recipes}
        for decl in module.decls:
            if type(decl) in tables:
                tables[type(decl)][decl.name] = decl

    def merge(self, other: "Namespace") -> None:
        for name in ("blocks", "families", "networks", "recipes"):
            getattr(self, name).update(getattr(other, name))

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

    @property
    def networks(self) -> list[syn.NetworkDecl]:
        return [d for d in self.module.decls if isinstance(d, syn.NetworkDecl)]


def read_spec(path: str | Path) -> str:
    """The text of a spec file, or a ResdslFileError that says what is wrong with it."""
    path = Path(path)
    shown = str(path)
    try:
        if not path.exists():
            raise ResdslFileError("no such file", file=shown)
        if path.is_dir():
            raise ResdslFileError("is a directory, not a .res file", file=shown)
        # Read one byte past the limit rather than trust st_size: /dev/zero has size 0.
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as error:  # ValueError: a NUL byte in the path
        reason = getattr(error, "strerror", None) or error
        raise ResdslFileError(f"cannot read file: {reason}", file=shown) from None
    if len(data) > MAX_FILE_BYTES:
        raise ResdslFileError(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB; not a spec",
                              file=shown)
    return decode(data, shown)


def decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        col = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ResdslFileError(
            f"file is not UTF-8 text (byte 0x{data[error.start]:02x})",
            Span(shown, line, col, line, col + 1)) from None


@lru_cache(maxsize=1)
def prelude() -> syn.Module:
    text = resources.files("resdsl").joinpath("prelude.res").read_text(encoding="utf-8")
    return parse(text, PRELUDE_PATH)


def load_program(path: str | Path) -> Program:
    text = read_spec(path)
    return program_from_text(text, str(path), base_dir=Path(path).resolve().parent,
                             importing=(Path(path).resolve(),))


def program_from_text(text: str, path: str = "<string>", base_dir: Path | None = None,
                      importing: tuple[Path, ...] = (),
                      loaded: dict[Path, Namespace] | None = None) -> Program:
    """`importing`: the chain of files being read (for cycles); `loaded`: the namespaces
    of the files already read in this load, so a file imported twice is read once."""
    module = parse(text, path)
    namespace = Namespace()
    namespace.add_module(prelude())
    base_dir = base_dir or Path.cwd()
    loaded = {} if loaded is None else loaded
    for decl in module.decls:
        if isinstance(decl, syn.ImportDecl):
            namespace.merge(_import(decl, base_dir, importing, loaded))
    _check_duplicates(module)
    namespace.add_module(module)
    return Program(module, namespace, text)


def _import(decl: syn.ImportDecl, base_dir: Path, importing: tuple[Path, ...],
            loaded: dict[Path, Namespace]) -> Namespace:
    try:
        target = (base_dir / decl.path).resolve()
        is_file, is_dir, exists = target.is_file(), target.is_dir(), target.exists()
    except (OSError, ValueError) as error:  # a name too long, a NUL byte
        reason = getattr(error, "strerror", None) or error
        raise ResdslImportError(f"cannot import \"{decl.path}\": {reason}", decl.span) from None
    if target in importing:
        chain = " -> ".join(p.name for p in (*importing, target))
        raise ResdslImportError(f"import cycle: {chain}", decl.span)
    if target in loaded:
        return loaded[target]
    if len(importing) >= MAX_IMPORT_DEPTH:
        raise ResdslImportError(f"imports nested more than {MAX_IMPORT_DEPTH} files deep", decl.span)
    if not is_file:
        what = "is a directory" if is_dir else "not a regular file" if exists else "no such file"
        raise ResdslImportError(f"cannot import \"{decl.path}\": {what} ({target})", decl.span)
    try:
        text = read_spec(target)
    except ResdslFileError as error:
        raise ResdslImportError(f"cannot import \"{decl.path}\": {error.message}", decl.span) from None
    program = program_from_text(text, str(target), target.parent, (*importing, target), loaded)
    loaded[target] = program.namespace
    return program.namespace


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
