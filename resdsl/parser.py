"""Text -> syntax tree (`syntax.Module`), with spans, comments, and readable syntax errors."""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput,
                             UnexpectedToken, VisitError)

from . import syntax as syn
from .limits import MAX_DEPTH, MAX_DIGITS, MAX_NESTING
from .diagnostics import ResdslError, ResdslSyntaxError, ResdslValidationError, Span, register_source



@lru_cache(maxsize=1)
def grammar_text() -> str:
    # A source checkout keeps the grammar in the top-level grammars/ folder; an
    # installed wheel ships the same file as the resdsl.grammars package.
    checkout = Path(__file__).resolve().parent.parent / "grammars" / "resdsl.lark"
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    return resources.files("resdsl.grammars").joinpath("resdsl.lark").read_text(encoding="utf-8")


# Comments are ignored by the grammar; the lexer hands them here so fmt can keep them.
_comment_sink: list[Token] = []


@lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", propagate_positions=True,
                maybe_placeholders=True, lexer_callbacks={"COMMENT": _comment_sink.append},
                cache=True)  # the LALR tables, cached on disk: halves start-up time


def parse(text: str, path: str = "<string>") -> syn.Module:
    """Parse .res text into a syntax tree. Raises ResdslSyntaxError."""
    # Old Mac line ends (a lone CR) and Windows ones end lines too; the grammar and
    # the diagnostics count lines at "\n" only.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    register_source(path, text)
    check_characters(text, path)
    _check_nesting(text, path)
    _comment_sink.clear()
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(error, text, path) from None
    comments = list(_comment_sink)
    _check_depth(tree, path)
    try:
        module = _ToSyntax(path).transform(tree)
    except VisitError as error:  # Lark wraps what a callback raises
        if isinstance(error.orig_exc, ResdslError):
            raise error.orig_exc from None
        raise
    return _attach_comments(module, comments)


# Characters that look like ASCII ones a spec uses, as people paste them from papers,
# word processors and other scripts' keyboards. NFKC folds the full-width forms itself.
_LOOKALIKES = {
    **dict(zip("абвгеёкмнорстухіјѕԁһ", "a6breekmhopctyxijsdh")),
    **dict(zip("АВЕКМНОРСТХ", "ABEKMHOPCTX")),
    **dict(zip("αβεικνορτυχ", "aBeikvoptux")), **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ", "ABEZHIKMNOPTYX")),
    "\u00d7": "x", "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'",
    "\u201c": '"', "\u201d": '"', "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}
_NON_ASCII = re.compile(r"[^\t\n\f\x20-\x7e]")


def check_characters(text: str, path: str) -> None:
    """Refuse a character outside printable ASCII where the grammar reads (comments and
    quoted file names may hold any), naming it: `е` may be Cyrillic, `１` full-width."""
    for match in _NON_ASCII.finditer(text):
        start = text.rfind("\n", 0, match.start()) + 1
        if _in_comment_or_string(text[start:match.start()]):
            continue
        line = text.count("\n", 0, match.start()) + 1
        col = match.start() - start + 1
        raise ResdslSyntaxError(describe_character(match.group()),
                                Span(path, line, col, line, col + 1))


def _in_comment_or_string(before: str) -> bool:
    in_string = False
    for char in before:
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return True
    return in_string


def describe_character(char: str) -> str:
    """`U+0435 CYRILLIC SMALL LETTER IE looks like 'e'`, and what to write instead."""
    if unicodedata.category(char) == "Cc":
        return f"unexpected character U+{ord(char):04X} (a control character): delete it"
    what = f"U+{ord(char):04X} {unicodedata.name(char, 'an unnamed character')}"
    folded = _LOOKALIKES.get(char) or unicodedata.normalize("NFKC", char)
    if folded.isascii() and folded.isprintable() and folded != char:
        shown = "a space" if folded == " " else f"'{folded}'"
        return f"unexpected character {what}: it looks like {shown}, but only ASCII is " \
               f"read outside comments; write {shown} instead"
    if unicodedata.category(char) == "Nd":
        return (f"unexpected character {what}: a digit of another script; numbers are written "
                f"with the ASCII digits 0-9 (this one is {unicodedata.digit(char)})")
    if unicodedata.category(char) in ("Cf", "Zs", "Zl", "Zp") or char.isspace():
        return f"unexpected invisible character {what}: delete it"
    return f"unexpected character {what}: only ASCII is read outside comments and file names"


def _check_nesting(text: str, path: str) -> None:
    """Refuse absurdly deep nesting before the parser builds a tree that deep."""
    depth, line, col, in_comment = 0, 1, 0, False
    for char in text:
        col += 1
        if char == "\n":
            line, col, in_comment = line + 1, 0, False
        elif in_comment:
            continue
        elif char == "#":
            in_comment = True
        elif char in "({":
            depth += 1
            if depth > MAX_NESTING:
                span = Span(path, line, col, line, col + 1)
                raise ResdslSyntaxError(f"nesting deeper than {MAX_NESTING} levels", span)
        elif char in ")}":
            depth = max(0, depth - 1)


def _check_depth(tree: Tree, path: str) -> None:
    """Refuse a tree deeper than the recursive passes after the parser can walk
    (a long chain such as `1 + 1 + ... + 1` is as deep as it has operators)."""
    queue = deque([(tree, 1)])  # breadth first: the first too deep is the leftmost
    while queue:
        node, depth = queue.popleft()
        if depth > MAX_DEPTH:
            span = _span(path, node.meta) or Span(path, 1, 1, 1, 2)
            raise ResdslSyntaxError(
                f"nested too deeply: more than {MAX_DEPTH} levels of the parse tree (an "
                f"expression nests one level per operator, a brace two)", span)
        queue.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))


# ---- syntax errors in words ------------------------------------------------------
_TERMINAL_WORDS = {
    "NAME": "a name", "INT": "a number", "DECIMAL": "a number", "DIMS": "a size such as 3x3",
    "SIZE": "a quantity such as 21.8M", "STRING": 'a quoted file name such as "cifar.res"',
    "COMPARE": "a comparison ('==', '!=', '<', '<=', '>', '>=')", "SIZE_X": "'x'", "_NL": "a new line", "$END": "the end of the file",
}


_OPERATORS = {"+", "-", "*", "/", "//"}
_FUNCTIONS = {"max", "min", "round_to"}


def _describe_expected(names: set[str]) -> str:
    terminals = {t.name: t for t in _parser().terminals}
    words = []
    for name in sorted(names):
        term = terminals.get(name)
        if term is not None and term.pattern.type == "str" and term.pattern.value in _OPERATORS:
            words.append("an operator")
        elif term is not None and term.pattern.value in _FUNCTIONS and "NAME" in names:
            continue  # where a function may stand, so may a name: "a name" says it
        elif name in _TERMINAL_WORDS:
            words.append(_TERMINAL_WORDS[name])
        elif term is not None and term.pattern.type == "str":
            words.append(f"'{term.pattern.value}'")
        else:
            words.append(name.lower())
    # Keywords and punctuation first: they are what the user most likely left out.
    words = sorted(set(words), key=lambda w: (not w.startswith("'"), w))
    if len(words) > 10:
        words = words[:10] + ["..."]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _hint(token: Token, expected: set[str]) -> str | None:
    """A sentence for the mistakes people actually make, beyond the expected tokens."""
    if token.type == "NAME" and "STAGE" in expected:
        return "layers go inside `stem { ... }`, `stage NAME { ... }` or `head { ... }`"
    if "X" in expected and token.type == "NAME":
        return "a repeated block is written `N x block(args)`, e.g. `3 x basic(64)`"
    if token.type == "NAME" and "EQUAL" in expected:
        return "separate arguments with ','"
    if "RBRACE" in expected and token.type in _STATEMENT_KEYWORDS:
        return "is a '}' missing before it?"
    if token.type == "INT" and "DIMS" in expected:
        return "a size is numbers joined by 'x' without spaces, such as 3x224x224"
    return None


# Words that begin a statement: met where a '}' was expected, the '}' is likely missing.
_STATEMENT_KEYWORDS = {"IMPORT", "BLOCK", "FAMILY", "NETWORK", "RECIPE", "INPUT", "CLASSES",
                       "SHORTCUT", "STEM", "STAGE", "HEAD", "EXPECT", "TRAIN"}


def _after_text(text: str, line: int, col: int) -> bool:
    """Whether something other than blanks comes before column `col` of line `line`."""
    lines = text.split("\n")
    return 0 < line <= len(lines) and bool(lines[line - 1][:col - 1].strip().strip("{;"))


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NL":
        return "end of line"
    return f"'{token.value}'"


def _syntax_error(error: UnexpectedInput, text: str, path: str) -> ResdslSyntaxError:
    line, col = getattr(error, "line", 1) or 1, getattr(error, "column", 1) or 1
    width = 1
    missing = _statement_in_a_body(text, line, col, path)
    if missing is not None:
        return missing
    if isinstance(error, UnexpectedToken):
        token = error.token
        if token.type == "$END":
            line, col = _end_position(text)
        first_line = (str(token.value).splitlines() or [""])[0]
        width = 1 if token.type == "_NL" else max(1, len(first_line))
        expected = set(getattr(error, "accepts", None) or error.expected)
        message = f"unexpected {_describe_token(token)}; expected {_describe_expected(expected)}"
        hint = _hint(token, expected)
        if hint and token.type in _STATEMENT_KEYWORDS and _after_text(text, line, col):
            hint = "statements are separated by a new line or ';'"  # `classes 10 shortcut A`
        if hint:
            return ResdslSyntaxError(message, Span(path, line, col, line, col + width), notes=(hint,))
    elif isinstance(error, UnexpectedCharacters):
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        message = f"unexpected character {char!r}"
        if char == '"':
            message = "unterminated string: a quoted file name must end with '\"' on the same line"
        elif error.allowed:
            message += f"; expected {_describe_expected(set(error.allowed))}"
    elif isinstance(error, UnexpectedEOF):
        line, col = _end_position(text)
        message = f"unexpected end of file; expected {_describe_expected(set(error.expected))}"
    else:
        message = "syntax error"
    return ResdslSyntaxError(message, Span(path, line, col, line, col + width))


_STATEMENT_WORDS = {"stage", "stem", "head", "input", "classes", "expect", "train", "network",
                    "family", "block", "recipe", "import"}


def _statement_in_a_body(text: str, line: int, col: int, path: str) -> ResdslSyntaxError | None:
    """`stage s1: ...` read as a layer named `stage`: a list of layers left open above it.
    Inside a body these words are plain names, so the parser trips only later on the line."""
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    word = source.split()[0] if source.split() else ""
    start = source.find(word) + 1
    if word not in _STATEMENT_WORDS or col <= start or not _in_a_body(lines[:line - 1]):
        return None
    return ResdslSyntaxError(
        f"unexpected '{word}' inside a list of layers", Span(path, line, start, line,
                                                             start + len(word)),
        notes=("is a '}' missing before it?",))


def _in_a_body(lines: list[str]) -> bool:
    """Whether the innermost brace left open by `lines` opens a list of layers (a stem,
    stage, head, block, group or branch) rather than a network's or a family's body."""
    openers: list[str] = []
    for text in lines:
        code = text.split("#")[0] if '"' not in text else text
        for index, char in enumerate(code):
            if char == "{":
                openers.append(code[:index].split()[0] if code[:index].split() else "")
            elif char == "}" and openers:
                openers.pop()
    return bool(openers) and openers[-1] not in ("network", "family", "recipe")


def _end_position(text: str) -> tuple[int, int]:
    # Lines end at "\n" only, as Lark counts them; a final newline ends the last line.
    lines = text.removesuffix("\n").split("\n")
    return len(lines), len(lines[-1].removesuffix("\r")) + 1


# ---- tree -> syntax models ---------------------------------------------------------
def _span(path: str, item) -> Span | None:
    line = getattr(item, "line", None)
    if line is None:
        return None
    return Span(path, line, item.column, item.end_line, item.end_column)


@v_args(meta=True)
class _ToSyntax(Transformer):
    """One short callback per grammar rule, each returning a typed syntax node."""

    def __init__(self, path: str):
        super().__init__()
        self.path = path

    def _at(self, meta) -> Span | None:
        return None if meta.empty else _span(self.path, meta)

    # expressions
    def int_lit(self, meta, c): return syn.Number(text=str(c[0]), span=_span(self.path, c[0]))
    def decimal_lit(self, meta, c): return syn.Number(text=str(c[0]), span=_span(self.path, c[0]))
    def dims_lit(self, meta, c): return _dims(c[0], self.path)
    def name_ref(self, meta, c): return syn.Name(id=str(c[0]), span=_span(self.path, c[0]))
    def add(self, meta, c): return self._binop("+", meta, c)
    def sub(self, meta, c): return self._binop("-", meta, c)
    def mul(self, meta, c): return self._binop("*", meta, c)
    def div(self, meta, c): return self._binop("/", meta, c)
    def floordiv(self, meta, c): return self._binop("//", meta, c)

    def _binop(self, op, meta, c):
        return syn.BinOp(op=op, left=c[0], right=c[1], span=self._at(meta))

    def neg(self, meta, c): return syn.Neg(operand=c[0], span=self._at(meta))
    def function(self, meta, c): return str(c[0])

    def function_call(self, meta, c):
        return syn.Function(name=c[0], args=tuple(c[1:]), span=self._at(meta))

    def size(self, meta, c):
        parts = tuple(part for part in c if not isinstance(part, Token))
        if all(isinstance(p, syn.Number) and p.text.isdigit() for p in parts):
            # `(3)x3` is the size 3x3, written as fmt writes it back
            token = Token("DIMS", "x".join(p.text for p in parts), line=meta.line,
                          column=meta.column, end_line=meta.end_line, end_column=meta.end_column)
            return _dims(token, self.path)
        return syn.Size(parts=parts, span=self._at(meta))

    def conditional(self, meta, c):
        then, left, compare, right, otherwise = c
        return syn.Conditional(then=then, left=left, compare=str(compare), right=right,
                               otherwise=otherwise, span=self._at(meta))

    # calls and layers
    def positional_arg(self, meta, c): return syn.Arg(value=c[0], span=self._at(meta))

    def block_value(self, meta, c):
        return syn.Call(name=str(c[0]), args=c[1] or [], span=self._at(meta))
    def keyword_arg(self, meta, c): return syn.Arg(name=str(c[0]), value=c[1], span=self._at(meta))
    def option(self, meta, c): return syn.Arg(name=str(c[0]), value=c[1], span=self._at(meta))
    def layer_arg(self, meta, c): return c[0]
    def args(self, meta, c): return list(c)
    def layer_args(self, meta, c): return list(c)
    def params(self, meta, c): return list(c)
    def param(self, meta, c): return syn.Param(name=str(c[0]), default=c[1], span=self._at(meta))

    def call(self, meta, c):
        name, args = str(c[0]), c[1]
        # `name()` and `name` both give an empty placeholder: the span tells them apart.
        parens = not meta.empty and (meta.end_line != meta.line
                                     or meta.end_column - meta.column > len(name))
        return syn.Call(name=name, args=(args or []) if parens else None, span=self._at(meta))

    def layer(self, meta, c):
        label, kind, args, body = c
        return syn.LayerStmt(label=_text(label), layer=str(kind), args=args or [], body=body,
                             span=self._at(meta))

    def repeat(self, meta, c): return syn.RepeatStmt(count=c[0], call=c[1], span=self._at(meta))
    def inline_repeat(self, meta, c): return syn.RepeatStmt(count=c[0], body=c[1], span=self._at(meta))
    def group(self, meta, c): return syn.GroupStmt(label=_text(c[0]), body=c[1], span=self._at(meta))
    def container(self, meta, c): return c[0]
    def module_path(self, meta, c): return ".".join(map(str, c))
    def body(self, meta, c): return list(c)
    def net_body(self, meta, c): return list(c)
    def recipe_body(self, meta, c): return list(c)

    # network statements
    def input_stmt(self, meta, c): return syn.InputStmt(dims=_dims(c[0], self.path), span=self._at(meta))
    def classes_stmt(self, meta, c): return syn.ClassesStmt(value=c[0], span=self._at(meta))
    def shortcut_stmt(self, meta, c): return syn.ShortcutStmt(value=c[0], span=self._at(meta))
    def stem_stmt(self, meta, c): return self._section("stem", meta, c)
    def head_stmt(self, meta, c): return self._section("head", meta, c)
    def stage_body_stmt(self, meta, c): return self._section("stage", meta, c)

    def stem_call(self, meta, c):
        name, module, call = c
        return syn.SectionStmt(role="stem", name=_text(name), module=module, body=[], call=call,
                               span=self._at(meta))

    def _section(self, role, meta, c):
        name, module, body = c
        return syn.SectionStmt(role=role, name=_text(name), module=module, body=body,
                               span=self._at(meta))

    def stage_stmt(self, meta, c):
        return syn.StageStmt(name=str(c[0]), module=c[1], repeat=c[2], options=list(c[3:]),
                             span=self._at(meta))

    def quantity(self, meta, c): return str(c[0])

    def expect_stmt(self, meta, c):
        return syn.ExpectStmt(metric=str(c[0]), quantity=c[1], within=c[2], span=self._at(meta))

    def expect_none(self, meta, c):
        return syn.ExpectStmt(metric=str(c[0]), quantity=None, span=self._at(meta))

    def train_stmt(self, meta, c):
        return syn.TrainStmt(recipe=str(c[0]), fields=c[1], span=self._at(meta))

    def recipe_field(self, meta, c):
        return syn.RecipeField(name=str(c[0]), values=list(c[1:]), span=self._at(meta))

    # declarations
    def import_stmt(self, meta, c):
        return syn.ImportDecl(path=str(c[0])[1:-1], span=self._at(meta))

    def block_def(self, meta, c):
        return syn.BlockDecl(name=str(c[0]), params=c[1] or [], body=c[2], span=self._at(meta))

    def family_def(self, meta, c):
        return syn.FamilyDecl(name=str(c[0]), params=c[1] or [], body=c[2], span=self._at(meta))

    def network_def(self, meta, c):
        return syn.NetworkDecl(name=str(c[0]), body=c[1], span=self._at(meta))

    def derived_network(self, meta, c):
        return syn.NetworkDecl(name=str(c[0]), base=c[1], body=c[2], span=self._at(meta))

    def recipe_def(self, meta, c):
        return syn.RecipeDecl(name=str(c[0]), fields=c[1], span=self._at(meta))

    def derived_recipe(self, meta, c):
        return syn.RecipeDecl(name=str(c[0]), base=str(c[1]), fields=c[2], span=self._at(meta))

    def shortcut_def(self, meta, c):
        return syn.ShortcutDecl(name=str(c[0]), params=c[1] or [], cases=c[2], span=self._at(meta))

    def shortcut_body(self, meta, c): return list(c)

    def shortcut_case(self, meta, c):
        name, rest = str(c[0]), c[1]
        if isinstance(rest, Token):  # `same off`
            return syn.ShortcutCase(name=name, word=str(rest), span=self._at(meta))
        return syn.ShortcutCase(name=name, body=rest, span=self._at(meta))

    def start(self, meta, c):
        return syn.Module(path=self.path, decls=list(c), span=self._at(meta))


def _text(token: Token | None) -> str | None:
    return None if token is None else str(token)


def _dims(token: Token, path: str) -> syn.Dims:
    parts = str(token).split("x")
    if max(map(len, parts)) > MAX_DIGITS:
        shown = str(token) if len(token) <= 40 else str(token)[:37] + "..."
        raise ResdslValidationError(f"number too large in size {shown}", _span(path, token))
    values = tuple(int(part) for part in parts)
    return syn.Dims(values=values, span=_span(path, token))


# ---- comments ------------------------------------------------------------------------
BLANK_LINE = "\n"  # in a comment list: an empty line (a comment never holds a newline)

def _attach_comments(module: syn.Module, tokens: list[Token]) -> syn.Module:
    """Give each statement the whole-line comments above it and the one at its end."""
    pending = deque(tokens)
    decls = _attach_all(module.decls, pending)
    rest = tuple(_take_comments(pending, None))
    return replace(module, decls=decls, end_comments=rest)


def _take_comments(pending: deque, before_line: int | None) -> list[str]:
    """The comments of `pending` above `before_line` (all of them if None), with a
    BLANK_LINE where an empty line keeps two paragraphs of comments apart."""
    taken: list[str] = []
    last_line = None
    while pending and (before_line is None or pending[0].line < before_line):
        token = pending.popleft()
        if last_line is not None and token.line > last_line + 1:
            taken.append(BLANK_LINE)
        taken.append(_comment_text(token))
        last_line = token.line
    return taken


def _attach_all(stmts: list, pending: deque, closing_line: int | None = None) -> list:
    """`closing_line`: where the body holding `stmts` closes (None at the top level)."""
    starts = [s.span.line if s.span else None for s in stmts[1:]] + [closing_line]
    return [_attach(stmt, pending, next_start) for stmt, next_start in zip(stmts, starts)]


def _attach(stmt, pending: deque, next_start: int | None):
    """`next_start`: the line where the next sibling begins, or the body around it
    closes. A comment at the end of a line belongs to the last statement on it, the
    outermost where several end there: `head { avgpool; fc classes }  # ...` is the
    head's, not the fc's."""
    if stmt.span is None:
        return stmt
    update: dict = {"comments": tuple(_take_comments(pending, stmt.span.line))}
    for field in ("body", "fields", "cases"):
        children = getattr(stmt, field, None)
        if isinstance(children, list) and children and isinstance(children[0], syn.Statement):
            update[field] = _attach_all(children, pending, stmt.span.end_line)
    last_on_line = next_start != stmt.span.end_line
    if last_on_line and pending and pending[0].line == stmt.span.end_line:
        update["trailing_comment"] = _comment_text(pending.popleft())
    return replace(stmt, **update)


def _comment_text(token: Token) -> str:
    return str(token)[1:].rstrip()
