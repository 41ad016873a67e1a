"""resdsl.loader: reading spec files, resolving imports into one namespace (the prelude,
then the imports in order, then the file's own declarations), and the sources a
program carries so that it can be rebuilt without the files."""

from resdsl import parse_network

from helpers import TINY, lower_text

TWICE = "block twice(width, stride = 1) { conv 3x3, width, stride stride; conv 3x3, width; residual }"


def test_imports_are_relative_to_the_importing_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.res").write_text(TWICE)
    (tmp_path / "net.res").write_text('import "lib/blocks.res"\n' + TINY.replace("basic", "twice"))
    net = parse_network(tmp_path / "net.res")
    assert net.stages[1].blocks[0].block == "twice"


def test_a_spec_may_redefine_a_prelude_block():
    text = "block basic(width, stride = 1) { conv 3x3, width, stride stride; relu; residual }\n" + TINY
    net = lower_text(text)
    assert [i.kind for i in net.stages[1].blocks[0].items] == ["conv", "relu", "residual"]
