"""Syntax tree -> canonical .res text.

It prints the file as written (imports, families, blocks, comments), not the expanded
network, so `resdsl fmt --write` only changes layout. Parsing the output gives the same
syntax tree, and every shipped spec is already in this form (tests hold both).
"""

from __future__ import annotations

import re

from . import syntax as syn
from .diagnostics import ResdslFileError
from .limits import MAX_FILE_BYTES

INDENT = "    "
ONE_LINE_BODY = 4  # a body of at most this many short layers prints as `{ a; b; c }`
LINE_WIDTH = 88


def format_module(module: syn.Module) -> str:
    chunks = [_decl(decl) for decl in module.decls]
    text = "\n\n".join(chunks)
    if module.end_comments:
        text += ("\n\n" if chunks else "") + "\n".join(_comment(c) for c in module.end_comments)
    return text + "\n" if text else ""


def format_file(module: syn.Module, shown: str) -> str:
    """A file's canonical text, refused when longer than a spec may be: `fmt` never
    writes (or prints) a file that `check` would then refuse to read."""
    text = format_module(module)
    size = len(text.encode("utf-8"))
    if size > MAX_FILE_BYTES:
        raise ResdslFileError(f"its canonical form would be {size:,} bytes, larger than the "
                              f"{MAX_FILE_BYTES // 1024} KiB a spec may have; left as it is",
                              file=shown)
    return text


# ---- expressions -------------------------------------------------------------------
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "//": 2}


def expr(node: syn.Expr, parent: int = 0, right_side: bool = False) -> str:
    """`parent`: the precedence of the operator around `node` (0 at the top, or as the
    left operand of + and -, where a leading minus may stand)."""
    if isinstance(node, syn.Neg):
        text = f"-{expr(node.operand, 2)}"
        return text if parent == 0 or (parent == 1 and not right_side) else f"({text})"
    if isinstance(node, syn.Number):
        return node.text
    if isinstance(node, syn.Dims):
        return "x".join(str(v) for v in node.values)
    if isinstance(node, syn.Name):
        return node.id
    if isinstance(node, syn.BinOp):
        mine = _PRECEDENCE[node.op]
        text = f"{expr(node.left, mine)} {node.op} {expr(node.right, mine, right_side=True)}"
        # Left-associative: a right operand of equal precedence needs its parentheses.
        needs = mine < parent or (mine == parent and right_side)
        return f"({text})" if needs else text
    if isinstance(node, syn.Size):
        return "x".join(p.text if isinstance(p, syn.Number) and p.text.isdigit() else f"({expr(p)})"
                        for p in node.parts)
    if isinstance(node, syn.Function):
        return f"{node.name}({', '.join(expr(a) for a in node.args)})"
    if isinstance(node, syn.Conditional):
        return (f"({expr(node.then)} if {expr(node.left)} {node.compare} {expr(node.right)} "
                f"else {expr(node.otherwise)})")
    raise TypeError(f"not an expression: {node!r}")


def _arg(arg: syn.Arg, keyword: str = " = ") -> str:
    if isinstance(arg.value, syn.Call):  # a block given as a family's argument
        return (f"{arg.name} = " if arg.name else "") + call(arg.value)
    if arg.name is None:
        return expr(arg.value)
    value = expr(arg.value)
    if keyword == " " and isinstance(arg.value, syn.Neg):
        value = f"({value})"  # an option's value cannot begin with '-'
    return f"{arg.name}{keyword}{value}"


def call(node: syn.Call) -> str:
    if node.args is None:
        return node.name
    return f"{node.name}({', '.join(_arg(a) for a in node.args)})"


def _signature(keyword: str, decl) -> str:
    """`block name(a, b = 1)`, its parameters wrapped under the first past LINE_WIDTH."""
    texts = [p.name if p.default is None else f"{p.name} = {expr(p.default)}" for p in decl.params]
    return wrap(f"{keyword} {decl.name}(", texts, ")", reserve=2)


def wrap(head: str, parts: list[str], tail: str, indent: int = 0, reserve: int = 0) -> str:
    """`head` + parts joined by ", " + `tail`, continued under the first part where a
    line would pass LINE_WIDTH (`indent`: the column `head` starts at; `reserve`: what
    follows the last line, such as " {")."""
    lines, line = [], head
    for i, text in enumerate(parts):
        piece = text + ("," if i < len(parts) - 1 else tail)
        end = reserve if i == len(parts) - 1 else 0
        if line != head and indent + len(line) + 1 + len(piece) + end > LINE_WIDTH:
            lines.append(line)
            line = " " * len(head) + piece
        else:
            line += ("" if line == head else " ") + piece
    lines.append(line if parts else head + tail)
    return "\n".join(lines)


def _params(params: list[syn.Param]) -> str:
    return ", ".join(p.name if p.default is None else f"{p.name} = {expr(p.default)}"
                     for p in params)


# ---- statements ----------------------------------------------------------------------
def _comment(text: str) -> str:
    if text == "\n":  # parse.BLANK_LINE: an empty line between comment paragraphs
        return ""
    return f"#{text}" if text.startswith(" ") or not text else f"# {text}"


def _layer(stmt: syn.LayerStmt, label_width: int) -> str:
    head = _labelled(stmt.label, label_width, stmt.layer)
    args = ", ".join(_arg(a, keyword=" ") for a in stmt.args)
    head = f"{head} {args}" if args else head
    return head if stmt.body is None else _braced(head, _body_lines(stmt.body), 0)


def _labelled(label: str | None, width: int, text: str) -> str:
    prefix = f"{label}:" if label else ""
    return f"{prefix:<{width}}{text}" if width else (f"{prefix} {text}" if prefix else text)


def _item(stmt, label_width: int) -> str:
    if isinstance(stmt, syn.LayerStmt):
        return _layer(stmt, label_width)
    if isinstance(stmt, syn.GroupStmt):
        prefix = f"{stmt.label}:" if stmt.label else ""
        return _braced(f"{prefix:<{label_width - 1}}" if label_width else prefix,
                       _body_lines(stmt.body), 0)
    if stmt.call is not None:
        return f"{expr(stmt.count)} x {call(stmt.call)}"
    return _braced(f"{expr(stmt.count)} x", _body_lines(stmt.body), 0)


def _body_lines(items: list) -> list[tuple[syn.Statement, str]]:
    # Layer kinds line up past the labels; a group's label alone needs no column.
    labelled = any(isinstance(i, syn.LayerStmt) and i.label for i in items)
    labels = [len(i.label) + 2 for i in items
              if isinstance(i, (syn.LayerStmt, syn.GroupStmt)) and i.label]
    width = max(labels, default=0) if labelled else 0
    # A branch's or a group's lines go under the layer kinds, past the labels.
    return [(i, _item(i, width).replace("\n", "\n" + " " * width)) for i in items]


def _one_line(items: list[syn.Statement], texts: list[str], prefix: str) -> str | None:
    """`{ a; b }` for short bodies without comments, as the paper writes a head."""
    if len(items) > ONE_LINE_BODY or any(i.comments or i.trailing_comment for i in items) \
            or any("\n" in text for text in texts):
        return None
    space = " " if prefix else ""
    # On one line, labels and recipe fields are not aligned: `{ avgpool; fc: conv 1x1, 10 }`,
    # `{ lr 0.05; lr_steps 1, 2 }`.
    texts = [re.sub(r"^(\w+:?)\s+", r"\1 ", text.strip()) for text in texts]
    line = f"{prefix}{space}{{ {'; '.join(texts)} }}" if texts else f"{prefix}{space}{{ }}"
    return line if len(line) <= LINE_WIDTH else None


def _braced(prefix: str, pairs: list[tuple[syn.Statement, str]], depth: int,
            allow_one_line: bool = True) -> str:
    items, texts = [p[0] for p in pairs], [p[1] for p in pairs]
    if allow_one_line:
        single = _one_line(items, texts, prefix)
        if single is not None:
            return single
    inner = _lines(pairs, depth + 1)
    opening = f"{prefix} {{" if prefix else "{"
    return f"{opening}\n{inner}\n{INDENT * depth}}}" if inner else f"{opening}\n{INDENT * depth}}}"


def _lines(pairs: list[tuple[syn.Statement, str]], depth: int, groups=None) -> str:
    """Statements one per line, comments above and aligned trailing comments."""
    pad = INDENT * depth
    width = max((len(t.splitlines()[-1]) for s, t in pairs if s.trailing_comment
                 and "\n" not in t), default=0)
    out: list[str] = []
    for index, (stmt, text) in enumerate(pairs):
        if groups and index and groups[index] != groups[index - 1]:
            out.append("")
        out.extend((pad + _comment(c)).rstrip() for c in stmt.comments)
        text = "\n".join((pad + line if line else line) for line in text.splitlines())
        if stmt.trailing_comment is not None:
            last = text.splitlines()[-1].strip()
            fill = width - len(last) if "\n" not in text.strip() else 0
            text += " " * (max(fill, 0) + 2) + _comment(stmt.trailing_comment)
        out.append(text)
    return "\n".join(out)


_SCALAR_PAD = len("shortcut ")
_GROUP = {"input": 0, "classes": 0, "shortcut": 0, "section": 1, "stage": 1,
          "expect": 2, "train": 2}


def _net_stmt(stmt) -> str:
    if isinstance(stmt, syn.InputStmt):
        return f"{'input':<{_SCALAR_PAD}}{expr(stmt.dims)}"
    if isinstance(stmt, syn.ClassesStmt):
        return f"{'classes':<{_SCALAR_PAD}}{expr(stmt.value)}"
    if isinstance(stmt, syn.ShortcutStmt):
        return f"{'shortcut':<{_SCALAR_PAD}}{expr(stmt.value)}"
    if isinstance(stmt, syn.SectionStmt):
        prefix = stmt.role + (f" {stmt.name}" if stmt.name else "") + _container(stmt)
        if stmt.call is not None:
            return f"{prefix}: {call(stmt.call)}"
        return _braced(prefix, _body_lines(stmt.body), 0)
    if isinstance(stmt, syn.StageStmt):
        options = "".join(f", {_arg(o, keyword=' ')}" for o in stmt.options)
        repeat = stmt.repeat
        head = f"stage {stmt.name}{_container(stmt)}: {expr(repeat.count)} x "
        if repeat.call is None or repeat.call.args is None:
            return head + _item(repeat, 0) + options
        return wrap(f"{head}{repeat.call.name}(", [_arg(a) for a in repeat.call.args],
                    ")" + options, indent=len(INDENT))
    if isinstance(stmt, syn.ExpectStmt):
        within = f" within {stmt.within}%" if stmt.within else ""
        return f"expect {stmt.metric:<6} {stmt.quantity or 'none'}{within}"
    if isinstance(stmt, syn.TrainStmt):
        if stmt.fields is None:
            return f"train {stmt.recipe}"
        return _braced(f"train {stmt.recipe}", _recipe_lines(stmt.fields), 0)
    raise TypeError(f"not a network statement: {stmt!r}")


def _container(stmt) -> str:
    return f" in {stmt.module}" if stmt.module else ""


def _net_body(prefix: str, body: list) -> str:
    pairs = [(s, _net_stmt(s)) for s in body]
    groups = [_GROUP[s.kind] for s in body]
    return f"{prefix} {{\n{_lines(pairs, 1, groups)}\n}}" if pairs else f"{prefix} {{\n}}"


def _recipe_lines(fields: list[syn.RecipeField]) -> list[tuple[syn.Statement, str]]:
    width = max((len(f.name) for f in fields), default=0) + 2
    return [(f, f"{f.name:<{width}}{', '.join(expr(v) for v in f.values)}") for f in fields]


def _decl(decl) -> str:
    comments = "".join(_comment(c) + "\n" for c in decl.comments)
    trailing = f"  {_comment(decl.trailing_comment)}" if decl.trailing_comment else ""
    return comments + _decl_text(decl) + trailing


def _decl_text(decl) -> str:
    if isinstance(decl, syn.ImportDecl):
        return f'import "{decl.path}"'
    if isinstance(decl, syn.BlockDecl):
        return _braced(_signature("block", decl), _body_lines(decl.body), 0, allow_one_line=False)
    if isinstance(decl, syn.FamilyDecl):
        return _net_body(_signature("family", decl), decl.body)
    if isinstance(decl, syn.NetworkDecl):
        head = f"network {decl.name}" + (f" = {call(decl.base)}" if decl.base else "")
        if decl.base and decl.base.args and len(head) > LINE_WIDTH:
            # a long family call wraps under its first argument
            head = wrap(f"network {decl.name} = {decl.base.name}(",
                        [_arg(a) for a in decl.base.args], ")")
        return head if decl.body is None else _net_body(head, decl.body)
    if isinstance(decl, syn.RecipeDecl):
        head = f"recipe {decl.name}" + (f" = {decl.base}" if decl.base else "")
        return _braced(head, _recipe_lines(decl.fields), 0, allow_one_line=False)
    if isinstance(decl, syn.ShortcutDecl):
        params = f"({_params(decl.params)})" if decl.params else ""
        cases = [(case, case.name + " " + case.word if case.word is not None else
                  _braced(case.name, _body_lines(case.body), 0)) for case in decl.cases]
        return _braced(f"shortcut {decl.name}{params}", cases, 0, allow_one_line=False)
    raise TypeError(f"not a declaration: {decl!r}")
