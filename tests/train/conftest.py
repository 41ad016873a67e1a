"""Fixtures shared by the training tests; the builders live in train_helpers.py."""

from __future__ import annotations

import pytest
import torch

from .train_helpers import make_cifar10


@pytest.fixture
def one_thread():
    """Bitwise comparisons between runs need one reduction order: one thread, as
    train_script.py sets in its processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def cifar(tmp_path_factory):
    """A data folder holding a tiny cifar-10-batches-py/ in the official format."""
    root = tmp_path_factory.mktemp("cifar")
    make_cifar10(root)
    return root
