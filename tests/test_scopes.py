"""resdsl.scopes: a list of items lowered (repeats written out, every item named, each
built at the shape the one before gives), the names torchvision and nn.Sequential
would give, and the budget that refuses a network too large before it is built."""

import pytest

from resdsl import parse_network
from resdsl.diagnostics import ResdslError
from resdsl.limits import MAX_BLOCKS, MAX_LAYERS
from resdsl.loader import prelude_namespace
from resdsl.parser import parse
from resdsl.scopes import Budget, check_unique, expand_items, name_by_kind, name_by_position, size_of

from helpers import SPECS


def items(body: str) -> list:
    return parse(f"block b(w) {{ {body} }}").decls[0].body


def planned(body: str, env=None):
    return expand_items(items(body), env or {})


def test_module_names_follow_torchvision():
    net = parse_network(SPECS / "resnet18.res")
    stem, head = net.stages[0], net.stages[-1]
    assert [i.name for i in stem.items] == ["conv1", "bn1", "relu", "maxpool"]
    assert [i.name for i in head.items] == ["avgpool", "fc"]
    assert [s.module for s in net.stages[1:-1]] == ["layer1", "layer2", "layer3", "layer4"]


def test_names_by_kind():
    """conv, batchnorm and groupnorm are always numbered; another kind only when it
    occurs more than once; blocks count from 0; a label wins, and a default name steps
    past one a label took (`bn1: groupnorm 2` leaves the next batchnorm `bn2`)."""
    ps = planned("conv 3x3, 4; bn1: groupnorm 2; batchnorm; relu; conv 1x1, 4; batchnorm; relu; "
                 "fc 10; 2 x basic(4); g: { relu }; { relu }")
    name_by_kind(ps)
    assert [p.name for p in ps] == ["conv1", "bn1", "bn2", "relu1", "conv2", "bn3", "relu2", "fc",
                                    "0", "1", "g", "group1"]


def test_names_by_position_continue_where_a_container_stopped():
    ps = planned("relu; 2 x { conv 3x3, 4; relu }; x: relu")
    assert [type(p.stmt).__name__ for p in ps] == ["LayerStmt"] * 6  # the repeat written out
    assert name_by_position(ps, 5) == 11
    assert [p.name for p in ps] == ["5", "6", "7", "8", "9", "x"]


def test_names_of_one_module_are_distinct():
    ps = planned("a: relu; a: relu")
    name_by_position(ps)
    with pytest.raises(ResdslError, match="two layers are named 'a'") as caught:
        check_unique(ps)
    assert caught.value.span.col == 23  # the second one
    ps = planned("b: relu")
    name_by_position(ps)
    with pytest.raises(ResdslError, match="two layers are named 'b'"):
        check_unique(ps, taken={"b"})  # another section put a `b` in the same container


def test_size_of_counts_blocks_and_layers_without_building():
    body = items("conv 3x3, 4; 3 x basic(8); 2 x { relu; 2 x { relu } }")
    # 1 conv; 3 blocks of 7 items and the block itself; 2 x (1 + 2 x 1) layers
    assert size_of(body, {}, prelude_namespace()) == (3, 1 + 3 * 8 + 6)


def test_repeat_counts_are_positive_integers_and_bounded():
    with pytest.raises(ResdslError, match="the repeat count must be positive, got 0"):
        planned("0 x basic(4)")
    with pytest.raises(ResdslError, match=f"{MAX_BLOCKS + 1:,} blocks is too many to build"):
        planned(f"{MAX_BLOCKS + 1} x basic(4)")
    with pytest.raises(ResdslError, match="layers is too many to build"):
        planned(f"{MAX_LAYERS} x {{ relu; relu }}")
    assert len(planned("n x { relu }", {"n": 3})) == 3


def test_the_budget_refuses_past_each_limit():
    budget = Budget()
    budget.reserve(MAX_BLOCKS, MAX_LAYERS, None)  # at the limits: allowed
    with pytest.raises(ResdslError, match=f"{MAX_BLOCKS + 1} blocks is too many to build"):
        budget.reserve(1, 0, None)
    with pytest.raises(ResdslError, match=f"more than {MAX_LAYERS:,} layers"):
        Budget().reserve(0, MAX_LAYERS + 1, None)
    with pytest.raises(ResdslError, match=r"more than 2\^31 parameters \(2,147,483,649 so far\)"):
        Budget().add_params(2**31 + 1, None)
