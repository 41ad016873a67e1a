"""resdsl.parser: text -> syntax tree, with the spans every diagnostic points with, the
comments fmt gives back, and syntax errors in words at the place to fix.

(The invalid corpus, tests/invalid/syntax_*.res, pins one diagnostic per broken rule
end to end; these check the parser's own pieces on small inputs.)
"""

import pytest

from resdsl import syntax as syn
from resdsl.diagnostics import ResdslError, ResdslSyntaxError, Span
from resdsl.limits import MAX_DEPTH, MAX_NESTING
from resdsl.parser import BLANK_LINE, parse

SPEC = """# lead
network n {
    input 3x32x32
    # about the stem

    # second paragraph
    stem { conv 3x3, 16; relu }  # tail
    stage s1: 2 x basic(16), stride 2
}
# the end
"""


def error_of(text: str) -> ResdslSyntaxError:
    with pytest.raises(ResdslSyntaxError) as caught:
        parse(text, "e.res")
    assert len(caught.value.diagnostics) == 1
    return caught.value


def where(error: ResdslError) -> tuple[int, int, int]:
    span = error.span
    return span.line, span.col, span.end_col


# ---- the tree and its spans ---------------------------------------------------------------
def test_nodes_carry_the_span_of_their_text():
    module = parse(SPEC, "f.res")
    network = module.decls[0]
    assert network.span == Span("f.res", 2, 1, 9, 2)
    inputs, stem, stage = network.body
    assert inputs.span == Span("f.res", 3, 5, 3, 18) and inputs.dims.values == (3, 32, 32)
    conv, relu = stem.body
    assert (conv.layer, conv.span) == ("conv", Span("f.res", 7, 12, 7, 24))
    assert [a.value.span for a in conv.args] == [Span("f.res", 7, 17, 7, 20), Span("f.res", 7, 22, 7, 24)]
    assert relu.span == Span("f.res", 7, 26, 7, 30)
    repeat = stage.repeat
    assert (repeat.count.span.col, repeat.call.span.col, repeat.call.span.end_col) == (15, 19, 28)
    assert stage.options == [syn.Arg(name="stride", value=syn.Number(text="2"))]


def test_spans_are_left_out_of_equality():
    assert parse(SPEC, "a.res") == parse("\n\n" + SPEC.replace("    ", "  "), "b.res")
    assert parse(SPEC) != parse(SPEC.replace("16", "32"))


def test_a_call_without_parentheses_is_told_from_an_empty_one():
    assert parse("network n = fam").decls[0].base == syn.Call(name="fam", args=None)
    assert parse("network n = fam()").decls[0].base == syn.Call(name="fam", args=[])
    # A long list of arguments goes on after a comma on the next line.
    assert parse("network n = fam(1,\n  n = 3)").decls[0].base.args[1].name == "n"


def test_keywords_are_plain_names_where_no_keyword_can_stand():
    block = parse("block b(x, classes = 1) { head: conv 3x3, x, stride classes; stage: relu; "
                  "residual }").decls[0]
    assert [(i.label, i.layer) for i in block.body] == [("head", "conv"), ("stage", "relu"),
                                                        (None, "residual")]
    assert [p.name for p in block.params] == ["x", "classes"]


def test_windows_and_old_mac_line_ends_count_as_line_ends():
    for ending in ("\r\n", "\r"):
        module = parse(SPEC.replace("\n", ending))
        assert module == parse(SPEC)
        assert module.decls[0].body[1].span.line == 7


# ---- comments ----------------------------------------------------------------------------------
def test_comments_go_to_the_statement_below_them_or_the_one_they_end():
    module = parse(SPEC)
    network = module.decls[0]
    assert network.comments == (" lead",)
    _, stem, stage = network.body
    assert stem.comments == (" about the stem", BLANK_LINE, " second paragraph")
    assert stem.trailing_comment == " tail"  # the stem's: it ends on that line, its body too
    assert all(not item.trailing_comment for item in stem.body)
    assert stage.comments == () and stage.trailing_comment is None
    assert module.end_comments == (" the end",)


def test_a_comment_ends_the_last_statement_on_its_line():
    text = "block b(w) {\n    conv 3x3, w; relu  # after relu\n    residual\n}\n"
    conv, relu, residual = parse(text).decls[0].body
    assert (conv.trailing_comment, relu.trailing_comment, residual.trailing_comment) == \
        (None, " after relu", None)
    nested = parse("network n {\n    stem { conv 3x3, 4 }; head { avgpool; fc 10 }  # both\n}\n")
    stem, head = nested.decls[0].body
    assert (stem.trailing_comment, head.trailing_comment) == (None, " both")
    assert all(i.trailing_comment is None for s in (stem, head) for i in s.body)
    closing = parse("network n {\n    head {\n        avgpool\n        fc 10 }  # closing\n}\n")
    head = closing.decls[0].body[0]
    assert head.trailing_comment == " closing" and head.body[1].trailing_comment is None


def test_paragraphs_of_comments_at_the_end_of_a_file_stay_apart():
    assert parse("network n { }\n# one\n\n\n# two\n# three\n").end_comments == \
        (" one", BLANK_LINE, " two", " three")
    assert parse("# only a comment").end_comments == (" only a comment",)


def test_comments_of_one_parse_do_not_reach_the_next():
    parse("# a comment\nnetwork n { }  # another\n")
    with pytest.raises(ResdslError):
        parse("# left behind by an error\nnetwork n {")
    module = parse("network n { }\n")
    assert module.end_comments == () and module.decls[0].comments == ()


def test_a_hash_in_a_file_name_is_not_a_comment_and_comments_hold_any_character():
    module = parse('import "lib#1.res"  # réel ✓\n# Ärger — «quotes»\nnetwork n { }\n')
    assert module.decls[0].path == "lib#1.res" and module.decls[0].trailing_comment == " réel ✓"
    assert module.decls[1].comments == (" Ärger — «quotes»",)


# ---- syntax errors in words ---------------------------------------------------------------------
@pytest.mark.parametrize("text, message, at, note", [
    ("network n {\n    input 3x32x32\n",
     "unexpected end of file; expected 'classes', 'expect', 'head', 'input', 'shortcut', 'stage', "
     "'stem', 'train' or '}'", (2, 18, 19), None),
    ("network n {\n    input 3 x 32\n}", "unexpected '3'; expected a size such as 3x3", (2, 11, 12),
     "a size is numbers joined by 'x' without spaces, such as 3x224x224"),
    ("network n {\n    stage s: 3 basic(64)\n}", "unexpected 'basic'; expected 'if', 'x' or an operator",
     (2, 16, 21), "a repeated block is written `N x block(args)`, e.g. `3 x basic(64)`"),
    ("network n {\n    relu\n}", "unexpected 'relu'; expected ';', 'classes',", (2, 5, 9),
     "layers go inside `stem { ... }`, `stage NAME { ... }` or `head { ... }`"),
    ("network n {\n  stem { relu\n  stage s: 1 x basic(3)\n}", "unexpected 'stage' inside a list of layers",
     (3, 3, 8), "is a '}' missing before it?"),
    ("network n {\n  input $\n}", "unexpected character '$'; expected a size such as 3x3", (2, 9, 10), None),
    ('import "abc\nnetwork n {}',
     "unterminated string: a quoted file name must end with '\"' on the same line", (1, 8, 9), None),
    ("network n {\n  classes 1 +\n}", "unexpected end of line; expected '(', a name, a number or",
     (2, 14, 15), None),
    ("network n\n{ }", "unexpected end of line; expected '=' or '{'", (1, 10, 11), None),
    ("network n { input 3x32x32 }}", "unexpected '}'; expected ';', a new line or the end of the file",
     (1, 28, 29), None),
    ("blok b(w) { relu }", "unexpected 'blok'; expected ';', 'block', 'family', 'import',", (1, 1, 5), None),
])
def test_syntax_errors_say_what_was_expected_where(text, message, at, note):
    error = error_of(text)
    assert error.message.startswith(message)
    assert where(error) == at
    assert note is None or error.diagnostics[0].notes == (note,)


def test_characters_outside_ascii_and_control_characters_are_named():
    error = error_of("network n { classes 1 }\n\u00e9")
    assert error.message == ("unexpected character U+00E9 LATIN SMALL LETTER E WITH ACUTE: only "
                             "ASCII is read outside comments and file names")
    assert where(error) == (2, 1, 2)
    error = error_of("network n {\n  classes 1\x07\n}")
    assert error.message == "unexpected character U+0007 (a control character): delete it"
    assert where(error) == (2, 12, 13)


def test_a_size_with_too_many_digits_is_refused_before_it_is_converted():
    with pytest.raises(ResdslError, match="number too large in size 3x1234567890123456") as caught:
        parse("network n {\n  input 3x1234567890123456\n}")
    assert where(caught.value) == (2, 9, 27)


# ---- limits the parser keeps ---------------------------------------------------------------
def test_nesting_is_limited_at_the_bracket_that_passes_the_limit():
    """Braces and parentheses count together; those in comments do not."""
    inside = MAX_NESTING - 1  # the network's brace is one level
    parse("network n { classes " + "(" * inside + "1" + ")" * inside + " }")
    error = error_of("network n { classes " + "(" * (inside + 1) + "1" + ")" * (inside + 1) + " }")
    assert error.message == f"nesting deeper than {MAX_NESTING} levels"
    assert where(error) == (1, len("network n { classes ") + inside + 1, len("network n { classes ") + inside + 2)
    parse("# " + "(" * (2 * MAX_NESTING) + "\nnetwork n { }")


# Ways to nest, each as text with `n` levels of braces and parentheses in all.
NESTINGS = {
    "groups": lambda n: "network t {\n stem " + "{ " * (n - 1) + "relu" + " }" * (n - 1) + "\n}",
    "gates": lambda n: "block b(w) {\n " + "gate { " * (n - 1) + "relu" + " }" * (n - 1) + "\n}",
    "repeats": lambda n: "network t {\n stage s { " + "1 x { " * (n - 2) + "relu"
                         + " }" * (n - 1) + "\n}",
    "shortcut paths": lambda n: "shortcut X {\n changed " + "{ " * (n - 1) + "relu"
                                + " }" * (n - 1) + "\n}",
    "parentheses": lambda n: "block b(w) {\n conv 3x3, " + "(1 + " * (n - 1) + "w"
                             + ")" * (n - 1) + "\n}",
    "braces and parentheses": lambda n: "block b(w) {\n " + "g: { " * (n // 2) + "conv 3x3, "
                                        + "(w + " * (n - n // 2 - 1) + "1" + ")" * (n - n // 2 - 1)
                                        + " }" * (n // 2) + "\n}",
}


@pytest.mark.parametrize("nesting", NESTINGS)
def test_the_nesting_limit_is_the_one_that_speaks(nesting):
    """However a spec nests, MAX_NESTING levels parse (the README's limit is the real one)
    and one more is refused with the nesting message, never the parse tree's depth."""
    parse(NESTINGS[nesting](MAX_NESTING))
    error = error_of(NESTINGS[nesting](MAX_NESTING + 1))
    assert error.message == f"nesting deeper than {MAX_NESTING} levels"


def test_a_chain_of_operators_is_limited_in_depth():
    chain = lambda n: "network n { classes " + " + ".join(["1"] * n) + " }"
    assert parse(chain(MAX_DEPTH // 2)).decls[0].body[0].value.op == "+"
    error = error_of(chain(MAX_DEPTH + 1))
    assert error.message.startswith(f"nested too deeply: more than {MAX_DEPTH} levels")
    assert error.span.line == 1 and error.span.col == len("network n { classes ") + 1
