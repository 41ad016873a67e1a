"""resdsl.ir.node: IR nodes are frozen, closed to unknown fields, and equal (and hash
alike) whatever their source spans."""

import pydantic
import pytest

from resdsl.diagnostics import Span
from resdsl.ir import ReLU, shape_text


def relu(span=None) -> ReLU:
    return ReLU(name="relu", in_shape=(4, 2, 2), out_shape=(4, 2, 2), span=span)


def test_spans_are_left_out_of_equality_hashing_and_json():
    here, there = relu(Span("a.res", 1, 1, 1, 5)), relu(Span("b.res", 9, 3, 9, 7))
    assert here == there and hash(here) == hash(there) and len({here, there}) == 1
    assert "span" not in here.model_dump() and "a.res" not in here.model_dump_json()
    assert here.span.file == "a.res"  # kept on the node, for diagnostics
    assert relu() != relu().model_copy(update={"name": "relu2"})


def test_nodes_are_frozen_and_refuse_unknown_fields():
    node = relu()
    with pytest.raises(pydantic.ValidationError):
        node.name = "other"
    with pytest.raises(pydantic.ValidationError):
        ReLU(name="relu", in_shape=(1,), out_shape=(1,), inplace=True)


def test_shape_text():
    assert (shape_text((3, 224, 224)), shape_text((10,))) == ("3x224x224", "10")
