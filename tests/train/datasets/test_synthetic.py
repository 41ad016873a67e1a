"""synthetic[:N]: the same images for the same seed; N checked before anything is made."""

from __future__ import annotations

import pytest
import torch

from resdsl.train.datasets.synthetic import MAX_BYTES, synthetic, synthetic_size
from resdsl.train.errors import DataError

from ..train_helpers import tiny_network


def test_same_seed_same_images():
    a, b = synthetic(tiny_network(), 10, seed=4), synthetic(tiny_network(), 10, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert a[0].shape == (10, 3, 32, 32) and a[2].shape == (2, 3, 32, 32)


@pytest.mark.parametrize("name", ["synthetic:²", "synthetic:١٢", "synthetic:x", "synthetic:1",
                                  "synthetic:-5", "synthetic:1e3", "synthetic: 5"])
def test_n_is_a_whole_number_in_ascii_digits(name):
    with pytest.raises(DataError, match="whole number of at least 2"):
        synthetic_size(name, tiny_network())


def test_n_is_bounded_before_anything_is_allocated():
    with pytest.raises(DataError, match=r"would need more than 4 GiB; use at most synthetic:\d+"):
        synthetic_size("synthetic:4000000000", tiny_network())
    most = MAX_BYTES // (3 * 32 * 32) * 5 // 6
    assert synthetic_size(f"synthetic:{most}", tiny_network()) == most
    assert synthetic_size("synthetic", tiny_network()) == 5000
