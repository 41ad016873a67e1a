"""A process's share of a global batch."""

import pytest

from resdsl.train.errors import OptionsError
from resdsl.train.shard import Shard


def test_shares_are_equal_slices_in_rank_order():
    assert [Shard(rank, 4).part(128) for rank in range(4)] == \
        [slice(0, 32), slice(32, 64), slice(64, 96), slice(96, 128)]
    assert Shard().part(128) == slice(0, 128) and Shard().is_main and not Shard(1, 2).is_main


def test_a_batch_that_does_not_split_is_refused():
    Shard(0, 4).check_split(128)
    with pytest.raises(OptionsError, match="batch size 128 does not split evenly over 3"):
        Shard(0, 3).check_split(128)
