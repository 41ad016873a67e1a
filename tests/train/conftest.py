"""Fixtures shared by the training tests; the builders live in train_helpers.py."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Bitwise comparisons between runs need one reduction order: one thread, as
    train_script.py sets in its processes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
