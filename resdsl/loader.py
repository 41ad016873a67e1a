"""Reading .res files and resolving their imports into one namespace of declarations."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from . import syntax as syn
from .diagnostics import ResdslFileError, ResdslImportError, ResdslValidationError, Span
from .evaluate import did_you_mean
from .parse import parse

MAX_FILE_BYTES = 4 * 1024 * 1024  # far beyond any spec; refuse before parsing
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
    if not path.exists():
        raise ResdslFileError("no such file", file=shown)
    if path.is_dir():
        raise ResdslFileError("is a directory, not a .res file", file=shown)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ResdslFileError(f"file is larger than {MAX_FILE_BYTES // 2**20} MiB; "
                                  "not a spec", file=shown)
        data = path.read_bytes()
    except OSError as error:
        raise ResdslFileError(f"cannot read file: {error.strerror or error}", file=shown) from None
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
                      importing: tuple[Path, ...] = ()) -> Program:
    module = parse(text, path)
    namespace = Namespace()
    namespace.add_module(prelude())
    base_dir = base_dir or Path.cwd()
    for decl in module.decls:
        if isinstance(decl, syn.ImportDecl):
            namespace.merge(_import(decl, base_dir, importing))
    _check_duplicates(module)
    namespace.add_module(module)
    return Program(module, namespace, text)


def _import(decl: syn.ImportDecl, base_dir: Path, importing: tuple[Path, ...]) -> Namespace:
    target = (base_dir / decl.path).resolve()
    if target in importing:
        chain = " -> ".join(p.name for p in (*importing, target))
        raise ResdslImportError(f"import cycle: {chain}", decl.span)
    if not target.is_file():
        what = "is a directory" if target.is_dir() else "no such file"
        raise ResdslImportError(f"cannot import \"{decl.path}\": {what} ({target})", decl.span)
    try:
        text = read_spec(target)
    except ResdslFileError as error:
        raise ResdslImportError(f"cannot import \"{decl.path}\": {error.message}", decl.span) from None
    program = program_from_text(text, str(target), target.parent, (*importing, target))
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
