"""resdsl.loader: reading spec files, resolving imports into one namespace (the prelude,
then the imports in order, then the file's own declarations), and the sources a
program carries so that it can be rebuilt without the files."""

from pathlib import Path

import pytest

from resdsl import parse_network
from resdsl.diagnostics import ResdslError, ResdslFileError
from resdsl.loader import load_program, program_from_sources, program_from_text, read_spec
from resdsl.lower import lower

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


def test_later_definitions_shadow_earlier_ones(tmp_path):
    """The prelude's `basic`, then an import's, then the file's own: the last one wins;
    a name the file does not redefine is the import's."""
    (tmp_path / "a.res").write_text("block basic(width, stride = 1) { conv 3x3, width, stride stride; residual }\n"
                                    "block other(width) { relu }\n")
    (tmp_path / "b.res").write_text("block basic(width, stride = 1) { conv 1x1, width, stride stride; residual }\n")
    main = tmp_path / "main.res"
    main.write_text('import "a.res"\nimport "b.res"\n' + TINY)
    kernels = {i.kernel for i in lower(load_program(main)).stages[1].blocks[0].items if i.kind == "conv"}
    assert kernels == {(1, 1)}  # b.res, imported last
    main.write_text('import "a.res"\nimport "b.res"\nblock basic(width, stride = 1) { relu; residual }\n' + TINY)
    program = load_program(main)
    assert [i.kind for i in lower(program).stages[1].blocks[0].items] == ["relu", "residual"]
    assert "other" in program.namespace.blocks


def test_a_program_carries_every_source_and_rebuilds_without_the_disk(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.res").write_text(TWICE)
    spec = tmp_path / "net.res"
    spec.write_text('import "lib/blocks.res"\n' + TINY.replace("basic", "twice"))
    program = load_program(spec)
    assert program.sources == {str(spec): spec.read_text(),
                               str((tmp_path / "lib" / "blocks.res").resolve()): TWICE}
    for path in (tmp_path / "lib" / "blocks.res", spec):
        path.unlink()
    again = program_from_sources(str(spec), program.base_dir, program.sources)
    assert lower(again) == lower(program)
    del program.sources[str((tmp_path / "lib" / "blocks.res").resolve())]
    with pytest.raises(ResdslError, match="is not among the sources this file carries"):
        program_from_sources(str(spec), program.base_dir, program.sources)


def test_a_file_imported_twice_is_read_once(tmp_path):
    (tmp_path / "shared.res").write_text(TWICE)
    (tmp_path / "left.res").write_text('import "shared.res"\n')
    (tmp_path / "right.res").write_text('import "shared.res"\n')
    reads: list[Path] = []

    def reader(path: Path) -> str:
        reads.append(path)
        return read_spec(path)

    text = 'import "left.res"\nimport "right.res"\n' + TINY.replace("basic", "twice")
    program = program_from_text(text, "main.res", base_dir=tmp_path, reader=reader)
    assert sorted(p.name for p in reads) == ["left.res", "right.res", "shared.res"]
    assert "twice" in program.namespace.blocks


def test_a_declaration_defined_twice_points_at_the_first():
    with pytest.raises(ResdslError, match="block 'b' is defined twice") as caught:
        program_from_text("block b(w) { relu }\n\nblock b(w) { relu }\n")
    assert caught.value.span.line == 3
    assert caught.value.diagnostics[0].notes == ("first defined at <string>:1:1",)


def test_a_byte_order_mark_is_not_part_of_the_text(tmp_path):
    spec = tmp_path / "bom.res"
    spec.write_bytes(b"\xef\xbb\xbf" + TINY.encode())
    assert read_spec(spec) == TINY
    assert lower(load_program(spec)).name == "tiny"


def test_an_unknown_block_gets_a_suggestion():
    with pytest.raises(ResdslError, match="unknown block 'basik'") as caught:
        lower_text(TINY.replace("2 x basic(16)", "2 x basik(16)"))
    assert caught.value.diagnostics[0].notes == ("did you mean 'basic'?",)
    with pytest.raises(ResdslFileError, match="no such file"):
        read_spec("/nonexistent/spec.res")


def test_an_import_names_a_built_in_spec_when_no_file_sits_beside_the_importer(tmp_path):
    """`import "timm/timm.res"` from anywhere: the shipped spec, with no note."""
    spec = tmp_path / "mine.res"
    spec.write_text('import "timm/timm.res"\nnetwork r = timm_resnet(1, 1, 1, 1)\n')
    program = load_program(spec)
    assert "timm_resnet" in program.namespace.families and program.notes == []
    # also by its file name alone, as the command line takes it, and rebuilt from the
    # sources a model file carries, without the disk
    spec.write_text('import "cifar.res"\nnetwork r = cifar_resnet(n = 1)\n')
    program = load_program(spec)
    again = program_from_sources(str(spec), program.base_dir, program.sources)
    assert lower(again) == lower(program)
    spec.write_text('import "timm/no_such.res"\n')
    with pytest.raises(ResdslError, match='cannot import "timm/no_such.res": no such file'):
        load_program(spec)


def test_a_local_file_wins_over_a_built_in_spec_with_a_note(tmp_path):
    (tmp_path / "cifar.res").write_text(TWICE)
    spec = tmp_path / "mine.res"
    spec.write_text('import "cifar.res"\n' + TINY.replace("basic", "twice"))
    program = load_program(spec)
    assert "twice" in program.namespace.blocks and "cifar_resnet" not in program.namespace.families
    assert len(program.notes) == 1
    assert 'mine.res:1:1: import "cifar.res" reads the local file' in program.notes[0]
    assert "not the built-in spec of that name" in program.notes[0]
    # an importer of the importer hears it too
    (tmp_path / "top.res").write_text('import "mine.res"\n')
    assert load_program(tmp_path / "top.res").notes == program.notes
