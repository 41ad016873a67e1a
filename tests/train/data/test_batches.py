"""Batches on the device: crop, flip and mean subtraction against a per-image reference,
epoch order, determinism, saved state, and the split of a global batch across ranks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from train_helpers import make_cifar10, tiny_network, tiny_recipe

from resdsl.train.batches import Augmenter, ShuffledOrder, TensorBatches, crop_flip, image_mean
from resdsl.train.data import open_data, synthetic
from resdsl.train.errors import DataError
from resdsl.train.options import TrainOptions


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


def test_mean_is_the_training_images_per_pixel_mean(tmp_path):
    recipe = tiny_recipe(crop_padding=0, hflip=False, batch_size=8)
    options = TrainOptions(data="synthetic:64", val_split=16, seed=3)
    data = open_data(tiny_network(recipe), recipe, options, "cpu")
    x, _, _, _ = synthetic(tiny_network(recipe), 64, seed=3)
    train = x[:48].double() / 255  # the last 16 are held out and do not count
    mean = data.train.augment.mean
    assert mean.shape == (3, 32, 32)
    torch.testing.assert_close(mean.double(), train.mean(0), rtol=0, atol=1e-6)
    batch, labels = next(data.train)
    index = data.train.order.perm[:8]
    torch.testing.assert_close(batch, (x[index].float() / 255 - mean), rtol=0, atol=0)
    # The held-out images (the LAST 16 training images) get the same subtraction, unaugmented.
    held, _ = next(iter(data.eval))
    torch.testing.assert_close(held, x[48:56].float() / 255 - mean, rtol=0, atol=0)
    assert data.eval_set == "val" and data.eval_size == 16 and data.train_size == 48


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
    augment = Augmenter(torch.full((3, 8, 8), 0.5), 2, True, seed + 1, rank, world)
    return TensorBatches(images, labels, 16, augment, seed, rank, world)


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


def test_too_few_images_for_a_batch():
    recipe = tiny_recipe(batch_size=32)
    with pytest.raises(DataError, match="not enough for one batch of 32"):
        open_data(tiny_network(recipe), recipe, TrainOptions(data="synthetic:40", val_split=10),
                  "cpu")


def test_network_must_fit_the_data(tmp_path):
    make_cifar10(tmp_path)
    recipe = tiny_recipe()
    options = TrainOptions(data="cifar10", data_dir=str(tmp_path), skip_checksum=True)
    with pytest.raises(DataError, match="takes 3x64x64 inputs but the images are 3x32x32"):
        open_data(tiny_network(recipe, input=(3, 64, 64)), recipe, options, "cpu")
    with pytest.raises(DataError, match="has 100 classes but the data has 10"):
        open_data(tiny_network(recipe, classes=100), recipe, options, "cpu")
