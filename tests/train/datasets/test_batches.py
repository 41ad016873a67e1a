"""Batches on the device: crop, flip and mean subtraction against a per-image reference,
epoch order, determinism, saved state, and the split of a global batch across ranks."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from resdsl.train.datasets.batches import (Augmenter, ShuffledOrder, TensorBatches,
                                       TensorEvalBatches, crop_flip, image_mean, in_order)
from resdsl.train.shard import Shard


def reference_crop_flip(x, padding, dy, dx, flip):
    """One image at a time, the obvious way."""
    out = []
    for image, top, left, mirrored in zip(x, dy.tolist(), dx.tolist(), flip.tolist()):
        padded = F.pad(image, (padding,) * 4)
        crop = padded[:, top:top + x.shape[2], left:left + x.shape[3]]
        out.append(crop.flip(2) if mirrored else crop)
    return torch.stack(out)


def test_crop_flip_matches_the_per_image_reference():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, 32, 32, generator=g)
    dy, dx = torch.randint(0, 9, (64,), generator=g), torch.randint(0, 9, (64,), generator=g)
    flip = torch.rand(64, generator=g) < 0.5
    out = crop_flip(x, 4, dy, dx, flip)
    assert out.shape == (64, 3, 32, 32)
    assert torch.equal(out, reference_crop_flip(x, 4, dy, dx, flip))


def test_non_square_images_and_other_padding():
    x = torch.randn(5, 1, 6, 10)
    dy, dx, flip = torch.tensor([0, 1, 2, 3, 4]), torch.tensor([4, 3, 2, 1, 0]), torch.rand(5) < 0.5
    assert torch.equal(crop_flip(x, 2, dy, dx, flip), reference_crop_flip(x, 2, dy, dx, flip))


def test_padding_is_zeros_and_the_centre_crop_is_the_image():
    x = torch.rand(2, 3, 32, 32) + 1  # no zeros of its own
    no = torch.zeros(2, dtype=torch.bool)
    corner = crop_flip(x, 4, torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), no)
    assert torch.all(corner[:, :, :4, :] == 0) and torch.all(corner[:, :, :, :4] == 0)
    assert torch.equal(corner[:, :, 4:, 4:], x[:, :, :28, :28])
    four = torch.full((2,), 4)
    assert torch.equal(crop_flip(x, 4, four, four, no), x)
    assert torch.equal(crop_flip(x, 4, four, four, ~no), x.flip(3))


def test_augmenter_draws_every_offset_and_flips_about_half():
    # A constant image (after mean subtraction): the zero rows and columns give the offset.
    augment = Augmenter(torch.zeros(3, 1, 1), padding=4, hflip=False, seed=0)
    out = augment(torch.full((400, 3, 8, 8), 255, dtype=torch.uint8))
    rows = out[:, 0].eq(0).all(dim=2)  # 400 x 8: which rows are padding
    dy = 4 - rows[:, :4].sum(1) + rows[:, 4:].sum(1)
    assert set(dy.tolist()) == set(range(9))
    image = torch.arange(3 * 8 * 8).reshape(1, 3, 8, 8).to(torch.uint8).repeat(400, 1, 1, 1)
    out = Augmenter(torch.zeros(3, 1, 1), padding=0, hflip=True, seed=0)(image)
    reference = image[0].float().div(255)
    flipped = sum(torch.equal(o, reference.flip(2)) for o in out)
    kept = sum(torch.equal(o, reference) for o in out)
    assert flipped + kept == 400 and 140 < flipped < 260


def test_channel_mean_and_none():
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    total = images.sum(0, dtype=torch.float64)
    channel = image_mean(total, 10, "channel_mean")
    assert channel.shape == (3, 1, 1)
    torch.testing.assert_close(channel.double().flatten(), images.double().mean((0, 2, 3)) / 255)
    assert torch.equal(image_mean(total, 10, "none"), torch.zeros(3, 1, 1))


def make_batches(seed: int, rank: int = 0, world: int = 1, size: int = 50):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (size, 3, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.arange(size)
    augment = Augmenter(torch.full((3, 8, 8), 0.5), 2, True, seed + 1, Shard(rank, world))
    return TensorBatches(images, labels, 16, augment, seed, Shard(rank, world))


def test_same_seed_same_batches_other_seed_other_batches():
    a, b, c = make_batches(7), make_batches(7), make_batches(8)
    for _ in range(5):
        (xa, ya), (xb, yb), (_, yc) = next(a), next(b), next(c)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(ya, yc)


def test_epochs_are_permutations_without_the_remainder():
    order = ShuffledOrder(50, 16, seed=0)
    epoch = torch.cat([order.take() for _ in range(3)])  # 48 of 50 images
    assert len(set(epoch.tolist())) == 48
    order.take()
    assert order.epoch == 1 and order.position == 16


def test_restored_state_continues_the_same_order_and_augmentation():
    first = make_batches(1)
    for _ in range(2):
        next(first)
    state = first.state_dict()
    expected = [next(first) for _ in range(6)]  # crosses an epoch boundary (3 per epoch)
    second = make_batches(99)
    second.load_state_dict(state)
    for x, y in expected:
        x2, y2 = next(second)
        assert torch.equal(x, x2) and torch.equal(y, y2)


def test_ranks_split_the_global_batch_exactly():
    whole = make_batches(5)
    ranks = [make_batches(5, rank, 2) for rank in range(2)]
    for _ in range(4):
        x, y = next(whole)
        parts = [next(r) for r in ranks]
        assert torch.equal(torch.cat([p[0] for p in parts]), x)
        assert torch.equal(torch.cat([p[1] for p in parts]), y)


def test_held_out_batches_are_in_order_and_ranks_share_them():
    images = torch.arange(10, dtype=torch.uint8).reshape(10, 1, 1, 1).repeat(1, 3, 2, 2)
    labels = torch.arange(10)
    whole = [y.tolist() for _, y in TensorEvalBatches(images, labels, torch.zeros(3, 1, 1), 3)]
    assert whole == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    shares = [[y.tolist() for _, y in TensorEvalBatches(images, labels, torch.zeros(3, 1, 1), 3,
                                                         Shard(rank, 2))] for rank in range(2)]
    assert shares == [[[0, 1, 2], [6, 7, 8]], [[3, 4, 5], [9]]]
    assert in_order(5, 2, Shard(1, 2)) == [slice(2, 4)]
